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

import logging

from oslo_config import cfg
import pytest
import requests
import urllib3

from st2mistral.core import opts
from st2mistral.core import st2api

URL = 'http://st2.test/api/v1/executions/e1'


@pytest.fixture
def client(conf):
    return st2api.St2Client(conf=conf, sleep=lambda s: None)


def test_put_sends_token_request_id_and_body(client, requests_mock):
    requests_mock.put(URL, json={'id': 'e1', 'status': 'succeeded'})
    answer = client.update_execution('http://st2.test/api/v1', 'e1', 'succeeded', {'a': 1},
                                     st2api.Credentials(token='tok'))
    assert answer['status'] == 'succeeded'
    request = requests_mock.request_history[0]
    assert request.headers['X-Auth-Token'] == 'tok'
    assert 'St2-Api-Key' not in request.headers
    assert request.headers['X-Request-ID'].startswith('req-')
    assert request.json() == {'status': 'succeeded', 'result': {'a': 1}}
    assert request.timeout == (5.0, 30.0)
    assert request.verify not in (False, None)  # the system trust store


def test_no_credential_travels_inside_the_result(client, requests_mock):
    # Mistral < 23 dumps a failed expression's data context (the env, with the
    # token) into state_info; st2 must not receive the token through it.
    requests_mock.put(URL, json={'id': 'e1', 'status': 'failed'})
    state_info = ("Failed to run task [error=..., data={'__env': {'auth_token': "
                  "'tok-secret-1'}}]")
    result = {'extra': {'state_info': state_info},
              'tasks': [{'state_info': state_info, 'result': ['tok-secret-1', 7, None]}],
              'tok-secret-1': 'a key'}
    client.update_execution('http://st2.test/api/v1', 'e1', 'failed', result,
                            st2api.Credentials(token='tok-secret-1'))
    sent = requests_mock.request_history[0].json()['result']
    assert 'tok-secret-1' not in requests_mock.request_history[0].text
    assert sent['tasks'][0]['result'] == ['***', 7, None]
    assert sent['extra']['state_info'].endswith("{'__env': {'auth_token': '***'}}]")
    assert sent['***'] == 'a key'
    assert result['tasks'][0]['result'][0] == 'tok-secret-1'   # the caller's copy untouched


def test_api_key_used_without_token(client, requests_mock):
    requests_mock.put(URL, json={})
    client.update_execution('http://st2.test/api/v1', 'e1', 'running', None,
                            st2api.Credentials(api_key='key'))
    request = requests_mock.request_history[0]
    assert request.headers['St2-Api-Key'] == 'key'
    assert request.json() == {'status': 'running'}


def test_tls_settings(conf, requests_mock):
    requests_mock.put(URL, json={})
    conf.set_override('ca_file', '/etc/ssl/st2-ca.pem', group='st2')
    st2api.St2Client(conf=conf).send('PUT', URL, st2api.Credentials(token='t'))
    assert requests_mock.request_history[-1].verify == '/etc/ssl/st2-ca.pem'
    conf.set_override('insecure', True, group='st2')
    st2api.St2Client(conf=conf).send('PUT', URL, st2api.Credentials(token='t'))
    assert requests_mock.request_history[-1].verify is False


def test_expired_token_retried_once_with_api_key(client, requests_mock, caplog):
    requests_mock.put(URL, [
        {'status_code': 401, 'json': {'faultstring': 'Unauthorized - Token has expired.'}},
        {'status_code': 200, 'json': {}}])
    caplog.set_level(logging.DEBUG)
    client.send('PUT', URL, st2api.Credentials(token='old-token', api_key='the-key'))
    first, second = requests_mock.request_history
    assert first.headers['X-Auth-Token'] == 'old-token'
    assert second.headers['St2-Api-Key'] == 'the-key'
    assert 'X-Auth-Token' not in second.headers
    assert 'old-token' not in caplog.text and 'the-key' not in caplog.text


def test_401_without_api_key_is_final_and_names_st2_reason(client, requests_mock):
    requests_mock.put(URL, status_code=401,
                      json={'faultstring': 'Unauthorized - Token has expired.'})
    with pytest.raises(st2api.St2Error) as err:
        client.call('PUT', URL, st2api.Credentials(token='secret-token'))
    assert err.value.status_code == 401 and not err.value.retryable
    assert 'Token has expired' in str(err.value)
    assert 'secret-token' not in str(err.value)
    assert requests_mock.call_count == 1


@pytest.mark.parametrize('status', [500, 502, 503, 429])
def test_5xx_and_429_retried_with_backoff(client, requests_mock, status):
    requests_mock.put(URL, [{'status_code': status, 'json': {}},
                            {'status_code': status, 'json': {}},
                            {'status_code': 200, 'json': {'ok': True}}])
    assert client.call('PUT', URL, st2api.Credentials(token='t')) == {'ok': True}
    assert requests_mock.call_count == 3


@pytest.mark.parametrize('status', [400, 403, 404, 409])
def test_other_4xx_never_retried(client, requests_mock, status):
    requests_mock.put(URL, status_code=status, json={'faultstring': 'nope'})
    with pytest.raises(st2api.St2Error) as err:
        client.call('PUT', URL, st2api.Credentials(token='t'))
    assert err.value.status_code == status and not err.value.retryable
    assert requests_mock.call_count == 1


