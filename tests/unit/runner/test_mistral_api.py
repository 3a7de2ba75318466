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

"""The st2 side's Mistral REST client: what goes on the wire and how errors come back.

The same calls against a real Mistral 23 run in tests/functional/runner.
"""

import json

import pytest
import requests
import requests_mock

from st2mistral.st2_side import mistral_api

URL = 'https://mistral.test:8989/v2'


@pytest.fixture
def wire():
    with requests_mock.Mocker() as m:
        yield m


def client(**kw):
    return mistral_api.Client(URL + '/', **kw)


def test_execution_create_sends_what_mistral_expects(wire):
    wire.post(URL + '/executions', status_code=201, json={'id': 'e1', 'state': 'RUNNING'})
    ex = client().executions.create('my.wf', workflow_input={'a': 1}, env={'k': 'v'},
                                    notify=[{'type': 'st2'}])
    assert (ex.id, ex.state) == ('e1', 'RUNNING')
    body = wire.last_request.json()
    assert body['workflow_name'] == 'my.wf'
    assert json.loads(body['input']) == {'a': 1}
    assert json.loads(body['params']) == {'env': {'k': 'v'}, 'notify': [{'type': 'st2'}]}
    assert wire.last_request.headers['Content-Type'] == 'application/json'


def test_a_uuid_names_a_workflow_by_id(wire):
    wire.post(URL + '/executions', status_code=201, json={'id': 'e1'})
    client().executions.create('123e4567-e89b-12d3-a456-426614174000')
    assert 'workflow_id' in wire.last_request.json()


def test_update_list_and_rows(wire):
    wire.put(URL + '/executions/e1', json={'id': 'e1', 'state': 'PAUSED'})
    assert client().executions.update('e1', 'PAUSED').state == 'PAUSED'
    assert wire.last_request.json() == {'state': 'PAUSED'}
    client().executions.update('e1', None, env={'x': 1})
    assert wire.last_request.json() == {'params': {'env': {'x': 1}}}

    wire.get(URL + '/executions/e1/tasks', json={'tasks': [{'id': 't1', 'name': 'a'}]})
    (task,) = client().tasks.list(workflow_execution_id='e1', marker='m', limit=1000)
    assert task.to_dict() == {'id': 't1', 'name': 'a'}
    assert wire.last_request.qs == {'marker': ['m'], 'limit': ['1000']}

    wire.get(URL + '/executions', json={'executions': []})
    client().executions.list(limit=-1, fields=['state'], include_output=True)
    assert wire.last_request.qs == {'fields': ['state'], 'include_output': ['true']}


def test_definitions_go_as_text(wire):
    wire.post(URL + '/workflows', status_code=201, json={'workflows': [{'name': 'w'}]})
    (wf,) = client().workflows.create('version: "2.0"\n')
    assert wf.name == 'w'
    assert wire.last_request.headers['Content-Type'] == 'text/plain'
    assert wire.last_request.text == 'version: "2.0"\n'
    assert wire.last_request.qs == {'scope': ['private'], 'namespace': ['']}


def test_action_execution_update_needs_state_or_output(wire):
    with pytest.raises(mistral_api.MistralError) as raised:
        client().action_executions.update('a1')
    assert raised.value.error_code == 400
    assert wire.call_count == 0
    wire.put(URL + '/action_executions/a1', json={'id': 'a1', 'state': 'SUCCESS'})
    client().action_executions.update('a1', 'SUCCESS', {'result': 1})
    assert wire.last_request.json() == {'state': 'SUCCESS', 'output': {'result': 1}}
    assert 'X-St2mistral-Project' not in wire.last_request.headers


def test_action_execution_update_in_an_st2_users_project(wire):
    # Mistral < 21 with auth_type = st2 (docs/mistral-versions.rst, note [3]).
    wire.put(URL + '/action_executions/a1', json={'id': 'a1', 'state': 'SUCCESS'})
    client().action_executions.update('a1', 'SUCCESS', {'result': 1}, project='st2:alice')
    assert wire.last_request.headers['X-St2mistral-Project'] == 'st2:alice'
    assert wire.last_request.json() == {'state': 'SUCCESS', 'output': {'result': 1}}


@pytest.mark.parametrize('answer, message', [
    ({'headers': {'Server-Error-Message': 'Action a1 is already completed'},
      'json': {'faultstring': 'other'}}, 'Action a1 is already completed'),
    ({'json': {'faultstring': 'Workflow not found [name=x]'}}, 'Workflow not found [name=x]'),
    ({'text': 'Bad Gateway'}, 'Bad Gateway'),
])
def test_errors_carry_the_status_and_mistrals_message(wire, answer, message):
    wire.get(URL + '/workflows/x', status_code=404, **answer)
    with pytest.raises(mistral_api.MistralError) as raised:
        client().workflows.get('x')
    assert (raised.value.error_code, raised.value.error_message) == (404, message)


def test_timeouts_tls_and_token(wire):
    wire.get(URL + '/executions/e1', json={'id': 'e1'})
    client(timeout=(1.0, 2.0), verify='/etc/ca.pem', auth_token='t0k').executions.get('e1')
    assert wire.last_request.timeout == (1.0, 2.0)
    assert wire.last_request.verify == '/etc/ca.pem'
    assert wire.last_request.headers['X-Auth-Token'] == 't0k'
    client().executions.get('e1')
    assert wire.last_request.verify   # True, or REQUESTS_CA_BUNDLE when the environment sets it
    assert 'X-Auth-Token' not in wire.last_request.headers
    client(verify=False).executions.get('e1')
    assert wire.last_request.verify is False


def test_keystone_token_fetched_once_and_renewed_on_401(wire):
    tokens = iter(['ks-1', 'ks-2'])
    wire.post('https://keystone.test/v3/auth/tokens',
              [{'status_code': 201, 'headers': {'X-Subject-Token': next(tokens)}},
               {'status_code': 201, 'headers': {'X-Subject-Token': next(tokens)}}])
    seen = []

    def answer(request, context):
        seen.append(request.headers['X-Auth-Token'])
        context.status_code = 401 if len(seen) == 2 else 200
        return {'id': 'e1'}

    wire.get(URL + '/executions/e1', json=answer)
    session = requests.Session()
    keystone = mistral_api.KeystoneToken(session, 'https://keystone.test', 'u', 'p', 'proj',
                                         (1.0, 2.0))
    api = mistral_api.Client(URL, keystone=keystone, session=session)
    api.executions.get('e1')
    api.executions.get('e1')   # 401 with ks-1: one new token, the call made again
    assert seen == ['ks-1', 'ks-1', 'ks-2']
    auth = [r for r in wire.request_history if r.path == '/v3/auth/tokens']
    assert len(auth) == 2
    assert auth[0].json()['auth']['scope']['project']['name'] == 'proj'


def test_keystone_refusal_is_one_clear_error_without_the_password(wire):
    wire.post('https://keystone.test/v3/auth/tokens', status_code=401, reason='Unauthorized')
    keystone = mistral_api.KeystoneToken(requests.Session(),
                                         'https://keystone.test/v3', 'u', 'secret-pw', 'p',
                                         (1.0, 2.0))
    with pytest.raises(mistral_api.MistralError) as raised:
        mistral_api.Client(URL, keystone=keystone).executions.get('e1')
    assert 'keystone_*' in str(raised.value)
    assert 'secret-pw' not in str(raised.value)
