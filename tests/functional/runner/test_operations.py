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

"""Pause, resume, cancel and re-run on a real Mistral 23, with the st2 emulator.

st2 first records the request on its execution (PUT paused -> pausing, canceled
-> canceling, resuming) and then calls the runner; the tests do the same.
"""

import json

import pytest

from st2mistral.st2_side import launcher
from tests.functional.runner.conftest import st2_put
from tests.functional.runner.conftest import statuses
from tests.functional.runner.conftest import unique
from tests.functional.runner.workflows import SLOW_THEN_ECHO
from tests.functional.runner.workflows import SUB_WITH_ITEMS
from tests.functional.runner.workflows import SUB_WORKFLOW
from tests.functional.runner.workflows import WITH_ITEMS


def start_on_st2_32_until_slow_runs(side, st2, prefix, stdout):
    """Start SLOW_THEN_ECHO as st2 3.2 does; return (st2 id, context, Mistral execution
    id) once its examples.slow child runs (it succeeds with ``stdout`` after 1 s)."""
    st2.version = '3.2'
    name = unique(prefix)
    st2.set_child_outcome('examples.slow', 'succeeded', {'stdout': stdout}, delay=1.0)
    st2_id, _, context = side.start(SLOW_THEN_ECHO % name, name)
    st2.wait_for(lambda e: e.executions('examples.slow')[0]['status'] == 'running')
    return st2_id, context, context['mistral']['execution_id']


def test_pause_then_resume_through_st2_32(side, stream, st2):
    """st2 3.2 pauses and resumes a mistral-v2 execution itself, as it always did
    (st2 3.3+: see test_pause_resume.py)."""
    st2_id, context, ex_id = start_on_st2_32_until_slow_runs(side, st2, 'examples.pause',
                                                             'slow done')

    assert st2_put(st2, st2_id, 'paused').json()['status'] == 'pausing'
    side.launcher.pause(context)
    assert side.client.executions.get(ex_id).state == 'PAUSED'
    # The running child finishes; its result reaches Mistral; nothing new starts.
    st2.wait_for_status(st2_id, 'paused', timeout=30)
    assert side.task(ex_id, 'slow').state == 'SUCCESS'
    assert not st2.executions('examples.echo')
    assert statuses(st2, st2_id)[-2:] == ['pausing', 'paused']

    assert st2_put(st2, st2_id, 'resuming').json()['status'] == 'resuming'
    side.launcher.resume(context)
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    assert [c['parameters'] for c in st2.executions('examples.echo')] == [{'msg': 'after'}]
    assert side.client.executions.get(ex_id).state == 'SUCCESS'


def test_cancel_with_a_running_child_st2_32(side, stream, st2):
    """On st2 3.2 a mistral-v2 execution stays canceling while a child runs
    (is_children_active); 3.3+ answers False for mistral-v2, see test_pause_resume.py."""
    st2_id, context, ex_id = start_on_st2_32_until_slow_runs(side, st2, 'examples.cancel',
                                                             'late')

    assert st2_put(st2, st2_id, 'canceled').json()['status'] == 'canceling'
    side.launcher.cancel(context)
    assert side.client.executions.get(ex_id).state == 'CANCELLED'

    st2.wait_for_status(st2_id, 'canceled', timeout=30)
    (child,) = st2.executions('examples.slow')
    assert child['status'] == 'succeeded'
    # st2 stayed canceling while its child ran, and became canceled only after it ended.
    history = st2.execution(st2_id)['history']
    canceled_at = [h['at'] for h in history if h['status'] == 'canceled'][0]
    child_done_at = [h['at'] for h in child['history'] if h['status'] == 'succeeded'][0]
    assert child_done_at <= canceled_at
    assert not st2.executions('examples.echo')
    assert side.client.executions.get(ex_id).state == 'CANCELLED'


