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

"""The python-mistralclient side: the st2 token goes out as X-Auth-Token."""

from mistralclient.api.v2 import client as mistral_client
import pytest

from st2mistral.mistral_side.auth import client

MISTRAL = 'http://mistral.test:8989/v2'


def test_token_from_arguments(monkeypatch):
    monkeypatch.setenv('ST2_AUTH_TOKEN', 'from-env')
    answer = client.St2AuthHandler().authenticate(
        {'auth_token': 'from-args', 'mistral_url': MISTRAL, 'cacert': '/ca.pem'})
    assert answer == {'mistral_url': MISTRAL, 'auth_token': 'from-args', 'cacert': '/ca.pem',
                      'insecure': False}


def test_token_from_environment(monkeypatch):
    monkeypatch.setenv('ST2_AUTH_TOKEN', 'from-env')
    answer = client.St2AuthHandler().authenticate({'mistral_url': MISTRAL, 'insecure': True})
    assert answer['auth_token'] == 'from-env'
    assert answer['insecure'] is True


def test_no_token_is_a_clear_error(monkeypatch):
    monkeypatch.delenv('ST2_AUTH_TOKEN', raising=False)
    with pytest.raises(ValueError, match='ST2_AUTH_TOKEN'):
        client.St2AuthHandler().authenticate({'mistral_url': MISTRAL})


def test_request_must_be_a_dict():
    with pytest.raises(TypeError):
        client.St2AuthHandler().authenticate(['auth_token'])


def test_mistralclient_sends_the_token(requests_mock, monkeypatch):
    monkeypatch.setenv('ST2_AUTH_TOKEN', 'env-token')
    requests_mock.get(MISTRAL + '/workflows', json={'workflows': []})
    mistral = mistral_client.Client(auth_type='st2', auth_url='http://st2.test/auth/v1',
                                    mistral_url=MISTRAL)
    assert mistral.workflows.list() == []
    assert requests_mock.request_history[0].headers['X-Auth-Token'] == 'env-token'
