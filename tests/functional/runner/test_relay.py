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

"""Child results reaching a real Mistral 23 through the relay (st2 3.4+ path).

The relay service follows the st2 emulator's real event stream (server-sent
events over HTTP); nothing else carries a child's result to Mistral: the
emulator calls back nothing, as st2 3.4+.
"""

import json
import statistics
import time

import pytest

from st2mistral.st2_side import child_results
from st2mistral.st2_side import relay_service
from st2mistral.testing import st2_emulator
from st2mistral.testing import waiting
from tests.functional.runner.conftest import API_KEY
from tests.functional.runner.conftest import SIZE_LIMIT_KB
from tests.functional.runner.conftest import RelayThread
from tests.functional.runner.conftest import st2_conf
from tests.functional.runner.conftest import unique

ONE_CHILD = """
version: '2.0'
%s:
  output:
    got: <%% $.got %%>
  tasks:
    call:
      action: examples.big
      publish:
        got: <%% task().result %%>
"""

UNICODE = {
    'stdout': 'héllo wörld ✓ — 日本語 — עברית — 🚀 — e\u0301 — \u2028 — "quoted" \\ back',
    'nested': {'ключ': ['значение', '∑', 1, None, True]},
}


def run_child(side, st2, result, delay=0.0):
    name = unique('examples.big')
    st2.set_child_outcome('examples.big', 'succeeded', result, delay=delay)
    st2_id, _, context = side.start(ONE_CHILD % name, name)
    return st2_id, context['mistral']['execution_id']


def record_deliveries(svc, monkeypatch):
    """What the relay service hands to Mistral, with monotonic times."""
    delivered = []
    deliver = svc.children.deliver_execution

    def recording(execution):
        received = time.monotonic()
        outcome = deliver(execution)
        delivered.append({'id': execution.get('id'), 'status': execution.get('status'),
                          'outcome': outcome, 'received': received,
                          'done': time.monotonic()})
        return outcome

    monkeypatch.setattr(svc.children, 'deliver_execution', recording)
    return delivered


def delivery_of(delivered, child_id):
    """The relay's record of handing ``child_id`` to Mistral. It is appended once
    deliver_execution returns, which may be after Mistral has already finished
    the workflow and st2 shows the parent succeeded: wait for it."""
    (delivery,) = waiting.wait_until(
        lambda: [d for d in delivered if d['id'] == child_id], timeout=10,
        message=lambda: 'no delivery of %s recorded: %s' % (child_id, delivered))
    return delivery


def first_at(execution, status):
    return [entry['at'] for entry in execution['history'] if entry['status'] == status][0]


def child_of(st2, parent_id):
    (child,) = [c for c in st2.executions('examples.big')
                if c['context']['parent']['execution_id'] == parent_id]
    return child


def test_child_result_travels_the_stream_to_mistral_and_back_to_st2(side, stream, st2,
                                                                   monkeypatch):
    delivered = record_deliveries(side.service, monkeypatch)
    result = {'stdout': 'through the stream'}
    st2_id, ex_id = run_child(side, st2, result)
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    child = child_of(st2, st2_id)

    # 1. st2 published the child's completion while the relay was connected;
    (published,) = [e for e in st2.stream_events
                    if e['execution_id'] == child['id'] and e['status'] == 'succeeded']
    assert published['event'] == 'st2.execution__update' and published['clients'] == 1
    # 2. the relay took it from the stream (nothing else: no callback, nothing tracked);
    delivery_of(delivered, child['id'])
    assert [(d['id'], d['status'], d['outcome']) for d in delivered] == [
        (child['id'], 'succeeded', child_results.DELIVERED)]
    assert delivered[0]['received'] >= published['at']
    assert st2.callbacks == []
    # 3. Mistral's action execution completed with the child's result;
    task = side.task(ex_id, 'call')
    (action,) = side.client.action_executions.list(task_execution_id=task.id)
    assert child['callback']['url'].endswith('/action_executions/' + action.id)
    assert action.state == 'SUCCESS'
    assert json.loads(side.client.tasks.get(task.id).result) == result
    # 4. the workflow succeeded and the publisher in Mistral marked the st2 parent.
    assert side.client.executions.get(ex_id).state == 'SUCCESS'
    parent = st2.execution(st2_id)
    assert parent['result']['got'] == result
    assert parent['result']['extra'] == {'state': 'SUCCESS', 'state_info': None}
    assert first_at(parent, 'succeeded') > delivered[0]['received']


