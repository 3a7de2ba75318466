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

import json
import logging

from mistral import exceptions as mistral_exc
import pytest
import requests
import webob

from st2mistral.core import st2api
from st2mistral.mistral_side.auth import server

USER_URL = 'http://st2.test/api/v1/user'
TOKEN = 'user-token-abc'
API_KEY = 'mistral-key-xyz'


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def conf(conf):
    conf.set_override('api_url', 'http://st2.test/api/v1', group='st2')
    conf.set_override('api_key', API_KEY, group='st2')
    conf.set_override('auth_cache_ttl', 30.0, group='st2')
    return conf


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def handler(conf, clock):
    return server.St2AuthHandler(client=st2api.St2Client(conf=conf), conf=conf, clock=clock)


def whose(user='alice'):
    """st2's GET /v1/user answer for a token of ``user``."""
    return {'json': {'username': user, 'rbac': {'enabled': False, 'is_admin': True},
                     'authentication': {'method': 'authentication token',
                                        'location': 'header'}}}


REFUSED = {'status_code': 401, 'json': {'faultstring': 'Unauthorized'}}


def request(token=TOKEN, **headers):
    if token is not None:
        headers['X-Auth-Token'] = token
    return webob.Request.blank('/v2/workflows', headers=headers)


def test_valid_token_is_checked_with_itself_and_scoped_to_its_user(handler, requests_mock):
    requests_mock.get(USER_URL, **whose('alice'))
    req = request()
    handler.authenticate(req)
    (call,) = requests_mock.request_history
    assert call.headers['X-Auth-Token'] == TOKEN
    assert 'St2-Api-Key' not in call.headers     # the API key plays no part
    assert req.headers['X-Identity-Status'] == 'Confirmed'
    assert req.headers['X-Project-Id'] == 'st2:alice'
    assert req.headers['X-User-Name'] == 'alice'
    assert req.headers['X-Roles'] == ''


@pytest.mark.parametrize('user, project', [
    ('alice', 'st2:alice'),
    ('alice@example.com', 'st2:alice@example.com'),
    ('CN=Alice Smith,OU=x', 'st2~'),
    ('st2:alice', 'st2~'),     # never the project of user "alice:" or similar
    ('a' * 65, 'st2~'),
])
def test_project_of_a_user(user, project):
    assert server.project_of(user).startswith(project)
    assert len(server.project_of(user)) <= 80         # Mistral's project_id column


def test_different_users_never_share_a_project():
    names = ['alice', 'Alice', 'alice ', 'st2:alice', 'st2~alice', 'a' * 65, 'a' * 66]
    assert len({server.project_of(n) for n in names}) == len(names)


def test_only_configured_admin_users_get_the_admin_role(handler, conf, requests_mock):
    conf.set_override('admin_users', ['st2mistral'], group='st2')
    requests_mock.get(USER_URL, [whose('st2mistral'), whose('bob')])
    service, bob = request(), request(token='bob-token')
    handler.authenticate(service)
    handler.authenticate(bob)
    assert service.headers['X-Roles'] == 'admin'
    assert bob.headers['X-Roles'] == ''      # st2's is_admin: true does not count


@pytest.mark.parametrize('answer', [
    {'json': {'valid': True}},
    {'json': {'username': '', 'authentication': {'method': 'authentication token'}}},
    {'json': {'username': 'stanley'}},   # st2 with auth disabled: no auth_info
    {'json': {'username': 'x', 'authentication': {'method': 'API key'}}},
    {'json': ['alice']},
])
def test_answer_without_the_tokens_user_is_refused(handler, requests_mock, caplog, answer):
    requests_mock.get(USER_URL, **answer)
    with pytest.raises(mistral_exc.UnauthorizedException) as raised:
        handler.authenticate(request())
    assert 'did not say whose token' in str(raised.value)
    assert 'authentication enabled' in caplog.text


def test_invalid_token_is_rejected(handler, requests_mock, caplog):
    caplog.set_level(logging.DEBUG)
    requests_mock.get(USER_URL, **REFUSED)
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
    requests_mock.get(USER_URL, **whose())
    handler.authenticate(request())
    clock.now += 29.9
    handler.authenticate(request())
    assert requests_mock.call_count == 1
    clock.now += 0.2  # 30.1 s after the check: ask st2 again
    handler.authenticate(request())
    assert requests_mock.call_count == 2


