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

"""st2.action without Mistral: request shape, failures, and no duplicate children."""

import json
import logging

from mistral import config as mistral_config
from mistral_lib import actions
from mistral_lib.actions import context as lib_context
import pytest
import requests
import urllib3

from st2mistral.core import st2api
from st2mistral.mistral_side.actions import stackstorm

API = 'http://st2.test/api/v1'
POST_URL = API + '/executions'
TOKEN = 'secret-token-123'
API_KEY = 'secret-key-456'
PARENT = {'execution_id': '5e1f00000000000000000001', 'user': 'st2admin'}
NOTIFY = {'on-complete': {'routes': ['slack']}}


def st2_context(**changes):
    ctx = {'api_url': API, 'auth_token': TOKEN, 'parent': PARENT, 'notify': NOTIFY,
           'skip_notify_tasks': ['quiet'], 'endpoint': API + '/actionexecutions'}
    ctx.update(changes)
    return ctx


def execution(action_ex_id='ae-1'):
    return lib_context.ExecutionContext(
        workflow_execution_id='wf-1', task_execution_id='te-1', action_execution_id=action_ex_id,
        workflow_name='demo.wf', callback_url='/v2/action_executions/%s' % action_ex_id)


class FakeClock:
    """time.monotonic and time.sleep that cost no wall time."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def conf(conf):
    conf.register_opts(mistral_config.api_opts, group='api')
    conf.set_override('host', '0.0.0.0', group='api')
    conf.set_override('port', 8989, group='api')
    conf.set_override('retry_initial_delay', 1.0, group='st2')
    conf.set_override('retry_max_delay', 4.0, group='st2')
    conf.set_override('action_retry_give_up_after', 10.0, group='st2')
    conf.set_override('api_key', API_KEY, group='st2')
    return conf


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def start(conf, clock):
    client = st2api.St2Client(conf=conf, sleep=clock.sleep)

    def run(ref='core.local', parameters=None, ctx=None, task_name='step1', action_ex_id='ae-1',
            inquiry=False):
        return stackstorm.run(
            ref, {'cmd': 'echo hi'} if parameters is None else parameters,
            st2_context() if ctx is None else ctx, execution(action_ex_id), client=client,
            conf=conf, task_name_lookup=lambda task_ex_id: task_name, sleep=clock.sleep,
            clock=clock, root_lookup=lambda wf_ex_id: 'root-' + wf_ex_id, inquiry=inquiry)
    return run


def refused():
    reason = urllib3.exceptions.NewConnectionError(None, 'Connection refused')
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, POST_URL,
                                                                                reason))


def cut():
    """The connection dropped after the request was sent: st2 may have it."""
    return requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
        'Connection aborted.', ConnectionResetError()))


def created(ex_id='c1'):
    return {'status_code': 201, 'json': {'id': ex_id, 'status': 'requested'}}


def listing(*children):
    return {'status_code': 200, 'json': list(children)}


def child(action_ex_id, ex_id='c1'):
    return {'id': ex_id, 'status': 'running',
            'context': {'mistral': {'action_execution_id': action_ex_id}}}


def posts(requests_mock):
    return [r for r in requests_mock.request_history if r.method == 'POST']


def gets(requests_mock):
    return [r for r in requests_mock.request_history if r.method == 'GET']


# ------------------------------------------------------------ the request


def test_posts_header_and_body_st2_expects(start, requests_mock):
    requests_mock.post(POST_URL, **created())
    assert start() is None

    (request,) = requests_mock.request_history
    assert request.headers['X-Auth-Token'] == TOKEN
    assert 'St2-Api-Key' not in request.headers
    assert json.loads(request.headers['st2-context']) == {
        'parent': PARENT,
        'mistral': {'workflow_execution_id': 'wf-1', 'workflow_name': 'demo.wf',
                    'task_execution_id': 'te-1', 'task_name': 'step1',
                    'action_execution_id': 'ae-1',
                    'callback_url': 'http://127.0.0.1:8989/v2/action_executions/ae-1'}}
    assert request.json() == {
        'action': 'core.local', 'parameters': {'cmd': 'echo hi'}, 'notify': NOTIFY,
        'callback': {'source': 'mistral_v2',
                     'url': 'http://127.0.0.1:8989/v2/action_executions/ae-1'}}


def test_skip_notify_tasks_drop_notify(start, requests_mock):
    requests_mock.post(POST_URL, **created())
    start(task_name='quiet')
    assert 'notify' not in requests_mock.request_history[0].json()


def test_no_parameters_sends_empty_object(start, requests_mock):
    requests_mock.post(POST_URL, **created())
    start(parameters={})
    assert requests_mock.request_history[0].json()['parameters'] == {}


PARENT_URL = API + '/executions/' + PARENT['execution_id']


def parent_record(mistral_execution_id='root-wf-1'):
    """st2's record of the workflow's own st2 execution (the runner's context stored)."""
    mistral = {'execution_id': mistral_execution_id} if mistral_execution_id else {}
    return {'status_code': 200, 'json': {'id': PARENT['execution_id'], 'status': 'running',
                                         'context': {'user': 'alice', 'mistral': mistral}}}


def test_without_token_the_key_is_used_once_st2_vouches_for_the_root_workflow(
        start, requests_mock):
    requests_mock.get(PARENT_URL, **parent_record())
    requests_mock.post(POST_URL, **created())
    assert start(ctx=st2_context(auth_token=None)) is None
    get, post = requests_mock.request_history
    assert get.headers['St2-Api-Key'] == API_KEY and get.url == PARENT_URL
    assert post.headers['St2-Api-Key'] == API_KEY and 'X-Auth-Token' not in post.headers


def test_refused_token_is_replaced_by_the_key_only_after_st2_vouches(start, requests_mock):
    requests_mock.get(PARENT_URL, **parent_record())
    requests_mock.post(POST_URL, [{'status_code': 401, 'json': {'faultstring': 'Unauthorized'}},
                                  created()])
    assert start() is None
    first, get, second = requests_mock.request_history
    assert first.headers['X-Auth-Token'] == TOKEN and 'St2-Api-Key' not in first.headers
    assert get.method == 'GET'
    assert second.headers['St2-Api-Key'] == API_KEY and 'X-Auth-Token' not in second.headers


@pytest.mark.parametrize('ctx, answers, named', [
    (st2_context(auth_token=None, parent={}), [], 'st2_context.parent.execution_id is missing'),
    (st2_context(auth_token=None), [parent_record('another-root')],
     'belongs to another Mistral workflow execution, not to root-wf-1'),
    (st2_context(auth_token=None), [{'status_code': 404, 'json': {'faultstring': 'nope'}}],
     'st2 cannot say whether it does'),
])
def test_without_token_nothing_is_created_unless_st2_vouches(start, requests_mock, caplog, ctx,
                                                             answers, named):
    if answers:
        requests_mock.get(PARENT_URL, answers)
    requests_mock.post(POST_URL, **created())
    error = error_of(start(ctx=ctx))
    assert posts(requests_mock) == []
    assert 'the workflow has no st2 token, and the API key ([st2] api_key) acts only' in error
    assert named in error
    assert API_KEY not in error and API_KEY not in caplog.text


def test_refused_token_fails_the_task_when_st2_does_not_vouch(start, requests_mock):
    requests_mock.get(PARENT_URL, **parent_record('another-root'))
    requests_mock.post(POST_URL, status_code=401, json={'faultstring': 'Unauthorized'})
    error = error_of(start())
    assert len(posts(requests_mock)) == 1
    assert "st2 refused the workflow's st2 token (HTTP 401)" in error
    assert TOKEN not in error


def test_binding_not_stored_yet_is_read_again_until_the_deadline(start, requests_mock, clock):
    # st2 stores the runner's context once the runner returns: the task may run first.
    requests_mock.get(PARENT_URL, [parent_record(None), parent_record(None), parent_record()])
    requests_mock.post(POST_URL, **created())
    assert start(ctx=st2_context(auth_token=None)) is None
    assert len(gets(requests_mock)) == 3 and len(posts(requests_mock)) == 1
    assert clock.sleeps == [1.0, 2.0]


def test_binding_never_stored_fails_after_the_give_up_time(start, requests_mock, clock):
    requests_mock.get(PARENT_URL, **parent_record(None))
    error = error_of(start(ctx=st2_context(auth_token=None)))
    assert 'names no Mistral workflow execution (yet)' in error
    assert posts(requests_mock) == []
    assert clock.now >= 10.0


def test_configured_mistral_api_url_wins(start, conf, requests_mock):
    conf.set_override('mistral_api_url', 'https://mistral.example.com:8443/v2/', group='st2')
    requests_mock.post(POST_URL, **created())
    start()
    assert (requests_mock.request_history[0].json()['callback']['url']
            == 'https://mistral.example.com:8443/v2/action_executions/ae-1')


@pytest.mark.parametrize('host, port, ssl, expected', [
    ('0.0.0.0', 8989, False, 'http://127.0.0.1:8989/v2'),
    ('::', 8989, False, 'http://127.0.0.1:8989/v2'),
    ('10.0.0.5', 9000, False, 'http://10.0.0.5:9000/v2'),
    ('mistral.local', 8989, True, 'https://mistral.local:8989/v2'),
    ('fd00::5', 8989, False, 'http://[fd00::5]:8989/v2'),
])
def test_default_mistral_api_url(host, port, ssl, expected):
    assert stackstorm.default_mistral_api_url(host, port, ssl) == expected


def test_mistral_api_base_url_reads_api_section(conf):
    conf.set_override('host', '192.0.2.7', group='api')
    conf.set_override('enable_ssl_api', True, group='api')
    assert stackstorm.mistral_api_base_url(conf) == 'https://192.0.2.7:8989/v2'


# ------------------------------------------------------------ failures


def error_of(result):
    assert isinstance(result, actions.Result) and result.is_error(), result
    return result.error


@pytest.mark.parametrize('ctx, named', [
    (None, 'st2_context'),
    ({}, 'st2_context'),
    ('text', 'st2_context must be an object'),
    ({'auth_token': TOKEN}, 'st2_context.api_url is missing'),
    ({'api_url': 'ftp://st2'}, 'st2_context.api_url'),
    ({'api_url': API, 'parent': 'x'}, 'st2_context.parent'),
    ({'api_url': API, 'notify': ['x']}, 'st2_context.notify'),
    ({'api_url': API, 'skip_notify_tasks': 'a'}, 'st2_context.skip_notify_tasks'),
    ({'api_url': API, 'auth_token': 5}, 'st2_context.auth_token'),
])
def test_invalid_st2_context_fails_naming_what_is_wrong(conf, clock, ctx, named, requests_mock):
    # A root workflow: nothing to inherit.
    result = stackstorm.run('core.local', {}, ctx, execution(), client=st2api.St2Client(conf),
                            conf=conf, task_name_lookup=lambda t: 't', clock=clock,
                            context_lookup=lambda wf_ex_id: None)
    assert named in error_of(result)
    assert requests_mock.request_history == []


def test_a_task_without_st2_context_takes_its_roots(conf, clock, requests_mock):
    # Mistral 23 starts sub-workflows without an env: the root's context is used.
    requests_mock.post(POST_URL, status_code=201, json={'id': 'child-1'})
    asked = []

    def lookup(wf_ex_id):
        asked.append(wf_ex_id)
        return st2_context()

    result = stackstorm.run('core.local', {}, None, execution(), client=st2api.St2Client(conf),
                            conf=conf, task_name_lookup=lambda t: 't', clock=clock,
                            context_lookup=lookup)
    assert result is None
    assert asked == [execution().workflow_execution_id]
    assert requests_mock.request_history[0].headers['X-Auth-Token'] == TOKEN


def test_an_untrusted_lineage_gets_no_context_and_says_why(conf, clock, requests_mock,
                                                           monkeypatch):
    def untrusted(wf_ex_id):
        raise stackstorm.lineage.Untrusted('the parent task t-1 of workflow execution %s '
                                           'runs an action, not a sub-workflow' % wf_ex_id)

    monkeypatch.setattr(stackstorm.lineage, 'root_of', untrusted)
    result = stackstorm.run('core.local', {}, None, execution(), client=st2api.St2Client(conf),
                            conf=conf, task_name_lookup=lambda t: 't', clock=clock)
    error = error_of(result)
    assert 'lineage it names cannot be trusted' in error and 'runs an action' in error
    assert requests_mock.request_history == []


def test_the_api_key_is_refused_for_an_untrusted_lineage(conf, clock, requests_mock,
                                                         monkeypatch):
    def untrusted(wf_ex_id):
        raise stackstorm.lineage.Untrusted('workflow execution %s names root r-1 but no '
                                           'parent task' % wf_ex_id)

    monkeypatch.setattr(stackstorm.lineage, 'root_of', untrusted)
    ctx = st2_context(auth_token=None)
    result = stackstorm.run('core.local', {}, ctx, execution(), client=st2api.St2Client(conf),
                            conf=conf, task_name_lookup=lambda t: 't', clock=clock)
    error = error_of(result)
    assert 'lineage of this workflow cannot be trusted' in error and 'no parent task' in error
    assert requests_mock.request_history == []


@pytest.mark.parametrize('ref, parameters, named', [
    (None, {}, 'ref'), ('noref', {}, 'ref'), ('core.local', ['a'], 'parameters')])
def test_invalid_inputs_fail(start, ref, parameters, named, requests_mock):
    assert named in error_of(start(ref=ref, parameters=parameters))
    assert requests_mock.request_history == []


def test_unknown_st2_url_is_refused(start, requests_mock):
    message = error_of(start(ctx=st2_context(api_url='http://evil.test/api/v1')))
    assert 'allowed_api_urls' in message
    assert requests_mock.request_history == []


def test_st2_error_answer_fails_with_status_and_message(start, requests_mock, caplog):
    caplog.set_level(logging.DEBUG)
    requests_mock.post(POST_URL, status_code=400,
                       json={'faultstring': 'Action "core.local" cannot be found.'})
    message = error_of(start())
    assert 'HTTP 400' in message and 'Action "core.local" cannot be found.' in message
    assert len(posts(requests_mock)) == 1  # a refusal is not retried
    assert TOKEN not in message and TOKEN not in caplog.text and API_KEY not in caplog.text
    assert 'echo hi' not in message and 'echo hi' not in caplog.text


def test_st2_500_is_not_retried(start, requests_mock):
    requests_mock.post(POST_URL, status_code=500, json={'faultstring': 'boom'})
    assert 'HTTP 500' in error_of(start())
    assert len(requests_mock.request_history) == 1


# ------------------------------------------------------------ no duplicate children


def test_refused_connection_is_retried_without_lookup(start, requests_mock, clock):
    requests_mock.post(POST_URL, [{'exc': refused()}, {'exc': refused()}, created()])
    assert start() is None
    assert len(posts(requests_mock)) == 3
    assert gets(requests_mock) == []  # a refused request never reached st2
    assert clock.sleeps == [1.0, 2.0]


@pytest.mark.parametrize('status', [429, 503])
def test_rejected_request_is_retried_without_lookup(start, requests_mock, status):
    requests_mock.post(POST_URL, [{'status_code': status, 'json': {}}, created()])
    assert start() is None
    assert len(posts(requests_mock)) == 2 and gets(requests_mock) == []


@pytest.mark.parametrize('failure', [
    {'exc': requests.exceptions.ReadTimeout('read timed out')},
    {'exc': cut()},
    {'status_code': 502, 'json': {'faultstring': 'Bad Gateway'}},
    {'status_code': 504, 'json': {}},
])
def test_after_an_unsure_failure_an_existing_child_is_adopted(start, requests_mock, failure):
    requests_mock.post(POST_URL, [failure, created('c2')])
    requests_mock.get(POST_URL, **listing(child('other-ae', 'c0'), child('ae-1', 'c1')))
    assert start() is None
    assert len(posts(requests_mock)) == 1  # st2 already had it: no second child
    (lookup,) = gets(requests_mock)
    assert lookup.qs == {'action': ['core.local'], 'parent': [PARENT['execution_id']],
                         'limit': ['100'], 'exclude_attributes': ['result']}


def test_after_an_unsure_failure_waits_for_the_child_and_never_posts_again(start, requests_mock,
                                                                          clock):
    requests_mock.post(POST_URL, [{'exc': cut()}, created()])
    requests_mock.get(POST_URL, [listing(child('other-ae')), listing(), listing(child('ae-1'))])
    assert start() is None
    assert [r.method for r in requests_mock.request_history] == ['POST', 'GET', 'GET', 'GET']
    assert clock.sleeps == [1.0, 2.0]


def test_after_an_unsure_failure_gives_up_without_posting_again(start, requests_mock, clock):
    requests_mock.post(POST_URL, [{'exc': cut()}, created()])
    requests_mock.get(POST_URL, **listing(child('other-ae')))
    message = error_of(start())
    assert len(posts(requests_mock)) == 1
    assert 'not posting again' in message and 'ae-1' in message
    assert clock.now == pytest.approx(10.0)


def test_lookup_without_parent_filters_on_action_only(start, requests_mock):
    requests_mock.post(POST_URL, [{'exc': cut()}, created()])
    requests_mock.get(POST_URL, **listing(child('ae-1')))
    start(ctx=st2_context(parent={}))
    assert 'parent' not in gets(requests_mock)[0].qs


def test_an_inquiry_is_posted_without_st2s_parent_and_looked_up_without_it(start,
                                                                           requests_mock):
    # st2 3.3+ fails an inquiry whose root workflow is mistral-v2 (inquirer_runner.py
    # post_run, services/action.py request_pause @ v3.9.0); without parent it waits.
    requests_mock.post(POST_URL, [{'exc': cut()}, created()])
    requests_mock.get(POST_URL, **listing(child('ae-1')))
    assert start(ref='core.ask', parameters={}, inquiry=True) is None
    (post,) = posts(requests_mock)
    context = json.loads(post.headers['st2-context'])
    assert 'parent' not in context
    assert context['mistral']['action_execution_id'] == 'ae-1'
    assert post.headers['X-Auth-Token'] == TOKEN
    assert 'parent' not in gets(requests_mock)[0].qs


def test_st2_action_takes_the_inquiry_input_from_the_task():
    action = stackstorm.St2Action(ref='core.ask', parameters={}, st2_context={},
                                  inquiry=True)
    assert action.inquiry is True
    assert stackstorm.St2Action(ref='core.local').inquiry is False


def test_st2_down_during_lookup_means_no_post(start, requests_mock):
    requests_mock.post(POST_URL, [{'exc': cut()}, created()])
    requests_mock.get(POST_URL, [{'exc': refused()}, {'exc': refused()},
                                 listing(child('ae-1'))])
    assert start() is None
    assert len(posts(requests_mock)) == 1
    assert [r.method for r in requests_mock.request_history] == ['POST', 'GET', 'GET', 'GET']


def test_unanswerable_lookup_fails_instead_of_risking_a_duplicate(start, requests_mock):
    requests_mock.post(POST_URL, [{'exc': cut()}, created()])
    requests_mock.get(POST_URL, status_code=404,
                      json={'faultstring': 'The resource could not be found.'})
    message = error_of(start())
    assert 'duplicate' in message and 'HTTP 404' in message
    assert len(posts(requests_mock)) == 1


def test_gives_up_after_the_configured_time_with_a_clear_message(start, requests_mock, clock,
                                                                 caplog):
    caplog.set_level(logging.DEBUG)
    requests_mock.post(POST_URL, exc=refused())
    message = error_of(start())
    assert 'could not be reached' in message and 'action_retry_give_up_after' in message
    assert 'cannot connect to st2' in message
    assert clock.now == pytest.approx(10.0)
    assert clock.sleeps == [1.0, 2.0, 4.0, 3.0]
    assert len(posts(requests_mock)) == 5 and gets(requests_mock) == []
    assert TOKEN not in caplog.text and TOKEN not in message


def test_give_up_after_unsure_failures_looks_once_more(start, requests_mock, conf):
    conf.set_override('action_retry_give_up_after', 0.0, group='st2')
    requests_mock.post(POST_URL, exc=requests.exceptions.ReadTimeout('read timed out'))
    requests_mock.get(POST_URL, **listing(child('ae-1')))
    assert start() is None  # the last answer was lost but the child exists
    assert len(posts(requests_mock)) == 1


def test_only_never_sent_requests_are_known_not_to_have_reached_st2():
    assert not stackstorm.may_have_reached_st2(
        st2api.St2Error('refused', retryable=True, never_sent=True))
    assert stackstorm.may_have_reached_st2(st2api.St2Error('cut', retryable=True))
    assert not stackstorm.may_have_reached_st2(st2api.St2Error('busy', status_code=503))
    assert stackstorm.may_have_reached_st2(st2api.St2Error('gateway', status_code=504))


# ------------------------------------------------------------ the Mistral action


def test_action_is_async_and_takes_mistral_inputs(monkeypatch):
    seen = {}

    def fake_run(ref, parameters, st2_ctx, execution_ctx, inquiry):
        seen.update(ref=ref, parameters=parameters, ctx=st2_ctx, ex=execution_ctx,
                    inquiry=inquiry)

    monkeypatch.setattr(stackstorm, 'run', fake_run)
    action = stackstorm.St2Action(ref='core.local', parameters={'a': 1},
                                  st2_context=st2_context())
    assert action.is_sync() is False
    exec_ctx = execution()
    assert action.run(lib_context.ActionContext(execution_ctx=exec_ctx)) is None
    assert seen == {'ref': 'core.local', 'parameters': {'a': 1}, 'ctx': st2_context(),
                    'ex': exec_ctx, 'inquiry': False}


def test_task_name_lookup_without_mistral_db_is_none():
    assert stackstorm.task_name_of(None) is None


def test_find_child_ignores_foreign_shapes():
    assert stackstorm.find_child([{}, {'context': None}, {'context': {'mistral': 'x'}}],
                                 'ae-1') is None
    assert stackstorm.find_child([child('ae-1', 'c9')], 'ae-1')['id'] == 'c9'
