"""Authentication answers and the execution stream the relay follows."""

import hashlib
import json

import requests

from tests.contract.conftest import TIMEOUT


def fault(answer):
    return answer.status_code, answer.json()['faultstring']


def test_no_credentials_is_401(backend):
    answer = requests.get(backend.api_url + '/executions', timeout=TIMEOUT)
    assert fault(answer) == (401, 'Unauthorized - One of Token or API key required.')


def test_an_unknown_token_is_401(backend):
    answer = backend.get('/executions', headers={'X-Auth-Token': 'f' * 32})
    assert fault(answer) == (401, 'Unauthorized')


def test_an_expired_token_is_401(backend):
    answer = backend.get('/executions', headers={'X-Auth-Token': backend.expired_token})
    assert fault(answer) == (401, 'Unauthorized - Token has expired.')


def test_an_unknown_api_key_is_401_naming_its_hash(backend):
    answer = backend.get('/executions', headers={'St2-Api-Key': 'not-a-key'})
    # st2common/st2common/util/hash.py: sha512 of a fixed salt and the key
    key_hash = hashlib.sha512(b'saltnpepper' + b'not-a-key').hexdigest()
    assert fault(answer) == (401, 'Unauthorized - ApiKey with key_hash=%s not found.'
                             % key_hash)


def test_an_api_key_authenticates(backend):
    answer = backend.get('/executions', headers={'St2-Api-Key': backend.api_key})
    assert answer.status_code == 200, answer.text


def test_token_validation_answers(backend):
    def validate(token):
        return requests.post(backend.auth_url + '/tokens/validate', json={'token': token},
                             headers={'St2-Api-Key': backend.api_key}, timeout=TIMEOUT)

    assert validate(backend.token).json() == {'valid': True}
    assert validate('f' * 32).json() == {'valid': False}
    assert validate(backend.expired_token).json() == {'valid': False}
    unauthenticated = requests.post(backend.auth_url + '/tokens/validate',
                                    json={'token': backend.token}, timeout=TIMEOUT)
    assert fault(unauthenticated) == (401, 'Unauthorized - One of Token or API key required.')


def read_events(response, wanted, limit=50):
    """(event, data) pairs from an SSE response until ``wanted(event, data)`` or ``limit``."""
    seen = []
    event = None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith('event: '):
            event = line[len('event: '):]
        elif line.startswith('data: '):
            data = json.loads(line[len('data: '):])
            seen.append((event, data))
            if wanted(event, data) or len(seen) >= limit:
                return seen
    return seen


def test_the_stream_sends_the_update_of_a_completed_execution(backend):
    ex_id, _ = backend.new_execution()
    stream = requests.get(backend.stream_url + '/stream', stream=True, timeout=TIMEOUT, params={
        'events': 'st2.execution__update', 'execution_ids': ex_id,
        'x-auth-token': backend.token})
    with stream:
        assert stream.status_code == 200
        assert stream.headers['Content-Type'] == 'text/event-stream; charset=UTF-8'
        put = backend.put('/executions/%s' % ex_id,
                          {'status': 'succeeded', 'result': {'tasks': []}})
        assert put.status_code == 200, put.text
        seen = read_events(stream, lambda e, d: d.get('status') == 'succeeded')
    assert {event for event, _ in seen} == {'st2.execution__update'}
    assert {data['id'] for _, data in seen} == {ex_id}
    last = seen[-1][1]
    assert (last['status'], last['result']) == ('succeeded', {'tasks': []})
    assert last['action']['ref'] == 'st2mistral_tests.wf_sleep'
    assert last['runner']['name'] == 'mistral-v2'


def test_the_stream_refuses_without_credentials(backend):
    answer = requests.get(backend.stream_url + '/stream', timeout=TIMEOUT)
    assert fault(answer) == (401, 'Unauthorized - One of Token or API key required.')
