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

"""The st2 emulator's misbehaving-proxy answers (used by the issue 9 tests) on the wire."""

import pytest
import requests

from st2mistral.testing.st2_emulator import St2Emulator

HEADERS = {'X-Auth-Token': 'st2-token'}


@pytest.fixture(scope='module')
def st2():
    with St2Emulator() as emulator:
        yield emulator


def put(st2, execution_id):
    return requests.put('%s/executions/%s' % (st2.api_url, execution_id), headers=HEADERS,
                        json={'status': 'succeeded'}, allow_redirects=False, timeout=5)


@pytest.mark.parametrize('kind, status, content_type, body', [
    ('html', 200, 'text/html; charset=utf-8', b'<html>'),
    ('redirect', 302, 'text/html', b''),
    ('empty', 200, 'application/json', b''),
    ('no-content', 204, None, b''),
    ('list', 200, 'application/json', b'[]'),
])
def test_proxy_answers_apply_nothing(st2, kind, status, content_type, body):
    ex_id = st2.add_execution()
    st2.misbehave_next(kind, location='https://sso.test/login')
    answer = put(st2, ex_id)
    assert answer.status_code == status
    assert answer.headers.get('Content-Type') == content_type
    assert answer.content.startswith(body)
    if kind == 'redirect':
        assert answer.headers['Location'] == 'https://sso.test/login'
    assert st2.execution(ex_id)['status'] == 'running'
    assert put(st2, ex_id).status_code == 200            # one request only
    assert st2.execution(ex_id)['status'] == 'succeeded'


def test_echo_headers_quotes_the_token_and_applied_acts_on_the_request(st2):
    ex_id = st2.add_execution()
    st2.misbehave_next('echo-headers')
    answer = put(st2, ex_id)
    assert answer.status_code == 502
    assert 'X-Auth-Token: st2-token' in answer.json()['faultstring']
    st2.misbehave_next('html', applied=True)
    assert put(st2, ex_id).status_code == 200
    assert st2.execution(ex_id)['status'] == 'succeeded'


def test_unknown_kind_is_refused(st2):
    with pytest.raises(ValueError, match='kind must be one of'):
        st2.misbehave_next('teapot')
