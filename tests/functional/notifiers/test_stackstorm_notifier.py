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

"""The st2 publisher on a real Mistral 23 engine, against the strict st2 emulator.

Each test asserts what st2 received AND the operator trace in the Mistral log.
"""

import json
import re

import pytest

from st2mistral.testing import mistral_launcher
from st2mistral.testing.waiting import wait_until
from tests.functional.conftest import add_st2_execution
from tests.functional.conftest import st2_put
from tests.functional.conftest import unique


def simple_wf(name, tasks=3, fail=False):
    lines = ["version: '2.0'", '%s:' % name, '  output:', '    answer: 42', '  tasks:']
    for i in range(tasks):
        lines.append('    t%d:' % i)
        last = i == tasks - 1
        lines.append('      action: %s' % ('std.fail error_data="boom"' if fail and last
                                           else 'std.echo output="out-%d"' % i))
        lines.append('      publish:')
        lines.append('        p%d: <%% task().result %%>' % i)
        if not last:
            lines.append('      on-success: [t%d]' % (i + 1))
    return '\n'.join(lines) + '\n'


def async_wf(name):
    return """
version: '2.0'
%s:
  tasks:
    hold:
      action: std.async_noop
      on-success: [after]
    after:
      action: std.noop
""" % name


def trace(mistral, root_id, timeout=5.0, expect=None):
    """The stackstorm_notifier lines for ``root_id``, waiting for ``expect`` to appear."""
    def lines():
        return [line for line in mistral.log_lines('stackstorm_notifier') if root_id in line]

    if expect is None:
        return lines()
    wait_until(lambda: any(expect in line for line in lines()), timeout=timeout,
               message=lambda: 'a line with %r among %s' % (expect, lines()))
    return lines()


def has(lines, text):
    return any(text in line for line in lines)


def statuses(st2, st2_id):
    return [h['status'] for h in st2.execution(st2_id)['history']]


def wait_action_running(client, ex_id, timeout=10):
    def running():
        actions = [a for t in client.tasks.list(workflow_execution_id=ex_id)
                   for a in client.action_executions.list(task_execution_id=t.id)]
        return [a for a in actions if a.state == 'RUNNING']

    return wait_until(running, timeout=timeout,
                      message='a running action execution in %s' % ex_id)[0]


def test_success_updates_st2_and_logs_six_trace_lines(mistral, st2, run):
    name = unique('wf_ok')
    r = run(simple_wf(name), name)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    st2.wait_for_status(r.st2_id, 'succeeded')

    record = st2.execution(r.st2_id)
    assert statuses(st2, r.st2_id)[-1] == 'succeeded'
    result = record['result']
    assert result['answer'] == 42
    assert result['extra'] == {'state': 'SUCCESS', 'state_info': None}
    assert [t['name'] for t in result['tasks']] == ['t0', 't1', 't2']
    assert result['tasks'][0]['result'] == 'out-0'
    assert result['tasks'][0]['published'] == {'p0': 'out-0'}
    assert set(result['tasks'][0]) == {'id', 'name', 'workflow_execution_id', 'workflow_name',
                                       'created_at', 'updated_at', 'state', 'state_info',
                                       'input', 'published', 'result'}
    puts = st2.requests_for('PUT', '/api/v1/executions/' + r.st2_id)
    assert all(p.headers.get('X-Auth-Token') == 'st2-token' for p in puts)
    assert all(p.headers.get('X-Request-ID', '').startswith('req-') for p in puts)

    lines = trace(mistral, r.id, expect='WORKFLOW_SUCCEEDED for %s is published' % r.id)
    for text in ('The workflow event WORKFLOW_LAUNCHED for %s will be published to st2.',
                 'The workflow event WORKFLOW_LAUNCHED for %s is published to st2.',
                 'The workflow event WORKFLOW_SUCCEEDED for %s will be published to st2.',
                 'The workflow event WORKFLOW_SUCCEEDED for %s is published to st2.'):
        assert has(lines, '[%s] ' % r.id + text % r.id), text
    assert has(lines, '[%s] The task event TASK_SUCCEEDED for ' % r.id)
    assert any(line.endswith('will be processed for st2.') for line in lines)
    assert any(line.endswith('is processed for st2.') for line in lines)
    # oslo.log default format, no request context: '... INFO <logger> [-] [<root>] ...'
    # (Mistral <= 20 on eventlet: the engine's request context shows instead of [-].)
    logger = 'st2mistral.mistral_side.notifiers.stackstorm_notifier'
    if mistral_launcher.mistral_major() > 20:
        assert all(' INFO %s [-] [%s] ' % (logger, r.id) in line for line in lines)
    else:
        assert all(re.search(r' INFO %s \[(-|None req-[0-9a-f-]+ [- ]+)\] \[%s\] '
                             % (re.escape(logger), r.id), line) for line in lines), lines
    assert not has(mistral.log_lines(), 'st2-token')


