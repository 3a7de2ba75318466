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

"""An action-chain and an orquesta workflow calling a mistral-v2 action, on real st2
v3.9.0 (its own action_chain and orquesta runners and workflow engine) and real
Mistral 23 (issue 17, item 6).

- success and failure of the Mistral child reach the parent;
- a cancel of the parent cancels the Mistral workflow: st2 3.3+ does not pass a
  cancel on to a mistral-v2 child (action_chain_runner.py 326-344, orquesta_runner.py
  223-285 @ v3.9.0), the relay's cancel job does (st2_side/relay/cancels.py);
- a pause of an orquesta parent: st2 asks no mistral-v2 child to pause
  (``task_pauseable``, orquesta_runner.py 164-170 @ v3.9.0; st2 3.3+ would refuse
  it anyway, st2common/services/action.py ``request_pause``), so the parent is
  ``pausing`` until the Mistral child ends, then ``paused``; a resume finishes it.
"""

import pytest
import requests

from st2mistral.testing.waiting import wait_until
from tests.functional.real_st2.conftest import TIMEOUT

PARENTS = ['chain', 'orq']


def children(stack, parent_id):
    answer = requests.get(stack.st2.api_url + '/executions', headers=stack.headers,
                          params={'parent': parent_id}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return answer.json()


def mistral_child(stack, parent_id):
    """The parent's one mistral-v2 child, once st2 has it running with its workflow."""
    def found():
        kids = [c for c in children(stack, parent_id) if c['runner']['name'] == 'mistral-v2']
        return kids[0]['id'] if kids else None

    child_id = wait_until(found, timeout=TIMEOUT, interval=0.2,
                          message='a mistral-v2 child of %s' % parent_id)
    return child_id, stack.mistral_id(child_id)


def mistral_state(stack, mistral_id):
    return stack.mistral.client().executions.get(mistral_id).state


def statuses(execution):
    return [entry['status'] for entry in execution.get('log') or ()]


@pytest.mark.parametrize('parent', PARENTS)
def test_a_parent_succeeds_with_its_mistral_child(stack, parent):
    parent_id = stack.run('st2mistral_tests.%s_wf_ok' % parent)
    done = stack.wait(parent_id, ('succeeded', 'failed', 'canceled'))
    assert done['status'] == 'succeeded', done.get('result')
    (child,) = children(stack, parent_id)
    assert child['status'] == 'succeeded'
    assert child['result']['greeting'] == 'hello'
    assert child['result']['extra']['state'] == 'SUCCESS'


@pytest.mark.parametrize('parent', PARENTS)
def test_a_parent_fails_with_its_failing_mistral_child(stack, parent):
    parent_id = stack.run('st2mistral_tests.%s_wf_fail' % parent)
    done = stack.wait(parent_id, ('succeeded', 'failed', 'canceled'))
    assert done['status'] == 'failed', done.get('result')
    (child,) = children(stack, parent_id)
    assert child['status'] == 'failed'
    assert child['result']['extra']['state'] == 'ERROR'


@pytest.mark.parametrize('parent', PARENTS)
def test_a_cancel_of_the_parent_cancels_the_mistral_workflow(stack, parent):
    stack.start_relay()
    parent_id = stack.run('st2mistral_tests.%s_wf_delayed' % parent)
    child_id, mistral_id = mistral_child(stack, parent_id)
    stack.wait(child_id, ('running',))

    stack.cancel(parent_id)

    child = stack.wait(child_id, ('canceled', 'succeeded', 'failed'))
    assert child['status'] == 'canceled', child.get('result')
    assert mistral_state(stack, mistral_id) == 'CANCELLED'
    done = stack.wait(parent_id, ('canceled', 'succeeded', 'failed'))
    assert done['status'] == 'canceled', done.get('result')
    assert 'canceling' in statuses(stack.execution(parent_id))


@pytest.mark.parametrize('parent', PARENTS)
def test_a_pause_of_the_parent_waits_for_the_mistral_child(stack, parent):
    parent_id = stack.run('st2mistral_tests.%s_wf_nap5' % parent)
    child_id, mistral_id = mistral_child(stack, parent_id)
    stack.wait(child_id, ('running',))

    code, answer = stack.put_status(parent_id, 'pausing')
    assert code == 200, answer
    # st2 asks no mistral-v2 child to pause: the parent waits for it.
    stack.wait(parent_id, ('pausing',), timeout=5)
    child = stack.wait(child_id, ('succeeded', 'failed', 'paused', 'canceled'))
    assert child['status'] == 'succeeded', child.get('result')
    assert 'paused' not in statuses(child) and 'pausing' not in statuses(child)
    assert mistral_state(stack, mistral_id) == 'SUCCESS'
    stack.wait(parent_id, ('paused',))

    code, answer = stack.put_status(parent_id, 'resuming')
    assert code == 200, answer
    done = stack.wait(parent_id, ('succeeded', 'failed', 'canceled'))
    assert done['status'] == 'succeeded', done.get('result')


def test_a_cancel_is_canceling_while_an_st2_child_finishes_then_canceled(stack):
    # st2's test_wiring_cancel test_cancellation: the child ends gracefully.
    stack.start_relay()
    ex_id = stack.run('st2mistral_tests.wf_slow_child')
    mistral_id = stack.mistral_id(ex_id)
    child_id = wait_until(lambda: [c['id'] for c in children(stack, ex_id)
                                   if c['status'] == 'running'],
                          timeout=TIMEOUT, interval=0.2, message='the st2 child running')[0]

    stack.cancel(ex_id)
    stack.wait(ex_id, ('canceling',), timeout=5)
    # st2's action runner calls the runner's cancel() right after.
    wait_until(lambda: mistral_state(stack, mistral_id) == 'CANCELLED', timeout=10,
               message='Mistral execution %s cancelled' % mistral_id)
    assert stack.execution(child_id)['status'] == 'running'
    assert stack.execution(ex_id)['status'] == 'canceling'

    child = stack.wait(child_id, ('succeeded', 'failed', 'canceled'))
    assert child['status'] == 'succeeded', child.get('result')
    done = stack.wait(ex_id, ('canceled', 'succeeded', 'failed'))
    assert done['status'] == 'canceled', done.get('result')
    assert done['result']['extra']['state'] == 'CANCELLED'
    assert [(t['name'], t['state']) for t in done['result']['tasks']] == [('slow', 'SUCCESS')]


@pytest.mark.parametrize('cancel', ['parent', 'child'])
def test_a_cancel_cascades_between_a_mistral_workflow_and_its_mistral_child(stack, cancel):
    # st2's test_wiring_cancel test_cancellation_cascade_{to,from}_subworkflow_action.
    stack.start_relay()
    ex_id = stack.run('st2mistral_tests.wf_sub_slow')
    sub_id, sub_mistral_id = mistral_child(stack, ex_id)
    wait_until(lambda: [c for c in children(stack, sub_id) if c['status'] == 'running'],
               timeout=TIMEOUT, interval=0.2, message='the st2 child of the sub-workflow')

    stack.cancel(ex_id if cancel == 'parent' else sub_id)
    # Both canceling while the sub-workflow's st2 child finishes (5 s).
    stack.wait(sub_id, ('canceling',), timeout=5)
    stack.wait(ex_id, ('canceling',), timeout=5)

    sub = stack.wait(sub_id, ('canceled', 'succeeded', 'failed'), timeout=20)
    assert sub['status'] == 'canceled', sub.get('result')
    done = stack.wait(ex_id, ('canceled', 'succeeded', 'failed'), timeout=20)
    assert done['status'] == 'canceled', done.get('result')
    assert mistral_state(stack, sub_mistral_id) == 'CANCELLED'
    assert mistral_state(stack, stack.mistral_id(ex_id)) == 'CANCELLED'