def test_invalid_answer_is_never_cached(handler, requests_mock):
    requests_mock.get(USER_URL, [REFUSED, whose()])
    with pytest.raises(mistral_exc.UnauthorizedException):
        handler.authenticate(request())
    handler.authenticate(request())  # st2 accepts it now: so does Mistral
    assert requests_mock.call_count == 2


def test_cached_token_revoked_later_is_refused_after_the_ttl(handler, clock, requests_mock):
    requests_mock.get(USER_URL, [whose(), REFUSED])
    handler.authenticate(request())
    clock.now += 31
    with pytest.raises(mistral_exc.UnauthorizedException):
        handler.authenticate(request())


def test_ttl_zero_asks_every_time(handler, conf, requests_mock):
    conf.set_override('auth_cache_ttl', 0.0, group='st2')
    requests_mock.get(USER_URL, **whose())
    handler.authenticate(request())
    handler.authenticate(request())
    assert requests_mock.call_count == 2


def test_another_token_is_checked_separately(handler, requests_mock):
    requests_mock.get(USER_URL, [whose('alice'), whose('bob')])
    alice, bob = request(), request(token='other-token')
    handler.authenticate(alice)
    handler.authenticate(bob)
    handler.authenticate(request())    # cached: alice again
    assert (alice.headers['X-Project-Id'], bob.headers['X-Project-Id']) == ('st2:alice',
                                                                           'st2:bob')
    assert requests_mock.call_count == 2


def test_cache_is_bounded(conf, clock):
    cache = server.TokenCache(clock)
    for i in range(5):
        cache.remember('t%d' % i, 'u%d' % i, ttl=60, max_size=3)
    assert [cache.user_of('t%d' % i) for i in range(5)] == [None, None, 'u2', 'u3', 'u4']


@pytest.mark.parametrize('answer, expected', [
    ({'status_code': 401, 'json': {'faultstring': 'Unauthorized - Token has expired.'}},
     'invalid or has expired'),
    ({'status_code': 503, 'json': {}}, 'HTTP 503'),
    ({'exc': requests.exceptions.ConnectionError('refused')}, 'HTTP none'),
    ({'status_code': 200, 'text': 'not json'}, 'HTTP 200'),   # a proxy's page: not st2's answer
])
def test_st2_failures_reject_without_leaking(handler, requests_mock, caplog, answer, expected):
    caplog.set_level(logging.DEBUG)
    requests_mock.get(USER_URL, [answer, whose()])
    with pytest.raises(mistral_exc.UnauthorizedException) as raised:
        handler.authenticate(request())
    assert expected in str(raised.value)
    assert 'faultstring' not in str(raised.value)
    assert TOKEN not in caplog.text and API_KEY not in caplog.text
    handler.authenticate(request())  # a failure is not remembered either
    assert requests_mock.call_count == 2


def test_client_supplied_identity_headers_are_replaced(handler, requests_mock):
    requests_mock.get(USER_URL, **whose('bob'))
    req = request(**{'X-Roles': 'admin', 'X-Project-Id': 'someone-else', 'X-User-Id': 'root',
                     'X-Tenant-Id': 't', 'X-Service-Roles': 'admin', 'X-Role': 'admin',
                     'X-Target-Auth-Uri': 'http://k', 'X-Target-Auth-Token': 'x',
                     'X-Target-Project-Id': 'st2:alice', 'X-Target-Service-Catalog': '{}',
                     'OpenStack-System-Scope': 'all', 'X-Is-Admin-Project': 'True'})
    handler.authenticate(req)
    assert not [h for h in req.headers if h.lower().startswith(('x-target', 'x-service',
                                                                'openstack', 'x-tenant',
                                                                'x-is-admin', 'x-role:'))]
    assert req.headers['X-Roles'] == ''
    assert req.headers['X-Project-Id'] == 'st2:bob'
    assert req.headers['X-User-Id'] == 'bob'
    assert req.headers['X-Auth-Token'] == TOKEN


def test_identity_headers_are_dropped_even_when_the_token_is_refused(handler, requests_mock):
    requests_mock.get(USER_URL, **REFUSED)
    req = request(**{'X-Target-Project-Id': 'p', 'X-Roles': 'admin'})
    with pytest.raises(mistral_exc.UnauthorizedException):
        handler.authenticate(req)
    assert 'X-Target-Project-Id' not in req.headers and 'X-Roles' not in req.headers


