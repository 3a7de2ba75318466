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

"""Per-user isolation under ``auth_type = st2`` on a real Mistral 23 (issue 9, findings 2, 9).

Each st2 user gets a Mistral project of their own, so one user's token cannot
read another user's executions (whose env holds the other user's st2 token),
and no header a client sends can move a request to another project.
"""


from mistralclient.api import base as mistral_client_api
from oslo_config import cfg
import pytest
import requests

from st2mistral.core import contract
from st2mistral.mistral_side.auth.server import PROJECT_HEADER
from st2mistral.st2_side import child_results
from st2mistral.st2_side import config as st2_side_config
from st2mistral.st2_side import mistral_api
from st2mistral.testing import mistral_launcher
from st2mistral.testing.waiting import wait_until
from tests.functional.conftest import unique
from tests.functional.faults.conftest import history
from tests.functional.faults.conftest import spool_rows
from tests.functional.faults.conftest import wait_lines
from tests.functional.faults.conftest import wait_spool_updates
from tests.security.users import ALICE
from tests.security.users import BOB
from tests.security.users import FIRST_ADMIN_COMPLETING_WORKFLOWS
from tests.security.users import FIRST_ADMIN_READING_ACTIONS
from tests.security.users import SERVICE
from tests.security.users import client_of
from tests.security.users import mistral_with_st2_auth

WORKFLOW = "version: '2.0'\n%s:\n  tasks:\n    t:\n      action: std.noop\n"


@pytest.fixture(scope='module')
def alice_run(mistral, st2):
    """A workflow Alice runs the way st2 does: her token in the execution's env."""
    alice = client_of(mistral, st2, ALICE)
    name = unique('alice_wf')
    alice.workflows.create(WORKFLOW % name)
    env = contract.build_env('5f0c4d1e2a3b4c5d6e7f8091', st2.api_url, auth_token=ALICE)
    execution = alice.executions.create(name, env=env)
    assert mistral.wait_for_execution(execution.id, client=alice).state == 'SUCCESS'
    return execution


def get(mistral, path, token, **headers):
    headers['X-Auth-Token'] = token
    return requests.get(mistral.api_url + path, headers=headers, timeout=10)


def test_trust_another_user_cannot_read_executions_tasks_or_action_executions(
        mistral, alice_run):
    ex_id = alice_run.id
    assert get(mistral, '/executions/%s' % ex_id, ALICE).status_code == 200
    tasks = get(mistral, '/executions/%s/tasks' % ex_id, ALICE).json()['tasks']
    assert tasks  # Alice sees her own task

    seen_by_bob = [
        get(mistral, '/executions/%s' % ex_id, BOB),
        get(mistral, '/executions', BOB),
        get(mistral, '/executions/%s/tasks' % ex_id, BOB),
        get(mistral, '/tasks', BOB),
        get(mistral, '/tasks/%s' % tasks[0]['id'], BOB),
        get(mistral, '/action_executions', BOB),
        get(mistral, '/tasks/%s/action_executions' % tasks[0]['id'], BOB),
    ]
    assert seen_by_bob[0].status_code == 404
    assert seen_by_bob[4].status_code == 404
    for answer in seen_by_bob:
        assert ALICE not in answer.text, answer.request.url
        if answer.status_code == 200:   # a list: none of Alice's rows in it
            assert ex_id not in answer.text, answer.request.url


def test_trust_each_user_has_a_project_of_their_own(mistral, st2, alice_run):
    bob = client_of(mistral, st2, BOB)
    name = unique('bob_wf')
    bob.workflows.create(WORKFLOW % name)
    bob_ex = bob.executions.create(name)
    assert mistral.wait_for_execution(bob_ex.id, client=bob).state == 'SUCCESS'

    alice_project = get(mistral, '/executions/%s' % alice_run.id, ALICE).json()['project_id']
    bob_project = get(mistral, '/executions/%s' % bob_ex.id, BOB).json()['project_id']
    assert alice_project and bob_project and alice_project != bob_project
    assert 'alice' in alice_project and 'bob' in bob_project   # readable for operators
    # Workflow definitions are private to their project too.
    assert name not in {w.name for w in client_of(mistral, st2, ALICE).workflows.list()}


def test_trust_a_configured_admin_user_sees_every_project(mistral, st2, alice_run):
    # [st2] admin_users: the runner's service identity (relay, results tracking).
    service = client_of(mistral, st2, SERVICE)
    assert service.executions.get(alice_run.id).id == alice_run.id
    # Every other user is denied by default, whatever st2 says about admins.
    with pytest.raises(mistral_client_api.APIException) as raised:
        client_of(mistral, st2, BOB).executions.get(alice_run.id)
    assert raised.value.error_code == 404