def test_failure_reaches_st2_with_state_info(mistral, st2, run):
    name = unique('wf_fail')
    r = run(simple_wf(name, tasks=2, fail=True), name)
    assert mistral.wait_for_execution(r.id).state == 'ERROR'
    st2.wait_for_status(r.st2_id, 'failed')
    result = st2.execution(r.st2_id)['result']
    assert result['extra']['state'] == 'ERROR'
    assert 'boom' in result['extra']['state_info'] or 'Failure' in result['extra']['state_info']
    assert [t['state'] for t in result['tasks']] == ['SUCCESS', 'ERROR']
    lines = trace(mistral, r.id, expect='WORKFLOW_FAILED for %s is published' % r.id)
    assert has(lines, 'The task event TASK_FAILED for ')
    assert has(lines, 'The workflow event WORKFLOW_FAILED for %s is published to st2.' % r.id)


def test_cancel_reaches_st2(mistral, st2, run):
    name = unique('wf_cancel')
    r = run(simple_wf(name, tasks=1) + "      wait-before: 30\n", name)
    st2.wait_for_status(r.st2_id, 'running')
    r.client.executions.update(r.id, 'CANCELLED')
    assert mistral.wait_for_execution(r.id).state == 'CANCELLED'
    # No task runs (the only one waits, and never will): nothing holds the cancel.
    st2.wait_for_status(r.st2_id, 'canceled')
    assert st2.execution(r.st2_id)['result']['extra']['state'] == 'CANCELLED'
    assert has(trace(mistral, r.id, expect='WORKFLOW_CANCELLED for %s is published' % r.id),
               'WORKFLOW_CANCELLED for %s is published to st2.' % r.id)


def test_cancel_is_canceling_while_a_task_runs_then_canceled(mistral, st2, run):
    # st2 3.2's runner and querier, and st2's test_wiring_cancel: "canceling" while
    # a task (an st2 child) finishes gracefully, "canceled" once it has.
    name = unique('wf_cancel_held')
    r = run(async_wf(name), name)
    action = wait_action_running(r.client, r.id)
    st2.wait_for_status(r.st2_id, 'running')
    r.client.executions.update(r.id, 'CANCELLED')
    assert mistral.wait_for_execution(r.id).state == 'CANCELLED'
    trace(mistral, r.id, expect='WORKFLOW_CANCELLED for %s is published' % r.id)
    st2.wait_for_status(r.st2_id, 'canceling')
    assert has(trace(mistral, r.id), 'is cancelled but a task still runs: st2 execution %s '
                                     'is kept canceling until it ends.' % r.st2_id)

    r.client.action_executions.update(action.id, 'SUCCESS', output={'result': 1})
    st2.wait_for_status(r.st2_id, 'canceled')
    result = st2.execution(r.st2_id)['result']
    assert result['extra']['state'] == 'CANCELLED'
    assert [(t['name'], t['state']) for t in result['tasks']] == [('hold', 'SUCCESS')]
    assert statuses(st2, r.st2_id)[-2:] == ['canceling', 'canceled']


def test_pause_then_resume(mistral, st2, run):
    name = unique('wf_pause')
    r = run(async_wf(name), name)
    action = wait_action_running(r.client, r.id)
    r.client.executions.update(r.id, 'PAUSED')
    st2.wait_for_status(r.st2_id, 'paused')
    paused = st2.execution(r.st2_id)['result']
    assert paused['extra']['state'] == 'PAUSED'
    assert [t['name'] for t in paused['tasks']] == ['hold']

    r.client.executions.update(r.id, 'RUNNING')
    st2.wait_for(lambda s: statuses(s, r.st2_id)[-1] == 'running', timeout=10)
    r.client.action_executions.update(action.id, 'SUCCESS', output={'result': 'done'})
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    st2.wait_for_status(r.st2_id, 'succeeded')
    assert statuses(st2, r.st2_id) == ['running', 'pausing', 'paused', 'running', 'succeeded']
    lines = trace(mistral, r.id, expect='WORKFLOW_SUCCEEDED for %s is published' % r.id)
    assert has(lines, 'WORKFLOW_PAUSED for %s is published to st2.' % r.id)
    assert has(lines, 'WORKFLOW_RESUMED for %s is published to st2.' % r.id)


