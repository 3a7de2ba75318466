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

"""Tests of the strict st2 API emulator, over real HTTP with requests."""

import http.server
import json
import socket
import threading
import time

import pytest
import requests

from st2mistral.testing import st2_emulator
from st2mistral.testing.st2_emulator import St2Emulator
from st2mistral.testing.waiting import wait_until

TOKEN = {'X-Auth-Token': 'st2-token'}
API_KEY = {'St2-Api-Key': 'st2-key'}
CANCELED_BY_USER = {'message': 'Action canceled by user.', 'user': 'st2admin'}
COMPLETED = ['succeeded', 'failed', 'timeout', 'abandoned', 'canceled']


@pytest.fixture(scope='module')
def shared_emulator():
    with St2Emulator() as emulator:
        yield emulator


@pytest.fixture
def st2(shared_emulator):
    shared_emulator.reset()
    yield shared_emulator
    shared_emulator.reset()
    shared_emulator.version = st2_emulator.DEFAULT_VERSION


class Receiver:
    """A tiny stand-in for Mistral's API: records PUTs, answers ``status``."""

    def __init__(self, status=200):
        self.status = status
        self.calls = []
        self.hold = None        # a threading.Event: answer only once it is set
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                raw = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                receiver.calls.append({'path': self.path, 'headers': dict(self.headers),
                                       'body': json.loads(raw)})
                if receiver.hold is not None:
                    receiver.hold.wait(10)
                self.send_response(receiver.status)
                self.send_header('Content-Length', '2')
                self.end_headers()
                self.wfile.write(b'{}')

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={'poll_interval': 0.02},
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    mistral = Receiver()
    yield mistral
    mistral.close()


# The emulator sends each callback from its own thread, named after the execution.
CALLBACK_THREAD = 'st2-emulator-callback-'


def callback_threads(execution_id=''):
    return [t for t in threading.enumerate() if t.name.startswith(CALLBACK_THREAD + execution_id)]


def wait_callbacks_settled(execution_id=''):
    """An explicit flush instead of a sleep to see whether more comes: once the
    callback threads have ended, every attempt that will ever be made is recorded.
    (test_callback_is_not_retried_on_http_errors shows the thread is found.)"""
    wait_until(lambda: not callback_threads(execution_id), timeout=5,
               message=lambda: 'callback threads to end: %s' % callback_threads(execution_id))


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def put(st2, execution_id, body=None, headers=TOKEN, timeout=5, **kwargs):
    return requests.put('%s/executions/%s' % (st2.api_url, execution_id), json=body,
                        headers=headers, timeout=timeout, **kwargs)


def post(st2, body, headers=TOKEN, context=None):
    headers = dict(headers)
    if context is not None:
        headers['st2-context'] = context if isinstance(context, str) else json.dumps(context)
    return requests.post(st2.api_url + '/executions', json=body, headers=headers, timeout=5)


def get_key(st2, name, headers=TOKEN, **params):
    return requests.get('%s/keys/%s' % (st2.api_url, name), params=params, headers=headers,
                        timeout=5)


def fault(response):
    return response.json()['faultstring']


def statuses(st2, execution_id):
    return [entry['status'] for entry in st2.execution(execution_id)['history']]


# -- lifecycle ---------------------------------------------------------------------------------

def test_urls_follow_st2_public_layout(st2):
    assert st2.base_url == 'http://127.0.0.1:%d' % st2.port
    assert st2.api_url == st2.base_url + '/api/v1'
    assert st2.auth_url == st2.base_url + '/auth/v1'


def test_port_is_unknown_before_start_and_start_twice_fails():
    emulator = St2Emulator()
    with pytest.raises(RuntimeError):
        emulator.base_url  # noqa: B018 - the property access is what raises
    with emulator:
        with pytest.raises(RuntimeError):
            emulator.start()


def test_explicit_port_is_used():
    port = free_port()
    with St2Emulator(port=port) as emulator:
        assert emulator.base_url == 'http://127.0.0.1:%d' % port
        ex_id = emulator.add_execution()
        assert put(emulator, ex_id, {'status': 'running'}).status_code == 200


def test_stop_releases_the_port():
    emulator = St2Emulator().start()
    emulator.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(emulator.api_url + '/executions/x', timeout=1)


# -- authentication --------------------------------------------------------------------------

def test_request_without_credentials_is_401(st2):
    ex_id = st2.add_execution()
    answer = put(st2, ex_id, {'status': 'succeeded'}, headers={})
    assert answer.status_code == 401
    assert fault(answer) == 'Unauthorized - One of Token or API key required.'
    assert st2.execution(ex_id)['status'] == 'running'
    assert st2.requests[-1].status == 401


def test_unknown_token_is_401(st2):
    answer = put(st2, st2.add_execution(), {'status': 'running'},
                 headers={'X-Auth-Token': 'nope'})
    assert (answer.status_code, fault(answer)) == (401, 'Unauthorized')


def test_expired_token_is_401_token_has_expired(st2):
    st2.expire_token('st2-token')
    answer = put(st2, st2.add_execution(), {'status': 'running'})
    assert (answer.status_code, fault(answer)) == (401, 'Unauthorized - Token has expired.')
    assert put(st2, st2.add_execution(), {'status': 'running'}, headers=API_KEY).ok


def test_expire_token_rejects_unknown_token(st2):
    with pytest.raises(ValueError):
        st2.expire_token('never-issued')


def test_unknown_api_key_is_401_naming_its_hash_not_the_key(st2):
    answer = put(st2, st2.add_execution(), {'status': 'running'},
                 headers={'St2-Api-Key': 'bad-key'})
    key_hash = st2_emulator.api_key_hash('bad-key')
    assert answer.status_code == 401
    assert fault(answer) == 'Unauthorized - ApiKey with key_hash=%s not found.' % key_hash
    assert 'bad-key' not in answer.text


@pytest.mark.parametrize('headers, params', [
    (API_KEY, {}),
    ({}, {'x-auth-token': 'st2-token'}),
    ({}, {'st2-api-key': 'st2-key'}),
])
def test_api_key_and_query_credentials_are_accepted(st2, headers, params):
    answer = put(st2, st2.add_execution(), {'status': 'running'}, headers=headers,
                 params=params)
    assert answer.status_code == 200


def test_token_header_is_checked_first(st2):
    headers = {'X-Auth-Token': 'nope', 'St2-Api-Key': 'st2-key'}
    assert put(st2, st2.add_execution(), {'status': 'running'}, headers=headers).status_code == 401


def test_custom_credentials():
    with St2Emulator(tokens=('t1',), api_keys=()) as emulator:
        ex_id = emulator.add_execution()
        assert put(emulator, ex_id, {'status': 'running'}).status_code == 401
        assert put(emulator, ex_id, {'status': 'running'},
                   headers={'X-Auth-Token': 't1'}).status_code == 200
        assert put(emulator, ex_id, {'status': 'running'}, headers=API_KEY).status_code == 401


@pytest.mark.parametrize('method, path', [
    ('GET', '/api/v1/actions'),
    ('DELETE', '/api/v1/executions/5e0000000000000000000000'),
    ('GET', '/v1/executions/5e0000000000000000000000'),
    ('POST', '/api/v1/executions/'),
    ('GET', '/auth/v1/tokens/validate'),
])
def test_unknown_routes_are_404_even_without_credentials(st2, method, path):
    answer = requests.request(method, st2.base_url + path, timeout=5)
    assert answer.status_code == 404
    assert fault(answer) == 'The resource could not be found.'


# -- PUT /executions/{id} ----------------------------------------------------------------------

def test_put_applies_status_and_result_and_records_history(st2):
    ex_id = st2.add_execution()
    answer = put(st2, ex_id, {'status': 'succeeded', 'result': {'output': 1}})
    assert answer.status_code == 200
    assert answer.json()['id'] == ex_id
    assert answer.json()['status'] == 'succeeded'
    assert answer.json()['result'] == {'output': 1}
    execution = st2.execution(ex_id)
    assert execution['result'] == {'output': 1}
    assert statuses(st2, ex_id) == ['running', 'succeeded']
    first, second = execution['history']
    assert first['at'] <= second['at'] <= time.monotonic()
    assert second['result'] == {'output': 1}


def test_put_accepts_status_alone(st2):
    ex_id = st2.add_execution(status='requested')
    assert put(st2, ex_id, {'status': 'running'}).json()['status'] == 'running'


@pytest.mark.parametrize('body, message', [
    ({'status': 'running', 'foo': 1},
     "Additional properties are not allowed ('foo' was unexpected)"),
    ({'status': 'running', 'a': 1, 'b': 2},
     "Additional properties are not allowed ('a', 'b' were unexpected)"),
    ({'state': 'SUCCESS'}, "Additional properties are not allowed ('state' was unexpected)"),
    ({'status': 'RUNNING'}, "'RUNNING' is not one of %r" % list(st2_emulator.LIVEACTION_STATUSES)),
    ({'status': 'success'}, "'success' is not one of %r" % list(st2_emulator.LIVEACTION_STATUSES)),
    ({'status': 3}, "3 is not of type 'string'"),
    ({'status': 'succeeded', 'result': 'done'}, "'done' is not of type 'object'"),
    ({'status': 'succeeded', 'result': [1]}, "[1] is not of type 'object'"),
    ([{'status': 'running'}], "[{'status': 'running'}] is not of type 'object'"),
])
def test_put_rejects_bodies_outside_the_schema(st2, body, message):
    ex_id = st2.add_execution()
    answer = put(st2, ex_id, body)
    assert (answer.status_code, fault(answer)) == (400, message)
    assert statuses(st2, ex_id) == ['running']


def test_put_rejects_invalid_json(st2):
    ex_id = st2.add_execution()
    answer = requests.put('%s/executions/%s' % (st2.api_url, ex_id), data=b'{"status": ',
                          headers=dict(TOKEN, **{'Content-Type': 'application/json'}), timeout=5)
    assert answer.status_code == 400
    assert fault(answer).startswith('Failed to parse request body: ')
    assert st2.requests[-1].body is None
    assert st2.requests[-1].raw == b'{"status": '