@pytest.mark.parametrize('headers', [
    {'X-Target-Auth-Uri': 'http://keystone.invalid/v3', 'X-Target-Auth-Token': 'x',
     'X-Target-Project-Id': '{alice_project}'},
    {'X-Project-Id': '{alice_project}', 'X-Roles': 'admin'},
    {'X-Tenant-Id': '{alice_project}', 'X-Role': 'admin', 'X-Is-Admin-Project': 'True'},
    {'X-Target-Auth-Uri': 'http://keystone.invalid/v3', 'X-Target-Auth-Token': 'x',
     'X-Target-Project-Id': '{alice_project}', 'X-Roles': 'admin',
     'X-Target-Service-Catalog': '{{}}'},
], ids=['x-target', 'x-project-and-roles', 'x-tenant-and-role', 'x-target-and-roles'])
def test_trust_identity_headers_cannot_rescope_a_valid_token(mistral, alice_run, headers):
    alice_project = get(mistral, '/executions/%s' % alice_run.id, ALICE).json()['project_id']
    headers = {k: v.format(alice_project=alice_project) for k, v in headers.items()}

    answer = get(mistral, '/executions/%s' % alice_run.id, BOB, **headers)
    assert answer.status_code == 404
    assert ALICE not in answer.text
    # Nor do they move the token holder out of their own project.
    own = get(mistral, '/executions/%s' % alice_run.id, ALICE, **headers)
    assert own.status_code == 200, own.text


ASYNC_WORKFLOW = "version: '2.0'\n%s:\n  tasks:\n    wait:\n      action: std.async_noop\n"


def alices_running_action(mistral, st2):
    """Alice's workflow waiting on an async action, as on an st2 child; and a PUT
    completing that action with a token (what the relay does, with its service token)."""
    alice = client_of(mistral, st2, ALICE)
    name = unique('alice_async')
    alice.workflows.create(ASYNC_WORKFLOW % name)
    execution = alice.executions.create(name)
    running = wait_until(lambda: [a for a in alice.action_executions.list()
                                  if a.workflow_name == name and a.state == 'RUNNING'],
                         timeout=20, message='the async action to start')
    (action,) = running

    def complete(token, project=None):
        headers = {'X-Auth-Token': token}
        if project:
            headers[PROJECT_HEADER] = project
        return requests.put(mistral.api_url + '/action_executions/' + action.id, timeout=10,
                            json={'state': 'SUCCESS', 'output': '{"result": "done"}'},
                            headers=headers)
    return alice, execution, action, complete


def test_trust_only_an_admin_user_completes_another_users_action(mistral, st2):
    if mistral_launcher.mistral_major(mistral.python) < FIRST_ADMIN_READING_ACTIONS:
        pytest.skip('Mistral < 21: see the next test')
    alice, execution, _, complete = alices_running_action(mistral, st2)
    refused = complete(BOB)
    # Mistral's engine does not find it in Bob's project (its RPC error is a 500).
    assert refused.status_code != 200 and 'not found' in refused.text, refused.text
    assert alice.executions.get(execution.id).state == 'RUNNING'
    assert complete(SERVICE).status_code == 200
    if mistral_launcher.mistral_major(mistral.python) < FIRST_ADMIN_COMPLETING_WORKFLOWS:
        # 21.0.0: the action and the task complete, the workflow never does (the
        # engine's check_and_complete reads it with load_workflow_execution, which
        # confines the admin user to its own project and finds nothing).
        (task,) = alice.tasks.list(workflow_execution_id=execution.id)
        wait_until(lambda: alice.tasks.get(task.id).state == 'SUCCESS', timeout=20,
                   message='the task to succeed')
        with pytest.raises(TimeoutError):
            mistral.wait_for_execution(execution.id, client=alice, timeout=3)
        assert alice.executions.get(execution.id).state == 'RUNNING'
        return
    assert mistral.wait_for_execution(execution.id, client=alice).state == 'SUCCESS'


