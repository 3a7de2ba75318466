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

"""The st2 auth handler for Mistral's API, with st2 mocked (requests-mock)."""

import logging

from mistral import exceptions as mistral_exc
import pytest
import requests
import webob

from st2mistral import st2api
from st2mistral.auth import server

VALIDATE_URL = 'http://st2.test/auth/v1/tokens/validate'
TOKEN = 'user-token-abc'
API_KEY = 'mistral-key-xyz'


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def conf(conf):
    conf.set_override('api_key', API_KEY, group='st2')
    conf.set_override('auth_cache_ttl', 30.0, group='st2')
    return conf


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def handler(conf, clock):
    return server.St2AuthHandler(client=st2api.St2Client(conf=conf), conf=conf, clock=clock)


def request(token=TOKEN, **headers):
    if token is not None:
        headers['X-Auth-Token'] = token
    return webob.Request.blank('/v2/workflows', headers=headers)


def test_valid_token_is_accepted_and_checked_with_the_api_key(handler, requests_mock):
    requests_mock.post(VALIDATE_URL, json={'valid': True})
    req = request()
    handler.authenticate(req)
    (call,) = requests_mock.request_history
    assert call.json() == {'token': TOKEN}
    assert call.headers['St2-Api-Key'] == API_KEY
    assert 'X-Auth-Token' not in call.headers
    assert req.headers['X-Identity-Status'] == 'Confirmed'


def test_without_api_key_the_token_authenticates_its_own_check(handler, conf, requests_mock):
    conf.clear_override('api_key', group='st2')
    requests_mock.post(VALIDATE_URL, json={'valid': True})
    handler.authenticate(request())
    assert requests_mock.request_history[0].headers['X-Auth-Token'] == TOKEN


def test_invalid_token_is_rejected(handler, requests_mock, caplog):
    caplog.set_level(logging.DEBUG)
    requests_mock.post(VALIDATE_URL, json={'valid': False})
    with pytest.raises(mistral_exc.UnauthorizedException) as raised:
        handler.authenticate(request())
    assert 'invalid' in str(raised.value)
    assert TOKEN not in str(raised.value) and TOKEN not in caplog.text
    assert API_KEY not in caplog.text


def test_missing_token_is_rejected_without_asking_st2(handler, requests_mock):
    with pytest.raises(mistral_exc.UnauthorizedException) as raised:
        handler.authenticate(request(token=None))
    assert 'X-Auth-Token' in str(raised.value)
    assert requests_mock.request_history == []


def test_valid_answer_is_cached_for_the_ttl_only(handler, clock, requests_mock):
    requests_mock.post(VALIDATE_URL, json={'valid': True})
    handler.authenticate(request())
    clock.now += 29.9
    handler.authenticate(request())
    assert requests_mock.call_count == 1
    clock.now += 0.2  # 30.1 s after the check: ask st2 again
    handler.authenticate(request())
    assert requests_mock.call_count == 2


def test_invalid_answer_is_never_cached(handler, requests_mock):
    requests_mock.post(VALIDATE_URL, [{'json': {'valid': False}}, {'json': {'valid': True}}])
    with pytest.raises(mistral_exc.UnauthorizedException):
        handler.authenticate(request())
    handler.authenticate(request())  # st2 accepts it now: so does Mistral
    assert requests_mock.call_count == 2


def test_cached_token_revoked_later_is_refused_after_the_ttl(handler, clock, requests_mock):
    requests_mock.post(VALIDATE_URL, [{'json': {'valid': True}}, {'json': {'valid': False}}])
    handler.authenticate(request())
    clock.now += 31
    with pytest.raises(mistral_exc.UnauthorizedException):
        handler.authenticate(request())


def test_ttl_zero_asks_every_time(handler, conf, requests_mock):
    conf.set_override('auth_cache_ttl', 0.0, group='st2')
    requests_mock.post(VALIDATE_URL, json={'valid': True})
    handler.authenticate(request())
    handler.authenticate(request())
    assert requests_mock.call_count == 2


def test_another_token_is_checked_separately(handler, requests_mock):
    requests_mock.post(VALIDATE_URL, [{'json': {'valid': True}}, {'json': {'valid': False}}])
    handler.authenticate(request())
    with pytest.raises(mistral_exc.UnauthorizedException):
        handler.authenticate(request(token='other-token'))


def test_cache_is_bounded(conf, clock):
    cache = server.TokenCache(clock)
    for i in range(5):
        cache.remember('t%d' % i, ttl=60, max_size=3)
    assert [cache.is_valid('t%d' % i) for i in range(5)] == [False, False, True, True, True]


@pytest.mark.parametrize('answer, expected', [
    ({'status_code': 401, 'json': {'faultstring': 'Unauthorized - ApiKey with key_hash=ab '
                                                  'not found.'}}, 'API key'),
    ({'status_code': 503, 'json': {}}, 'HTTP 503'),
    ({'exc': requests.exceptions.ConnectionError('refused')}, 'HTTP none'),
    ({'status_code': 200, 'text': 'not json'}, 'invalid'),
])
def test_st2_failures_reject_without_leaking(handler, requests_mock, caplog, answer, expected):
    caplog.set_level(logging.DEBUG)
    requests_mock.post(VALIDATE_URL, [answer, {'json': {'valid': True}}])
    with pytest.raises(mistral_exc.UnauthorizedException) as raised:
        handler.authenticate(request())
    assert expected in str(raised.value)
    assert 'key_hash' not in str(raised.value)
    assert TOKEN not in caplog.text and API_KEY not in caplog.text
    handler.authenticate(request())  # a failure is not remembered either
    assert requests_mock.call_count == 2


def test_client_supplied_identity_headers_are_dropped(handler, requests_mock):
    requests_mock.post(VALIDATE_URL, json={'valid': True})
    req = request(**{'X-Roles': 'admin', 'X-Project-Id': 'someone-else', 'X-User-Id': 'root',
                     'X-Identity-Status': 'Confirmed'})
    handler.authenticate(req)
    assert 'X-Roles' not in req.headers
    assert 'X-Project-Id' not in req.headers
    assert 'X-User-Id' not in req.headers
    assert req.headers['X-Auth-Token'] == TOKEN


def test_only_configured_auth_url_is_used(handler, conf, requests_mock):
    conf.set_override('auth_url', 'http://auth.test/auth/v1/', group='st2')
    requests_mock.post('http://auth.test/auth/v1/tokens/validate', json={'valid': True})
    handler.authenticate(request())
    assert requests_mock.request_history[0].url == 'http://auth.test/auth/v1/tokens/validate'


def test_loaded_by_mistral_through_stevedore():
    from stevedore import driver

    mgr = driver.DriverManager('mistral.auth', 'st2', invoke_on_load=True)
    assert isinstance(mgr.driver, server.St2AuthHandler)
