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

"""st2mistral-validate: what st2 3.2's validator reported (st2common/st2common/validators/
workflow/mistral/v2.py and its tests test_validator_mistral.py at v3.2.0) plus what Mistral
23's spec parser refuses, one line per problem with file and task."""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from st2mistral.st2_side import validate

ROOT = pathlib.Path(__file__).resolve().parents[3]  # this checkout
MISTRAL = validate.mistral_checker()
needs_mistral = pytest.mark.skipif(MISTRAL is None, reason='Mistral is not importable here')

LOCAL_RUNNER = """
- name: local-shell-cmd
  runner_parameters:
    cmd: {type: string}
    sudo: {type: boolean, default: false}
    timeout: {type: integer, default: 60}
- name: python-script
  runner_parameters:
    env: {type: object}
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def make_pack(root, name, workflows):
    """A pack ``name`` under ``root`` with one mistral-v2 action per workflow text, and
    the st2 actions they call. Returns {action name: definition path}."""
    pack = root / name
    write(pack / 'pack.yaml', 'name: %s\nversion: 1.0.0\n' % name)
    write(pack / 'actions' / 'local.yaml', """
        name: local
        runner_type: local-shell-cmd
        parameters:
          cmd: {type: string, required: true}
        """)
    write(pack / 'actions' / 'action-1.yaml', """
        name: action-1
        runner_type: python-script
        entry_point: a.py
        parameters:
          actionstr: {type: string, required: true}
          strtype: {type: string}
        """)
    paths = {}
    for action, text in workflows.items():
        write(pack / 'actions' / ('%s.yaml' % action), """
            name: %s
            runner_type: mistral-v2
            entry_point: workflows/%s.yaml
            """ % (action, action))
        paths[action] = write(pack / 'actions' / 'workflows' / ('%s.yaml' % action),
                              text.replace('%(ref)s', '%s.%s' % (name, action)))
    return paths


def run(capsys, *argv):
    code = validate.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


GOOD = """
version: '2.0'
%(ref)s:
  input: [who]
  tasks:
    greet:
      action: wf.local cmd="echo {{ st2kv.system.greeting }}"
      on-success: [who]
    who:
      action: wf.local
      input:
        cmd: echo <% $.who %>
      on-success: [done]
    done:
      action: std.noop
"""

ST2_PROBLEMS = """
version: '2.0'
%(ref)s:
  tasks:
    no_required:
      action: wf.action-1 strtype=x
    unexpected:
      action: wf.action-1 actionstr=x foo=1
    callback:
      action: st2.callback
    mixed:
      action: wf.local
      input:
        cmd: "{{ _.x }} {{ st2kv.system.y }}"
    fine:
      action: wf.local cmd=ls
