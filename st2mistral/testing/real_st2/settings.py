# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Which real st2 tags the tests run, on which Python (from the environment).

- ``ST2MISTRAL_ST2_SRC``: the st2 source folder (unset: real-st2 tests skip);
- ``ST2MISTRAL_ST2_TAGS``: comma list of tags to run (default: those of
  :data:`DEFAULT_TAGS` whose ``st2-<tag>.tar.gz`` is in the folder, or ``checkout``
  for an st2 checkout);
- ``ST2MISTRAL_ST2_PYTHON_<TAG>`` (e.g. ``ST2MISTRAL_ST2_PYTHON_V3_9_0``): the
  interpreter for a tag's venv, a path or a version such as ``3.8`` (default: the
  first of :data:`PYTHONS` found).
"""

import glob
import os
import re
import shutil
import subprocess

from st2mistral.testing.real_st2 import build

# The Python each tag is built with when not set: what it was made for and builds here.
# st2 3.5-3.8 support Python 3.6 and 3.8 (3.8.1 also 3.9): 3.8 is the one the st2 side runs on.
PYTHONS = {'v3.9.0': ('3.11', '3.8'), 'v3.8.1': ('3.8',), 'v3.7.0': ('3.8',),
           'v3.6.0': ('3.8',), 'v3.5.0': ('3.8',), 'v3.2.0': ('3.6',)}
# The tags run when ST2MISTRAL_ST2_TAGS is not set: the newest release, and st2 3.2 with its
# own runner. tox realst2-38 sets v3.5.0,v3.9.0 (the oldest and newest st2 on Python 3.8).
DEFAULT_TAGS = ('v3.9.0', 'v3.2.0')
# The oldest st2 the project's st2 side is tested on (the oldest st2 on Python 3.8).
OLDEST_PROJECT_ST2 = (3, 5, 0)
SKIP_REASON = ('real st2: %s is not set (a folder holding st2-<tag>.tar.gz, or an st2 '
               'checkout); emulator only' % build.SRC_ENV)


def source():
    return build.source_setting()


def tags():
    src = source()
    if src is None:
        return []
    wanted = os.environ.get('ST2MISTRAL_ST2_TAGS', '').strip()
    if wanted:
        return [t.strip() for t in wanted.split(',') if t.strip()]
    available = build.available_tags(src)
    if available == ['checkout']:
        return available
    return [tag for tag in DEFAULT_TAGS if tag in available]


def project_tags():
    """The tags to run that the project's st2 side runs on (st2 3.5 and later)."""
    return [tag for tag in tags() if version_of(tag) >= OLDEST_PROJECT_ST2]


def find_python(version):
    """A working ``python<version>``: pyenv's install first (its shims may refuse), then PATH."""
    pattern = os.path.expanduser('~/.pyenv/versions/%s.*/bin/python%s' % (version, version))
    candidates = sorted(glob.glob(pattern), reverse=True) + [shutil.which('python' + version)]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, '-c', 'pass'],
                                        capture_output=True).returncode == 0:
            return candidate
    return None


def python_for(tag):
    """The interpreter to build ``tag`` with, or None when none is available."""
    setting = os.environ.get('ST2MISTRAL_ST2_PYTHON_' + tag.upper().replace('.', '_'))
    if setting and re.fullmatch(r'\d+\.\d+', setting):
        return find_python(setting)
    if setting:
        return setting
    for version in PYTHONS.get(tag, ('3.11',)):
        python = find_python(version)
        if python:
            return python
    return None


def version_of(tag):
    """'v3.9.0' -> (3, 9, 0); a checkout counts as the newest."""
    if tag == 'checkout':
        return (99, 0, 0)
    return tuple(int(part) for part in tag.lstrip('v').split('.'))
