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

"""st2 tokens on a real Mistral 23 API (auth_enable = True, auth_type = st2).

st2 is the emulator: it knows the token ``TOKEN`` and the API key ``API_KEY``.
"""

import time

from mistralclient.api import base as mistral_api
import pytest
import requests

from st2mistral.core import contract
from st2mistral.testing import mistral_launcher
from st2mistral.testing.waiting import wait_until
from tests.functional.conftest import API_KEY
from tests.functional.conftest import TOKEN
from tests.functional.conftest import unique

CACHE_TTL = 1.0


@pytest.fixture(scope='module')
def mistral(st2_emulator, tmp_path_factory):
    config = {'DEFAULT': {'auth_type': 'st2'},
              'st2': {'api_url': st2_emulator.api_url, 'auth_url': st2_emulator.auth_url,
                      'api_key': API_KEY, 'auth_cache_ttl': CACHE_TTL}}
    workdir = str(tmp_path_factory.mktemp('mistral_st2_auth'))
    with mistral_launcher.MistralServer(workdir, config=config, auth_enable=True) as server:
        yield server


def get_workflows(mistral, token=None):
    headers = {'X-Auth-Token': token} if token else {}
    return requests.get(mistral.api_url + '/workflows', headers=headers, timeout=10)


def validations(st2):
    """The handler's questions to st2: whose token is this (GET /user, with the token)."""
    return st2.requests_for('GET', '/api/v1/user')


def test_request_without_token_is_rejected(mistral, st2):
    answer = get_workflows(mistral)
    assert answer.status_code == 401
    assert 'X-Auth-Token' in answer.text
    assert validations(st2) == []


def test_bad_token_is_rejected_every_time(mistral, st2):
    for _ in range(2):
        answer = get_workflows(mistral, 'not-a-token')
        assert answer.status_code == 401
        assert 'invalid or has expired' in answer.text
    # Checked with the token itself (never the API key), and never cached.
    calls = validations(st2)
    assert len(calls) == 2
    assert calls[0].headers['X-Auth-Token'] == 'not-a-token'
    assert 'St2-Api-Key' not in calls[0].headers


def test_valid_token_runs_a_workflow_through_the_st2_client_plugin(mistral, st2):
    # python-mistralclient with auth_type=st2 (our mistralclient.auth plugin).
    client = mistral.client(auth_type='st2', auth_url=st2.auth_url, auth_token=TOKEN)
    name = unique('auth_wf')
    client.workflows.create("version: '2.0'\n%s:\n  tasks:\n    t:\n      action: std.noop\n"
                            % name)
    execution = client.executions.create(name)
    assert mistral.wait_for_execution(execution.id, client=client).state == 'SUCCESS'
    assert not mistral.log_lines(TOKEN)

    unauthenticated = mistral.client(auth_type='st2', auth_url=st2.auth_url,
                                     auth_token='wrong-token')
    with pytest.raises(mistral_api.APIException) as raised:
        unauthenticated.workflows.list()
    assert raised.value.error_code == 401


def refused_within(mistral, token, timeout):
    """Seconds until Mistral refuses ``token`` (polling), or AssertionError."""
    began = time.monotonic()
    wait_until(lambda: get_workflows(mistral, token).status_code != 200, timeout=timeout,
               message='Mistral to refuse the token (a cached answer outlived the TTL)')
    return time.monotonic() - began


def test_valid_answer_is_cached_for_the_ttl_only(mistral, st2):
    # Earlier tests may have left TOKEN in the cache: revoke it until Mistral forgets it.
    assert get_workflows(mistral, TOKEN).status_code == 200
    st2.expire_token(TOKEN)
    refused_within(mistral, TOKEN, CACHE_TTL + 5)
    st2.reset()  # TOKEN is valid again in st2; the emulator forgets its requests

    began = time.monotonic()
    assert get_workflows(mistral, TOKEN).status_code == 200  # st2 asked
    first = time.monotonic() - began
    began = time.monotonic()
    assert get_workflows(mistral, TOKEN).status_code == 200  # from the cache
    cached = time.monotonic() - began
    assert len(validations(st2)) == 1

    st2.expire_token(TOKEN)
    assert get_workflows(mistral, TOKEN).status_code == 200  # still cached
    refused_after = refused_within(mistral, TOKEN, CACHE_TTL + 5)
    assert refused_after <= CACHE_TTL + 0.5
    assert validations(st2)[-1].status == 401  # st2 refused the token, so did Mistral
    print('auth: first request %.3f s, cached %.3f s, revoked token refused after %.2f s '
          '(ttl %.1f s)' % (first, cached, refused_after, CACHE_TTL))


def test_st2_auth_down_rejects_with_a_clear_message(mistral, st2):
    st2.go_down()
    try:
        answer = get_workflows(mistral, 'some-other-token')
    finally:
        st2.come_up()
    assert answer.status_code == 401
    assert 'cannot be checked now' in answer.text
    assert 'some-other-token' not in answer.text
    assert not mistral.log_lines('some-other-token')


def test_client_cannot_claim_another_identity(mistral, st2):
    client = mistral.client(auth_type='st2', auth_url=st2.auth_url, auth_token=TOKEN)
    name = unique('auth_private_wf')
    client.workflows.create("version: '2.0'\n%s:\n  tasks:\n    t:\n      action: std.noop\n"
                            % name)
    answer = requests.get(mistral.api_url + '/workflows', timeout=10,
                          headers={'X-Auth-Token': TOKEN, 'X-Project-Id': 'other-project'})
    assert answer.status_code == 200
    # The identity headers were dropped: the caller still sees what st2 users see.
    assert name in {w['name'] for w in answer.json()['workflows']}


def test_the_publisher_reports_a_users_workflow_with_auth_on(mistral, st2):
    # The workflow lives in the st2 user's own project; the publisher reads it with
    # an admin context, which Mistral < 22 confines to its own project by id
    # (load_workflow_execution): it must read across projects (issue 16).
    client = mistral.client(auth_type='st2', auth_url=st2.auth_url, auth_token=TOKEN)
    name = unique('auth_pub')
    client.workflows.create("version: '2.0'\n%s:\n  output:\n    answer: 42\n  tasks:\n"
                            "    t:\n      action: std.noop\n" % name)
    st2_id = st2.add_execution(action='examples.' + name)
    execution = client.executions.create(
        name, env=contract.build_env(st2_id, st2.api_url, auth_token=TOKEN),
        notify=[contract.ST2_NOTIFY_ENTRY])
    assert mistral.wait_for_execution(execution.id, client=client).state == 'SUCCESS'
    st2.wait_for_status(st2_id, 'succeeded')
    assert st2.execution(st2_id)['result']['answer'] == 42
    assert not mistral.log_lines('no longer in Mistral')
    assert not mistral.log_lines(TOKEN)