def test_loop_timing_through_the_real_stream(side, stream, st2, monkeypatch):
    """Child succeeded in st2 -> parent succeeded in st2, ten times; prints the medians."""
    delivered = record_deliveries(side.service, monkeypatch)
    loops = []
    for i in range(10):
        st2_id, _ = run_child(side, st2, {'run': i})
        st2.wait_for_status(st2_id, 'succeeded', timeout=30)
        child = child_of(st2, st2_id)
        delivery = delivery_of(delivered, child['id'])
        child_done = first_at(child, 'succeeded')
        parent_done = first_at(st2.execution(st2_id), 'succeeded')
        loops.append({'total': parent_done - child_done,
                      'stream': delivery['received'] - child_done,
                      'rest': parent_done - delivery['received']})
    median = {key: statistics.median(loop[key] for loop in loops) for key in loops[0]}
    print('\nloop through the st2 stream, median of 10: %.3f s (child done -> relay has the '
          'event %.4f s; relay -> Mistral -> workflow done -> publisher -> st2 %.3f s); '
          'min %.3f s, max %.3f s'
          % (median['total'], median['stream'], median['rest'],
             min(loop['total'] for loop in loops), max(loop['total'] for loop in loops)))
    assert all(loop['stream'] >= 0 and loop['rest'] > 0 for loop in loops)
    assert median['stream'] < 0.5   # pushed, not polled
    assert median['total'] < 5.0


def test_relay_follows_the_stream_again_after_st2_was_unreachable(side, stream, st2):
    st2.go_down()
    # The stream ended; the relay's reconnection is refused and it backs off.
    st2.wait_for(lambda e: stream.problems.messages(), timeout=10)
    st2.come_up()
    st2.wait_for(lambda e: e.stream_clients == 1, timeout=15)
    # st2 counts the client when it accepts the request; the relay calls itself
    # connected once it has read st2's answer, a moment later.
    assert stream.service.jobs['children'].stream.connected.wait(5)
    messages = stream.problems.messages()
    assert all('The st2 stream at %s/stream failed' % st2.stream_url in m for m in messages)
    assert not any(API_KEY in m for m in messages)
    stream.problems.records.clear()

    st2_id, ex_id = run_child(side, st2, {'after': 'reconnect'})
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    assert side.client.executions.get(ex_id).state == 'SUCCESS'


def test_relay_stops_without_waiting_for_st2s_next_heartbeat(mistral, tmp_path):
    """st2 sends a keep-alive newline every 25 s only: stopping must not wait for it."""
    with st2_emulator.St2Emulator(api_keys=(API_KEY,)) as quiet_st2:
        svc = relay_service.Relay(st2_conf(mistral, quiet_st2))
        relay_thread = RelayThread(svc, quiet_st2).start()
        quiet_st2.add_execution()  # some traffic, then silence
        started = time.monotonic()
        relay_thread.stop(timeout=2)
        assert time.monotonic() - started < 2


def test_relay_restart_after_missed_events_heals_without_an_operator(side, st2,
                                                                    relay_process):
    first = relay_process().start(st2)
    result = {'stdout': 'missed by the stream ✓', 'n': [1, 2]}
    # Long enough to stop the relay while the child runs.
    st2.set_child_outcome('examples.big', 'succeeded', result, delay=2.0)
    name = unique('examples.big')
    st2_id, _, context = side.start(ONE_CHILD % name, name)
    ex_id = context['mistral']['execution_id']
    st2.wait_for(lambda e: e.executions('examples.big')[0]['status'] == 'running', timeout=30)
    first.kill()
    st2.wait_for(lambda e: e.stream_clients == 0, timeout=5)

    (child,) = st2.executions('examples.big')
    st2.wait_for_status(child['id'], 'succeeded', timeout=30)
    missed = [e for e in st2.stream_events
              if e['execution_id'] == child['id'] and e['status'] == 'succeeded']
    assert [e['clients'] for e in missed] == [0]   # nobody heard it, and st2 never replays
    assert side.task(ex_id, 'call').state == 'RUNNING'
    assert st2.execution(st2_id)['status'] == 'running'

    # No operator: the restarted relay's first sweep finds the running parent and
    # relays its finished child; the publisher then completes the parent.
    second = relay_process().start(st2)
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    assert json.loads(side.client.tasks.get(side.task(ex_id, 'call').id).result) == result
    assert st2.execution(st2_id)['result']['got'] == result
    assert second.interrupt() == 0, second.log()
    log = second.log()
    assert 'Sent st2 status succeeded as SUCCESS' in log and API_KEY not in log
    assert ' ERROR ' not in log