def test_trust_mistral_before_21_refuses_the_admin_user_another_users_action(mistral, st2):
    """The measured limit of Mistral 18-20 (docs/mistral-versions.rst [3]): the engine's
    on_action_complete reads the action execution with db_api.get_action_execution,
    which confines every context, admin or not, to its own project."""
    if mistral_launcher.mistral_major(mistral.python) >= FIRST_ADMIN_READING_ACTIONS:
        pytest.skip('Mistral 21 and later honour is_admin here (the previous test)')
    alice, execution, action, complete = alices_running_action(mistral, st2)
    refused = complete(SERVICE)
    assert refused.status_code == 500, refused.text
    assert refused.json()['faultstring'] == (
        'DBEntityNotFoundError: 404: ActionExecution not found [id=%s]' % action.id)
    assert alice.executions.get(execution.id).state == 'RUNNING'
    assert alice.action_executions.get(action.id).state == 'RUNNING'
    # The admin user still reads the workflow (get_workflow_execution honours is_admin),
    # and so learns its project; Bob may not borrow it.
    project = client_of(mistral, st2, SERVICE).executions.get(execution.id).project_id
    assert complete(BOB, project=project).status_code == 401
    assert alice.executions.get(execution.id).state == 'RUNNING'
    # Acting in Alice's project (what the relay does then), the admin user completes it.
    done = complete(SERVICE, project=project)
    assert done.status_code == 200, done.text
    assert mistral.wait_for_execution(execution.id, client=alice).state == 'SUCCESS'


def test_trust_the_relay_completes_another_users_action_on_every_release(mistral, st2):
    """What the st2 side does with an st2 child's result, with its service token:
    on Mistral before 22 it needs the workflow's project (note [3])."""
    alice, execution, action, _ = alices_running_action(mistral, st2)
    conf = cfg.ConfigOpts()
    st2_side_config.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('use_st2_token', True, group='mistral')     # auth_type = st2
    conf.set_override('st2_service_token', SERVICE, group='mistral')
    service = mistral_api.Client(mistral.api_url, auth_token=SERVICE)
    outcome = child_results.ChildResults(service, conf).deliver(
        action.id, 'succeeded', {'answer': 42}, execution_id='st2-child',
        workflow_execution_id=execution.id)
    assert outcome == child_results.DELIVERED
    assert mistral.wait_for_execution(execution.id, client=alice).state == 'SUCCESS'
    assert alice.action_executions.get(action.id).output == '{"result": {"answer": 42}}'


def test_trust_no_token_in_the_state_info_of_a_failed_expression(mistral, st2):
    """Mistral 18-22 append the data context to the error: with auth on it holds the
    request's token (``openstack.auth_token``) besides the env's (note [1])."""
    alice = client_of(mistral, st2, ALICE)
    name = unique('alice_bad_expr')
    alice.workflows.create("version: '2.0'\n%s:\n  tasks:\n    t:\n"
                           "      action: std.echo output=<%% regex_match('a1', 'a(') %%>\n"
                           % name)
    env = contract.build_env('5f0c4d1e2a3b4c5d6e7f8092', st2.api_url, auth_token=ALICE)
    execution = alice.executions.create(name, env=env)
    assert mistral.wait_for_execution(execution.id, client=alice).state == 'ERROR'
    (task,) = alice.tasks.list(workflow_execution_id=execution.id)
    for state_info in (alice.tasks.get(task.id).state_info,
                       alice.executions.get(execution.id).state_info):
        assert 'regex_match: invalid regular expression' in state_info
        assert ALICE not in state_info


def test_trust_users_updates_spooled_at_sigkill_reach_st2_after_restart(st2, tmp_path):
    # Issue 16 point 2 with auth on: the updates of two st2 users' workflows (each
    # in a project of its own) wait in the spool while st2 refuses them, Mistral is
    # SIGKILLed, st2 recovers; the restarted process replays them without a new
    # workflow, reading the users' executions across projects (note [2]).
    server = mistral_with_st2_auth(
        st2, str(tmp_path / 'killed'), api_key='st2-key', retry_initial_delay=0.1,
        retry_max_delay=2, connect_timeout=1, read_timeout=1, unknown_execution_grace=3)
    with server:
        expected = {}
        for token in (ALICE, BOB):
            user = client_of(server, st2, token)
            name = unique('kill_trust')
            user.workflows.create(WORKFLOW % name)
            st2_id = st2.add_execution(action='examples.' + name)
            st2.fail_next(503, count=10000, on=('PUT', '/api/v1/executions/' + st2_id))
            execution = user.executions.create(
                name, env=contract.build_env(st2_id, st2.api_url, auth_token=token),
                notify=[contract.ST2_NOTIFY_ENTRY])
            assert server.wait_for_execution(execution.id, client=user).state == 'SUCCESS'
            expected[st2_id] = 'succeeded'
        assert wait_spool_updates(server, expected) == expected
        wait_until(lambda: not spool_rows(server)['events'], timeout=10,
                   message='every event processed')
        server.kill()
        st2.clear_faults()

        server.start(timeout=120)       # no workflow is started after this
        st2.wait_for(lambda s: all(s.execution(i)['status'] == v for i, v in expected.items()),
                     timeout=15)
        assert all(history(st2, st2_id)[-1] == 'succeeded' for st2_id in expected)
        assert wait_lines(server, 'Adopting at start the st2 delivery spool')
