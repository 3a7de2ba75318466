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

"""Re-run of failed tasks on real st2 v3.9.0 (issue 17, item 4), with st2 3.2's
test_wiring_rerun.py expectations: a NEW st2 execution on the SAME Mistral execution,
tracked to its end; reset re-runs every item (4 children), no reset only the failed
ones (2); the failed execution stays as it was.

st2 3.3+ refuses ``--tasks`` for any runner but orquesta
(st2api/st2api/controllers/v1/actionexecutions.py, lines 632-633 @ v3.9.0); the
runner parameters ``rerun_tasks``/``rerun_no_reset`` of a plain re-run are accepted.
"""

import os
import re
import subprocess

import pytest
import requests

from st2mistral.testing.real_st2 import settings
from tests.functional.real_st2.conftest import TIMEOUT
from tests.st2_suite import suite_env

if settings.source() is None:
    pytest.skip(settings.SKIP_REASON, allow_module_level=True)

ACTION = 'st2mistral_tests.wf_rerun'


def re_run(stack, execution_id, body):
    """``POST /executions/<id>/re_run``: what ``st2 execution re-run`` sends."""
    return requests.post(stack.st2.api_url + '/executions/%s/re_run' % execution_id,
                         headers=stack.headers, json=body, timeout=TIMEOUT)


def failed_run(stack, tmp_path):
    """wf_rerun failed (items 2 and 3); the file then lets every item succeed."""
    path = tmp_path / 'flag'
    path.write_text('1')
    ex_id = stack.run(ACTION, {'tempfile': str(path)})
    failed = stack.wait(ex_id, ('succeeded', 'failed'))
    assert failed['status'] == 'failed', failed.get('result')
    assert len(failed['children']) == 4
    path.write_text('0')
    return failed


def rerun_to_end(stack, failed, parameters):
    answer = re_run(stack, failed['id'], {'parameters': parameters})
    assert answer.status_code == 201, answer.text
    new = answer.json()
    assert new['id'] != failed['id']
    done = stack.wait(new['id'], ('succeeded', 'failed'))
    assert done['status'] == 'succeeded', done.get('result')
    assert done['context']['mistral']['execution_id'] == (
        failed['context']['mistral']['execution_id'])
    assert done['context']['re-run'] == {'ref': failed['id']}
    assert [t['name'] for t in done['result']['tasks']] == ['items']
    after = stack.execution(failed['id'])
    assert (after['status'], after['children'], after['log']) == (
        'failed', failed['children'], failed['log'])
    return done


def test_st2_39_refuses_tasks_for_mistral_v2(stack, tmp_path):
    stack.start_relay()
    failed = failed_run(stack, tmp_path)
    answer = re_run(stack, failed['id'], {'tasks': ['items'], 'reset': ['items']})
    assert answer.status_code == 400
    assert answer.json()['faultstring'] == 'Task option is only supported for Orquesta workflows.'


def test_rerun_tasks_with_reset_runs_every_item_again(stack, tmp_path):
    stack.start_relay()
    failed = failed_run(stack, tmp_path)
    done = rerun_to_end(stack, failed, {'rerun_tasks': ['items']})
    assert len(done['children']) == 4
    assert done['parameters']['rerun_tasks'] == ['items']


def test_rerun_tasks_without_reset_runs_only_the_failed_items(stack, tmp_path):
    stack.start_relay()
    failed = failed_run(stack, tmp_path)
    done = rerun_to_end(stack, failed, {'rerun_tasks': ['items'],
                                        'rerun_no_reset': ['items']})
    assert len(done['children']) == 2
    assert all(stack.execution(c)['parameters']['cmd'].endswith(('2 -lt 2', '3 -lt 2'))
               for c in done['children'])


def test_a_plain_rerun_starts_the_workflow_anew(stack, tmp_path):
    stack.start_relay()
    failed = failed_run(stack, tmp_path)
    answer = re_run(stack, failed['id'], {})
    assert answer.status_code == 201, answer.text
    done = stack.wait(answer.json()['id'], ('succeeded', 'failed'))
    assert done['status'] == 'succeeded', done.get('result')
    assert done['context']['mistral']['execution_id'] != (
        failed['context']['mistral']['execution_id'])


def test_rerun_tasks_with_st2_run_fails_at_once_saying_what_to_do(stack, tmp_path):
    ex_id = stack.run(ACTION, {'tempfile': str(tmp_path / 'none'), 'rerun_tasks': ['items']})
    done = stack.wait(ex_id, ('succeeded', 'failed'))
    assert done['status'] == 'failed'
    assert 'st2 execution re-run <id of the failed execution> rerun_tasks=' in (
        done['result']['error'])
    assert 'context' not in done or 'mistral' not in done['context']


def test_the_documented_command_with_st2client_of_the_tag(stack, tmp_path):
    """``st2 execution re-run <id> rerun_tasks=items rerun_no_reset=items``, to the letter,
    with st2client v3.9.0 (st2's own suite venv, tests/st2_suite/suite_env.py), which
    turns ``items`` into the array the runner parameter is."""
    stack.start_relay()
    failed = failed_run(stack, tmp_path)
    cli = suite_env.build_suite_env(stack.st2.venv) / 'bin' / 'st2'
    env = dict(os.environ, ST2_API_URL=stack.st2.api_url, ST2_AUTH_URL=stack.st2.auth_url,
               ST2_STREAM_URL=stack.st2.stream_url, ST2_AUTH_TOKEN=stack.token)
    env.pop('PYTHONHOME', None)
    env.pop('PYTHONPATH', None)
    ran = subprocess.run([str(cli), 'execution', 're-run', failed['id'], 'rerun_tasks=items',
                          'rerun_no_reset=items', '--async'],
                         env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # --async prints "To get the results, execute:\n st2 execution get <id>".
    new_id = re.search(r'st2 execution get ([0-9a-f]{24})', ran.stdout).group(1)
    done = stack.wait(new_id, ('succeeded', 'failed'))
    assert done['status'] == 'succeeded', done.get('result')
    assert (done['parameters']['rerun_tasks'], done['parameters']['rerun_no_reset']) == (
        ['items'], ['items'])
    assert len(done['children']) == 2
