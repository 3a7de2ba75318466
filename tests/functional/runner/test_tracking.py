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

"""Fallback results tracking on a real Mistral 23, with the st2 emulator.

A workflow completes while nothing pushes (no notify entry: the publisher is
off for it) and nothing relays (no stream): ``st2mistral-track-result`` records
it and the relay service's tracking loop relays the child's result to Mistral
and reconciles the st2 execution with the SAME result function the publisher
uses.
"""

import threading

from st2mistral import results
from st2mistral.runner import service
from st2mistral.runner import track_result
from st2mistral.runner import tracker
from st2mistral.testing import st2_emulator
from st2mistral.testing.waiting import wait_until
from tests.functional.runner.conftest import st2_conf_file
from tests.functional.runner.conftest import unique

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
    def done():
        if not svc.store.ids():
            return True
        svc.poll_tracked()
        return False

    wait_until(done, timeout=timeout, message=lambda: 'nothing tracked; still tracked: %s' % (
        svc.store.ids(),))


def test_workflow_finished_without_push_is_reconciled_by_tracking(side, st2, tmp_path,
                                                                   capsys):
    name = unique('examples.tracked')
    st2.set_child_outcome('examples.echo', 'succeeded', {'stdout': 'tracked ✓'})
    st2_id, ex_id = start_unpushed(side, name, GATED % name)
    st2.wait_for(lambda e: e.executions('examples.echo')[0]['status'] == 'succeeded')
    # Nobody relayed the child: Mistral still waits for it, st2 still says running.
    assert side.task(ex_id, 'say').state == 'RUNNING'
    assert st2.execution(st2_id)['status'] == 'running'

    conf_file = st2_conf_file(side.mistral, st2, side.tracking_dir, tmp_path / 'st2.conf')
    assert track_result.main(['--config-file', conf_file, st2_id]) == 0
    assert 'Added a result tracker entry' in capsys.readouterr().out
    track_until_done(side.service)

    final = st2.execution(st2_id)
    assert final['status'] == 'succeeded'
    assert final['result']['said'] == 'tracked ✓'
    assert [t['name'] for t in final['result']['tasks']] == ['gate', 'say', 'done']
    assert final['result']['tasks'][1]['result'] == {'stdout': 'tracked ✓'}
    assert side.client.executions.get(ex_id).state == 'SUCCESS'


