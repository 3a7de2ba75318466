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

"""POST /api/v1/executions and GET /api/v1/executions as st2.action uses them."""

import json

from tests.contract.conftest import CHILD_ACTION

CALLBACK_URL = 'http://127.0.0.1:8989/v2/action_executions/a1b2c3'


def start_child(backend, parent_id, action_execution_id='a1b2c3'):
    mistral = {'workflow_execution_id': 'wf-1', 'workflow_name': 'examples.wf',
               'task_execution_id': 'task-1', 'task_name': 'say',
               'action_execution_id': action_execution_id, 'callback_url': CALLBACK_URL}
    header = json.dumps({'parent': {'execution_id': parent_id, 'user': 'st2admin'},
                         'mistral': mistral})
    body = {'action': CHILD_ACTION, 'parameters': {'cmd': 'echo hi'},
            'callback': {'source': 'mistral_v2', 'url': CALLBACK_URL}}
    return backend.post('/executions', body, headers={'st2-context': header}), mistral


def test_post_stores_callback_and_the_st2_context_header(backend):
    parent_id, _ = backend.new_execution()
    answer, mistral = start_child(backend, parent_id)
    assert answer.status_code == 201, answer.text
    child = answer.json()
    assert child['status'] == 'requested'
    assert child['action']['ref'] == CHILD_ACTION
    assert child['parameters'] == {'cmd': 'echo hi'}
    assert child['liveaction']['callback'] == {'source': 'mistral_v2', 'url': CALLBACK_URL}
    context = child['context']
    assert context['mistral'] == mistral
    assert context['parent'] == {'execution_id': parent_id, 'user': 'st2admin'}
    assert context['user'] == 'st2admin'
    assert context['pack'] == 'st2mistral_tests'

    stored = backend.get('/executions/%s' % child['id']).json()
    assert stored['parent'] == parent_id
    assert child['id'] in backend.get('/executions/%s' % parent_id).json()['children']


def test_without_rbac_the_poster_names_the_user_of_an_execution(backend):
    """st2 vouches for no user in a child's context without RBAC: the body's ``user`` and
    the st2-context header's replace the requester's (docs/security.rst, "Children's
    results")."""
    by_body = backend.post('/executions', {'action': CHILD_ACTION, 'user': 'alice'})
    by_header = backend.post('/executions', {'action': CHILD_ACTION, 'user': 'carol'},
                             headers={'st2-context': json.dumps({'user': 'alice'})})
    own = backend.post('/executions', {'action': CHILD_ACTION})
    for answer in (by_body, by_header, own):
        assert answer.status_code == 201, answer.text
    assert by_body.json()['context']['user'] == 'alice'
    assert by_header.json()['context']['user'] == 'alice'
    assert own.json()['context']['user'] == 'st2admin'     # the token's user
    for answer in (by_body, by_header, own):
        assert 'rbac' not in answer.json()['context']


def test_a_header_that_is_not_json_is_400(backend):
    answer = backend.post('/executions', {'action': CHILD_ACTION},
                          headers={'st2-context': 'not json'})
    assert answer.status_code == 400
    expected = 'Unable to convert st2-context from the headers into JSON'
    if backend.version >= (3, 5):
        expected += " (was <class 'str'>)"
    assert answer.json()['faultstring'] == expected + '.'


def test_the_adoption_query_lists_the_child_without_its_result(backend):
    """st2.action's lookup: action=<ref>&parent=<st2 parent>&limit=100&exclude_attributes=result."""
    parent_id, _ = backend.new_execution()
    other_parent, _ = backend.new_execution()
    answer, _ = start_child(backend, parent_id, action_execution_id='mine')
    start_child(backend, other_parent, action_execution_id='theirs')
    listed = backend.get('/executions', params={
        'action': CHILD_ACTION, 'parent': parent_id, 'limit': 100,
        'exclude_attributes': 'result'})
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert [ex['id'] for ex in page] == [answer.json()['id']]
    assert 'result' not in page[0]
    assert page[0]['context']['mistral']['action_execution_id'] == 'mine'
    assert listed.headers['X-Total-Count'] == '1'
    assert listed.headers['X-Limit'] == '100'


def test_an_unknown_action_is_refused(backend):
    answer = backend.post('/executions', {'action': 'st2mistral_tests.nope'})
    assert answer.status_code == 400
    assert answer.json()['faultstring'] == 'Action "st2mistral_tests.nope" cannot be found.'


def test_the_runner_and_status_filters_list_active_mistral_v2_executions(backend):
    """The relay's sweep: runner=mistral-v2&status=<s>&limit=100&exclude_attributes=result."""
    running, _ = backend.new_execution()
    paused, _ = backend.new_execution(status='paused')
    shell, _ = backend.new_execution(action=CHILD_ACTION, runner='local-shell-cmd')
    done, _ = backend.new_execution(status='succeeded')

    def listed(status):
        answer = backend.get('/executions', params={
            'runner': 'mistral-v2', 'status': status, 'limit': 100, 'offset': 0,
            'exclude_attributes': 'result'})
        assert answer.status_code == 200, answer.text
        ids = {ex['id'] for ex in answer.json()}
        assert all('result' not in ex for ex in answer.json())
        return ids & {running, paused, shell, done}  # the backend may hold other tests' too

    assert listed('running') == {running}
    assert listed('paused') == {paused}