def test_put_rejects_other_content_types(st2):
    answer = requests.put('%s/executions/%s' % (st2.api_url, st2.add_execution()),
                          data='status=running',
                          headers=dict(TOKEN, **{'Content-Type': 'text/plain'}), timeout=5)
    assert answer.status_code == 400
    assert fault(answer) == 'Failed to parse request body: Unsupported Content-Type: "text/plain"'


def test_put_unknown_execution_is_404(st2):
    answer = put(st2, '5e0000000000000000000000', {'status': 'running'})
    assert answer.status_code == 404
    assert fault(answer) == 'Unable to identify resource with id "5e0000000000000000000000".'


def test_put_validates_the_body_before_looking_up_the_execution(st2):
    answer = put(st2, '5e0000000000000000000000', {'status': 'bogus'})
    assert answer.status_code == 400


@pytest.mark.parametrize('completed', COMPLETED)
@pytest.mark.parametrize('new_status', ['running', 'succeeded', 'failed'])
def test_put_on_completed_execution_is_400(st2, completed, new_status):
    ex_id = st2.add_execution(status=completed)
    answer = put(st2, ex_id, {'status': new_status, 'result': {'late': True}})
    assert (answer.status_code, fault(answer)) == (400, 'Execution is already in completed state.')
    assert st2.execution(ex_id)['result'] == {}
    assert statuses(st2, ex_id) == [completed]


def test_put_with_unchanged_status_is_a_noop_that_drops_the_result(st2):
    ex_id = st2.add_execution()
    answer = put(st2, ex_id, {'status': 'running', 'result': {'tasks': [1]}})
    assert answer.status_code == 200
    assert answer.json()['result'] == {}
    assert st2.execution(ex_id)['result'] == {}
    assert statuses(st2, ex_id) == ['running']


def test_put_with_empty_result_keeps_the_previous_result(st2):
    ex_id = st2.add_execution(status='requested')
    put(st2, ex_id, {'status': 'running', 'result': {'tasks': []}})
    put(st2, ex_id, {'status': 'succeeded', 'result': {}})
    assert st2.execution(ex_id)['status'] == 'succeeded'
    assert st2.execution(ex_id)['result'] == {'tasks': []}


@pytest.mark.parametrize('body', [{'result': {'a': 1}}, None])
def test_put_without_status_answers_500_like_st2(st2, body):
    ex_id = st2.add_execution()
    answer = put(st2, ex_id, body)
    assert answer.status_code == 500
    assert fault(answer) == 'Failed updating execution due to unexpected error.'
    assert st2.execution(ex_id)['result'] == {}


# -- cancellation, pause, resume ---------------------------------------------------------------

def test_cancel_of_running_execution_goes_through_canceling(st2):
    ex_id = st2.add_execution()
    answer = put(st2, ex_id, {'status': 'canceled', 'result': {'ignored': True}})
    assert answer.json()['status'] == 'canceling'
    assert answer.json()['result'] == CANCELED_BY_USER
    answer = put(st2, ex_id, {'status': 'canceled', 'result': {'tasks': []}})
    assert answer.json()['status'] == 'canceled'
    assert st2.execution(ex_id)['result'] == {'tasks': []}
    assert statuses(st2, ex_id) == ['running', 'canceling', 'canceled']


def test_cancel_of_requested_top_level_execution_is_immediate(st2):
    ex_id = st2.add_execution(status='requested')
    assert put(st2, ex_id, {'status': 'canceling'}).json()['status'] == 'canceled'


def test_cancel_of_requested_execution_under_a_workflow_goes_to_canceling(st2):
    ex_id = st2.add_execution(status='requested', context={'parent': {'execution_id': 'x'}})
    assert put(st2, ex_id, {'status': 'canceled'}).json()['status'] == 'canceling'


def test_second_cancel_request_while_canceling_is_500_like_st2(st2):
    ex_id = st2.add_execution(status='canceling')
    assert put(st2, ex_id, {'status': 'canceling'}).status_code == 500


def test_cancel_of_pending_execution_is_500(st2):
    assert put(st2, st2.add_execution(status='pending'), {'status': 'canceled'}).status_code == 500


def test_canceled_waits_for_active_children(st2):
    parent = st2.add_execution(status='canceling')
    child = st2.add_execution(context={'parent': {'execution_id': parent}}, runner='python-script')
    assert st2.execution(parent)['children'] == [child]
    assert put(st2, parent, {'status': 'canceled'}).json()['status'] == 'canceling'
    put(st2, child, {'status': 'succeeded'})
    assert put(st2, parent, {'status': 'canceled'}).json()['status'] == 'canceled'


def test_pause_of_running_execution_goes_through_pausing(st2):
    ex_id = st2.add_execution()
    assert put(st2, ex_id, {'status': 'paused'}).json()['status'] == 'pausing'
    assert put(st2, ex_id, {'status': 'pausing'}).json()['status'] == 'pausing'
    answer = put(st2, ex_id, {'status': 'paused', 'result': {'tasks': ['t1']}})
    assert answer.json()['status'] == 'paused'
    assert answer.json()['result'] == {'tasks': ['t1']}
    assert put(st2, ex_id, {'status': 'paused'}).json()['status'] == 'paused'
    assert statuses(st2, ex_id) == ['running', 'pausing', 'paused']


def test_paused_waits_for_active_children(st2):
    parent = st2.add_execution(status='pausing')
    child = st2.add_execution(context={'parent': {'execution_id': parent}})
    assert put(st2, parent, {'status': 'paused'}).json()['status'] == 'pausing'
    assert put(st2, child, {'status': 'paused'}).json()['status'] == 'pausing'
    assert put(st2, parent, {'status': 'paused'}).json()['status'] == 'pausing'
    assert put(st2, child, {'status': 'paused'}).json()['status'] == 'paused'
    assert put(st2, parent, {'status': 'paused'}).json()['status'] == 'paused'


def test_pause_of_non_workflow_runner_is_400(st2):
    ex_id = st2.add_execution(runner='local-shell-cmd', action='core.local')
    answer = put(st2, ex_id, {'status': 'paused'})
    liveaction_id = st2.execution(ex_id)['liveaction_id']
    assert answer.status_code == 400
    assert fault(answer) == (
        'Failed updating execution. Unable to pause liveaction "%s" because it is not supported '
        'by the "local-shell-cmd" runner.' % liveaction_id)


def test_pause_of_execution_not_running_is_400(st2):
    answer = put(st2, st2.add_execution(status='requested'), {'status': 'pausing'})
    assert answer.status_code == 400
    assert 'because it is not in a running state.' in fault(answer)


def test_resume_goes_through_resuming(st2):
    ex_id = st2.add_execution(status='paused')
    assert put(st2, ex_id, {'status': 'resuming'}).json()['status'] == 'resuming'
    assert put(st2, ex_id, {'status': 'running'}).json()['status'] == 'running'
    assert put(st2, ex_id, {'status': 'resuming'}).json()['status'] == 'running'
    assert statuses(st2, ex_id) == ['paused', 'resuming', 'running']


def test_resume_of_execution_not_paused_is_400(st2):
    answer = put(st2, st2.add_execution(status='pausing'), {'status': 'resuming'})
    assert answer.status_code == 400
    assert 'because it is not in a paused state.' in fault(answer)


def test_plan_update_is_pure():
    plan = st2_emulator.plan_update('running', 'mistral-v2', {}, 'la', {'status': 'paused'},
                                    False, 'u')
    assert plan == st2_emulator.UpdatePlan('pausing')


def test_workflow_runner_types_per_st2_version():
    """st2common/st2common/constants/action.py: mistral-v2 left WORKFLOW_RUNNER_TYPES in 3.3."""
    runners = st2_emulator.workflow_runners
    parse = st2_emulator.parse_version
    assert 'mistral-v2' in runners(parse('3.2'))
    assert 'mistral-v2' not in runners(parse('3.3'))
    assert runners(parse('3.9.0')) == {'action-chain', 'orquesta'}
    with pytest.raises(ValueError):
        st2_emulator.St2Emulator(version='three')


@pytest.mark.parametrize('status, verb', [('pausing', 'pause'), ('paused', 'pause'),
                                          ('resuming', 'resume')])
def test_st2_39_refuses_pause_and_resume_of_mistral_v2(st2, status, verb):
    st2.version = '3.9'
    ex_id = st2.add_execution(status='paused' if verb == 'resume' else 'running')
    answer = put(st2, ex_id, {'status': status})
    assert answer.status_code == 400
    assert fault(answer) == ('Failed updating execution. Unable to %s liveaction "%s" because '
                             'it is not supported by the "mistral-v2" runner.'
                             % (verb, st2.execution(ex_id)['liveaction_id']))
    orquesta = st2.add_execution(runner='orquesta')
    assert put(st2, orquesta, {'status': 'paused'}).json()['status'] == 'pausing'


def test_children_of_mistral_v2_count_on_st2_32_only(st2):
    """is_children_active (st2common/st2common/services/action.py): False for runners outside
    WORKFLOW_RUNNER_TYPES, so a mistral-v2 cancel completes at once on 3.3+."""
    for version, expected in (('3.2', 'canceling'), ('3.9', 'canceled')):
        st2.version = version
        parent = st2.add_execution()
        st2.add_execution(runner='local-shell-cmd', context={'parent': {'execution_id': parent}})
        assert put(st2, parent, {'status': 'canceled'}).json()['status'] == 'canceling'
        assert put(st2, parent, {'status': 'canceled'}).json()['status'] == expected


def test_db_update_status_is_st2s_update_status_without_the_apis_rules(st2):
    st2.version = '3.9'
    ex_id = st2.add_execution()
    liveaction_id = st2.execution(ex_id)['liveaction_id']
    assert st2.db_update_status(liveaction_id, 'paused', {'extra': 1}) == 'paused'
    assert st2.db_update_status(liveaction_id, 'paused', {'extra': 2}) == 'paused'  # no-op
    assert st2.execution(ex_id)['result'] == {'extra': 1}
    assert st2.db_execution(liveaction_id=liveaction_id)['id'] == ex_id
    assert [e['status'] for e in st2.stream_events if e['execution_id'] == ex_id] == [
        'running', 'paused']


