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

"""A running workflow's tasks in its st2 execution (emulated st2 3.9, real Mistral 23, the
real relay service with its default ``progress_interval``), as st2 3.2's querier wrote
them. st2's API drops such a result (update_status: the status did not change), so the
relay writes it through st2's records; the latency of each change is printed, not
asserted (benchmarks/ hold timing goals)."""

import time

from st2mistral.core import results
from st2mistral.testing.waiting import wait_until
from tests.functional.runner.conftest import statuses
from tests.functional.runner.conftest import unique

TWO_WAITS = """
version: '2.0'
%s:
  tasks:
    first:
      action: std.async_noop
      on-success: [second]
    second:
      action: std.async_noop
"""


def shown(st2, st2_id):
    """(name, state) of the tasks st2's record shows."""
    return [(t['name'], t['state']) for t in st2.execution(st2_id)['result'].get('tasks', ())]


def complete(side, ex_id, name):
    task = side.wait_task(ex_id, name, ('RUNNING',))
    (action,) = side.client.action_executions.list(task_execution_id=task.id)
    side.client.action_executions.update(action.id, 'SUCCESS', {'done': name})


def test_a_running_workflows_tasks_show_in_st2_after_each_change(side, stream, st2):
    name = unique('examples.progress')
    started = time.monotonic()
    st2_id, _, context = side.start(TWO_WAITS % name, name)
    ex_id = context['mistral']['execution_id']
    wait_until(lambda: shown(st2, st2_id) == [('first', 'RUNNING')], timeout=30,
               message=lambda: 'st2 shows %s' % shown(st2, st2_id))
    first_seen = time.monotonic() - started
    running = st2.execution(st2_id)['result']
    assert running['extra'] == {'state': 'RUNNING', 'state_info': None}
    (task,) = running['tasks']
    assert set(task) == set(results.TASK_FIELDS)
    assert task['workflow_execution_id'] == ex_id and task['workflow_name'] == name
    assert task['created_at'] and task['updated_at']

    complete(side, ex_id, 'first')
    changed = time.monotonic()
    wait_until(lambda: shown(st2, st2_id) == [('first', 'SUCCESS'), ('second', 'RUNNING')],
               timeout=30, message=lambda: 'st2 shows %s' % shown(st2, st2_id))
    change_seen = time.monotonic() - changed
    print('\ntasks shown in st2 %.2f s after the start, %.2f s after a change '
          '(progress_interval %s s)' % (first_seen, change_seen,
                                        side.conf.mistral.progress_interval))

    complete(side, ex_id, 'second')
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    done = st2.execution(st2_id)['result']
    assert [(t['name'], t['state'], t['result']) for t in done['tasks']] == [
        ('first', 'SUCCESS', {'done': 'first'}), ('second', 'SUCCESS', {'done': 'second'})]
    # Progress is a result, not a status: st2 went from running to succeeded once.
    assert statuses(st2, st2_id) == ['running', 'succeeded']
