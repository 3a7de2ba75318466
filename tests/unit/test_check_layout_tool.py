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

"""tools/check_layout.py finds what breaks the layout, and passes on today's tree."""

import pathlib
import textwrap

from tests.unit.tool_scripts import load_tool

ROOT = pathlib.Path(__file__).resolve().parents[2]
check_layout = load_tool('check_layout')


def problems(rel, source):
    return check_layout.check_file(rel, textwrap.dedent(source))


def test_st2common_only_in_the_adapter():
    source = 'def f():\n    from st2common.util import action_db\n'
    assert problems('st2mistral/st2_side/st2_adapter.py', source) == []
    [found] = problems('st2mistral/st2_side/reconcile.py', source)
    assert 'reconcile.py:2 imports st2common.util' in found
    assert 'only st2mistral/st2_side/st2_adapter.py imports st2common' in found


def test_sides_stay_apart():
    assert problems('st2mistral/core/results.py', 'from st2mistral.st2_side import launcher\n')
    assert problems('st2mistral/st2_side/launcher.py', 'import st2mistral.mistral_side.targets\n')
    targets = 'st2mistral/mistral_side/targets.py'
    assert problems(targets, 'from st2mistral.testing import waiting\n')
    assert problems(targets, 'from st2mistral.core import contract\n') == []


def test_a_test_that_sleeps_in_a_loop_is_found_unless_it_says_it_models_a_retry():
    loop = '''
        import time
        def test_x():
            while not done():
                time.sleep(0.1)
        def test_y():
            for _ in range(9):
                threading.Event().wait(0.01)
        '''
    found = problems('tests/unit/test_x.py', loop)
    assert [p.split(' ', 1)[0] for p in found] == ['tests/unit/test_x.py:4',
                                                   'tests/unit/test_x.py:7']
    assert problems('tests/unit/test_x.py', '''
        # loop-ok: st2's callback retries
        for attempt in range(3):
            time.sleep(attempt)
        ''') == []
    assert problems('st2mistral/testing/waiting.py', loop) == []


def test_python_3_10_features_that_break_imports_on_3_8_are_found():
    source = textwrap.dedent('''\
        import dataclasses


        @dataclasses.dataclass
        class Row:
            state_info: str | None


        def pairs(a, b) -> dict:
            return dict(zip(a, b, strict=True))
        ''')
    found = problems('st2mistral/mistral_side/notifiers/mistral_db.py', source)
    assert found == [
        'st2mistral/mistral_side/notifiers/mistral_db.py:6 uses an X | Y annotation without '
        '"from __future__ import annotations": it fails at import on Python 3.8/3.9',
        'st2mistral/mistral_side/notifiers/mistral_db.py:10 uses zip(strict=...) (Python 3.10): '
        'it fails at import on Python 3.8/3.9']
    lazy = 'from __future__ import annotations\n\n' + source.replace(', strict=True', '')
    assert problems('st2mistral/mistral_side/notifiers/mistral_db.py', lazy) == []
    # test support runs on Mistral 23's Python only
    assert problems('st2mistral/testing/endpoints.py', source) == []


def test_long_files_are_found():
    assert problems('st2mistral/core/x.py', 'x = 1\n' * 601)
    assert problems('st2mistral/core/x.py', 'x = 1\n' * 600) == []


def test_the_repository_keeps_the_rules(capsys):
    assert check_layout.main(['check_layout', str(ROOT)]) == 0, capsys.readouterr().out