def test_workbook_subworkflow_only_root_is_published(mistral, st2, run):
    wb = unique('wb')
    definition = """
version: '2.0'
name: %s
workflows:
  main:
    output:
      child: <%% $.child %%>
    tasks:
      call_sub:
        workflow: sub
        publish:
          child: <%% task().result %%>
  sub:
    output:
      value: from-sub
    tasks:
      s1:
        action: std.noop
""" % wb
    r = run(definition, wb + '.main', workbook=True)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    st2.wait_for_status(r.st2_id, 'succeeded')
    result = st2.execution(r.st2_id)['result']
    assert result['child'] == {'value': 'from-sub'}
    (task,) = result['tasks']
    assert task['name'] == 'call_sub' and task['result'] == {'value': 'from-sub'}
    lines = trace(mistral, r.id, expect='WORKFLOW_SUCCEEDED for %s is published' % r.id)
    assert has(lines, 'for subworkflow ')
    assert has(lines, 'is not published to st2. This is expected because it does not have '
                      'a corresponding execution record in st2.')
    # Only the root's st2 execution was touched.
    assert {p.path for p in st2.requests_for('PUT')} == {'/api/v1/executions/' + r.st2_id}


def test_pause_cascades_to_st2_parent_workflow(mistral, st2, run):
    parent_name, child_name = unique('wf_parent'), unique('wf_child')
    parent = run(async_wf(parent_name), parent_name)
    wait_action_running(parent.client, parent.id)
    parent.client.executions.update(parent.id, 'PAUSED')
    st2.wait_for_status(parent.st2_id, 'paused')

    child = run(async_wf(child_name), child_name,
                parent={'execution_id': parent.st2_id,
                        'mistral': {'workflow_execution_id': parent.id}})
    action = wait_action_running(child.client, child.id)
    child.client.executions.update(child.id, 'PAUSED')
    st2.wait_for_status(child.st2_id, 'paused')
    # The child's task finishing while it is paused triggers the cascade.
    child.client.action_executions.update(action.id, 'SUCCESS', output={'result': 1})
    lines = trace(mistral, child.id, timeout=10,
                  expect='triggers workflow event WORKFLOW_PAUSED for %s' % parent.id)
    assert has(lines, 'The task event TASK_SUCCEEDED for %s triggers workflow event '
                      'WORKFLOW_PAUSED for %s to st2.' % (action.task_execution_id, parent.id))
    assert has(lines, 'triggers workflow event WORKFLOW_PAUSED for %s to st2.' % child.id)
    assert statuses(st2, parent.st2_id)[-1] == 'paused'
    for r in (parent, child):
        r.client.executions.update(r.id, 'CANCELLED')
        st2.wait_for_status(r.st2_id, 'canceled')   # nothing left in flight for later tests


def test_workflow_without_st2_context_is_skipped_with_one_info_line(mistral, st2, run):
    name = unique('wf_plain')
    r = run(simple_wf(name, tasks=1), name, st2_context=False)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    lines = trace(mistral, r.id, expect='WORKFLOW_SUCCEEDED for %s is not published' % r.id)
    skipped = [line for line in lines if 'has no st2 context' in line]
    assert len(skipped) == 2 and all(' INFO ' in line for line in skipped)  # launched+succeeded
    assert not has(lines, ' ERROR ')
    # Nothing reached st2: a PUT here can only be an earlier test's workflow retrying
    # an update for an execution the emulator's reset removed (404).
    assert [q for q in st2.requests_for('PUT') if q.status != 404] == []


