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

"""st2mistral-validate over st2 v3.2.0's own contrib/examples (docs/migration.rst): the
78 mistral-v2 example workflows st2's Mistral suite runs, with st2's core pack and
runners. Only the deliberate mistake (mistral-error-bad-task-transition) is a problem;
so a false refusal by the transform or the validator fails here.

From ``$ST2MISTRAL_ST2_SRC/st2-v3.2.0.tar.gz``; skipped without it. That export lacks
``contrib/examples/actions/workflows/tests/`` (no ``tests`` directories), 50 of the 78
definitions: those are reported unreadable, and accepted as such here.
"""

import os
import pathlib
import tarfile

import pytest

from st2mistral.st2_side import validate
from st2mistral.testing.real_st2 import build

TARBALL = 'st2-v3.2.0.tar.gz'
DELIBERATE = ("examples.mistral-error-bad-task-transition.task1: Task 'task3' not found.")
MISSING = 'cannot read the file: No such file or directory'


@pytest.fixture(scope='module')
def contrib(tmp_path_factory):
    src = build.source_setting()
    tarball = pathlib.Path(src) / TARBALL if src else None
    if tarball is None or not tarball.is_file():
        pytest.skip('%s not found: set %s to the folder holding it' % (TARBALL,
                                                                        build.SRC_ENV))
    dest = tmp_path_factory.mktemp('st2-v3.2.0')
    with tarfile.open(tarball) as tar:
        wanted = [m for m in tar.getmembers()
                  if m.name.split('/')[1:3] in (['contrib', 'examples'], ['contrib', 'core'],
                                                ['contrib', 'runners'])]
        kwargs = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
        tar.extractall(dest, members=wanted, **kwargs)
    (top,) = [p for p in dest.iterdir() if p.is_dir()]
    return top / 'contrib'


def test_st2_32_examples_have_only_their_deliberate_mistake(contrib, capsys):
    code = validate.main([str(contrib / 'examples'), '--packs', str(contrib / 'core'),
                          '--runners', str(contrib / 'runners')])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    workflows = contrib / 'examples' / 'actions' / 'workflows'
    missing = [line for line in lines
               if line.startswith(str(workflows / 'tests') + os.sep) and line.endswith(MISSING)]
    others = [line for line in lines if line not in missing]
    assert ' in 78 definition(s) checked.' in err
    assert len(missing) in (0, 50)  # 50 while the export leaves out tests/
    if missing:
        assert others == []  # the deliberate mistake is one of the 50 absent files
    else:
        assert [line.split(': ', 1)[1] for line in others] == [DELIBERATE]
    assert code == (1 if lines else 0)
    if validate.mistral_checker() is None:
        assert "Mistral 23's own checks were NOT run" in err