def test_unicode_result_arrives_intact(side, stream, st2):
    st2_id, ex_id = run_child(side, st2, UNICODE)
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    task = side.task(ex_id, 'call')
    assert json.loads(side.client.tasks.get(task.id).result) == UNICODE
    assert st2.execution(st2_id)['result']['got'] == UNICODE


def test_two_mib_result_arrives_intact(side, stream, st2):
    big = {'data': ('0123456789abcdé✓' * (2 * 1024 * 1024 // 16))[:2 * 1024 * 1024],
           'lines': ['line %d' % i for i in range(1000)]}
    assert len(json.dumps(big)) > 2 * 1024 * 1024
    started = time.monotonic()
    st2_id, ex_id = run_child(side, st2, big)
    st2.wait_for_status(st2_id, 'succeeded', timeout=60)
    elapsed = time.monotonic() - started
    task = side.task(ex_id, 'call')
    assert json.loads(side.client.tasks.get(task.id).result) == big
    # The publisher sends st2 at most [st2] max_result_size (1 MiB): the rest is marked.
    st2_result = st2.execution(st2_id)['result']
    assert st2_result['st2mistral_truncated']['original_bytes'] > 2 * 1024 * 1024
    print('\n2 MiB child result: full loop in %.3f s' % elapsed)


def test_result_above_mistrals_limit_fails_the_task_instead_of_hanging(side, stream, st2):
    huge = {'data': 'x' * ((SIZE_LIMIT_KB + 256) * 1024)}
    st2_id, ex_id = run_child(side, st2, huge)
    st2.wait_for_status(st2_id, 'failed', timeout=60)
    task = side.task(ex_id, 'call')
    assert task.state == 'ERROR'
    assert 'Field size limit exceeded' in task.state_info
    assert side.client.executions.get(ex_id).state == 'ERROR'


@pytest.fixture
def waiting_action(side):
    """A Mistral action execution waiting for a callback, as st2.action leaves it."""
    name = unique('examples.wait')
    side.client.workflows.create(
        "version: '2.0'\n%s:\n  tasks:\n    w: {action: std.async_noop}\n" % name)
    ex = side.client.executions.create(name)
    task = side.wait_task(ex.id, 'w', ('RUNNING',))
    (action,) = side.client.action_executions.list(task_execution_id=task.id)
    return ex.id, task.id, action.id


def test_second_delivery_is_already_completed(side, waiting_action):
    ex_id, task_id, action_id = waiting_action
    r = child_results.ChildResults(side.client, side.conf)
    assert r.deliver(action_id, 'succeeded', {'a': 1}) == child_results.DELIVERED
    assert r.deliver(action_id, 'succeeded', {'a': 2}) == child_results.ALREADY_COMPLETED
    side.wait_state(ex_id)
    assert json.loads(side.client.tasks.get(task_id).result) == {'a': 1}


def test_result_that_is_not_an_object_is_wrapped(side, waiting_action):
    ex_id, task_id, action_id = waiting_action
    r = child_results.ChildResults(side.client, side.conf)
    assert r.deliver(action_id, 'succeeded', ['a', 'b']) == child_results.DELIVERED
    assert side.wait_state(ex_id).state == 'SUCCESS'
    assert json.loads(side.client.tasks.get(task_id).result) == {'result': ['a', 'b']}


def test_failed_child_fails_the_task_with_its_result(side, waiting_action):
    ex_id, task_id, action_id = waiting_action
    r = child_results.ChildResults(side.client, side.conf)
    assert r.deliver(action_id, 'failed', {'stderr': 'boom'}) == child_results.DELIVERED
    assert side.wait_state(ex_id).state == 'ERROR'
    assert 'boom' in side.client.tasks.get(task_id).state_info


def test_paused_child_pauses_the_task(side, waiting_action):
    ex_id, task_id, action_id = waiting_action
    r = child_results.ChildResults(side.client, side.conf)
    assert r.deliver(action_id, 'paused', {}) == child_results.DELIVERED
    assert side.client.action_executions.get(action_id).state == 'PAUSED'
    assert side.wait_state(ex_id, states=('PAUSED',)).state == 'PAUSED'
    # Resuming the child resumes the task (launcher.resume does this), then it completes.
    side.client.action_executions.update(action_id, 'RUNNING')
    assert r.deliver(action_id, 'succeeded', {'done': True}) == child_results.DELIVERED
    assert side.wait_state(ex_id).state == 'SUCCESS'


def test_unknown_action_execution_is_reported_not_retried(side):
    r = child_results.ChildResults(side.client, side.conf)
    started = time.monotonic()
    unknown = '00000000-0000-0000-0000-000000000000'
    assert r.deliver(unknown, 'succeeded', {}) == child_results.FAILED
    assert time.monotonic() - started < 5
