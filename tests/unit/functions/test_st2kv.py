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

import socket

from oslo_config import cfg
import pytest
import requests
from yaql.language import contexts as yaql_contexts

from st2mistral.mistral_side.functions import st2kv as kv
from st2mistral.mistral_side.functions._common import FunctionError

API = 'http://st2.example:9101/v1'
TOKEN = 'tok-VERY-SECRET'


def make_context(api_url=API, token=TOKEN, parent=None):
    st2_ctx = {'api_url': api_url, 'endpoint': api_url + '/actionexecutions',
               'parent': {'execution_id': 'e1', 'user': 'alice'} if parent is None else parent,
               'notify': {}, 'skip_notify_tasks': []}
    if token:
        st2_ctx['auth_token'] = token
    return {'__env': {'__actions': {'st2.action': {'st2_context': st2_ctx}}}}


def test_user_scope_reads_the_key_with_the_workflow_token(requests_mock):
    requests_mock.get(API + '/keys/k1', json={'name': 'k1', 'value': 'v1'})
    assert kv.st2kv(make_context(), 'k1') == 'v1'
    req = requests_mock.last_request
    assert req.qs == {'scope': ['user'], 'decrypt': ['false']}   # st2 takes the token's user
    assert req.headers['X-Auth-Token'] == TOKEN
    assert req.timeout == (5, 30)
    # True, or the CA bundle path when REQUESTS_CA_BUNDLE is set: verified either way.
    assert req.verify


def test_system_scope_and_decrypt(requests_mock):
    requests_mock.get(API + '/keys/k2', json={'name': 'k2', 'value': 's3cr3t'})
    assert kv.st2kv(make_context(), 'system.k2', True) == 's3cr3t'
    # No user parameter for system keys.
    assert requests_mock.last_request.qs == {'scope': ['system'], 'decrypt': ['true']}


def test_non_string_values_come_back_as_st2_stored_them(requests_mock):
    requests_mock.get(API + '/keys/k', json={'value': '{"a": 1}'})
    assert kv.st2kv(make_context(), 'k') == '{"a": 1}'


def test_key_names_are_url_quoted(requests_mock):
    requests_mock.get(API + '/keys/a%2Fb%20c', json={'value': 'x'})
    assert kv.st2kv(make_context(), 'a/b c') == 'x'


def test_trailing_slash_in_api_url(requests_mock):
    requests_mock.get(API + '/keys/k', json={'value': 'x'})
    assert kv.st2kv(make_context(api_url=API + '/'), 'k') == 'x'


def test_without_token_no_auth_header_is_sent(requests_mock):
    requests_mock.get(API + '/keys/k', json={'value': 'x'})
    kv.st2kv(make_context(token=None), 'k')
    assert 'X-Auth-Token' not in requests_mock.last_request.headers


@pytest.mark.parametrize('parent', ['liveaction-id', {'user': 'alice'}])
def test_never_asks_for_another_users_keys(requests_mock, parent):
    # st2 RBAC answers 403 to a non-admin token naming a user: the token decides.
    requests_mock.get(API + '/keys/k', json={'value': 'x'})
    kv.st2kv(make_context(parent=parent), 'k')
    assert 'user' not in requests_mock.last_request.qs


@pytest.mark.parametrize('context', [{}, {'__env': None}, {'__env': {}}, None,
                                     {'__env': {'__actions': {'st2.action': None}}}])
def test_no_st2_context_falls_back_to_the_configured_api_url(requests_mock, context):
    cfg.CONF.set_override('api_url', 'http://st2.test/v1', group='st2')
    try:
        requests_mock.get('http://st2.test/v1/keys/k', json={'value': 'x'})
        assert kv.st2kv(context, 'k') == 'x'
    finally:
        cfg.CONF.clear_override('api_url', group='st2')
    assert 'X-Auth-Token' not in requests_mock.last_request.headers


def test_reads_env_from_a_yaql_context(requests_mock):
    # In YAQL, Mistral passes its yaql Context, which holds '__env'.
    requests_mock.get(API + '/keys/k', json={'value': 'x'})
    yaql_ctx = yaql_contexts.Context()
    yaql_ctx['__env'] = make_context()['__env']
    assert kv.st2kv(yaql_ctx, 'k') == 'x'
    assert requests_mock.last_request.headers['X-Auth-Token'] == TOKEN


@pytest.mark.parametrize('key, message', [
    ('k1', "st2kv: key 'k1' not found in st2 user scope"),
    ('system.k1', "st2kv: key 'k1' not found in st2 system scope"),
])
def test_missing_key(requests_mock, key, message):
    requests_mock.get(API + '/keys/k1', status_code=404,
                      json={'faultstring': 'The key "k1" does not exist'})
    with pytest.raises(FunctionError) as e:
        kv.st2kv(make_context(), key)
    assert str(e.value) == message


