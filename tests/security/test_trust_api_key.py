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

"""The site's [st2] api_key never acts for a workflow st2 does not vouch for (issue 9, finding 1).

Real Mistral 23 with ``[st2] api_key`` set, and the strict st2 emulator. The
attacker is a Mistral user who starts workflows directly in Mistral (no st2
behind them): they choose the env, the notify entries and the st2 context.
st2 vouches for a workflow only through the st2 execution's own record, whose
``context.mistral.execution_id`` the mistral-v2 runner sets (here: the test,
with ``update_context``, where a real runner would).
"""

import uuid

import pytest

from st2mistral.core import contract
from st2mistral.testing import mistral_launcher
from st2mistral.testing.st2_emulator import St2Emulator
from st2mistral.testing.waiting import wait_until
from tests.functional.conftest import API_KEY
from tests.functional.conftest import TOKEN
from tests.functional.conftest import unique

GRACE = 2.0            # [st2] unknown_execution_grace
GIVE_UP_AFTER = 3.0    # [st2] action_retry_give_up_after


@pytest.fixture(scope='module')
def st2_emulator():
    with St2Emulator(tokens=(TOKEN,), api_keys=(API_KEY,)) as emulator:
        yield emulator


@pytest.fixture
def st2(st2_emulator):
    st2_emulator.reset()
    yield st2_emulator
    st2_emulator.reset()


@pytest.fixture(scope='module')
def mistral(st2_emulator, tmp_path_factory):
    config = {'st2': {'api_url': st2_emulator.api_url, 'auth_url': st2_emulator.auth_url,
                      'api_key': API_KEY, 'retry_initial_delay': 0.05,
                      'retry_max_delay': 0.3, 'unknown_execution_grace': GRACE,
                      'action_retry_give_up_after': GIVE_UP_AFTER}}
    workdir = str(tmp_path_factory.mktemp('mistral_trust_api_key'))
    with mistral_launcher.MistralServer(workdir, config=config) as server:
        yield server


NOOP_WF = "version: '2.0'\n%s:\n  tasks:\n    t:\n      action: std.noop\n"
ACTION_WF = """
version: '2.0'
%s:
  tasks:
    only:
      action: st2.action
      input:
        ref: core.local
        parameters: {cmd: id}
"""


def someone_elses_execution(st2):
    """An st2 execution of another user's workflow: st2 names its own Mistral execution."""
    return st2.add_execution(context={'user': 'victim', 'mistral': {
        'execution_id': str(uuid.uuid4()), 'workflow_name': 'victim.wf'}})


def start(mistral, definition, env, notify=None):
    client = mistral.client()
    name = unique('trust')
    client.workflows.create(definition % name)
    kwargs = {'notify': notify} if notify else {}
    return client.executions.create(name, env=env, **kwargs)


def st2_action_env(st2, **st2_context):
    return {'__actions': {'st2.action': {'st2_context': dict(api_url=st2.api_url,
                                                             **st2_context)}}}


def wait_log(mistral, *texts, timeout=15.0):
    """Mistral log lines holding every one of ``texts``, polled until there is one."""
    return wait_until(
        lambda: [line for line in mistral.log_lines() if all(t in line for t in texts)],
        timeout=timeout, message='a Mistral log line with %r' % (texts,))


def with_key(requests):
    return [r for r in requests if r.headers.get('St2-Api-Key')]


# -- st2.action ---------------------------------------------------------------------------


def test_trust_st2_action_without_a_token_does_not_use_the_api_key(mistral, st2):
    execution = start(mistral, ACTION_WF, st2_action_env(st2))
    done = mistral.wait_for_execution(execution.id)

    assert st2.requests_for('POST', '/api/v1/executions') == []   # no child made as the key
    assert done.state == 'ERROR'
    assert 'has no st2 token' in done.state_info
    assert 'st2_context.parent.execution_id' in done.state_info


def test_trust_st2_action_never_uses_the_key_for_someone_elses_parent(mistral, st2):
    victim = someone_elses_execution(st2)
    env = st2_action_env(st2, parent={'execution_id': victim})
    done = mistral.wait_for_execution(start(mistral, ACTION_WF, env).id)

    assert st2.requests_for('POST', '/api/v1/executions') == []
    assert done.state == 'ERROR'
    assert 'belongs to another Mistral workflow execution' in done.state_info
    assert API_KEY not in done.state_info


