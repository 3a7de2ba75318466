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

"""Reconciliation (pull) on a real Mistral 23, with the st2 emulator.

A workflow completes while nothing pushes (no notify entry: the publisher is
off for it) and nothing relays (no stream). st2's own ``st2-track-result``
writes a row into st2's ActionExecutionStateDB (here through the st2common
stand-in's ``services.queries.setup_query``, which is what that script calls);
the relay service reads the row, relays the child's result to Mistral,
reconciles the st2 execution with the SAME result function the publisher uses
and deletes the row once st2 shows the execution completed.
"""

import threading
import types

from st2mistral.core import contract
from st2mistral.st2_side import reconcile
from st2mistral.st2_side import relay_service
from st2mistral.testing import st2_emulator
from st2mistral.testing import waiting
from tests.functional.runner.conftest import st2_conf_file
from tests.functional.runner.conftest import tracked_rows
from tests.functional.runner.conftest import unique

# The runner type st2 registered from runner.yaml (what setup_query reads).
RUNNER_TYPE = types.SimpleNamespace(name='mistral-v2', query_module='mistral_v2')


def st2_track_result(st2, st2_id, delete=False):
    """What ``st2-track-result <id> [--delete]`` does in st2's database
    (st2common/bin/st2-track-result @ v3.9.0, for a non-completed mistral-v2 execution)."""
    from st2common.services import queries

    execution = st2.execution(st2_id)
    if delete:
        return queries.remove_query(execution['liveaction_id'])
    return queries.setup_query(execution['liveaction_id'], RUNNER_TYPE, execution['context'])

GATED = """
version: '2.0'
%s:
  output:
    said: <%% $.said %%>
  tasks:
    gate:
      action: std.async_noop
      on-success: [say]
    say:
      action: examples.echo msg=tracked
      publish:
        said: <%% task().result.stdout %%>
      on-success: [done]
    done:
      action: std.noop
"""


def start_unpushed(side, name, definition):
    """Start without the st2 notify entry, then let st2 record the runner's context.

    The st2 execution is created after the runner returns (so its context holds
    ``mistral.execution_id``, as st2 stores it); the ``gate`` task holds the
    workflow until then, so the st2 child is linked to its parent.
    """
    st2_id = st2_emulator.new_object_id()
    _, _, context = side.launcher.start(side.request(definition, name, st2_id, push=False))
    side.st2.add_execution(execution_id=st2_id, action=name,
                           context={'user': 'st2admin', 'mistral': context['mistral']})
    ex_id = context['mistral']['execution_id']
    gate = side.wait_task(ex_id, 'gate', ('RUNNING',))
    (action,) = side.client.action_executions.list(task_execution_id=gate.id)
    side.client.action_executions.update(action.id, 'SUCCESS', {'opened': True})
    return st2_id, ex_id


def track_until_done(svc, timeout=30):
    """Poll st2-track-result's rows until the relay has deleted them all."""
    def done():
        if not tracked_rows():
            return True
        svc.jobs['tracked'].run_once()
        return False

    waiting.wait_until(done, timeout=timeout,
                       message=lambda: 'still tracked: %s' % tracked_rows())


def test_st2_track_result_row_is_reconciled_and_deleted(side, st2):
    name = unique('examples.tracked')
    st2.set_child_outcome('examples.echo', 'succeeded', {'stdout': 'tracked ✓'})
    st2_id, ex_id = start_unpushed(side, name, GATED % name)
    st2.wait_for(lambda e: e.executions('examples.echo')[0]['status'] == 'succeeded')
    # Nobody relayed the child: Mistral still waits for it, st2 still says running.
    assert side.task(ex_id, 'say').state == 'RUNNING'
    assert st2.execution(st2_id)['status'] == 'running'

    st2_track_result(st2, st2_id)
    (row,) = tracked_rows()
    assert row.execution_id == st2.execution(st2_id)['liveaction_id']   # a LIVEACTION id
    track_until_done(side.service)

    final = st2.execution(st2_id)
    assert final['status'] == 'succeeded'
    assert final['result']['said'] == 'tracked ✓'
    assert [t['name'] for t in final['result']['tasks']] == ['gate', 'say', 'done']
    assert final['result']['tasks'][1]['result'] == {'stdout': 'tracked ✓'}
    assert side.client.executions.get(ex_id).state == 'SUCCESS'


def test_st2_track_result_delete_stops_tracking(side, st2):
    name = unique('examples.untracked')
    definition = "version: '2.0'\n%s:\n  tasks:\n    gate: {action: std.async_noop}\n" % name
    st2_id, ex_id = start_unpushed(side, name, definition)
    side.wait_state(ex_id)
    st2_track_result(st2, st2_id)
    assert st2_track_result(st2, st2_id, delete=True) is True
    assert side.service.jobs['tracked'].run_once() == {}
    assert st2.execution(st2_id)['status'] == 'running'


def test_relay_once_from_the_console_script_entry(side, st2, tmp_path):
    name = unique('examples.once')
    definition = "version: '2.0'\n%s:\n  tasks:\n    gate: {action: std.async_noop}\n" % name
    st2_id, ex_id = start_unpushed(side, name, definition)
    side.wait_state(ex_id)
    st2_track_result(st2, st2_id)
    conf_file = st2_conf_file(side.mistral, st2, tmp_path / 'st2.conf')
    assert relay_service.main(['--config-file', conf_file, '--once']) == 0
    assert st2.execution(st2_id)['status'] == 'succeeded'
    assert tracked_rows() == []