# -- GET /executions/{id} ----------------------------------------------------------------------

def test_get_execution_returns_st2_shape(st2):
    ex_id = st2.add_execution(parameters={'p': 1}, context={'k': 'v'})
    put(st2, ex_id, {'status': 'failed', 'result': {'error': 'x'}})
    body = requests.get('%s/executions/%s' % (st2.api_url, ex_id), headers=API_KEY,
                        timeout=5).json()
    assert body['id'] == ex_id
    assert body['status'] == 'failed'
    assert body['result'] == {'error': 'x'}
    assert body['action']['ref'] == 'examples.mistral'
    assert body['runner']['name'] == 'mistral-v2'
    assert body['liveaction']['id'] == st2.execution(ex_id)['liveaction_id']
    assert body['parameters'] == {'p': 1}
    assert body['context'] == {'k': 'v'}
    assert body['start_timestamp'].endswith('Z') and body['end_timestamp'].endswith('Z')
    assert [entry['status'] for entry in body['log']] == ['running', 'failed']


def test_get_unknown_execution_is_404(st2):
    answer = requests.get(st2.api_url + '/executions/5e0000000000000000000000', headers=TOKEN,
                          timeout=5)
    assert answer.status_code == 404


# -- POST /executions (st2.action) ---------------------------------------------------------------

def test_post_creates_child_and_runs_it_to_the_default_outcome(st2):
    parent = st2.add_execution()
    context = {'parent': {'execution_id': parent, 'user': 'st2admin'},
               'mistral': {'workflow_execution_id': 'wf', 'action_execution_id': 'ae'}}
    answer = post(st2, {'action': 'core.local', 'parameters': {'cmd': 'date'}}, context=context)
    assert answer.status_code == 201
    child = answer.json()
    assert child['status'] == 'requested'
    assert len(child['id']) == 24 and int(child['id'], 16) >= 0
    st2.wait_for_status(child['id'], 'succeeded', timeout=2)
    execution = st2.execution(child['id'])
    assert statuses(st2, child['id']) == ['requested', 'scheduled', 'running', 'succeeded']
    assert execution['result'] == {'stdout': 'ok'}
    assert execution['parameters'] == {'cmd': 'date'}
    assert execution['context'] == dict(context, user='st2admin', pack='core')
    assert execution['parent'] == parent
    assert st2.execution(parent)['children'] == [child['id']]
    assert st2.requests[-1].headers['ST2-CONTEXT'] == json.dumps(context)


def test_post_uses_the_configured_outcome_after_its_delay(st2):
    st2.set_child_outcome('core.fail', 'failed', {'stderr': 'boom'}, delay=0.2)
    started = time.monotonic()
    child = post(st2, {'action': 'core.fail'}).json()['id']
    st2.wait_for_status(child, 'running', timeout=1)
    st2.wait_for_status(child, 'failed', timeout=2)
    assert time.monotonic() - started >= 0.2
    assert st2.execution(child)['result'] == {'stderr': 'boom'}


def test_post_accepts_st2_request_fields(st2):
    body = {'action': 'core.local', 'parameters': {}, 'context': {'trace': 1}, 'delay': 0,
            'user': 'bob', 'notify': {'on-complete': {'message': 'm', 'routes': ['r'],
                                                      'data': {}, 'channels': ['c']}},
            'callback': {'source': 'other', 'url': 'http://127.0.0.1:1/x'}}
    answer = post(st2, body)
    assert answer.status_code == 201
    execution = st2.execution(answer.json()['id'])
    assert execution['context'] == {'trace': 1, 'user': 'bob', 'pack': 'core'}
    assert execution['notify'] == body['notify']
    assert execution['callback'] == body['callback']


@pytest.mark.parametrize('body, message', [
    ({'parameters': {}}, "'action' is a required property"),
    ({'action': 7}, "7 is not of type 'string'"),
    ({'action': 'core.local', 'idempotency_key': 'k'},
     "Additional properties are not allowed ('idempotency_key' was unexpected)"),
    ({'action': 'core.local', 'status': 'running'},
     "Additional properties are not allowed ('status' was unexpected)"),
    ({'action': 'core.local', 'parameters': ['a']}, "['a'] is not of type 'object'"),
    ({'action': 'core.local', 'context': 'c'}, "'c' is not of type 'object'"),
    ({'action': 'core.local', 'delay': 1.5}, "1.5 is not of type 'integer'"),
    ({'action': 'core.local', 'callback': 'http://x'}, "'http://x' is not of type 'object'"),
    ({'action': 'core.local', 'callback': {'source': 'mistral_v2'}},
     "'url' is a required property"),
    ({'action': 'core.local', 'callback': {'source': 'mistral_v2', 'url': 'u', 'x': 1}},
     "Additional properties are not allowed ('x' was unexpected)"),
    ({'action': 'core.local', 'notify': {'on-start': {}}},
     "Additional properties are not allowed ('on-start' was unexpected)"),
    ({'action': 'core.local', 'notify': {'on-complete': {'message': 1}}},
     "1 is not of type 'string'"),
    ({'action': 'local'}, 'Action "local" cannot be found.'),
    ({'action': 'core.'}, 'Action "core." cannot be found.'),
    ([], "[] is not of type 'object'"),
])
def test_post_rejects_invalid_requests(st2, body, message):
    answer = post(st2, body)
    assert (answer.status_code, fault(answer)) == (400, message)
    assert st2.executions() == []


@pytest.mark.parametrize('context', ['not json', '["a list"]', '"text"'])
def test_post_rejects_st2_context_that_is_not_a_json_object(st2, context):
    answer = post(st2, {'action': 'core.local'}, context=context)
    assert answer.status_code == 400
    assert fault(answer) == 'Unable to convert st2-context from the headers into JSON.'
    assert st2.executions() == []


@pytest.mark.parametrize('version, ending', [
    ((3, 2, 0), 'JSON.'), ((3, 4, 1), 'JSON.'),
    ((3, 5, 0), "JSON (was <class 'str'>)."), ((3, 9, 0), "JSON (was <class 'str'>).")])
def test_the_st2_context_error_names_the_parsed_type_from_st2_3_5(version, ending):
    # actionexecutions.py: the fixed text @ v3.4.1, the type named @ v3.5.0 (seen on real
    # st2 v3.5.0 by tests/contract/test_child_executions.py)
    assert st2_emulator.context_header_error('not json', version) == (
        'Unable to convert st2-context from the headers into ' + ending)


def test_post_needs_credentials(st2):
    assert post(st2, {'action': 'core.local'}, headers={}).status_code == 401
    assert st2.executions() == []


def test_executions_lists_in_creation_order(st2):
    first = st2.add_execution()
    second = post(st2, {'action': 'core.local'}).json()['id']
    assert [ex['id'] for ex in st2.executions()] == [first, second]
    assert [ex['id'] for ex in st2.executions(action='core.local')] == [second]


# -- GET /executions (listing) ------------------------------------------------------------------

def list_executions(st2, headers=TOKEN, **params):
    return requests.get(st2.api_url + '/executions', params=params, headers=headers, timeout=5)


def listed_ids(answer):
    assert answer.status_code == 200, answer.text
    return [item['id'] for item in answer.json()]


def test_list_needs_credentials(st2):
    ex_id = st2.add_execution()
    answer = list_executions(st2, headers={})
    assert (answer.status_code, fault(answer)) == (
        401, 'Unauthorized - One of Token or API key required.')
    assert 'X-Total-Count' not in answer.headers
    assert list_executions(st2, headers={'X-Auth-Token': 'nope'}).status_code == 401
    st2.expire_token('st2-token')
    assert fault(list_executions(st2)) == 'Unauthorized - Token has expired.'
    assert listed_ids(list_executions(st2, headers=API_KEY)) == [ex_id]
    assert listed_ids(list_executions(st2, headers={}, **{'st2-api-key': 'st2-key'})) == [ex_id]


def test_list_is_newest_first_with_context_and_counts(st2):
    now = time.time()
    middle = st2.add_execution(start_timestamp=now - 20, context={'k': 'v'})
    newest = st2.add_execution(start_timestamp=now - 10)
    oldest = st2.add_execution(start_timestamp=now - 30)
    answer = list_executions(st2)
    assert listed_ids(answer) == [newest, middle, oldest]
    assert answer.headers['X-Total-Count'] == '3'
    assert answer.headers['X-Limit'] == '100'
    item = answer.json()[1]
    assert item['context'] == {'k': 'v'}
    assert item == requests.get('%s/executions/%s' % (st2.api_url, middle), headers=TOKEN,
                                timeout=5).json()


def test_list_orders_executions_of_the_same_start_by_action_ref(st2):
    now = time.time()
    b = st2.add_execution(action='core.b', start_timestamp=now)
    a = st2.add_execution(action='core.a', start_timestamp=now)
    older = st2.add_execution(action='core.0', start_timestamp=now - 1)
    assert listed_ids(list_executions(st2)) == [a, b, older]


def test_sort_asc_lists_oldest_first_unless_sort_desc_is_set(st2):
    now = time.time()
    new = st2.add_execution(start_timestamp=now)
    old = st2.add_execution(start_timestamp=now - 5)
    assert listed_ids(list_executions(st2, sort_asc='true')) == [old, new]
    assert listed_ids(list_executions(st2, sort_asc='true', sort_desc='true')) == [new, old]


def test_list_filters_by_action_status_runner_and_liveaction(st2):
    now = time.time()
    running = st2.add_execution(action='core.local', runner='local-shell-cmd',
                                start_timestamp=now - 2)
    failed = st2.add_execution(action='core.local', status='failed', start_timestamp=now - 1)
    other = st2.add_execution(action='core.noop', start_timestamp=now)
    assert listed_ids(list_executions(st2, action='core.local')) == [failed, running]
    assert listed_ids(list_executions(st2, action='core.local', status='failed')) == [failed]
    assert listed_ids(list_executions(st2, status='running')) == [other, running]
    assert listed_ids(list_executions(st2, runner='local-shell-cmd')) == [running]
    liveaction = st2.execution(other)['liveaction_id']
    assert listed_ids(list_executions(st2, liveaction=liveaction)) == [other]
    assert listed_ids(list_executions(st2, id='%s,%s' % (running, other))) == [other, running]
    assert listed_ids(list_executions(st2, action='core')) == []
    answer = list_executions(st2, action='core.local', status='failed')
    assert answer.headers['X-Total-Count'] == '1'


