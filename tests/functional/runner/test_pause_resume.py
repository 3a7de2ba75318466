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

"""Pause, resume and cancel of a mistral-v2 workflow on st2 3.3+ (emulated st2 3.9), on a
real Mistral 23, with the real relay service.

st2 3.3+ refuses ``PUT /executions/<id>`` with ``pausing``/``paused``/``resuming`` for
mistral-v2 (only WORKFLOW_RUNNER_TYPES may, st2common/st2common/services/action.py
``request_pause``/``request_resume`` @ v3.9.0), so the operator pauses in Mistral and the
relay reflects it in st2 through st2's own ``update_status``.
"""

import time

from tests.functional.runner.conftest import st2_put
from tests.functional.runner.conftest import statuses
from tests.functional.runner.conftest import unique
from tests.functional.runner.workflows import SLOW_THEN_ECHO
from tests.functional.runner.workflows import WAITING


def test_st2_39_refuses_to_pause_or_resume_a_mistral_v2_execution(side, st2):
    st2_id = st2.add_execution(action='examples.refused')
    liveaction_id = st2.execution(st2_id)['liveaction_id']
    for status, verb in (('pausing', 'pause'), ('paused', 'pause'), ('resuming', 'resume')):
        answer = st2_put(st2, st2_id, status)
        assert answer.status_code == 400
        assert answer.json()['faultstring'] == (
            'Failed updating execution. Unable to %s liveaction "%s" because it is not '
            'supported by the "mistral-v2" runner.' % (verb, liveaction_id))
    assert statuses(st2, st2_id) == ['running']


def test_pause_and_resume_in_mistral_show_in_st2_within_two_seconds(side, stream, st2):
    name = unique('examples.mpause')
    # The child runs well past the 2 s goal, so st2 shows "pausing" before "paused"
    # even on a loaded machine (with 1 s the relay's check came after it ended once).
    st2.set_child_outcome('examples.slow', 'succeeded', {'stdout': 'slow done'}, delay=3.0)
    st2.set_child_outcome('examples.echo', 'succeeded', {'stdout': 'after ✓'})
    st2_id, _, context = side.start(SLOW_THEN_ECHO % name, name)
    ex_id = context['mistral']['execution_id']
    st2.wait_for(lambda e: e.executions('examples.slow')[0]['status'] == 'running')
    assert st2_put(st2, st2_id, 'pausing').status_code == 400

    # The operator pauses the workflow in Mistral while its st2 child still runs.
    paused_at = time.monotonic()
    side.client.executions.update(ex_id, 'PAUSED')
    st2.wait_for(lambda e: e.execution(st2_id)['status'] in ('pausing', 'paused'), timeout=2)
    print('\nMistral PAUSED -> st2 %s in %.2f s' % (st2.execution(st2_id)['status'],
                                                    time.monotonic() - paused_at))
    # The child finishes, its result reaches Mistral, the pause completes; nothing new runs.
    st2.wait_for_status(st2_id, 'paused', timeout=10)
    assert side.task(ex_id, 'slow').state == 'SUCCESS'
    assert not st2.executions('examples.echo')
    paused = st2.execution(st2_id)['result']
    assert paused['extra'] == {'state': 'PAUSED', 'state_info': None}
    assert [t['name'] for t in paused['tasks']] == ['slow']

    resumed_at = time.monotonic()
    side.client.executions.update(ex_id, 'RUNNING')
    st2.wait_for(lambda e: e.execution(st2_id)['status'] != 'paused', timeout=2)
    print('Mistral RUNNING -> st2 %s in %.2f s' % (st2.execution(st2_id)['status'],
                                                   time.monotonic() - resumed_at))
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    final = st2.execution(st2_id)['result']
    assert final['last'] == 'after ✓'
    assert [t['name'] for t in final['tasks']] == ['slow', 'after']
    assert statuses(st2, st2_id) == ['running', 'pausing', 'paused', 'running', 'succeeded']
    # "pausing" is written through st2's update_status and not dispatched to st2's action
    # runner, which would call the runner's pause() again. (st2's API takes pausing ->
    # paused from the publisher, so "paused" may come either way.)
    from st2common.services import action as action_service

    liveaction_id = st2.execution(st2_id)['liveaction_id']
    written = [(s, p) for la, s, p in action_service.PUBLISHED if la == liveaction_id]
    assert written[0] == ('pausing', False)


def pause_in_mistral_while_w_runs(side, prefix):
    """Start WAITING through the runner and pause it in Mistral once ``w`` runs;
    (st2 id, Mistral execution id, the task ``w``)."""
    name = unique(prefix)
    st2_id, _, context = side.start(WAITING % name, name)
    ex_id = context['mistral']['execution_id']
    task = side.wait_task(ex_id, 'w', ('RUNNING',))
    side.client.executions.update(ex_id, 'PAUSED')
    return st2_id, ex_id, task


def test_st2_cancel_of_a_paused_execution_cancels_the_mistral_workflow(side, stream, st2):
    """st2's API completes a cancel of a paused execution at once and never calls the
    runner (services/action.py request_cancellation @ v3.9.0): the relay cancels Mistral."""
    st2_id, ex_id, task = pause_in_mistral_while_w_runs(side, 'examples.pausedcancel')
    (action,) = side.client.action_executions.list(task_execution_id=task.id)
    side.client.action_executions.update(action.id, 'SUCCESS', {})
    st2.wait_for_status(st2_id, 'paused', timeout=3)

    assert st2_put(st2, st2_id, 'canceled').json()['status'] == 'canceled'
    assert side.wait_state(ex_id, timeout=3).state == 'CANCELLED'


def test_a_task_still_running_keeps_st2_pausing_and_a_cancel_keeps_the_result(side, stream,
                                                                              st2):
    """st2's querier rule: a Mistral task still active keeps st2 ``pausing``. A cancel of
    the paused workflow ends with the workflow's result, not st2's {message, user}."""
    st2_id, ex_id, task = pause_in_mistral_while_w_runs(side, 'examples.idlepause')
    st2.wait_for_status(st2_id, 'pausing', timeout=2)
    (action,) = side.client.action_executions.list(task_execution_id=task.id)
    side.client.action_executions.update(action.id, 'SUCCESS', {'waited': True})
    st2.wait_for_status(st2_id, 'paused', timeout=2)

    side.client.executions.update(ex_id, 'CANCELLED')
    st2.wait_for_status(st2_id, 'canceled', timeout=2)
    final = st2.execution(st2_id)['result']
    assert final['extra']['state'] == 'CANCELLED'
    assert [(t['name'], t['result']) for t in final['tasks']] == [('w', {'waited': True})]
    assert statuses(st2, st2_id) == ['running', 'pausing', 'paused', 'canceled']