def test_operations_on_the_parent_task_of_a_nested_workflow(side):
    """A workflow started by a task of another Mistral workflow: its pause and resume
    also reach that task's action execution, its cancel that task's workflow."""
    parent_name, child_name = unique('examples.outer'), unique('examples.inner')
    outer = side.client.workflows.create(
        "version: '2.0'\n%s:\n  tasks:\n    wait_child: {action: std.async_noop}\n"
        % parent_name)[0]
    outer_ex = side.client.executions.create(outer.name)
    task = side.wait_task(outer_ex.id, 'wait_child', ('RUNNING',))
    (parent_action,) = side.client.action_executions.list(task_execution_id=task.id)

    st2_id = side.st2.add_execution(action=child_name)
    request = side.request(
        "version: '2.0'\n%s:\n  tasks:\n    w: {action: std.async_noop}\n" % child_name,
        child_name, st2_id)
    request.context = {'parent': {'execution_id': 'st2parent'}, 'mistral': {
        'workflow_execution_id': outer_ex.id, 'workflow_name': parent_name,
        'task_execution_id': task.id, 'task_name': 'wait_child',
        'action_execution_id': parent_action.id}}
    _, _, context = side.launcher.start(request)
    context['parent'] = request.context['parent']
    assert context['mistral']['parent'] == {'workflow_execution_id': outer_ex.id,
                                            'workflow_name': parent_name}

    side.launcher.pause(context)
    assert side.client.action_executions.get(parent_action.id).state == 'PAUSED'
    assert side.client.executions.get(context['mistral']['execution_id']).state == 'PAUSED'
    side.launcher.resume(context)
    assert side.client.action_executions.get(parent_action.id).state == 'RUNNING'
    assert side.client.executions.get(context['mistral']['execution_id']).state == 'RUNNING'
    side.launcher.cancel(context)
    assert side.client.executions.get(context['mistral']['execution_id']).state == 'CANCELLED'
    # The parent workflow is cancelled; its task's action waits for this child's own
    # result (canceled), so st2 shows the parent canceling until then.
    assert side.client.executions.get(outer_ex.id).state == 'CANCELLED'
    assert side.client.action_executions.get(parent_action.id).state == 'RUNNING'
    side.client.action_executions.update(parent_action.id, 'CANCELLED')
    assert side.client.action_executions.get(parent_action.id).state == 'CANCELLED'
    # Cancelling again (the parent's own cancel cascading here) changes nothing.
    side.launcher.cancel(context)


FLAKY = """
version: '2.0'
%s:
  tasks:
    flaky:
      action: examples.flaky item=one
      on-success: [done]
    done:
      action: std.noop
"""


def test_rerun_a_failed_task_with_reset_updates_the_env_first(side, stream, st2):
    name = unique('examples.rerun')
    st2.set_child_outcome('examples.flaky', 'failed', {'stderr': 'boom'})
    first_id, _, context = side.start(FLAKY % name, name)
    ex_id = context['mistral']['execution_id']
    st2.wait_for_status(first_id, 'failed', timeout=30)

    # st2 re-runs as a NEW st2 execution whose runner gets the old one's context.
    st2.set_child_outcome('examples.flaky', 'succeeded', {'stdout': 'fine now'})
    rerun_id = st2.add_execution(action=name)
    status, result, new_context = side.launcher.rerun(
        side.request(FLAKY % name, name, rerun_id), context,
        {'tasks': ['flaky'], 'reset': ['flaky']})
    assert (status, result) == ('running', {'tasks': []})
    assert new_context['mistral']['execution_id'] == ex_id

    st2.wait_for_status(rerun_id, 'succeeded', timeout=30)
    env = json.loads(side.client.executions.get(ex_id).params)['env']
    assert env['st2_execution_id'] == rerun_id
    assert [c['status'] for c in st2.executions('examples.flaky')] == ['failed', 'succeeded']
    # The new child reported to the new st2 execution.
    assert st2.executions('examples.flaky')[1]['context']['parent']['execution_id'] == rerun_id