@pytest.mark.parametrize('token, reason', [
    (TOKEN, 'the auth token is invalid or expired'),
    (None, 'the workflow env holds no st2 auth token'),
])
def test_unauthorized(requests_mock, token, reason):
    requests_mock.get(API + '/keys/k', status_code=401, json={'faultstring': 'Unauthorized'})
    with pytest.raises(FunctionError) as e:
        kv.st2kv(make_context(token=token), 'k')
    assert str(e.value) == (
        'st2kv: the st2 API at %s/keys/k refused the request (HTTP 401): %s' % (API, reason))
    assert TOKEN not in str(e.value)


def test_other_http_errors_carry_st2s_fault(requests_mock):
    requests_mock.get(API + '/keys/k', status_code=403,
                      json={'faultstring': 'Decrypt option requires administrator access'})
    with pytest.raises(FunctionError) as e:
        kv.st2kv(make_context(), 'system.k', True)
    assert str(e.value) == (
        "st2kv: the st2 API at %s/keys/k answered HTTP 403 for key 'k' in system scope: "
        "Decrypt option requires administrator access" % API)


def test_http_error_without_json_body(requests_mock):
    requests_mock.get(API + '/keys/k', status_code=502, text='<html>bad gateway</html>')
    with pytest.raises(FunctionError) as e:
        kv.st2kv(make_context(), 'k')
    assert str(e.value) == (
        "st2kv: the st2 API at %s/keys/k answered HTTP 502 for key 'k' in user scope" % API)


def test_ok_with_a_body_that_is_not_json(requests_mock):
    requests_mock.get(API + '/keys/k', text='not json')
    with pytest.raises(FunctionError, match="HTTP 200 and an answer that is not JSON"):
        kv.st2kv(make_context(), 'k')


@pytest.mark.parametrize('exc, text', [
    (requests.ConnectionError, 'cannot connect to st2 at %s/keys/k'),
    (requests.exceptions.SSLError, 'TLS verification failed for %s/keys/k'),
    (requests.ConnectTimeout, 'cannot connect to st2 at %s/keys/k within'),
    (requests.ReadTimeout, 'st2 did not answer GET %s/keys/k within'),
])
def test_st2_unreachable_names_the_url_never_the_token(requests_mock, exc, text):
    requests_mock.get(API + '/keys/k', exc=exc('boom ' + TOKEN))
    with pytest.raises(FunctionError) as e:
        kv.st2kv(make_context(), 'k')
    assert str(e.value).startswith('st2kv: cannot read the st2 API at %s/keys/k: ' % API)
    assert text % API in str(e.value)
    assert TOKEN not in str(e.value)


def test_unconfigured_st2_url_is_refused_without_a_request(requests_mock):
    with pytest.raises(FunctionError, match='allowed_api_urls') as e:
        kv.st2kv(make_context(api_url='http://evil.example/v1'), 'k')
    assert requests_mock.call_count == 0
    assert TOKEN not in str(e.value)


def test_real_connection_refused():
    # A loopback port nobody listens on: a real socket error, no mock.
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    url = 'http://127.0.0.1:%d/v1' % port
    cfg.CONF.set_override('allowed_api_urls', [url], group='st2')
    with pytest.raises(FunctionError) as e:
        kv.st2kv(make_context(api_url=url), 'k')
    assert str(e.value).startswith(
        'st2kv: cannot read the st2 API at %s/keys/k: cannot connect to st2 at ' % url)


@pytest.mark.parametrize('key, decrypt, message', [
    (5, False, 'st2kv: key must be a string, got int'),
    (None, False, 'st2kv: key must be a string, got NoneType'),
    ('', False, 'st2kv: key name is empty'),
    ('system.', False, 'st2kv: key name is empty'),
    ('k', 'true', 'st2kv: decrypt must be true or false, got str'),
    ('k', 1, 'st2kv: decrypt must be true or false, got int'),
])
def test_bad_input_makes_no_request(requests_mock, key, decrypt, message):
    with pytest.raises(FunctionError) as e:
        kv.st2kv(make_context(), key, decrypt)
    assert str(e.value) == message
    assert requests_mock.call_count == 0


@pytest.mark.parametrize('key, expected', [
    ('k', ('user', 'k')), ('system.k', ('system', 'k')), ('system.a.b', ('system', 'a.b')),
    ('systemk', ('user', 'systemk')), ('user.k', ('user', 'user.k')),
])
def test_parse_key(key, expected):
    assert kv.parse_key(key) == expected
