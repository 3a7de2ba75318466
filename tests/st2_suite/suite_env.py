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

"""The test runner's venv for st2's own suite, beside the st2 venv of real_st2/build.py (cached).

A ``.pth`` file puts the st2 venv's site-packages on its path (st2common,
retrying, six, eventlet, PyYAML that st2's suite imports), and pip adds what
st2's suite runs with: st2client of the same tag, ``unittest2`` and ``pytest``,
constrained by st2's ``fixed-requirements.txt``. pytest is st2 v3.9.0's pin
(7.0.1, which still runs on st2 3.2's Python 3.6: st2 3.2 ran this suite with
nose); unittest2 is unpinned in st2 3.2's ``requirements.txt`` and absent from
3.9's, so its last release is taken. st2's action-chain, python, orquesta and
inquirer runners, which v3.2.0's ``contrib/examples`` needs, are in the st2 venv
(build.py's COMPONENTS).

Nothing is installed into the st2 venv: other tests share it.
"""

import hashlib
import pathlib
import shutil
import subprocess
import tempfile

from st2mistral.testing.real_st2 import build

RECIPE = '2'
TEST_TOOLS = ('pytest==7.0.1', 'unittest2==1.1.0')


class SuiteEnvError(Exception):
    """The suite's environment cannot be built; the message says why."""


def _key(st2_venv):
    text = '|'.join((RECIPE, st2_venv.name) + TEST_TOOLS)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def suite_dir(st2_venv):
    return build.cache_root() / ('st2suite-%s-%s' % (st2_venv.name, _key(st2_venv)))


def site_packages(venv):
    out = subprocess.run([str(build.venv_python(venv)), '-c',
                          'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                         check=True, capture_output=True, text=True)
    return pathlib.Path(out.stdout.strip())


def _run(cmd, log):
    log.write('$ %s\n' % ' '.join(str(c) for c in cmd))
    log.flush()
    proc = subprocess.run([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode:
        raise SuiteEnvError('command failed (%s): %s; see %s'
                            % (proc.returncode, ' '.join(str(c) for c in cmd), log.name))


def build_suite_env(st2_venv):
    """Return the test venv for the st2 venv ``st2_venv``, built when needed."""
    root = suite_dir(st2_venv)
    venv = root / 'venv'
    if (root / 'BUILT').is_file():
        return venv
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    tree = build.st2_tree(st2_venv)
    old = not build.runs_project(st2_venv)  # st2 3.2 on Python 3.6
    with open(root / 'build.log', 'w') as log, tempfile.TemporaryDirectory() as tmp:
        _run([build.venv_python(st2_venv), '-m', 'venv', venv], log)
        (site_packages(venv) / 'st2-venv.pth').write_text(str(site_packages(st2_venv)) + '\n')
        pip = [build.venv_python(venv), '-m', 'pip', 'install', '--no-input', '-q']
        setuptools = build.OLD_SETUPTOOLS if old else build.SETUPTOOLS
        _run(pip + ['-U', 'pip<22' if old else 'pip', setuptools, 'wheel<0.38' if old else 'wheel'],
             log)
        constraints = build._constraints(tree, pathlib.Path(tmp))
        _run(pip + ['-c', constraints, '--no-build-isolation'] + list(TEST_TOOLS)
             + [tree / 'st2client'], log)
    (root / 'BUILT').write_text(st2_venv.name + '\n')
    return venv
