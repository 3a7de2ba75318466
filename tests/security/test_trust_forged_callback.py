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

"""An st2 user cannot complete another user's ``st2.action`` task through the relay.

st2 lets any user POST /v1/executions with a ``callback`` and a context of their
choosing (st2api/st2api/controllers/v1/actionexecutions.py @ v3.9.0), and without
RBAC every user reads every execution, so Bob learns the Mistral action execution
Alice's task waits on. The relay completes Mistral action executions with its
service token; it must do so only for a child st2 records as the user whose
Mistral project the action execution is in (docs/security.rst, "Children's
results").
"""

import json
import logging

from oslo_config import cfg
import pytest
import requests

from st2mistral.st2_side import child_results
from st2mistral.st2_side import config as st2_side_config
from st2mistral.st2_side import relay_service
from st2mistral.testing import mistral_launcher
from st2mistral.testing.waiting import wait_until
from tests.functional.conftest import unique
from tests.security.users import ALICE
from tests.security.users import BOB
from tests.security.users import SERVICE
from tests.security.users import USERS
from tests.security.users import client_of

ASYNC_WORKFLOW = "version: '2.0'\n%s:\n  tasks:\n    wait:\n      action: std.async_noop\n"
API_KEY = 'st2-key'
CHILD = 'core.forged'
SECRETS = (ALICE, BOB, SERVICE, API_KEY)


@pytest.fixture
def relay(mistral, st2):
    """The relay as st2.conf sets it up for ``auth_type = st2`` (not started: a test
    hands its children job one stream event)."""
    conf = cfg.ConfigOpts()
    st2_side_config.register_opts(conf)
    conf([], default_config_files=[])
    for name, value in dict(v2_base_url=mistral.api_url, use_st2_token=True,
                            st2_service_token=SERVICE, st2_api_key=API_KEY,
                            st2_stream_url=st2.stream_url, retry_exp_msec=50,
                            retry_stop_max_msec=2000, reconcile_interval=0).items():
        conf.set_override(name, value, group='mistral')
    conf.set_override('api_url', st2.base_url + '/api', group='auth')
    return relay_service.Relay(conf)


def alices_waiting_task(mistral, st2):
    """Alice's workflow, waiting in a task on an async action (as on an st2 child)."""
    alice = client_of(mistral, st2, ALICE)
    name = unique('alice_waits')
    alice.workflows.create(ASYNC_WORKFLOW % name)
    execution = alice.executions.create(name)
    (action,) = wait_until(lambda: [a for a in alice.action_executions.list()
                                    if a.workflow_name == name and a.state == 'RUNNING'],
                           timeout=20, message='the async action to start')
    return alice, execution, action


def post_child(mistral, st2, token, execution, action, extra_context=None):
    """An st2 execution with st2.action's callback and context.mistral for ``action``,
    POSTed with ``token``; returns its finished record as the relay reads it."""
    callback_url = '%s/action_executions/%s' % (mistral.api_url, action.id)
    context = {'mistral': {'workflow_execution_id': execution.id, 'workflow_name':
                           execution.workflow_name, 'task_execution_id':
                           action.task_execution_id, 'task_name': 'wait',
                           'action_execution_id': action.id, 'callback_url': callback_url}}
    context.update(extra_context or {})
    answer = requests.post(st2.api_url + '/executions', timeout=10, json={
        'action': CHILD, 'callback': {'source': 'mistral_v2', 'url': callback_url}},
        headers={'X-Auth-Token': token, 'st2-context': json.dumps(context)})
    assert answer.status_code == 201, answer.text
    child_id = answer.json()['id']
    st2.wait_for_status(child_id, 'succeeded', timeout=10)
    record = requests.get(st2.api_url + '/executions/%s' % child_id, timeout=10,
                          headers={'St2-Api-Key': API_KEY}).json()
    assert record['context']['user'] == USERS[token]   # what st2 recorded
    return record


def assert_no_secret_logged(caplog):
    for record in caplog.records:
        for secret in SECRETS:
            assert secret not in record.getMessage()


def test_trust_another_users_forged_callback_does_not_complete_the_task(
        mistral, st2, relay, caplog):
    alice, execution, action = alices_waiting_task(mistral, st2)
    st2.set_child_outcome(CHILD, 'succeeded', {'stdout': 'bob was here'})
    forged = post_child(mistral, st2, BOB, execution, action,
                        extra_context={'parent': {'execution_id': 'alices-st2-execution'}})

    with caplog.at_level(logging.INFO):
        relay.jobs['children'].on_execution_update(forged)
        assert alice.action_executions.get(action.id).state == 'RUNNING'
        assert alice.executions.get(execution.id).state == 'RUNNING'
        # Reconciliation hands the relay the same child again: refused, not re-read.
        assert relay.children.deliver_execution(forged) == child_results.REFUSED

    assert alice.action_executions.get(action.id).state == 'RUNNING'
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings   # the second refusal is remembered, not re-logged
    assert 'Not completing Mistral action execution %s' % action.id in warnings[0]
    assert forged['id'] in warnings[0] and "st2 user 'bob'" in warnings[0]
    if mistral_launcher.mistral_major(mistral.python) >= 21:
        assert 'but it is in Mistral project st2:alice' in warnings[0]
    else:   # the service user reads another project's action execution in that project only
        assert 'project is st2:bob, but Mistral has no such action execution in that ' \
            'project' in warnings[0]
    assert_no_secret_logged(caplog)


def test_trust_the_users_own_child_completes_the_task(mistral, st2, relay, caplog):
    alice, execution, action = alices_waiting_task(mistral, st2)
    st2.set_child_outcome(CHILD, 'succeeded', {'stdout': 'alice was here'})
    own = post_child(mistral, st2, ALICE, execution, action)

    with caplog.at_level(logging.INFO):
        relay.jobs['children'].on_execution_update(own)

    assert mistral.wait_for_execution(execution.id, client=alice).state == 'SUCCESS'
    output = json.loads(alice.action_executions.get(action.id).output)
    assert output == {'result': {'stdout': 'alice was here'}}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert_no_secret_logged(caplog)