def test_connection_errors_and_timeouts_retried_then_given_up(conf, requests_mock):
    waits = []
    conf.set_override('retry_initial_delay', 1.0, group='st2')
    conf.set_override('retry_max_delay', 4.0, group='st2')
    requests_mock.put(URL, [{'exc': requests.ConnectionError('refused')},
                            {'exc': requests.ConnectTimeout('slow')},
                            {'status_code': 200, 'json': {}}])
    st2api.St2Client(conf=conf, sleep=waits.append).call(
        'PUT', URL, st2api.Credentials(token='t'))
    assert waits == [1.0, 2.0]

    conf.set_override('retry_give_up_after', 0.0, group='st2')
    requests_mock.put(URL, exc=requests.ConnectionError('refused'))
    with pytest.raises(st2api.St2Error, match='cannot connect to st2') as err:
        st2api.St2Client(conf=conf, sleep=waits.append).call(
            'PUT', URL, st2api.Credentials(token='t'))
    assert err.value.retryable and err.value.status_code is None


def test_timeout_message(client, requests_mock):
    requests_mock.put(URL, exc=requests.ReadTimeout('x'))
    with pytest.raises(st2api.St2Error, match='did not answer'):
        client.send('PUT', URL, st2api.Credentials(token='t'))


@pytest.mark.parametrize('url', [
    'http://evil.test/api/v1/executions/e1',
    'http://st2.test.evil/api/v1/executions/e1',
    'http://st2.test/other/executions/e1',
])
def test_destinations_outside_configured_urls_refused(client, requests_mock, url):
    with pytest.raises(st2api.DestinationNotAllowed, match='allowed_api_urls'):
        client.send('PUT', url, st2api.Credentials(token='t'))
    assert requests_mock.call_count == 0


def test_allowed_api_urls_extends_destinations(conf, requests_mock):
    conf.set_override('allowed_api_urls', ['https://st2b.test/api/v1'], group='st2')
    requests_mock.put('https://st2b.test/api/v1/executions/e1', json={})
    st2api.St2Client(conf=conf).send('PUT', 'https://st2b.test/api/v1/executions/e1',
                                     st2api.Credentials(token='t'))
    assert requests_mock.call_count == 1


def test_credentials_repr_hides_secrets():
    assert 'tok' not in repr(st2api.Credentials(token='tok', api_key='key'))
    assert 'key' not in repr(st2api.Credentials(token='tok', api_key='key'))


@pytest.mark.parametrize('exc,never_sent', [
    (requests.ConnectTimeout('connect timed out'), True),
    (requests.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, URL, urllib3.exceptions.NewConnectionError(None, 'Connection refused'))), True),
    (requests.ConnectionError(urllib3.exceptions.ProtocolError(
        'Connection aborted.', ConnectionResetError())), False),
    (requests.ReadTimeout('read timed out'), False),
])
def test_never_sent_only_when_no_connection_was_made(client, requests_mock, exc, never_sent):
    requests_mock.put(URL, exc=exc)
    with pytest.raises(st2api.St2Error) as err:
        client.send('PUT', URL, st2api.Credentials(token='t'))
    assert err.value.never_sent is never_sent and err.value.retryable


def test_proxy_and_ca_variables_are_honoured_once_per_host(conf, requests_mock, monkeypatch):
    monkeypatch.setenv('HTTP_PROXY', 'http://proxy.test:3128')
    monkeypatch.setenv('NO_PROXY', 'st2b.test')
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/etc/ssl/corp-ca.pem')
    conf.set_override('allowed_api_urls', ['http://st2b.test/api/v1'], group='st2')
    requests_mock.put(URL, json={})
    requests_mock.put('http://st2b.test/api/v1/executions/e1', json={})
    client = st2api.St2Client(conf=conf)
    client.send('PUT', URL, st2api.Credentials(token='t'))
    assert requests_mock.request_history[-1].proxies['http'] == 'http://proxy.test:3128'
    assert requests_mock.request_history[-1].verify == '/etc/ssl/corp-ca.pem'
    client.send('PUT', 'http://st2b.test/api/v1/executions/e1', st2api.Credentials(token='t'))
    assert requests_mock.request_history[-1].proxies == {}        # NO_PROXY
    monkeypatch.setenv('HTTP_PROXY', 'http://other.test:1')       # read once, not per request
    client.send('PUT', URL, st2api.Credentials(token='t'))
    assert requests_mock.request_history[-1].proxies['http'] == 'http://proxy.test:3128'


class _ConfigOptsWithoutGetLocation(cfg.ConfigOpts):
    """ConfigOpts as oslo.config 1.12 (st2 up to 3.8) has it: no get_location."""

    @property
    def get_location(self):
        raise AttributeError('get_location')


def test_without_get_location_a_value_equal_to_the_default_is_not_allow_listed():
    conf = _ConfigOptsWithoutGetLocation()
    opts.register_opts(conf)
    conf([], project='st2mistral-tests')
    assert st2api.allowed_base_urls(conf) == []
    conf.set_override('api_url', 'https://st2.test/api/v1', 'st2')
    assert st2api.allowed_base_urls(conf) == ['https://st2.test/api/v1']