"""


def test_a_valid_pack_has_no_problem(tmp_path, capsys):
    make_pack(tmp_path, 'wf', {'good': GOOD})
    code, out, err = run(capsys, tmp_path, '--runners', write(tmp_path / 'r' / 'runner.yaml',
                                                                LOCAL_RUNNER).parent)
    assert (code, out) == (0, [])
    assert '0 problem(s) in 1 definition(s) checked.' in err


def test_st2_32_rules_one_line_per_task(tmp_path, capsys):
    paths = make_pack(tmp_path, 'wf', {'bad': ST2_PROBLEMS})
    runners = write(tmp_path / 'runners' / 'runner.yaml', LOCAL_RUNNER).parent
    code, out, _ = run(capsys, tmp_path / 'wf', '--runners', runners)
    path = paths['bad']
    assert code == 1
    assert out == [
        '%s: wf.bad.no_required: Missing required parameters in "no_required" for action '
        '"wf.action-1": "actionstr"' % path,
        '%s: wf.bad.unexpected: Unexpected parameters in "unexpected" for action '
        '"wf.action-1": "foo"' % path,
        '%s: wf.bad.callback: st2.callback is deprecated (task "callback").' % path,
        '%s: wf.bad.mixed: Parameter "cmd" for action "wf.local" containing references to '
        'both local context (i.e. _.var1) and st2kv (i.e. st2kv.system.var1) is not '
        'supported: Mistral evaluates the first, st2 the second. Publish the st2kv value in '
        'an earlier task (st2kv(\'system.var1\') in Mistral) or pass the local value as a '
        'separate parameter.' % path,
    ]


def test_workflow_name_and_multiple_workflows(tmp_path, capsys):
    paths = make_pack(tmp_path, 'wf', {
        'named': GOOD.replace('%(ref)s', 'wf.other'),
        'two': GOOD + GOOD.replace('%(ref)s', 'wf.second').replace("version: '2.0'", ''),
    })
    code, out, _ = run(capsys, tmp_path)
    assert code == 1
    assert ('%s: Name of the workflow must be the same as the fully qualified action name '
            '"wf.named".' % paths['named']) in out
    assert ('%s: Multiple workflows is not supported workflow only (not a workbook) '
            'definition.' % paths['two']) in out


def test_unexpected_parameters_need_the_runner_parameters(tmp_path, capsys):
    make_pack(tmp_path, 'wf', {'t': """
        version: '2.0'
        %(ref)s:
          tasks:
            t:
              action: wf.local cmd=ls timeout=5 bogus=1
        """})
    # Without the runner's parameters only what the action declares is known: a
    # parameter it does not declare is not refused, and the command says so.
    code, out, err = run(capsys, tmp_path)
    assert not [line for line in out if 'Unexpected' in line]
    assert 'runner parameters unknown for local-shell-cmd' in err
    runners = write(tmp_path / 'runners' / 'local' / 'runner.yaml', LOCAL_RUNNER).parent.parent
    code, out, err = run(capsys, tmp_path / 'wf', '--runners', runners)
    assert code == 1
    assert [line.split(': ', 2)[2] for line in out if 'Unexpected' in line] == [
        'Unexpected parameters in "t" for action "wf.local": "bogus"']
    assert 'runner parameters unknown' not in err


def test_unreadable_files_are_problems_with_a_clear_message(tmp_path, capsys):
    bad_yaml = write(tmp_path / 'bad.yaml', 'a: [unclosed\n')
    binary = tmp_path / 'binary.yaml'
    binary.write_bytes(b'\xff\xfe\x00bad')
    not_a_mapping = write(tmp_path / 'list.yaml', '- a\n- b\n')
    missing = tmp_path / 'nope.yaml'
    code, out, _ = run(capsys, bad_yaml, binary, not_a_mapping, missing)
    assert code == 1
    assert out[0].startswith('%s: not valid YAML: ' % bad_yaml)
    assert out[1].startswith('%s: cannot read the file: ' % binary)
    assert out[2] == ('%s: not a Mistral workflow or workbook definition (a YAML mapping is '
                      'expected)' % not_a_mapping)
    assert out[3] == '%s: no such file or directory' % missing


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads any file')
def test_a_file_without_read_permission(tmp_path, capsys):
    path = write(tmp_path / 'secret.yaml', "version: '2.0'\n")
    path.chmod(0)
    code, out, _ = run(capsys, path)
    assert (code, out) == (1, ['%s: cannot read the file: Permission denied' % path])


def test_an_entry_point_that_is_missing(tmp_path, capsys):
    pack = tmp_path / 'wf'
    write(pack / 'actions' / 'gone.yaml', """
        name: gone
        runner_type: mistral-v2
        entry_point: workflows/gone.yaml
        """)
    code, out, _ = run(capsys, pack)
    assert (code, out) == (1, ['%s: cannot read the file: No such file or directory'
                               % (pack / 'actions' / 'workflows' / 'gone.yaml')])


def test_a_directory_without_packs(tmp_path, capsys):
    code, out, _ = run(capsys, tmp_path)
    assert (code, out) == (1, ['%s: no pack here (no "actions" directory at or below it)'
                               % tmp_path])


def test_without_mistral_it_says_its_checks_were_not_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(validate, 'mistral_checker', lambda: None)
    make_pack(tmp_path, 'wf', {'good': GOOD})
    code, out, err = run(capsys, tmp_path)
    assert code == 0
    assert "Mistral is not importable here: Mistral 23's own checks were NOT run" in err


MISTRAL_PROBLEMS = """
version: '2.0'
%(ref)s:
  tasks:
    bad_yaql:
      action: std.echo output=<% $.x + %>
    bad_key:
      action: std.noop
      on-sucess: [fine]
    fine:
      action: std.noop