def test_trust_st2_action_with_a_refused_token_does_not_fall_back_to_the_key(mistral, st2):
    victim = someone_elses_execution(st2)
    env = st2_action_env(st2, auth_token='bogus-token', parent={'execution_id': victim})
    done = mistral.wait_for_execution(start(mistral, ACTION_WF, env).id)

    posts = st2.requests_for('POST', '/api/v1/executions')
    assert [(p.headers.get('X-Auth-Token'), p.status) for p in posts] == [('bogus-token', 401)]
    assert with_key(posts) == []
    assert st2.executions(action='core.local') == []
    assert done.state == 'ERROR'
    assert "st2 refused the workflow's st2 token (HTTP 401)" in done.state_info
    assert 'bogus-token' not in done.state_info


def test_trust_st2_action_uses_the_key_when_st2_vouches_for_the_workflow(mistral, st2):
    # The token st2 gave the workflow expired; st2's own record of the workflow's
    # execution names it, so the key may create the child (as the key's user).
    st2.add_token('expired-token', 'alice')
    st2.expire_token('expired-token')
    parent = st2.add_execution(context={'user': 'alice'})
    name = unique('trust_vouched')
    client = mistral.client()
    client.workflows.create(ACTION_WF % name)
    execution = client.executions.create(name, env=contract.build_env(
        parent, st2.api_url, auth_token='expired-token',
        parent={'execution_id': parent, 'user': 'alice'}))
    # What st2 stores once the mistral-v2 runner returns (the task may run before).
    st2.update_context(parent, {'mistral': {'execution_id': execution.id,
                                            'workflow_name': name}})

    assert mistral.wait_for_execution(execution.id).state == 'SUCCESS'
    (child,) = st2.executions(action='core.local')
    assert child['context']['user'] == st2.user          # st2 records the key's user
    posts = st2.requests_for('POST', '/api/v1/executions')
    assert [(bool(p.headers.get('St2-Api-Key')), p.status) for p in posts][-1] == (True, 201)
    assert wait_log(mistral, "st2 refused the workflow's st2 token", execution.id)


# -- the publisher ------------------------------------------------------------------------


@pytest.mark.parametrize('victim_kind', ['bound-to-another-workflow', 'bound-to-none'])
def test_trust_env_and_notify_entry_cannot_redirect_updates(mistral, st2, victim_kind):
    if victim_kind == 'bound-to-none':   # e.g. a plain st2 action someone is running
        victim = st2.add_execution(action='core.local', runner='local-shell-cmd')
    else:
        victim = someone_elses_execution(st2)
    execution = start(mistral, NOOP_WF, {'st2_execution_id': victim},
                      notify=[{'type': 'st2', 'st2_execution_id': victim}])

    lines = wait_log(mistral, ' ERROR ', '[%s]' % execution.id, victim, timeout=GRACE + 15)
    assert [h['status'] for h in st2.execution(victim)['history']] == ['running']
    assert st2.requests_for('PUT', '/api/v1/executions/' + victim) == []
    assert len(lines) == 1, lines
    assert 'is not published to st2 execution %s' % victim in lines[0]
    assert API_KEY not in '\n'.join(mistral.log_lines())


@pytest.mark.parametrize('token', [None, 'expired-token'], ids=['no-token', 'refused-token'])
def test_trust_publisher_uses_the_key_for_the_workflow_st2_vouches_for(mistral, st2, token):
    if token:
        st2.add_token(token, 'alice')
        st2.expire_token(token)
    st2_id = st2.add_execution(action='examples.trust')
    execution = start(mistral, NOOP_WF, contract.build_env(st2_id, st2.api_url, auth_token=token),
                      notify=[contract.ST2_NOTIFY_ENTRY])
    st2.update_context(st2_id, {'mistral': {'execution_id': execution.id}})

    st2.wait_for_status(st2_id, 'succeeded', timeout=GRACE + 10)
    requests = st2.requests_for(path_prefix='/api/v1/executions/' + st2_id)
    accepted = [i for i, r in enumerate(requests) if r.method == 'PUT' and r.status == 200]
    assert all(requests[i].headers.get('St2-Api-Key') == API_KEY for i in accepted)
    # The binding is read until st2 shows it, then never again (no GET per update).
    assert [r.method for r in requests[accepted[0]:]] == ['PUT'] * (len(requests) - accepted[0])
    assert TOKEN not in '\n'.join(mistral.log_lines())