def test_hundred_task_workflow_lists_every_task(mistral, st2, run):
    name = unique('wf_100')
    tasks = '\n'.join('    t%03d:\n      action: std.noop' % i for i in range(100))
    r = run("version: '2.0'\n%s:\n  tasks:\n%s\n" % (name, tasks), name)
    assert mistral.wait_for_execution(r.id, timeout=120).state == 'SUCCESS'
    st2.wait_for_status(r.st2_id, 'succeeded', timeout=30)
    names = [t['name'] for t in st2.execution(r.st2_id)['result']['tasks']]
    assert sorted(names) == ['t%03d' % i for i in range(100)]


def test_st2_500_then_recovering(mistral, st2, run):
    name = unique('wf_500')
    st2_id = add_st2_execution(st2, name)
    st2.fail_next(500, count=3, on=st2_put(st2_id))
    r = run(simple_wf(name, tasks=1), name, st2_id=st2_id)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    st2.wait_for_status(r.st2_id, 'succeeded', timeout=20)
    lines = trace(mistral, r.id, expect='WORKFLOW_SUCCEEDED for %s is published' % r.id)
    assert has(lines, 'is not yet published to st2 (try 1)')
    assert has(lines, 'HTTP 500')
    assert has(lines, 'WORKFLOW_SUCCEEDED for %s is published to st2.' % r.id)


def test_st2_down_then_back(mistral, st2, run):
    name = unique('wf_down')
    st2.go_down()
    try:
        r = run(simple_wf(name, tasks=1), name)   # the emulator's state is kept while down
        assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
        # The final update was tried (and failed) while st2 was down: no sleep needed
        # to show that nothing reached st2.
        trace(mistral, r.id, timeout=10,
              expect='WORKFLOW_SUCCEEDED for %s is not yet published to st2' % r.id)
        assert st2.execution(r.st2_id)['status'] == 'running'   # nothing reached st2
    finally:
        st2.come_up()
    st2.wait_for_status(r.st2_id, 'succeeded', timeout=20)
    lines = trace(mistral, r.id, expect='WORKFLOW_SUCCEEDED for %s is published' % r.id)
    assert has(lines, 'cannot connect to st2')
    assert not has(lines, ' ERROR ')


@pytest.mark.parametrize('env_extra,message', [
    ({'st2_execution_id': '../../admin'}, 'is not a valid st2 execution id'),
    ({'st2_execution_id': 'abc', 'st2_action_api_url': 'http://127.0.0.2:9/api/v1'},
     'Add its base URL to [st2] allowed_api_urls'),
])
def test_malformed_st2_context_logs_error_and_sends_nothing(mistral, st2, run, env_extra,
                                                            message):
    name = unique('wf_bad')
    r = run(simple_wf(name, tasks=1), name, st2_context=False, env_extra=env_extra)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    lines = trace(mistral, r.id, expect=message)
    assert has(lines, message) and has(lines, ' ERROR ')
    # Only this workflow's requests count: an earlier test's sender may still be
    # retrying a 404 against the shared emulator.
    assert [p for p in st2.requests_for('PUT') if r.id in json.dumps(p.body)] == []
    assert [p for p in st2.requests_for() if 'admin' in p.path or '/abc' in p.path] == []


def test_global_and_per_execution_entries_publish_each_event_once(st2, tmp_path):
    # st2's runner sends a per-execution entry; mistral.conf may have the global one too.
    from st2mistral.core import contract
    from st2mistral.testing import mistral_launcher
    from tests.functional.conftest import Run
    from tests.functional.conftest import fast_retry_config

    with mistral_launcher.MistralServer(str(tmp_path), notify=[contract.ST2_NOTIFY_ENTRY],
                                        config=fast_retry_config(st2)) as mistral:
        name = unique('wf_both')
        r = Run(mistral, st2, simple_wf(name, tasks=2), name)     # per-execution entry too
        assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
        st2.wait_for_status(r.st2_id, 'succeeded')
        lines = trace(mistral, r.id, expect='WORKFLOW_SUCCEEDED for %s is published' % r.id)
    for event in ('WORKFLOW_LAUNCHED', 'WORKFLOW_SUCCEEDED'):
        assert sum(line.endswith('%s for %s will be published to st2.' % (event, r.id))
                   for line in lines) == 1
    assert sum(line.endswith('will be processed for st2.') for line in lines) == 2
    puts = st2.requests_for('PUT', '/api/v1/executions/' + r.st2_id)
    assert [p.body['status'] for p in puts] == ['running', 'succeeded']