RICH = """
version: '2.0'
name: %(name)s
workflows:
  main:
    output:
      said: <%% $.said %%>
      sub: <%% $.sub %%>
    tasks:
      say:
        action: examples.echo msg="hi"
        publish:
          said: <%% task().result %%>
        on-success: [items, sub]
      items:
        with-items: x in <%% [3, 1, 2] %%>
        action: std.echo output=<%% $.x %%>
      sub:
        workflow: inner
        publish:
          sub: <%% task().result %%>
  inner:
    output:
      inner_out: done
    tasks:
      a: {action: std.noop, on-success: [b]}
      b: {action: std.echo output="b"}
"""


def test_pull_gives_st2_the_same_result_as_push(side, stream, st2):
    """Parity: what the tracker computes from the REST API equals what the
    publisher computed from Mistral's database and sent to st2."""
    name = unique('examples.parity')
    st2_id, _, context = side.start(RICH % {'name': name}, name,
                                    runner_parameters={'workflow': name + '.main'})
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    pushed = st2.execution(st2_id)['result']

    reader = reconcile.MistralReader(side.client, side.conf)
    reading = reader.read(context['mistral']['execution_id'])
    status, pulled = reconcile.reconcile(reading, 'running', ['succeeded'],
                                       side.conf.mistral.max_result_size)
    assert status == 'succeeded'
    assert pulled == pushed
    items = [t for t in pulled['tasks'] if t['name'] == 'items'][0]
    assert items['result'] == [3, 1, 2]
    assert pulled['sub'] == {'inner_out': 'done'}


def chain(name, count):
    tasks = ''.join('    t%d:\n      action: std.echo output=%d\n%s' % (
        i, i, '      on-success: [t%d]\n' % (i + 1) if i + 1 < count else '')
        for i in range(count))
    return "version: '2.0'\n%s:\n  tasks:\n    gate:\n      action: std.async_noop\n" \
           "      on-success: [t0]\n%s" % (name, tasks)


def test_mistral_calls_per_poll_do_not_grow_with_the_task_count(side, st2):
    name = unique('examples.calls')
    st2_id, _, context = side.start(chain(name, 40), name, push=False)
    ex_id = context['mistral']['execution_id']
    reader = reconcile.MistralReader(side.client, side.conf)
    running = reader.read(ex_id)
    assert (running.state, running.calls, running.snapshot) == ('RUNNING', 1, None)

    gate = side.wait_task(ex_id, 'gate', ('RUNNING',))
    (action,) = side.client.action_executions.list(task_execution_id=gate.id)
    side.client.action_executions.update(action.id, 'SUCCESS', {})
    side.wait_state(ex_id)
    done = reader.read(ex_id)
    assert done.state == 'SUCCESS' and len(done.snapshot.tasks) == 41
    assert done.calls == 4       # execution, tasks, action executions, execution again
    again = reader.read(ex_id, known=(done.state, done.updated_at))
    assert again.calls == 1 and again.snapshot is None


def test_tracked_execution_whose_mistral_execution_is_gone_fails(side, st2):
    st2_id = st2.add_execution(action='examples.gone', context={
        'mistral': {'execution_id': '00000000-0000-0000-0000-000000000000'}})
    st2_track_result(st2, st2_id)
    outcomes = side.service.jobs['tracked'].run_once()
    assert outcomes[st2.execution(st2_id)['liveaction_id']].completed
    assert st2.execution(st2_id)['status'] == 'failed'
    assert 'was not found' in st2.execution(st2_id)['result']['error']
    assert tracked_rows() == []


def test_tracking_keeps_a_parent_running_while_a_child_runs(side, st2):
    """The querier's rule, through the API: Mistral finished, an st2 child still runs."""
    name = unique('examples.busy')
    definition = "version: '2.0'\n%s:\n  tasks:\n    gate: {action: std.async_noop}\n" % name
    st2_id, ex_id = start_unpushed(side, name, definition)
    side.wait_state(ex_id)
    st2.add_execution(action='examples.stray', runner='local-shell-cmd', status='running',
                      context={'parent': {'execution_id': st2_id}})
    st2_track_result(st2, st2_id)
    outcome = side.service.jobs['tracked'].run_once()[st2.execution(st2_id)['liveaction_id']]
    assert not outcome.completed and outcome.status == 'running'
    assert st2.execution(st2_id)['status'] == 'running'
    history = [h['status'] for h in st2.execution(st2_id)['history']]
    assert contract.ST2_COMPLETED.isdisjoint(history)


def test_the_service_loop_tracks_until_done_and_stops(side, st2):
    name = unique('examples.loop')
    definition = "version: '2.0'\n%s:\n  tasks:\n    gate: {action: std.async_noop}\n" % name
    st2_id, ex_id = start_unpushed(side, name, definition)
    side.wait_state(ex_id)
    st2_track_result(st2, st2_id)
    stop = threading.Event()
    thread = threading.Thread(target=side.service.run, args=(stop,),
                              kwargs={'follow_stream': False})
    thread.start()
    try:
        st2.wait_for_status(st2_id, 'succeeded', timeout=30)
        st2.wait_for(lambda e: not tracked_rows(), timeout=30)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