def test_list_ignores_empty_and_undeclared_filters(st2):
    first = st2.add_execution(start_timestamp=time.time() - 1)
    second = st2.add_execution()
    assert listed_ids(list_executions(st2, status='', action='')) == [second, first]
    assert listed_ids(list_executions(st2, color='blue', root_execution_id='x')) == [
        second, first]


def test_list_filters_by_parent_and_null_means_top_level(st2):
    now = time.time()
    parent = st2.add_execution(start_timestamp=now - 3)
    other_parent = st2.add_execution(start_timestamp=now - 2)
    child = st2.add_execution(context={'parent': {'execution_id': parent}},
                              runner=st2_emulator.CHILD_RUNNER, start_timestamp=now - 1)
    cousin = st2.add_execution(context={'parent': {'execution_id': other_parent}},
                               runner=st2_emulator.CHILD_RUNNER, start_timestamp=now)
    assert listed_ids(list_executions(st2, parent=parent)) == [child]
    assert listed_ids(list_executions(st2, parent=other_parent)) == [cousin]
    assert listed_ids(list_executions(st2, parent='null')) == [other_parent, parent]
    assert listed_ids(list_executions(st2, parent='NULL')) == [other_parent, parent]
    assert listed_ids(list_executions(st2, rule='null')) == [cousin, child, other_parent, parent]
    assert listed_ids(list_executions(st2, rule='some.rule')) == []


def test_list_filters_by_the_user_in_the_context(st2):
    mine = post(st2, {'action': 'core.local'}).json()['id']
    bobs = post(st2, {'action': 'core.local', 'user': 'bob'}).json()['id']
    assert listed_ids(list_executions(st2, user='bob')) == [bobs]
    assert listed_ids(list_executions(st2, user='st2admin')) == [mine]


def test_posted_child_is_listed_with_the_context_it_was_created_with(st2):
    parent = st2.add_execution()
    context = {'parent': {'execution_id': parent, 'user': 'st2admin', 'pack': 'examples'},
               'mistral': {'workflow_execution_id': 'wf', 'task_execution_id': 'te',
                           'action_execution_id': 'ae-2'}}
    post(st2, {'action': 'core.local', 'context': {'trace': 1}},
         context=dict(context, mistral=dict(context['mistral'], action_execution_id='ae-1')))
    child = post(st2, {'action': 'core.local'}, context=context).json()['id']
    answer = list_executions(st2, action='core.local', parent=parent, limit=100,
                             exclude_attributes='result')
    found = [item for item in answer.json()
             if item['context']['mistral']['action_execution_id'] == 'ae-2']
    assert [item['id'] for item in found] == [child]
    assert found[0]['context'] == dict(context, user='st2admin', pack='core')
    assert found[0]['parent'] == parent
    assert 'result' not in found[0]
    assert answer.headers['X-Total-Count'] == '2'


def test_child_of_an_unknown_parent_is_not_linked(st2):
    missing = '5e0000000000000000000009'
    child = post(st2, {'action': 'core.local'},
                 context={'parent': {'execution_id': missing}}).json()
    assert 'parent' not in child
    assert st2.execution(child['id'])['parent'] is None
    assert listed_ids(list_executions(st2, parent=missing)) == []
    assert listed_ids(list_executions(st2, parent='null')) == [child['id']]


def _python_error(parent):
    """The text of the error ``parent['execution_id']`` raises: st2 shows Python's own,
    which differs by version."""
    try:
        parent['execution_id']
    except Exception as e:
        return str(e)


@pytest.mark.parametrize('parent, message', [
    ({'user': 'st2admin'}, "'execution_id'"),
    ('ex-1', _python_error('ex-1')),
])
def test_post_with_a_parent_st2_cannot_read_is_500(st2, parent, message):
    answer = post(st2, {'action': 'core.local'}, context={'parent': parent})
    assert (answer.status_code, fault(answer)) == (500, message)
    assert st2.executions() == []


def test_list_limit_defaults_to_100_and_pages_with_offset(st2):
    now = time.time()
    ids = [st2.add_execution(start_timestamp=now - i) for i in range(105)]  # newest first
    answer = list_executions(st2)
    assert listed_ids(answer) == ids[:100]
    assert (answer.headers['X-Total-Count'], answer.headers['X-Limit']) == ('105', '100')
    answer = list_executions(st2, limit=2, offset=1)
    assert listed_ids(answer) == ids[1:3]
    assert (answer.headers['X-Total-Count'], answer.headers['X-Limit']) == ('105', '2')
    assert listed_ids(list_executions(st2, offset=100)) == ids[100:]
    assert listed_ids(list_executions(st2, offset=200)) == []


def test_admin_may_list_everything_or_more_than_a_page(st2):
    now = time.time()
    ids = [st2.add_execution(start_timestamp=now - i) for i in range(102)]
    answer = list_executions(st2, limit=-1)
    assert listed_ids(answer) == ids
    assert 'X-Limit' not in answer.headers
    answer = list_executions(st2, limit=150)
    assert listed_ids(answer) == ids
    assert answer.headers['X-Limit'] == '150'


@pytest.mark.parametrize('params, message', [
    ({'limit': 0}, 'Limit, "0" specified, must be a positive number or -1 for full result '
                   'set.'),
    ({'limit': -2}, 'Limit, "-2" specified, must be a positive number.'),
    ({'limit': 'ten'}, 'Parameter "limit" is not of type integer'),
    ({'limit': ''}, 'Parameter "limit" is not of type integer'),
    ({'limit': '+5'}, 'Parameter "limit" is not of type integer'),
    ({'offset': '1.5'}, 'Parameter "offset" is not of type integer'),
    ({'offset': 2 ** 31}, 'Offset "2147483648" specified is more than 32-bit int'),
    ({'show_secrets': 'maybe'}, 'Parameter "show_secrets" is not of type boolean'),
    ({'exclude_attributes': 'context'},
     'Invalid or unsupported exclude attribute specified: context'),
    ({'exclude_attributes': ''}, 'Invalid or unsupported exclude attribute specified: '),
    ({'exclude_attributes': 'result', 'include_attributes': 'status'},
     'exclude_fields and include_fields arguments are mutually exclusive. You need to '
     'provide either one or another, but not both.'),
    ({'sort': 'status'}, 'st2 emulator: query parameter "sort" is not implemented'),
    ({'timestamp_gt': '2020-01-01T00:00:00.000000Z'},
     'st2 emulator: query parameter "timestamp_gt" is not implemented'),
    ({'filter': 'status:running'}, 'st2 emulator: query parameter "filter" is not implemented'),
])
def test_invalid_list_parameters_are_400(st2, params, message):
    st2.add_execution()
    answer = list_executions(st2, **params)
    assert (answer.status_code, fault(answer)) == (400, message)


@pytest.mark.parametrize('params', [
    {'offset': -1}, {'include_attributes': 'elapsed_seconds'}, {'include_attributes': ''},
])
def test_list_answers_500_where_st2_fails_inside(st2, params):
    st2.add_execution()
    answer = list_executions(st2, **params)
    assert (answer.status_code, fault(answer)) == (500, 'Internal Server Error')


def test_non_admin_is_held_to_max_page_size():
    with St2Emulator(admin=False, max_page_size=3) as st2:
        for _ in range(4):
            st2.add_execution()
        answer = list_executions(st2, limit=4)
        assert (answer.status_code, fault(answer)) == (
            403, 'Limit "4" specified, maximum value is "3"')
        answer = list_executions(st2, limit=-1)
        assert (answer.status_code, fault(answer)) == (
            403, 'Administrator access required to be able to specify limit=-1 and retrieve '
                 'all the records')
        answer = list_executions(st2, limit=3)
        assert len(listed_ids(answer)) == 3
        assert answer.headers['X-Total-Count'] == '4'
        # The default (100) is checked like any other limit.
        assert list_executions(st2).status_code == 403


def test_exclude_attributes_drops_those_keys(st2):
    ex_id = st2.add_execution()
    put(st2, ex_id, {'status': 'failed', 'result': {'error': 'x'}})
    (item,) = list_executions(st2, exclude_attributes='result,status').json()
    assert 'result' not in item and 'status' not in item
    assert item['id'] == ex_id and item['context'] == {}


def test_include_attributes_keeps_the_named_keys_and_id(st2):
    ex_id = st2.add_execution(context={'mistral': {'action_execution_id': 'ae'}, 'user': 'u'},
                              parameters={'p': 1})
    (item,) = list_executions(st2, include_attributes='status,context.mistral').json()
    assert item == {'id': ex_id, 'status': 'running',
                    'context': {'mistral': {'action_execution_id': 'ae'}}}
    (item,) = list_executions(st2, include_attributes='context.absent,action.ref').json()
    assert item == {'id': ex_id, 'context': {}, 'action': {'ref': 'examples.mistral'}}
    (item,) = list_executions(st2, include_attributes='log.status').json()
    assert item == {'id': ex_id, 'log': [{'status': 'running'}]}


def test_list_helpers_are_pure():
    query = st2_emulator.parse_list_query({'action': 'core.a', 'limit': '1'})
    assert (query.filters, query.limit, query.offset) == ({'action.ref': 'core.a'}, 1, 0)
    docs = [{'id': str(i), 'action': {'ref': 'core.a'},
             'start_timestamp': '2020-01-01T00:00:0%d.000000Z' % i} for i in range(3)]
    page, total = st2_emulator.list_executions(docs, query)
    assert ([doc['id'] for doc in page], total) == (['2'], 3)
    assert docs[0]['id'] == '0'  # the input is not reordered


# -- Mistral callbacks -------------------------------------------------------------------------

def mistral_callback(url):
    return {'source': 'mistral_v2', 'url': url}