"""


@needs_mistral
def test_mistral_refusals_are_named_by_task(tmp_path, capsys):
    paths = make_pack(tmp_path, 'wf', {'m': MISTRAL_PROBLEMS})
    code, out, _ = run(capsys, tmp_path)
    path = paths['m']
    assert code == 1
    assert len(out) == 2, out
    assert out[0].startswith('%s: wf.m.bad_yaql: Parse error: unexpected end of statement'
                             % path)
    assert out[1] == ("%s: wf.m.bad_key: Invalid DSL: Additional properties are not allowed "
                      "('on-sucess' was unexpected)" % path)


@needs_mistral
def test_mistral_refusal_outside_tasks(tmp_path, capsys):
    paths = make_pack(tmp_path, 'wf', {'o': """
        version: '2.0'
        %(ref)s:
          output:
            x: <% $.a + %>
          tasks:
            fine:
              action: std.noop
        """})
    code, out, _ = run(capsys, tmp_path)
    assert code == 1
    assert out == ['%s: Parse error: unexpected end of statement' % paths['o']]


def test_console_script_runs(tmp_path):
    make_pack(tmp_path, 'wf', {'bad': ST2_PROBLEMS})
    done = subprocess.run([sys.executable, '-m', 'st2mistral.st2_side.validate',
                           str(tmp_path)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 1
    assert 'wf.bad.mixed: Parameter "cmd"' in done.stdout


# st2 3.2's validator cases for a workbook (test_validator_mistral.py at v3.2.0 mocked
# Mistral's answers; here Mistral 23's own parser gives them).
WORKBOOK = """
version: '2.0'
name: wb
workflows:
  main:
    tasks:
      t:
        action: std.noop
"""


@needs_mistral
@pytest.mark.parametrize('change, expected', [
    (lambda text: text, []),
    (lambda text: text.replace("version: '2.0'\n", ''),
     ["Invalid DSL: 'version' is a required property"]),
    (lambda text: text.replace("'2.0'", "'1.0'"), ['Unsupported DSL version: 1.0']),
    (lambda text: text.replace('std.noop', 'std.echo output=<% $.x + %>'),
     ['main.t: Parse error: unexpected end of statement']),
    (lambda text: text.replace('action: std.noop', 'action: std.noop\n        publish:\n'
                                                   '          a: "{{ _.x + }}"'),
     ["main.t: Syntax error 'unexpected 'end of print statement''."]),
    (lambda text: text.replace('action: std.noop', 'action: std.noop\n        bogus: 1'),
     ["main.t: Invalid DSL: Additional properties are not allowed ('bogus' was "
      "unexpected)"]),
])
def test_workbook_cases_of_st2_32(tmp_path, capsys, change, expected):
    path = write(tmp_path / 'wb.yaml', change(WORKBOOK))
    code, out, _ = run(capsys, path)
    assert out == ['%s: %s' % (path, line) for line in expected]
    assert code == (1 if expected else 0)


def test_installed_runners_are_read_from_their_runner_yaml():
    # This project's own runner is installed here (entry point st2common.runners.runner).
    runners = validate.installed_runner_parameters()
    assert {'workflow', 'context', 'task_name'} <= set(runners['mistral-v2'])


def test_bad_usage_exits_2(tmp_path):
    with pytest.raises(SystemExit) as caught:
        validate.main(['--runners', str(tmp_path / 'nope'), str(tmp_path)])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        validate.main([])
    assert caught.value.code == 2


def test_workbook_tasks_and_adhoc_actions_are_named(tmp_path, capsys):
    paths = make_pack(tmp_path, 'wf', {'wb': """
        version: '2.0'
        name: %(ref)s
        actions:
          shout:
            base: wf.action-1 strtype=loud
        workflows:
          main:
            tasks:
              t:
                action: wf.action-1 actionstr=x bogus=1
        """})
    runners = write(tmp_path / 'runners' / 'runner.yaml', LOCAL_RUNNER).parent
    code, out, _ = run(capsys, tmp_path / 'wf', '--runners', runners)
    path = paths['wb']
    assert code == 1
    assert out == [
        '%s: actions.shout: Missing required parameters in "shout" for action '
        '"wf.action-1": "actionstr"' % path,
        '%s: main.t: Unexpected parameters in "t" for action "wf.action-1": "bogus"' % path,
    ]


@pytest.mark.parametrize('text', [
    "version: '2.0'\nname: wf.odd\nworkflows: [a, b]\n",
    "version: '2.0'\nwf.odd:\n  tasks: [a, b]\n",
    "version: '2.0'\nwf.odd: just text\n",
    "version: '2.0'\nname: wf.odd\nactions: [x]\nworkflows:\n  main:\n    tasks:\n"
    "      t: [1]\n",
])
def test_odd_shapes_are_reported_not_crashed_on(tmp_path, capsys, text):
    path = write(tmp_path / 'odd.yaml', text)
    code, out, err = run(capsys, path)
    assert 'problem(s) in 1 definition(s) checked.' in err
    if MISTRAL is not None:  # Mistral's schema refuses each; without it nothing is known
        assert code == 1 and out and all(line.startswith('%s: ' % path) for line in out)
