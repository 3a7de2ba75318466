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

"""``POST /executions/<id>/re_run`` (st2api/st2api/controllers/v1/actionexecutions.py):
st2 3.2 took ``tasks`` for mistral-v2, st2 3.3+ refuses them (lines 632-633 @ v3.9.0),
which is why the runner takes ``rerun_tasks`` as a runner parameter (issue 17 item 4).
The emulator's rules are st2_emulator/reruns.py."""

from tests.contract.conftest import WORKFLOW_ACTION


def re_run(backend, execution_id, body):
    return backend.post('/executions/%s/re_run' % execution_id, body)


def test_tasks_of_a_mistral_v2_execution(backend):
    old, _ = backend.new_execution(status='failed')
    answer = re_run(backend, old, {'tasks': ['t1'], 'reset': ['t1']})
    if backend.tag == 'v3.2.0':
        assert answer.status_code == 201, answer.text
        assert answer.json()['context']['re-run'] == {'ref': old, 'tasks': ['t1'],
                                                      'reset': ['t1']}
    else:
        assert answer.status_code == 400
        assert answer.json()['faultstring'] == ('Task option is only supported for Orquesta '
                                                'workflows.')


def test_a_re_run_without_tasks_is_a_new_execution_the_old_one_unchanged(backend):
    old, _ = backend.new_execution(status='failed')
    before = backend.get('/executions/%s' % old).json()
    answer = re_run(backend, old, {})
    assert answer.status_code == 201, answer.text
    new = answer.json()
    assert new['id'] != old and new['action']['ref'] == WORKFLOW_ACTION
    assert new['context']['re-run'] == {'ref': old}
    after = backend.get('/executions/%s' % old).json()
    assert (after['status'], after['log']) == (before['status'], before['log'])


def test_parameters_with_tasks_are_refused(backend):
    old, _ = backend.new_execution(status='failed')
    answer = re_run(backend, old, {'tasks': ['t1'], 'parameters': {'x': 1}})
    assert answer.status_code == 400
    assert answer.json()['faultstring'] == ('Parameters override is not supported when '
                                            're-running task(s) for a workflow.')