def test_callback_reports_success_the_way_st2_does(st2, receiver):
    url = receiver.url + '/v2/action_executions/ae-1'
    child = post(st2, {'action': 'core.local', 'callback': mistral_callback(url)}).json()['id']
    st2.wait_for(lambda emulator: emulator.callbacks, timeout=2)
    (call,) = receiver.calls
    assert call['path'] == '/v2/action_executions/ae-1'
    assert call['body'] == {'state': 'SUCCESS', 'output': json.dumps({'stdout': 'ok'})}
    assert 'X-Auth-Token' not in call['headers'] and 'St2-Api-Key' not in call['headers']
    (attempt,) = st2.callbacks
    assert attempt['execution_id'] == child
    assert (attempt['url'], attempt['status'], attempt['error'], attempt['attempt']) == (
        url, 200, None, 1)


@pytest.mark.parametrize('status, state', [
    ('failed', 'ERROR'), ('timeout', 'ERROR'), ('abandoned', 'ERROR'),
    ('canceled', 'CANCELLED'), ('paused', 'PAUSED'),
])
def test_callback_maps_st2_status_to_mistral_state(st2, receiver, status, state):
    st2.set_child_outcome('core.x', status, {'error': 'e'})
    post(st2, {'action': 'core.x',
               'callback': mistral_callback(receiver.url + '/v2/action_executions/a')})
    st2.wait_for(lambda emulator: emulator.callbacks, timeout=2)
    assert receiver.calls[0]['body'] == {'state': state, 'output': json.dumps({'error': 'e'})}


def test_callback_output_can_be_the_result_object(receiver):
    with St2Emulator(callback_output='object') as emulator:
        post(emulator, {'action': 'core.local',
                        'callback': mistral_callback(receiver.url + '/v2/action_executions/a')})
        emulator.wait_for(lambda e: e.callbacks, timeout=2)
    assert receiver.calls[0]['body'] == {'state': 'SUCCESS', 'output': {'stdout': 'ok'}}


def test_callback_goes_to_mistral_url_with_the_id_taken_from_the_callback_url(receiver):
    with St2Emulator(mistral_url=receiver.url + '/v2/') as emulator:
        post(emulator, {'action': 'core.local',
                        'callback': mistral_callback('/v2/action_executions/ae-7')})
        emulator.wait_for(lambda e: e.callbacks, timeout=2)
    assert [call['path'] for call in receiver.calls] == ['/v2/action_executions/ae-7']


def test_callback_without_action_execution_id_is_recorded_and_not_sent(st2, receiver):
    post(st2, {'action': 'core.local', 'callback': mistral_callback(receiver.url + '/v2/x')})
    st2.wait_for(lambda emulator: emulator.callbacks, timeout=2)
    (attempt,) = st2.callbacks
    assert attempt['error'].startswith('Unable to extract the action execution ID')
    assert attempt['status'] is None
    assert receiver.calls == []


def test_callback_is_retried_on_connection_errors_then_given_up():
    url = 'http://127.0.0.1:%d/v2/action_executions/a' % free_port()
    with St2Emulator(callback_attempts=3, callback_retry_wait=0.01) as emulator:
        child = post(emulator, {'action': 'core.local',
                                'callback': mistral_callback(url)}).json()['id']
        emulator.wait_for(lambda e: len(e.callbacks) == 3, timeout=3)
        wait_callbacks_settled(child)      # no 4th attempt can come after this
        attempts = emulator.callbacks
    assert [a['attempt'] for a in attempts] == [1, 2, 3]
    assert all(a['status'] is None and a['error'].startswith('ConnectionError')
               for a in attempts)


def test_callback_is_not_retried_on_http_errors(st2, receiver):
    receiver.status = 500
    receiver.hold = threading.Event()
    child = post(st2, {'action': 'core.local', 'callback': mistral_callback(
        receiver.url + '/v2/action_executions/a')}).json()['id']
    wait_until(lambda: receiver.calls, timeout=2, message='the callback to reach Mistral')
    assert callback_threads(child), 'the flush below would not see the callback thread'
    receiver.hold.set()
    wait_callbacks_settled(child)          # no retry can come after this
    assert [a['status'] for a in st2.callbacks] == [500]
    assert len(receiver.calls) == 1


def test_put_to_a_completed_status_triggers_the_callback(st2, receiver):
    st2.set_child_outcome('core.slow', delay=30)
    url = receiver.url + '/v2/action_executions/a'
    child = post(st2, {'action': 'core.slow', 'callback': mistral_callback(url)}).json()['id']
    st2.wait_for_status(child, 'running', timeout=2)
    put(st2, child, {'status': 'succeeded', 'result': {'answer': 42}})
    st2.wait_for(lambda emulator: emulator.callbacks, timeout=2)
    assert receiver.calls[0]['body'] == {'state': 'SUCCESS', 'output': '{"answer": 42}'}


def test_no_callback_for_other_sources_or_running_status(st2, receiver):
    url = receiver.url + '/v2/action_executions/a'
    post(st2, {'action': 'core.local', 'callback': {'source': 'other', 'url': url}})
    parent = st2.add_execution(status='requested')
    put(st2, parent, {'status': 'running'})
    st2.wait_for(lambda emulator: all(ex['status'] in ('succeeded', 'running')
                                      for ex in emulator.executions()), timeout=2)
    # A callback thread starts when the status is set, so none started yet means none.
    wait_callbacks_settled()
    assert st2.callbacks == [] and receiver.calls == []


# -- keys (st2kv) ------------------------------------------------------------------------------

@pytest.mark.parametrize('scope', ['user', 'st2kv.user'])
def test_get_user_scoped_key(st2, scope):
    st2.set_key('db_host', 'db.local')
    body = get_key(st2, 'db_host', scope=scope).json()
    assert body['value'] == 'db.local'
    assert (body['name'], body['scope'], body['user']) == ('db_host', 'st2kv.user', 'st2admin')
    assert body['encrypted'] is False


@pytest.mark.parametrize('params', [{}, {'scope': 'system'}, {'scope': 'st2kv.system'}])
def test_get_system_scoped_key(st2, params):
    st2.set_key('db_host', 'db.system', scope='system')
    body = get_key(st2, 'db_host', **params).json()
    assert (body['value'], body['scope']) == ('db.system', 'st2kv.system')
    assert 'user' not in body


def test_user_key_is_not_found_in_the_default_system_scope(st2):
    st2.set_key('k', 'v')
    answer = get_key(st2, 'k')
    assert answer.status_code == 404
    assert fault(answer) == 'KeyValuePair with name: k and scope: st2kv.system not found in db.'


def test_missing_user_key_is_404_naming_the_user_scoped_ref(st2):
    answer = get_key(st2, 'k', scope='user')
    assert fault(answer) == (
        'KeyValuePair with name: st2admin:k and scope: st2kv.user not found in db.')


def test_key_of_another_user_is_not_visible(st2):
    st2.set_key('k', 'v', user='alice')
    assert get_key(st2, 'k', scope='user').status_code == 404
    answer = get_key(st2, 'k', user='alice')
    assert answer.status_code == 403
    assert get_key(st2, 'missing', user='st2admin').status_code == 404


def test_encrypted_key_is_masked_unless_decrypted(st2):
    st2.set_key('password', 's3cret', encrypted=True)
    masked = get_key(st2, 'password', scope='user').json()
    assert masked['value'] != 's3cret'
    assert masked['value'] == masked['value'].upper() and int(masked['value'], 16) >= 0
    assert (masked['encrypted'], masked['secret']) == (True, True)
    plain = get_key(st2, 'password', scope='user', decrypt='true').json()
    assert (plain['value'], plain['encrypted']) == ('s3cret', False)
    assert get_key(st2, 'password', scope='user', decrypt='false').json()['encrypted'] is True


def test_invalid_key_parameters_are_400(st2):
    answer = get_key(st2, 'k', scope='global')
    assert answer.status_code == 400
    assert fault(answer).startswith('Scope st2kv.global is not in allowed scopes list')
    answer = get_key(st2, 'k', decrypt='maybe')
    assert (answer.status_code, fault(answer)) == (
        400, 'Parameter "decrypt" is not of type boolean')


def test_keys_need_credentials(st2):
    st2.set_key('k', 'v', scope='system')
    assert get_key(st2, 'k', headers={}).status_code == 401


def test_set_key_rejects_non_string_values_and_unknown_scopes(st2):
    with pytest.raises(TypeError):
        st2.set_key('k', 1)
    with pytest.raises(ValueError):
        st2.set_key('k', 'v', scope='all')


# -- token validation ----------------------------------------------------------------------------

def validate(st2, body, headers=API_KEY):
    return requests.post(st2.auth_url + '/tokens/validate', json=body, headers=headers,
                         timeout=5)


def test_validate_token(st2):
    assert validate(st2, {'token': 'st2-token'}).json() == {'valid': True}
    assert validate(st2, {'token': 'other'}).json() == {'valid': False}
    assert validate(st2, {'token': 'st2-key'}).json() == {'valid': False}
    st2.expire_token('st2-token')
    assert validate(st2, {'token': 'st2-token'}).json() == {'valid': False}


def test_validate_token_needs_credentials_and_a_token(st2):
    answer = validate(st2, {'token': 'st2-token'}, headers={})
    assert (answer.status_code, fault(answer)) == (
        401, 'Unauthorized - One of Token or API key required.')
    for body in ({}, {'token': ''}, {'token': None}):
        answer = validate(st2, body, headers=TOKEN)
        assert (answer.status_code, fault(answer)) == (400, 'Token is not provided.')
    assert validate(st2, {'token': 5}).status_code == 400


# -- who am I (GET /api/v1/user) -----------------------------------------------------------------

def whoami(st2, headers=None, params=None):
    return requests.get(st2.api_url + '/user', headers=headers, params=params, timeout=5)


def test_user_names_the_tokens_user_and_how_it_authenticated(st2):
    st2.add_token('alice-token', 'alice')
    answer = whoami(st2, {'X-Auth-Token': 'alice-token'}).json()
    assert answer == {'username': 'alice',
                      'authentication': {'method': 'authentication token', 'location': 'header'},
                      'rbac': {'enabled': False, 'roles': [], 'is_admin': True}}
    assert whoami(st2, TOKEN).json()['username'] == 'st2admin'
    by_key = whoami(st2, params={'st2-api-key': 'st2-key'}).json()
    assert by_key['authentication'] == {'method': 'API key', 'location': 'query'}
    st2.reset()
    assert whoami(st2, {'X-Auth-Token': 'alice-token'}).status_code == 200   # kept


