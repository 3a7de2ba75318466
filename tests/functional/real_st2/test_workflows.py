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

"""st2 v3.9.0 runs mistral-v2 workflows on Mistral 23 through its own API and services."""

import pytest

from st2mistral.testing.real_st2 import settings
from st2mistral.testing.waiting import wait_until
from tests.functional.real_st2.conftest import TIMEOUT
from tests.functional.real_st2.conftest import task_names

if settings.source() is None:
    pytest.skip(settings.SKIP_REASON, allow_module_level=True)


def test_a_workflow_succeeds_with_its_tasks(stack):
    done = stack.run_to_end('st2mistral_tests.wf_ok', 'succeeded', ['first', 'second'],
                            'SUCCESS')
    assert done['result']['greeting'] == 'hello'


def test_a_failing_workflow_fails_with_its_tasks(stack):
    stack.run_to_end('st2mistral_tests.wf_fail', 'failed', ['boom'], 'ERROR')


def test_a_cancel_from_st2_cancels_the_mistral_execution(stack):
    ex_id = stack.run('st2mistral_tests.wf_sleep')
    stack.wait(ex_id, ('running',))
    mistral_id = stack.mistral_id(ex_id)
    stack.cancel(ex_id)
    done = stack.wait(ex_id, ('canceled', 'failed', 'succeeded'))
    assert done['status'] == 'canceled'
    wf = stack.mistral.wait_for_execution(mistral_id, timeout=TIMEOUT)
    assert wf.state == 'CANCELLED'


def test_a_cancel_from_st2_keeps_the_tasks_in_the_result(stack):
    ex_id = stack.run('st2mistral_tests.wf_sleep')
    stack.wait(ex_id, ('running',))
    stack.mistral_id(ex_id)
    stack.cancel(ex_id)
    done = stack.wait(ex_id, ('canceled',))
    assert task_names(done['result']) == ['nap']
    assert done['result']['extra']['state'] == 'CANCELLED'
    liveaction = stack.st2.control('liveaction', liveaction_id=done['liveaction']['id'])
    assert task_names(liveaction['result']) == ['nap']


def test_a_workflow_with_an_st2_action_child_completes_through_the_relay(stack):
    stack.start_relay()
    stack.run_workflow_with_a_child()


def test_a_pause_and_resume_in_mistral_show_in_st2(stack):
    """st2 3.3+ refuses a pause of mistral-v2 through its API, so the relay reflects it.
    As st2's own mistral-v2 querier did (contrib/runners/mistral_v2/query.py @ v3.2.0),
    st2 shows pausing while a task still runs, paused once none does."""
    stack.start_relay()
    ex_id = stack.run('st2mistral_tests.wf_nap_then_noop')
    stack.wait(ex_id, ('running',))
    mistral_id = stack.mistral_id(ex_id)
    client = stack.mistral.client()
    client.executions.update(mistral_id, 'PAUSED')
    stack.wait(ex_id, ('pausing', 'paused'), timeout=2)
    stack.wait(ex_id, ('paused',), timeout=10)   # the 2 s nap ends, wake does not start
    client.executions.update(mistral_id, 'RUNNING')
    done = stack.wait(ex_id, ('succeeded', 'failed'), timeout=10)
    assert done['status'] == 'succeeded', done.get('result')
    assert task_names(done['result']) == ['nap', 'wake']


def test_st2kv_jinja_in_an_st2_action_task_is_rendered_by_st2(stack):
    """As on st2 3.2 (its util/workflow/mistral.py): the runner sends the parameter raw,
    st2 renders it when it creates the child (issue 17: Mistral failed it before)."""
    stack.start_relay()
    stack.run_st2kv_workflow()


def test_a_running_workflows_tasks_show_in_st2s_record(stack):
    """st2's API drops a result whose status did not change (update_status,
    st2common/st2common/services/action.py @ v3.9.0): the relay's progress job writes a
    running workflow's tasks through st2's records, as st2 3.2's querier showed them."""
    stack.start_relay()
    ex_id = stack.run('st2mistral_tests.wf_sleep')
    stack.wait(ex_id, ('running',))
    mistral_id = stack.mistral_id(ex_id)

    def tasks_shown():
        ex = stack.execution(ex_id)
        assert ex['status'] == 'running', ex
        tasks = (ex.get('result') or {}).get('tasks') or []
        return ex['result'] if [(t['name'], t['state']) for t in tasks] == [
            ('nap', 'RUNNING')] else None

    running = wait_until(tasks_shown, timeout=TIMEOUT, interval=0.2,
                         message=lambda: 'the nap task in %s' % stack.execution(ex_id))
    assert running['extra'] == {'state': 'RUNNING', 'state_info': None}
    (nap,) = running['tasks']
    assert nap['workflow_execution_id'] == mistral_id and nap['created_at']
    # A result, not a status: st2's log holds no second "running".
    log = [entry['status'] for entry in stack.execution(ex_id)['log']]
    assert log.count('running') == 1, log
    stack.cancel(ex_id)
    done = stack.wait(ex_id, ('canceled',))
    assert done['result']['extra']['state'] == 'CANCELLED'