def test_service_once_from_the_console_script_entry(side, st2, tmp_path):
    name = unique('examples.once')
    definition = "version: '2.0'\n%s:\n  tasks:\n    gate: {action: std.async_noop}\n" % name
    st2_id, ex_id = start_unpushed(side, name, definition)
    side.wait_state(ex_id)
    conf_file = st2_conf_file(side.mistral, st2, side.tracking_dir, tmp_path / 'st2.conf')
    assert track_result.main(['--config-file', conf_file, st2_id]) == 0
    assert service.main(['--config-file', conf_file, '--once']) == 0
    assert st2.execution(st2_id)['status'] == 'succeeded'
    assert side.service.store.ids() == []


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

    reader = tracker.MistralReader(side.client, side.conf)
    reading = reader.read(context['mistral']['execution_id'])
    status, pulled = tracker.reconcile(reading, 'running', ['succeeded'],
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
    reader = tracker.MistralReader(side.client, side.conf)
    running = reader.read(ex_id)
    assert (running.state, running.calls, running.snapshot) == ('RUNNING', 1, None)

    gate = side.wait_task(ex_id, 'gate', ('RUNNING',))
    (action,) = side.client.action_executions.list(task_execution_id=gate.id)
    side.client.action_executions.update(action.id, 'SUCCESS', {})
    side.wait_state(ex_id)
    done = reader.read(ex_id)
    assert done.state == 'SUCCESS' and len(done.snapshot.tasks) == 41
    assert done.calls == 3       # execution, tasks, action executions
    again = reader.read(ex_id, known=(done.state, done.updated_at))
    assert again.calls == 1 and again.snapshot is None


def test_track_result_refuses_what_it_cannot_track(side, st2, tmp_path, capsys):
    conf_file = st2_conf_file(side.mistral, st2, side.tracking_dir, tmp_path / 'st2.conf')
    done = st2.add_execution(action='examples.done', status='succeeded')
    assert track_result.main(['--config-file', conf_file, done]) == 1
    assert 'already in a completed state (succeeded)' in capsys.readouterr().err
    chain_ex = st2.add_execution(action='examples.chain', runner='action-chain')
    assert track_result.main(['--config-file', conf_file, chain_ex]) == 1
    assert 'only supported for Mistral workflows' in capsys.readouterr().err
    assert track_result.main(['--config-file', conf_file, '5f0000000000000000000000']) == 1
    assert 'was not found' in capsys.readouterr().err
    assert track_result.main(['--config-file', conf_file, '../../etc']) == 1
    assert side.service.store.ids() == []


def test_track_result_adds_mistral_children_reports_duplicates_and_deletes(side, st2,
                                                                            tmp_path, capsys):
    conf_file = st2_conf_file(side.mistral, st2, side.tracking_dir, tmp_path / 'st2.conf')
    parent = st2.add_execution(action='examples.parent')
    child_wf = st2.add_execution(action='examples.child', context={
        'parent': {'execution_id': parent}})
    st2.add_execution(action='examples.shell', runner='local-shell-cmd', context={
        'parent': {'execution_id': parent}})
    assert track_result.main(['--config-file', conf_file, parent]) == 0
    assert sorted(side.service.store.ids()) == sorted([parent, child_wf])
    assert track_result.main(['--config-file', conf_file, parent]) == 0
    assert 'already has a result tracker entry' in capsys.readouterr().out
    assert track_result.main(['--config-file', conf_file, '--delete', parent]) == 0
    assert side.service.store.ids() == []
    assert 'Removed the result tracker entry' in capsys.readouterr().out


def test_tracked_execution_whose_mistral_execution_is_gone_fails(side, st2):
    st2_id = st2.add_execution(action='examples.gone', context={
        'mistral': {'execution_id': '00000000-0000-0000-0000-000000000000'}})
    side.service.store.add(st2_id)
    outcomes = side.service.poll_tracked()
    assert outcomes[st2_id].done
    assert st2.execution(st2_id)['status'] == 'failed'
    assert 'was not found' in st2.execution(st2_id)['result']['error']
    assert side.service.store.ids() == []


def test_tracking_keeps_a_parent_running_while_a_child_runs(side, st2):
    """The querier's rule, through the API: Mistral finished, an st2 child still runs."""
    name = unique('examples.busy')
    definition = "version: '2.0'\n%s:\n  tasks:\n    gate: {action: std.async_noop}\n" % name
    st2_id, ex_id = start_unpushed(side, name, definition)
    side.wait_state(ex_id)
    st2.add_execution(action='examples.stray', runner='local-shell-cmd', status='running',
                      context={'parent': {'execution_id': st2_id}})
    side.service.store.add(st2_id)
    outcome = side.service.poll_tracked()[st2_id]
    assert not outcome.done and outcome.status == 'running'
    assert st2.execution(st2_id)['status'] == 'running'
    assert results.ST2_COMPLETED.isdisjoint([h['status'] for h in st2.execution(st2_id)['history']])


def test_the_service_loop_tracks_until_done_and_stops(side, st2):
    name = unique('examples.loop')
    definition = "version: '2.0'\n%s:\n  tasks:\n    gate: {action: std.async_noop}\n" % name
    st2_id, ex_id = start_unpushed(side, name, definition)
    side.wait_state(ex_id)
    side.service.store.add(st2_id)
    thread = threading.Thread(target=side.service.run, kwargs={'follow_stream': False})
    thread.start()
    try:
        st2.wait_for_status(st2_id, 'succeeded', timeout=30)
        st2.wait_for(lambda e: not side.service.store.ids(), timeout=30)
    finally:
        side.service.stop()
        thread.join(10)
    assert not thread.is_alive()