def test_user_refuses_unknown_and_expired_tokens(st2):
    assert whoami(st2, {'X-Auth-Token': 'nope'}).status_code == 401
    assert whoami(st2).status_code == 401
    st2.expire_token('st2-token')
    assert fault(whoami(st2, TOKEN)) == 'Unauthorized - Token has expired.'


def test_tokens_given_as_a_mapping_name_their_users():
    with St2Emulator(tokens={'a': 'alice', 'b': 'bob'}) as st2:
        assert whoami(st2, {'X-Auth-Token': 'b'}).json()['username'] == 'bob'
        created = requests.post(st2.api_url + '/executions', json={'action': 'core.local'},
                                headers={'X-Auth-Token': 'a'}, timeout=5).json()
        assert created['context']['user'] == 'alice'


# -- faults ------------------------------------------------------------------------------------

def test_fail_next_answers_the_next_requests_without_applying_them(st2):
    ex_id = st2.add_execution()
    st2.fail_next(503, count=2)
    first = put(st2, ex_id, {'status': 'succeeded'})
    second = put(st2, ex_id, {'status': 'succeeded'})
    assert (first.status_code, fault(first)) == (503, 'Service Unavailable')
    assert second.status_code == 503
    assert st2.execution(ex_id)['status'] == 'running'
    assert put(st2, ex_id, {'status': 'succeeded'}).status_code == 200
    assert [r.status for r in st2.requests_for('PUT')] == [503, 503, 200]


@pytest.mark.parametrize('status', [400, 401, 404, 429, 500, 502])
def test_fail_next_with_any_status_and_body(st2, status):
    st2.fail_next(status, body={'faultstring': 'injected'})
    answer = put(st2, st2.add_execution(), {'status': 'running'}, headers={})
    assert (answer.status_code, fault(answer)) == (status, 'injected')


def test_a_fault_on_one_request_leaves_the_others_alone(st2):
    ex_id = st2.add_execution()
    st2.fail_next(503, on=('post', '/api/v1/executions'))
    st2.misbehave_next('html', on=('PUT', '/api/v1/executions/' + ex_id))
    assert put(st2, st2.add_execution(), {'status': 'running'}).status_code == 200
    assert post(st2, {'action': 'core.local'}).status_code == 503
    assert put(st2, ex_id, {'status': 'succeeded'}).headers['Content-Type'].startswith(
        'text/html')
    assert post(st2, {'action': 'core.local'}).status_code == 201
    assert [r.status for r in st2.requests] == [200, 503, 200, 201]


def test_fail_next_rejects_non_http_statuses(st2):
    with pytest.raises(ValueError):
        st2.fail_next(99)


def test_set_delay_slows_every_answer(st2):
    ex_id = st2.add_execution()
    st2.set_delay(0.2)
    started = time.monotonic()
    assert put(st2, ex_id, {'status': 'succeeded'}).status_code == 200
    assert time.monotonic() - started >= 0.2
    with pytest.raises(requests.ReadTimeout):
        requests.get('%s/executions/%s' % (st2.api_url, ex_id), headers=TOKEN, timeout=0.05)
    with pytest.raises(ValueError):
        st2.set_delay(-1)


def test_hang_holds_requests_unanswered_and_unapplied(st2):
    ex_id = st2.add_execution()
    st2.hang(0.4)
    with pytest.raises(requests.ReadTimeout):
        put(st2, ex_id, {'status': 'succeeded'}, timeout=0.1)
    assert st2.execution(ex_id)['status'] == 'running'
    (held,) = st2.requests
    assert held.status == 0 and held.body == {'status': 'succeeded'}

    def answered(emulator):
        return put(emulator, ex_id, {'status': 'succeeded'}, timeout=1).status_code == 200

    assert st2.wait_for(answered, timeout=2)
    assert st2.execution(ex_id)['status'] == 'succeeded'


def test_go_down_refuses_connections_and_come_up_uses_the_same_port(st2):
    ex_id = st2.add_execution()
    session = requests.Session()
    url = '%s/executions/%s' % (st2.api_url, ex_id)
    assert session.get(url, headers=TOKEN, timeout=1).ok  # leaves a pooled connection
    st2.go_down()
    assert not st2.is_up
    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=TOKEN, timeout=1)
    with pytest.raises(requests.ConnectionError):
        session.get(url, headers=TOKEN, timeout=1)
    st2.come_up()
    assert st2.is_up
    assert st2.api_url in url
    assert session.get(url, headers=TOKEN, timeout=1).ok


def test_go_down_cuts_held_requests(st2):
    st2.hang(5)
    errors = []

    def client():
        try:
            put(st2, st2.add_execution(), {'status': 'succeeded'}, timeout=5)
        except requests.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    st2.wait_for(lambda emulator: emulator.requests, timeout=2)
    started = time.monotonic()
    st2.go_down()
    thread.join(timeout=2)
    assert time.monotonic() - started < 1.5
    assert len(errors) == 1 and isinstance(errors[0], requests.ConnectionError)


def test_reset_clears_state_and_faults_and_comes_back_up(st2):
    st2.add_execution()
    st2.set_key('k', 'v')
    requests.get(st2.base_url + '/x', timeout=5)
    st2.expire_token('st2-token')
    st2.set_delay(1)
    st2.fail_next(500, count=3)
    st2.set_child_outcome('core.local', 'failed')
    st2.go_down()
    st2.reset()
    assert st2.is_up
    assert st2.executions() == [] and st2.requests == [] and st2.callbacks == []
    started = time.monotonic()
    assert get_key(st2, 'k', scope='user').status_code == 404  # token valid, no 500, no key
    assert time.monotonic() - started < 0.5
    child = post(st2, {'action': 'core.local'}).json()['id']
    st2.wait_for_status(child, 'succeeded', timeout=2)


# -- recording and waiting --------------------------------------------------------------------

def test_requests_are_recorded_with_their_parts(st2):
    ex_id = st2.add_execution()
    before = time.monotonic()
    put(st2, ex_id, {'status': 'succeeded'}, headers=dict(TOKEN, **{'X-Request-ID': 'r1'}),
        params={'show_secrets': 'true'})
    (record,) = st2.requests
    assert (record.method, record.path) == ('PUT', '/api/v1/executions/%s' % ex_id)
    assert record.query == {'show_secrets': 'true'}
    assert record.headers['x-request-id'] == 'r1'
    assert record.headers['X-AUTH-TOKEN'] == 'st2-token'
    assert 'x-auth-token' in record.headers
    assert record.body == {'status': 'succeeded'}
    assert json.loads(record.raw) == {'status': 'succeeded'}
    assert record.status == 200
    assert before <= record.at <= time.monotonic()
    assert 'st2-token' not in repr(record.headers)


def test_requests_for_filters_by_method_and_path_prefix(st2):
    ex_id = st2.add_execution()
    put(st2, ex_id, {'status': 'running'})
    requests.get('%s/executions/%s' % (st2.api_url, ex_id), headers=TOKEN, timeout=5)
    get_key(st2, 'k')
    assert [r.method for r in st2.requests_for(path_prefix='/api/v1/executions')] == ['PUT', 'GET']
    assert [r.path for r in st2.requests_for('get')] == [
        '/api/v1/executions/%s' % ex_id, '/api/v1/keys/k']
    assert len(st2.requests_for()) == 3


def test_wait_for_returns_true_or_explains_the_timeout(st2):
    ex_id = st2.add_execution()
    assert st2.wait_for(lambda emulator: True) is True

    def never(emulator):
        return False

    with pytest.raises(AssertionError) as raised:
        st2.wait_for(never, timeout=0.05)
    message = str(raised.value)
    assert 'condition never not met within 0.05 s' in message
    assert ex_id in message and 'running' in message


def test_wait_for_tolerates_errors_while_polling_and_reports_the_last_one(st2):
    with pytest.raises(AssertionError) as raised:
        st2.wait_for(lambda emulator: emulator.execution('nope'), timeout=0.05)
    assert 'no execution nope' in str(raised.value)


def test_wait_for_status_reports_the_current_status(st2):
    ex_id = st2.add_execution()
    with pytest.raises(AssertionError) as raised:
        st2.wait_for_status(ex_id, 'succeeded', timeout=0.05)
    assert "reaching 'succeeded'" in str(raised.value)
    assert "['running']" in str(raised.value)


# -- set-up helpers ------------------------------------------------------------------------------

def test_add_execution_with_a_given_id(st2):
    ex_id = '5e0000000000000000000001'
    assert st2.add_execution(execution_id=ex_id, status='requested') == ex_id
    assert st2.execution(ex_id)['status'] == 'requested'
    with pytest.raises(ValueError):
        st2.add_execution(execution_id=ex_id)


@pytest.mark.parametrize('kwargs', [
    {'execution_id': 'wf-1'}, {'execution_id': '5E0000000000000000000001'}, {'status': 'done'},
])
def test_add_execution_rejects_what_st2_could_not_hold(st2, kwargs):
    with pytest.raises(ValueError):
        st2.add_execution(**kwargs)


def test_set_child_outcome_rejects_non_final_statuses(st2):
    with pytest.raises(ValueError):
        st2.set_child_outcome('core.local', 'running')


def test_execution_snapshot_is_a_copy(st2):
    ex_id = st2.add_execution()
    st2.execution(ex_id)['history'].clear()
    assert statuses(st2, ex_id) == ['running']
    with pytest.raises(KeyError):
        st2.execution('5e0000000000000000000009')


# -- the event stream (st2stream) --------------------------------------------------------------

