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

"""Issue 9 on a REAL Mistral 23 engine with the st2 emulator: findings 3, 4, 5 and 11.

A workflow author (or a misbehaving st2/proxy) attacks; the engine must end
each workflow with a short, clear error or deliver the update, never hang,
never leave st2 running for ever.
"""

import time

import pytest

from st2mistral.testing import mistral_launcher
from tests.functional import conftest as functional
from tests.functional.conftest import POST_EXECUTION
from tests.functional.conftest import TOKEN
from tests.functional.conftest import st2_put
from tests.functional.conftest import unique

# The functional suite's fixtures (a real Mistral, the st2 emulator), for this module.
st2_emulator = functional.st2_emulator
mistral = functional.mistral
st2 = functional.st2
run = functional.run

GIVE_UP_AFTER = 1.5      # [st2] action_retry_give_up_after: st2.action fails fast here


@pytest.fixture(scope='module')
def mistral_server(st2_emulator, tmp_path_factory):
    config = functional.fast_retry_config(st2_emulator)
    config['st2']['action_retry_give_up_after'] = GIVE_UP_AFTER
    workdir = str(tmp_path_factory.mktemp('mistral_hardening'))
    with mistral_launcher.MistralServer(workdir, config=config) as server:
        yield server

PARENT = {'execution_id': 'parent-ex', 'user': 'alice'}


def one_task(name, body, inputs=()):
    head = "version: '2.0'\n%s:\n" % name
    if inputs:
        head += '  input: [%s]\n' % ', '.join(inputs)
    return head + '  tasks:\n    t1:\n%s\n' % body


def yaml_bomb(levels):
    """Nested aliases: 9**levels copies of "lol" from a few hundred bytes."""
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append('a%d: &a%d [%s]' % (i, i, ', '.join(['*a%d' % (i - 1)] * 9)))
    return '\n'.join(lines) + '\n'


def failed_task(r, mistral):
    ex = mistral.wait_for_execution(r.id)
    (task,) = r.client.tasks.list(workflow_execution_id=r.id)
    assert ex.state == 'ERROR' and task.state == 'ERROR', (ex.state, ex.state_info)
    return ex, task


# -- finding 3 ---------------------------------------------------------------


def test_yaml_alias_bomb_fails_the_task_with_a_clean_error(mistral, st2, run):
    name = unique('sec_yaml_bomb')
    began = time.monotonic()
    r = run(one_task(name, '      action: std.echo output=<% from_yaml_string($.doc) %>',
                     inputs=['doc']), name, workflow_input={'doc': yaml_bomb(5)},
            parent=PARENT)
    ex, task = failed_task(r, mistral)
    first = task.state_info.split('\n', 1)[0]
    assert 'from_yaml_string: YAML aliases (*name) are not allowed' in first
    assert time.monotonic() - began < 20
    # The publisher still tells st2 the workflow failed.
    assert st2.wait_for_status(r.st2_id, 'failed')


# -- finding 11 --------------------------------------------------------------


@pytest.mark.parametrize('expression, message', [
    ("jsonpath_query($.doc, '$' + '.a' * 1500)",
     'jsonpath_query: the query or the value is nested too deeply'),
    ("jsonpath_query($.doc, '$[' + '9' * 5000 + ']')",
     "jsonpath_query: the query is 5003 characters long"),
    ("regex_search('a' * 60 + '!', '(a|aa)+$')",
     "regex_search: pattern '(a|aa)+$' took longer than 1.0 s"),
], ids=['deep-jsonpath', 'huge-index', 'catastrophic-regex'])
def test_hostile_queries_end_in_a_short_expression_error(mistral, st2, run, expression,
                                                          message):
    name = unique('sec_expr')
    r = run(one_task(name, '      action: std.echo output=<%% %s %%>' % expression,
                     inputs=['doc']), name, workflow_input={'doc': {'a': [1, 2]}},
            parent=PARENT)
    ex, task = failed_task(r, mistral)
    first = task.state_info.split('\n', 1)[0]
    assert message in first, first
    assert len(first) < 600
    assert TOKEN not in ex.state_info


# -- finding 5 ---------------------------------------------------------------

DEEP = '[' * 5000 + ']' * 5000


def test_deeply_nested_task_result_still_completes_the_st2_execution(mistral, st2, run):
    name = unique('sec_deep_result')
    r = run(one_task(name, '      action: std.echo output=<% $.deep %>', inputs=['deep']),
            name, workflow_input={'deep': DEEP}, parent=PARENT)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    st2.wait_for_status(r.st2_id, 'succeeded', timeout=20)
    (only,) = st2.execution(r.st2_id)['result']['tasks']
    assert only['result'] == DEEP          # kept as the string it is


# -- finding 4: an answer that is not st2's is never a success ----------------------

ST2_ACTION_WF = """
version: '2.0'
%s:
  tasks:
    only:
      action: st2.action
      input:
        ref: core.local
        parameters: {cmd: date}
"""


def st2_action_run(mistral, st2, run):
    name = unique('sec_answer')
    return run(ST2_ACTION_WF % name, name, notify=False,
               parent={'execution_id': st2.add_execution(), 'user': 'st2admin'})