def test_only_configured_api_url_is_used(handler, conf, requests_mock):
    conf.set_override('api_url', 'http://st2b.test/api/v1/', group='st2')
    requests_mock.get('http://st2b.test/api/v1/user', **whose())
    handler.authenticate(request())
    assert requests_mock.request_history[0].url == 'http://st2b.test/api/v1/user'


def test_loaded_by_mistral_through_stevedore():
    from stevedore import driver

    mgr = driver.DriverManager('mistral.auth', 'st2', invoke_on_load=True)
    assert isinstance(mgr.driver, server.St2AuthHandler)


def post_execution(params, path='/v2/executions'):
    req = webob.Request.blank(path, method='POST', headers={'X-Auth-Token': TOKEN},
                              content_type='application/json')
    req.body = json.dumps({'workflow_name': 'wf', 'params': params}).encode()
    return req


@pytest.mark.parametrize('params', [
    {'root_execution_id': 'r-1'},
    {'task_execution_id': 't-1'},
    json.dumps({'root_execution_id': 'r-1', 'task_execution_id': 't-1'}),  # mistralclient
])
def test_an_execution_naming_an_engine_lineage_is_refused(handler, requests_mock, params):
    # Mistral 23 copies these params into the execution: a user could make theirs
    # pass for a sub-workflow of another user's root (whose st2 context it takes).
    requests_mock.get(USER_URL, **whose('bob'))
    req = post_execution(params)
    with pytest.raises(mistral_exc.UnauthorizedException, match='only Mistral.s engine'):
        handler.authenticate(req)
    assert 'X-Project-Id' not in req.headers
    # The body is still there for Mistral (a refused request never reaches it anyway).
    assert json.loads(req.body)['workflow_name'] == 'wf'


@pytest.mark.parametrize('params', [None, {}, {'env': {'a': 1}}, '{"notify": []}',
                                    {'root_execution_id': None}, 'not json'])
def test_an_ordinary_execution_create_passes(handler, requests_mock, params):
    requests_mock.get(USER_URL, **whose('bob'))
    req = post_execution(params)
    handler.authenticate(req)
    assert req.headers['X-Project-Id'] == 'st2:bob'
    assert json.loads(req.body)['params'] == params


def test_other_requests_may_carry_such_fields(handler, requests_mock):
    requests_mock.get(USER_URL, **whose('bob'))
    req = post_execution({'root_execution_id': 'r-1'}, path='/v2/workflows')
    handler.authenticate(req)
    assert req.headers['X-Project-Id'] == 'st2:bob'


def test_an_admin_user_may_act_in_an_st2_users_project(handler, conf, requests_mock):
    # Mistral < 21 completes an action execution only in its own project (note [3]).
    conf.set_override('admin_users', ['st2mistral'], group='st2')
    requests_mock.get(USER_URL, **whose('st2mistral'))
    for project in ('st2:alice', server.project_of('CN=Alice Smith')):
        req = request(**{server.PROJECT_HEADER: project})
        handler.authenticate(req)
        assert req.headers['X-Project-Id'] == project
        assert req.headers['X-User-Name'] == 'st2mistral'
        assert req.headers['X-Roles'] == 'admin'
        assert server.PROJECT_ENVIRON not in req.environ


def test_nobody_else_may_name_a_project(handler, conf, requests_mock, caplog):
    conf.set_override('admin_users', ['st2mistral'], group='st2')
    requests_mock.get(USER_URL, **whose('bob'))
    req = request(token='bob-token', **{server.PROJECT_HEADER: 'st2:alice'})
    with pytest.raises(mistral_exc.UnauthorizedException) as raised:
        handler.authenticate(req)
    assert 'X-St2mistral-Project may be given by [st2] admin_users only' in str(raised.value)
    assert 'X-Project-Id' not in req.headers
    assert 'only [st2] admin_users may' in caplog.text


@pytest.mark.parametrize('project', ['service', 'st2:', 'st2:a b', 'st2~abc', 'admin', ''])
def test_an_admin_user_names_only_an_st2_users_project(handler, conf, requests_mock, project):
    conf.set_override('admin_users', ['st2mistral'], group='st2')
    requests_mock.get(USER_URL, **whose('st2mistral'))
    req = request(**{server.PROJECT_HEADER: project})
    with pytest.raises(mistral_exc.UnauthorizedException) as raised:
        handler.authenticate(req)
    assert 'must name the project of an st2 user' in str(raised.value)
