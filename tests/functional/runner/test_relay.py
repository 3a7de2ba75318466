"""Child results reaching a real Mistral 23 through the relay (st2 3.4+ path)."""

import json
import time

import pytest

from st2mistral.runner import relay
from tests.functional.runner.conftest import SIZE_LIMIT_KB
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
    r = relay.Relay(side.client, side.conf)
    assert r.deliver(action_id, 'succeeded', {'a': 1}) == relay.DELIVERED
    assert r.deliver(action_id, 'succeeded', {'a': 2}) == relay.ALREADY_COMPLETED
    side.wait_state(ex_id)
    assert json.loads(side.client.tasks.get(task_id).result) == {'a': 1}


def test_result_that_is_not_an_object_is_wrapped(side, waiting_action):
    ex_id, task_id, action_id = waiting_action
    r = relay.Relay(side.client, side.conf)
    assert r.deliver(action_id, 'succeeded', ['a', 'b']) == relay.DELIVERED
    assert side.wait_state(ex_id).state == 'SUCCESS'
    assert json.loads(side.client.tasks.get(task_id).result) == {'result': ['a', 'b']}


def test_failed_child_fails_the_task_with_its_result(side, waiting_action):
    ex_id, task_id, action_id = waiting_action
    r = relay.Relay(side.client, side.conf)
    assert r.deliver(action_id, 'failed', {'stderr': 'boom'}) == relay.DELIVERED
    assert side.wait_state(ex_id).state == 'ERROR'
    assert 'boom' in side.client.tasks.get(task_id).state_info


def test_paused_child_pauses_the_task(side, waiting_action):
    ex_id, task_id, action_id = waiting_action
    r = relay.Relay(side.client, side.conf)
    assert r.deliver(action_id, 'paused', {}) == relay.DELIVERED
    assert side.client.action_executions.get(action_id).state == 'PAUSED'
    assert side.wait_state(ex_id, states=('PAUSED',)).state == 'PAUSED'
    # Resuming the child resumes the task (launcher.resume does this), then it completes.
    side.client.action_executions.update(action_id, 'RUNNING')
    assert r.deliver(action_id, 'succeeded', {'done': True}) == relay.DELIVERED
    assert side.wait_state(ex_id).state == 'SUCCESS'


def test_unknown_action_execution_is_reported_not_retried(side):
    r = relay.Relay(side.client, side.conf)
    started = time.monotonic()
    assert r.deliver('00000000-0000-0000-0000-000000000000', 'succeeded', {}) == relay.FAILED
    assert time.monotonic() - started < 5