@pytest.mark.parametrize('kind, says', [
    ('html', 'HTTP 200 and an answer that is not JSON (text/html'),
    ('redirect', 'redirect (HTTP 302 to http://127.0.0.1:1/login)'),
    ('empty', 'HTTP 200 and an empty answer'),
    ('no-content', 'HTTP 204 and an empty answer'),
    ('list', 'HTTP 200 and a JSON array where st2 answers a JSON object'),
    ('object-without-id', 'JSON object that holds no execution id'),
])
def test_st2_action_fails_when_st2_gives_no_execution(mistral, st2, run, kind, says):
    # Only the POST: a late update from an earlier test's workflow must not take the fault.
    if kind == 'object-without-id':
        st2.fail_next(200, body={'status': 'ok'}, on=POST_EXECUTION)
    else:
        st2.misbehave_next(kind, on=POST_EXECUTION)
    r = st2_action_run(mistral, st2, run)
    ex = mistral.wait_for_execution(r.id, timeout=GIVE_UP_AFTER + 15)
    (task,) = r.client.tasks.list(workflow_execution_id=r.id)
    assert ex.state == 'ERROR' and task.state == 'ERROR', (ex.state, st2.requests)
    assert says in task.state_info, task.state_info
    assert 'not posting again, to avoid a duplicate execution' in task.state_info
    # One POST only: the answer may hide a child, so st2 was asked for it instead.
    assert len(st2.requests_for(*POST_EXECUTION)) == 1
    assert st2.requests_for('GET', '/api/v1/executions')
    assert not st2.executions(action='core.local')


def test_st2_action_adopts_the_child_when_a_proxy_mangled_the_answer(mistral, st2, run):
    st2.set_child_outcome('core.local', 'succeeded', {'stdout': 'hi'})
    # st2 made the child; the page hid it.
    st2.misbehave_next('html', applied=True, on=POST_EXECUTION)
    r = st2_action_run(mistral, st2, run)
    ex = mistral.wait_for_execution(r.id, timeout=GIVE_UP_AFTER + 15)
    assert ex.state == 'SUCCESS', ex.state_info
    assert len(st2.requests_for(*POST_EXECUTION)) == 1
    assert len(st2.executions(action='core.local')) == 1


ASYNC_WF = """
version: '2.0'
%s:
  tasks:
    wait:
      action: std.async_noop
"""


def publisher_run(mistral, st2, run):
    """A workflow whose final update is sent only when the test completes its task."""
    name = unique('sec_publish')
    r = run(ASYNC_WF % name, name, parent=PARENT)
    st2.wait_for(lambda e: any(q.status == 200 for q in e.requests_for(*st2_put(r.st2_id))))
    return r


def finish(mistral, r):
    (task,) = r.client.tasks.list(workflow_execution_id=r.id)
    (action_ex,) = r.client.action_executions.list(task_execution_id=task.id)
    r.client.action_executions.update(action_ex.id, 'SUCCESS', output={'ok': 1})
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'


def trace(mistral, r):
    return [line for line in mistral.log_lines('[%s]' % r.id)]


@pytest.mark.parametrize('kind', ['html', 'empty', 'no-content', 'list'])
def test_publisher_retries_an_answer_that_is_not_st2s(mistral, st2, run, kind):
    r = publisher_run(mistral, st2, run)
    st2.misbehave_next(kind, on=st2_put(r.st2_id))
    finish(mistral, r)
    st2.wait_for_status(r.st2_id, 'succeeded', timeout=20)
    lines = trace(mistral, r)
    assert any('WORKFLOW_SUCCEEDED' in line and 'is not yet published to st2 (try 1)' in line
               and "not st2's JSON" in line for line in lines), lines


def test_publisher_gives_up_a_redirect_loudly(mistral, st2, run):
    r = publisher_run(mistral, st2, run)
    st2.misbehave_next('redirect', location='https://sso.example.com/login', on=st2_put(r.st2_id))
    finish(mistral, r)
    st2.wait_for(lambda e: any('could not be published' in line for line in trace(mistral, r)))
    (line,) = [line for line in trace(mistral, r) if 'could not be published' in line]
    assert 'ERROR' in line and 'redirect (HTTP 302 to https://sso.example.com/login)' in line
    assert 'st2-track-result %s --config-dir /etc/st2' % r.st2_id in line
    assert st2.execution(r.st2_id)['status'] == 'running'
    assert not any('WORKFLOW_SUCCEEDED' in line and 'is published' in line
                   for line in trace(mistral, r))


# -- finding 10: a proxy echoing the request headers --------------------------------


def test_echoed_request_headers_never_put_the_token_in_the_log(mistral, st2, run):
    r = publisher_run(mistral, st2, run)
    st2.misbehave_next('echo-headers', on=st2_put(r.st2_id))
    finish(mistral, r)
    st2.wait_for_status(r.st2_id, 'succeeded', timeout=20)
    (retry,) = [line for line in trace(mistral, r) if 'try 1' in line]
    assert 'Your request headers:' in retry and 'X-Auth-Token: ***' in retry
    assert not [line for line in mistral.log_lines('st2mistral') if TOKEN in line]
    assert TOKEN not in '\n'.join(trace(mistral, r))