class StreamReader:
    """One stream client: reads the response in a thread, keeping the chunks as received."""

    def __init__(self, st2, params=None, headers=API_KEY):
        self.response = requests.get(st2.stream_url + '/stream', params=params, headers=headers,
                                     stream=True, timeout=(5, 60))
        self.chunks = []
        self.error = None
        self.ended = threading.Event()
        if self.response.status_code == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for chunk in self.response.iter_content(chunk_size=None):
                self.chunks.append(chunk)
        except Exception as exc:  # a test asserts on it
            self.error = exc
        finally:
            self.ended.set()

    def events(self):
        """(event name, decoded data) of every complete event received so far."""
        text = b''.join(self.chunks).decode('utf-8')
        found = []
        for block in text.split('\n\n')[:-1]:  # the last part is not terminated yet
            lines = [line for line in block.split('\n') if line]
            if lines:
                fields = dict(line.split(': ', 1) for line in lines)
                found.append((fields['event'], json.loads(fields['data'])))
        return found

    def names(self):
        return [name for name, _ in self.events()]


def open_stream(st2, params=None, headers=API_KEY, clients=1):
    """A connected StreamReader, once the emulator counts ``clients`` stream clients."""
    reader = StreamReader(st2, params, headers)
    assert reader.response.status_code == 200, reader.response.text
    st2.wait_for(lambda emulator: emulator.stream_clients == clients, timeout=5)
    return reader


def test_stream_url_follows_the_nginx_layout(st2):
    assert st2.stream_url == st2.base_url + '/stream/v1'


def test_stream_answers_event_stream_and_sends_a_newline_at_once(st2):
    reader = open_stream(st2)
    assert reader.response.headers['Content-Type'] == 'text/event-stream; charset=UTF-8'
    assert reader.response.headers['Transfer-Encoding'] == 'chunked'
    st2.wait_for(lambda emulator: reader.chunks, timeout=5)
    assert reader.chunks[0] == b'\n'  # st2's first (empty) message, before any event


def test_event_is_st2s_format_with_the_execution_as_get_shows_it(st2):
    reader = open_stream(st2, {'events': 'st2.execution__update'})
    ex_id = st2.add_execution(action='examples.uni')
    result = {'text': 'héllo ✓ 日本 🚀 \u2028'}
    assert put(st2, ex_id, {'status': 'succeeded', 'result': result}).status_code == 200
    st2.wait_for(lambda emulator: reader.events(), timeout=5)
    shown = requests.get('%s/executions/%s' % (st2.api_url, ex_id), headers=TOKEN,
                         timeout=5).json()
    frame = [chunk for chunk in reader.chunks if chunk != b'\n'][0]
    assert frame == b'event: st2.execution__update\ndata: %s\n\n' % (
        json.dumps(shown).encode('ascii'))
    assert frame.isascii() and b'\\u00e9' in frame and b'\\u2028' in frame
    assert reader.events() == [('st2.execution__update', shown)]
    assert shown['result'] == result


def test_idle_stream_sends_a_newline_every_heartbeat():
    with St2Emulator(stream_heartbeat=0.05) as emulator:
        reader = open_stream(emulator)
        emulator.wait_for(lambda e: len(reader.chunks) >= 4, timeout=5)
        assert set(reader.chunks) == {b'\n'}
        assert reader.events() == []
        emulator.add_execution()
        emulator.wait_for(lambda e: reader.events(), timeout=5)
        seen = len(reader.chunks)
        emulator.wait_for(lambda e: len(reader.chunks) >= seen + 3, timeout=5)
        assert set(reader.chunks[seen:]) == {b'\n'}  # idle again: newlines, no repeat
        assert reader.names() == ['st2.execution__create']
    assert reader.ended.wait(5)


def test_stream_heartbeat_must_be_positive():
    with pytest.raises(ValueError):
        St2Emulator(stream_heartbeat=0)


def test_events_filter_by_name_and_glob_for_each_client(st2):
    update = open_stream(st2, {'events': 'st2.execution__update'}, clients=1)
    create = open_stream(st2, {'events': 'st2.execution__create'}, clients=2)
    default = open_stream(st2, None, clients=3)
    glob = open_stream(st2, {'events': 'st2.execution__*,st2.announcement__chatops'},
                       clients=4)
    other = open_stream(st2, {'events': 'st2.liveaction__update'}, clients=5)
    ex_id = st2.add_execution(status='requested')
    put(st2, ex_id, {'status': 'running'})
    put(st2, ex_id, {'status': 'running'})  # no change: st2 publishes nothing
    st2.wait_for(lambda emulator: len(glob.events()) == 2, timeout=5)
    st2.wait_for(lambda emulator: len(default.events()) == 2, timeout=5)
    st2.wait_for(lambda emulator: update.events() and create.events(), timeout=5)
    assert update.names() == ['st2.execution__update']
    assert create.names() == ['st2.execution__create']
    assert default.names() == glob.names() == ['st2.execution__create',
                                               'st2.execution__update']
    assert [data['status'] for _, data in default.events()] == ['requested', 'running']
    assert other.events() == []
    assert [e['clients'] for e in st2.stream_events] == [3, 3]


def test_action_refs_and_execution_ids_filter_events(st2):
    first = st2.add_execution(action='examples.one')
    second = st2.add_execution(action='examples.two')
    by_ref = open_stream(st2, {'action_refs': 'examples.two,examples.three'}, clients=1)
    by_id = open_stream(st2, {'execution_ids': first}, clients=2)
    for ex_id in (first, second):
        put(st2, ex_id, {'status': 'succeeded'})
    st2.wait_for(lambda emulator: by_ref.events() and by_id.events(), timeout=5)
    assert [data['id'] for _, data in by_ref.events()] == [second]
    assert [data['id'] for _, data in by_id.events()] == [first]


def test_stream_filter_and_query_parsing_are_pure():
    default = st2_emulator.parse_stream_query({})
    assert default.events == st2_emulator.DEFAULT_STREAM_EVENTS
    assert default.wants('st2.execution__update', 'a.b', 'x')
    assert default.wants('st2.announcement__chatops', None, None)
    assert not default.wants('st2.sensor__create', 'a.b', 'x')
    parsed = st2_emulator.parse_stream_query(
        {'events': 'st2.execution__*,', 'action_refs': 'a.b', 'execution_ids': 'x,y'})
    assert parsed == st2_emulator.StreamFilter(('st2.execution__*',), ('a.b',), ('x', 'y'))
    assert parsed.wants('st2.execution__create', 'a.b', 'y')
    assert not parsed.wants('st2.execution__update', 'a.c', 'y')
    assert not parsed.wants('st2.execution__update', 'a.b', 'z')
    assert not parsed.wants('ST2.EXECUTION__UPDATE', 'a.b', 'x')  # case-sensitive, as on Linux
    assert st2_emulator.parse_stream_query({'events': ''}).events == \
        st2_emulator.DEFAULT_STREAM_EVENTS


@pytest.mark.parametrize('params, headers, message', [
    ({}, {}, 'Unauthorized - One of Token or API key required.'),
    ({}, {'X-Auth-Token': 'nope'}, 'Unauthorized'),
    ({'st2-api-key': 'nope'}, {}, 'Unauthorized - ApiKey with key_hash=%s not found.'
     % st2_emulator.api_key_hash('nope')),
])
def test_stream_needs_credentials(st2, params, headers, message):
    answer = requests.get(st2.stream_url + '/stream', params=params, headers=headers,
                          timeout=5)
    assert answer.status_code == 401
    assert answer.headers['Content-Type'] == 'application/json'
    assert fault(answer) == message
    assert st2.stream_clients == 0


def test_stream_refuses_an_expired_token(st2):
    st2.expire_token('st2-token')
    answer = requests.get(st2.stream_url + '/stream', headers=TOKEN, timeout=5)
    assert answer.status_code == 401
    assert fault(answer) == 'Unauthorized - Token has expired.'


@pytest.mark.parametrize('params, headers', [
    ({}, TOKEN), ({}, API_KEY), ({'x-auth-token': 'st2-token'}, {}),
    ({'st2-api-key': 'st2-key'}, {}),
])
def test_stream_accepts_headers_and_the_query_parameters_eventsource_uses(st2, params,
                                                                         headers):
    reader = open_stream(st2, params, headers)
    ex_id = st2.add_execution()
    st2.wait_for(lambda emulator: reader.events(), timeout=5)
    (name, data), = reader.events()
    assert name == 'st2.execution__create' and data['id'] == ex_id


@pytest.mark.parametrize('name', ['end_event', 'end_execution_id'])
def test_stream_refuses_parameters_it_does_not_emulate(st2, name):
    answer = requests.get(st2.stream_url + '/stream', params={name: 'x'}, headers=API_KEY,
                          timeout=5)
    assert answer.status_code == 400
    assert fault(answer) == 'st2 emulator: query parameter "%s" is not implemented' % name


def test_stream_only_answers_get(st2):
    answer = requests.post(st2.stream_url + '/stream', headers=API_KEY, timeout=5)
    assert answer.status_code == 404


def test_posted_child_emits_its_parent_update_its_creation_and_its_progress(st2):
    parent = st2.add_execution(action='examples.wf')
    reader = open_stream(st2)
    st2.set_child_outcome('examples.child', 'succeeded', {'stdout': 'done'})
    child = post(st2, {'action': 'examples.child'},
                 context={'parent': {'execution_id': parent}}).json()['id']
    st2.wait_for_status(child, 'succeeded', timeout=5)
    st2.wait_for(lambda emulator: len(reader.events()) == 5, timeout=5)
    events = reader.events()
    assert [(name, data['id'], data['status']) for name, data in events] == [
        ('st2.execution__update', parent, 'running'),
        ('st2.execution__create', child, 'requested'),
        ('st2.execution__update', child, 'scheduled'),
        ('st2.execution__update', child, 'running'),
        ('st2.execution__update', child, 'succeeded'),
    ]
    assert events[0][1]['children'] == [child]
    assert events[-1][1]['result'] == {'stdout': 'done'}
    assert events[-1][1]['context']['parent'] == {'execution_id': parent}


