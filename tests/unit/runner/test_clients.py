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

from oslo_config import cfg
import pytest
import requests
import requests_mock

from st2mistral.core import st2api
from st2mistral.st2_side import clients
from st2mistral.st2_side import config
from st2mistral.st2_side import mistral_api


def fresh(**overrides):
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    for name, value in overrides.items():
        conf.set_override(name, value, group='mistral')
    return conf


@pytest.mark.parametrize('error, transient', [
    (requests.ConnectionError(), True),
    (requests.Timeout(), True),
    (mistral_api.MistralError(503, 'down'), True),
    (mistral_api.MistralError(500, 'MessagingTimeout: Timed out waiting for a reply'), True),
    (mistral_api.MistralError(409, 'Duplicate entry for WorkflowDefinition'), True),
    # A just-started Mistral 23 API (docs/contracts.rst section 3.4).
    (mistral_api.MistralError(500, 'Policy workflows:get has not been registered'), True),
    (mistral_api.MistralError(500, 'registered'), False),
    (mistral_api.MistralError(500, 'Action x is already completed'), False),
    (mistral_api.MistralError(404, 'not found'), False),
    (mistral_api.MistralError(400, 'bad'), False),
    (ValueError(), False),
])
def test_is_transient(error, transient):
    assert clients.is_transient(error) is transient


def test_error_kinds():
    assert clients.is_not_found(mistral_api.MistralError(404, 'x'))
    assert not clients.is_not_found(mistral_api.MistralError(400, 'x'))
    assert clients.is_already_completed(
        mistral_api.MistralError(500, 'ValueError: Action a is already completed'))


def test_call_mistral_reads_the_config_now():
    conf = fresh(retry_exp_msec=0, retry_stop_max_msec=10000)
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise requests.ConnectionError()
        return 'ok'

    assert clients.call_mistral(conf, lambda s: None, flaky) == 'ok'
    assert len(attempts) == 3
    conf.set_override('retry_stop_max_msec', 0, group='mistral')
    attempts.clear()
    with pytest.raises(requests.ConnectionError):
        clients.call_mistral(conf, lambda s: None, flaky)


def test_mistral_client_has_timeouts_and_no_keystone_by_default():
    conf = fresh(v2_base_url='http://mistral.test:8989/v2/', read_timeout=7.0)
    client = clients.mistral(conf)
    with requests_mock.Mocker() as m:
        m.get('http://mistral.test:8989/v2/executions/x', json={'id': 'x', 'state': 'RUNNING'})
        assert client.executions.get('x').state == 'RUNNING'
        assert m.last_request.timeout == (5.0, 7.0)
        assert 'X-Auth-Token' not in m.last_request.headers


def test_st2_tokens_for_a_mistral_that_authenticates_them():
    conf = fresh(v2_base_url='http://mistral.test:8989/v2', use_st2_token=True,
                 st2_service_token='service-token')
    with requests_mock.Mocker() as m:
        m.get('http://mistral.test:8989/v2/executions/x', json={'id': 'x'})
        clients.mistral(conf, auth_token='user-token').executions.get('x')
        assert m.last_request.headers['X-Auth-Token'] == 'user-token'
        clients.mistral(conf).executions.get('x')
        assert m.last_request.headers['X-Auth-Token'] == 'service-token'
        conf.set_override('use_st2_token', False, group='mistral')
        clients.mistral(conf, auth_token='user-token').executions.get('x')
        assert 'X-Auth-Token' not in m.last_request.headers


def test_st2_client_is_limited_to_the_configured_st2():
    conf = fresh(st2_api_key='k')
    conf.set_override('api_url', 'http://st2.test:9101', group='auth')
    client = clients.st2(conf)
    creds = clients.st2_credentials(conf)
    assert creds.headers() == {'St2-Api-Key': 'k'}
    with requests_mock.Mocker() as m:
        m.get('http://st2.test:9101/v1/executions/e', json={'id': 'e'})
        assert client.send('GET', 'http://st2.test:9101/v1/executions/e', creds) == {'id': 'e'}
    with pytest.raises(st2api.DestinationNotAllowed):
        client.send('GET', 'http://elsewhere.test/v1/executions/e', creds)