def test_rerun_without_reset_runs_only_the_failed_items(side, stream, st2):
    name = unique('examples.items')
    st2.set_child_outcome('examples.flaky', 'failed', {'stderr': 'boom'})
    first_id, _, context = side.start(WITH_ITEMS % name, name)
    st2.wait_for_status(first_id, 'failed', timeout=30)

    st2.set_child_outcome('examples.flaky', 'succeeded', {'stdout': 'ok'})
    rerun_id = st2.add_execution(action=name)
    side.launcher.rerun(side.request(WITH_ITEMS % name, name, rerun_id), context,
                        {'tasks': ['items'], 'reset': []})
    st2.wait_for_status(rerun_id, 'succeeded', timeout=30)
    assert len(st2.executions('examples.ok')) == 1      # kept, not run again
    assert len(st2.executions('examples.flaky')) == 2
    items = [t for t in st2.execution(rerun_id)['result']['tasks'] if t['name'] == 'items']
    assert items[-1]['result'] == [{'stdout': 'ok'}, {'stdout': 'ok'}]


def test_rerun_a_task_of_a_sub_workflow_by_its_dotted_name(side, stream, st2):
    name = unique('examples.nested')
    st2.set_child_outcome('examples.flaky', 'failed', {'stderr': 'boom'})
    first_id, _, context = side.start(SUB_WORKFLOW % name, name,
                                      runner_parameters={'workflow': name + '.main'})
    st2.wait_for_status(first_id, 'failed', timeout=30)

    st2.set_child_outcome('examples.flaky', 'succeeded', {'stdout': 'ok'})
    rerun_id = st2.add_execution(action=name)
    request = side.request(SUB_WORKFLOW % name, name, rerun_id,
                           runner_parameters={'workflow': name + '.main'})
    side.launcher.rerun(request, context, {'tasks': ['sub.step'], 'reset': ['sub.step']})
    st2.wait_for_status(rerun_id, 'succeeded', timeout=30)
    subs = side.client.executions.list(root_execution_id=context['mistral']['execution_id'])
    assert [json.loads(s.params)['env']['st2_execution_id'] for s in subs] == [rerun_id]


def test_rerun_names_the_tasks_it_cannot_rerun(side, stream, st2):
    name = unique('examples.norerun')
    st2.set_child_outcome('examples.flaky', 'failed', {'stderr': 'boom'})
    first_id, _, context = side.start(FLAKY % name, name)
    st2.wait_for_status(first_id, 'failed', timeout=30)
    with pytest.raises(launcher.RunnerError) as error:
        side.launcher.rerun(side.request(FLAKY % name, name, first_id), context,
                            {'tasks': ['flaky', 'done', 'nope'], 'reset': []})
    assert 'Unable to identify rerunable tasks: done, nope.' in str(error.value)


def test_rerun_refuses_a_workflow_that_did_not_fail(side, stream, st2):
    name = unique('examples.fine')
    st2_id, _, context = side.start(FLAKY % name, name)
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    with pytest.raises(launcher.RunnerError, match='is SUCCESS, not ERROR'):
        side.launcher.rerun(side.request(FLAKY % name, name, st2_id), context,
                            {'tasks': ['flaky']})


def test_rerun_without_reset_of_a_sub_workflows_with_items_task(side, stream, st2):
    """st2 3.2's test_rerun_subflow_and_resume_with_items_task: only the failed item of
    the sub-workflow's with-items task runs again."""
    name = unique('examples.subitems')
    params = {'workflow': name + '.main'}
    st2.set_child_outcome('examples.flaky', 'failed', {'stderr': 'boom'})
    first_id, _, context = side.start(SUB_WITH_ITEMS % name, name, runner_parameters=params)
    st2.wait_for_status(first_id, 'failed', timeout=30)

    st2.set_child_outcome('examples.flaky', 'succeeded', {'stdout': 'ok'})
    rerun_id = st2.add_execution(action=name)
    side.launcher.rerun(side.request(SUB_WITH_ITEMS % name, name, rerun_id,
                                     runner_parameters=params),
                        context, {'tasks': ['sub.items'], 'reset': []})
    st2.wait_for_status(rerun_id, 'succeeded', timeout=30)
    assert len(st2.executions('examples.ok')) == 1      # kept, not run again
    assert [c['status'] for c in st2.executions('examples.flaky')] == ['failed', 'succeeded']