def test_update_context_merges_top_level_keys_and_emits_an_update(st2):
    ex_id = st2.add_execution(context={'user': 'st2admin', 'mistral': {'old': True}})
    reader = open_stream(st2, {'events': 'st2.execution__update'})
    st2.update_context(ex_id, {'mistral': {'execution_id': 'wf-1'}, 'extra': 1})
    expected = {'user': 'st2admin', 'mistral': {'execution_id': 'wf-1'}, 'extra': 1}
    assert st2.execution(ex_id)['context'] == expected  # replaced, not merged deeper
    assert statuses(st2, ex_id) == ['running']
    st2.wait_for(lambda emulator: reader.events(), timeout=5)
    assert reader.events()[0][1]['context'] == expected
    shown = requests.get('%s/executions/%s' % (st2.api_url, ex_id), headers=TOKEN, timeout=5)
    assert shown.json()['context'] == expected


def test_update_context_rejects_unknown_executions_and_non_objects(st2):
    with pytest.raises(KeyError):
        st2.update_context('5e0000000000000000000009', {})
    with pytest.raises(TypeError):
        st2.update_context(st2.add_execution(), ['not', 'a', 'dict'])


def test_stream_events_record_who_got_each_event(st2):
    ex_id = st2.add_execution()
    open_stream(st2, {'events': 'st2.execution__update'})
    put(st2, ex_id, {'status': 'succeeded'})
    assert [(e['event'], e['execution_id'], e['status'], e['clients'])
            for e in st2.stream_events] == [
        ('st2.execution__create', ex_id, 'running', 0),
        ('st2.execution__update', ex_id, 'succeeded', 1)]


def test_go_down_ends_streams_cleanly_and_a_reconnect_sees_only_new_events(st2):
    first = open_stream(st2)
    ex_id = st2.add_execution()
    st2.wait_for(lambda emulator: first.events(), timeout=5)
    started = time.monotonic()
    st2.go_down()
    assert time.monotonic() - started < 1.5
    assert first.ended.wait(5)
    assert first.error is None  # the response was finished, not cut
    assert st2.stream_clients == 0
    st2.update_context(ex_id, {'missed': True})
    assert st2.stream_events[-1]['clients'] == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(st2.stream_url + '/stream', headers=API_KEY, timeout=1)

    st2.come_up()
    second = open_stream(st2)
    put(st2, ex_id, {'status': 'succeeded'})
    st2.wait_for(lambda emulator: second.events(), timeout=5)
    assert [(name, data['status']) for name, data in second.events()] == [
        ('st2.execution__update', 'succeeded')]  # no replay of what was missed
    assert first.names() == ['st2.execution__create']


def test_stop_ends_streams_cleanly():
    emulator = St2Emulator().start()
    reader = open_stream(emulator)
    started = time.monotonic()
    emulator.stop()
    assert time.monotonic() - started < 1.5
    assert reader.ended.wait(5) and reader.error is None
    assert emulator.stream_clients == 0


def test_reset_ends_streams(st2):
    reader = open_stream(st2)
    st2.reset()
    assert reader.ended.wait(5) and reader.error is None
    assert st2.stream_clients == 0 and st2.stream_events == []


def test_a_client_that_went_away_is_dropped_at_the_next_heartbeat():
    with St2Emulator(stream_heartbeat=0.05) as emulator:
        reader = open_stream(emulator)
        raw = reader.response.raw
        if hasattr(raw, 'shutdown'):
            raw.shutdown()
        else:  # urllib3 < 2.3 (st2 3.9 pins 2.2.3): shut the socket itself
            raw._connection.sock.shutdown(socket.SHUT_RDWR)
        reader.response.close()
        emulator.wait_for(lambda e: e.stream_clients == 0, timeout=5)
        emulator.add_execution()
        assert emulator.stream_events[-1]['clients'] == 0


def test_faults_apply_to_the_stream_request_too(st2):
    st2.fail_next(503)
    answer = requests.get(st2.stream_url + '/stream', headers=API_KEY, timeout=5)
    assert answer.status_code == 503
    assert st2.stream_clients == 0
    open_stream(st2)
    assert [r.status for r in st2.requests_for('GET', '/stream/v1/stream')] == [503, 200]


# -- POST /executions/<id>/re_run (reruns.py; st2api actionexecutions.py @ v3.2.0, v3.9.0) ----


def re_run(st2, execution_id, body, query=''):
    return requests.post('%s/executions/%s/re_run%s' % (st2.api_url, execution_id, query),
                         json=body, headers=TOKEN, timeout=5)


@pytest.mark.parametrize('version, runner, status, answer', [
    ('3.9.0', 'mistral-v2', 400, 'Task option is only supported for Orquesta workflows.'),
    ('3.9.0', 'action-chain', 400, 'Task option is only supported for Orquesta workflows.'),
    ('3.9.0', 'orquesta', 201, None),
    ('3.2.0', 'mistral-v2', 201, None),
    ('3.2.0', 'action-chain', 400,
     'Task option is only supported for Orquesta and Mistral workflows.'),
])
def test_re_run_with_tasks_by_runner_and_version(st2, version, runner, status, answer):
    st2.version = version
    old = st2.add_execution(status='failed', runner=runner, parameters={'a': 1})
    reply = re_run(st2, old, {'tasks': ['t1', 't2'], 'reset': ['t1']})
    assert reply.status_code == status, reply.text
    if answer:
        assert reply.json() == {'faultstring': answer}
    else:
        assert reply.json()['context']['re-run'] == {'ref': old, 'tasks': ['t1', 't2'],
                                                      'reset': ['t1']}
        assert reply.json()['parameters'] == {'a': 1}


def test_re_run_with_parameters_is_a_new_execution_the_old_one_unchanged(st2):
    st2.version = '3.9.0'
    old = st2.add_execution(status='failed', parameters={'a': 1, 'b': 2})
    before = st2.execution(old)
    reply = re_run(st2, old, {'parameters': {'b': 3, 'rerun_tasks': ['t']}})
    assert reply.status_code == 201, reply.text
    new = reply.json()
    assert new['id'] != old and new['status'] == 'requested'
    assert new['action']['ref'] == before['action'] and new['runner']['name'] == 'mistral-v2'
    assert new['parameters'] == {'a': 1, 'b': 3, 'rerun_tasks': ['t']}
    assert new['context']['re-run'] == {'ref': old}
    assert new['context']['user'] == 'st2admin'
    assert st2.execution(old) == before
    no_merge = re_run(st2, old, {'parameters': {'b': 4}}, query='?no_merge=true').json()
    assert no_merge['parameters'] == {'b': 4}


@pytest.mark.parametrize('body, answer', [
    ({'tasks': ['t'], 'parameters': {'x': 1}},
     'Parameters override is not supported when re-running task(s) for a workflow.'),
    ({'tasks': ['t'], 'reset': ['u']},
     'List of tasks to reset does not match the tasks to rerun.'),
])
def test_re_run_refusals_of_both_versions(st2, body, answer):
    for version in ('3.2.0', '3.9.0'):
        st2.version = version
        old = st2.add_execution(status='failed', runner='orquesta')
        reply = re_run(st2, old, body)
        assert (reply.status_code, reply.json()) == (400, {'faultstring': answer})


def test_re_run_of_an_unknown_execution_is_404(st2):
    reply = re_run(st2, '5' * 24, {})
    assert reply.status_code == 404


# -- inquiries (inquiries.py; inquirer_runner.py, services/action.py, inquiries.py) ----------


def respond(st2, inquiry_id, response, body=None):
    return requests.put('%s/inquiries/%s' % (st2.api_url, inquiry_id),
                        json={'id': inquiry_id, 'response': response} if body is None else body,
                        headers=TOKEN, timeout=5)


def ask(st2, parent_id=None):
    st2.set_inquiry_action('core.ask')
    context = {'parent': {'execution_id': parent_id}} if parent_id else None
    created = post(st2, {'action': 'core.ask', 'parameters': {'schema': {'type': 'object'}}},
                   context=context)
    assert created.status_code == 201, created.text
    assert created.json()['runner']['name'] == 'inquirer'
    return created.json()['id']


def test_an_inquiry_under_a_mistral_v2_root_fails_on_st2_39(st2):
    st2.version = '3.9.0'
    root = st2.add_execution(runner='mistral-v2')
    inquiry = ask(st2, root)
    st2.wait_for_status(inquiry, 'failed', timeout=5)
    done = st2.execution(inquiry)
    liveaction = st2.execution(root)['liveaction_id']
    assert done['result'] == {'error': 'Unable to pause liveaction "%s" because it is not '
                                       'supported by the "mistral-v2" runner.' % liveaction}
    assert statuses(st2, inquiry) == ['requested', 'scheduled', 'running', 'pending', 'failed']
    assert st2.execution(root)['status'] == 'running'


def test_an_inquiry_pauses_its_mistral_v2_root_on_st2_32(st2):
    root = st2.add_execution(runner='mistral-v2')
    inquiry = ask(st2, root)
    st2.wait_for_status(root, 'pausing', timeout=5)
    assert st2.execution(inquiry)['status'] == 'pending'
    st2.db_update_status(st2.execution(root)['liveaction_id'], 'paused')
    assert respond(st2, inquiry, {'ok': True}).status_code == 200
    assert st2.execution(root)['status'] == 'resuming'
    assert st2.execution(inquiry)['status'] == 'succeeded'


def test_an_inquiry_without_parent_waits_for_its_response(st2):
    st2.version = '3.9.0'
    inquiry = ask(st2)
    st2.wait_for_status(inquiry, 'pending', timeout=5)
    pending = st2.execution(inquiry)
    assert pending['result']['schema'] == {'type': 'object'}
    answer = respond(st2, inquiry, {'answer': 42})
    assert answer.status_code == 200
    assert answer.json() == {'id': inquiry, 'response': {'answer': 42}}
    done = st2.execution(inquiry)
    assert done['status'] == 'succeeded' and done['result']['response'] == {'answer': 42}
    again = respond(st2, inquiry, {'answer': 43})
    assert (again.status_code, again.json()) == (400, {
        'faultstring': 'Inquiry "%s" has already been responded to.' % inquiry})


def test_respond_to_what_is_not_an_inquiry_is_400(st2):
    ex = st2.add_execution(runner='local-shell-cmd', status='succeeded')
    answer = respond(st2, ex, {})
    assert (answer.status_code, answer.json()) == (400, {
        'faultstring': 'Action execution "%s" is not an inquiry.' % ex})
    assert respond(st2, ex, {}, body={'response': {}}).status_code == 400
