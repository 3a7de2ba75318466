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

"""st2 unreachable, slow or refusing while a real Mistral 23 keeps finishing
workflows: every st2 execution still reaches its true final status, in order.

Each test asserts what the strict st2 emulator received (its per-execution
``history`` records every applied status) and the publisher's log lines.
"""

import time

import pytest

from st2mistral.core import contract
from st2mistral.testing import mistral_launcher
from st2mistral.testing.st2_emulator import new_object_id
from st2mistral.testing.waiting import wait_until
from tests.functional.conftest import API_KEY
from tests.functional.conftest import TOKEN
from tests.functional.conftest import add_st2_execution
from tests.functional.conftest import st2_put
from tests.functional.conftest import unique
from tests.functional.faults.conftest import fault_config
from tests.functional.faults.conftest import history
from tests.functional.faults.conftest import notifier_lines
from tests.functional.faults.conftest import spool_rows
from tests.functional.faults.conftest import start_execution
from tests.functional.faults.conftest import wait_lines
from tests.functional.faults.conftest import wait_mistral_states
from tests.functional.faults.conftest import wait_spool_empty
from tests.functional.faults.conftest import wait_spool_updates
from tests.functional.notifiers.test_stackstorm_notifier import async_wf
from tests.functional.notifiers.test_stackstorm_notifier import simple_wf
from tests.functional.notifiers.test_stackstorm_notifier import wait_action_running

OUTAGE_SECONDS = 60
RECOVERY_LIMIT = 30
WORKFLOWS = 100


@pytest.fixture(scope='module')
def mistral(st2_emulator, tmp_path_factory):
    server = mistral_launcher.MistralServer(str(tmp_path_factory.mktemp('outage')),
                                            config=fault_config(st2_emulator))
    with server:
        yield server


def answered_puts(st2, st2_id):
    """(status sent, HTTP answer) of every PUT st2 received for ``st2_id``."""
    return [(r.body['status'], r.status)
            for r in st2.requests_for('PUT', '/api/v1/executions/' + st2_id)]


def spooled_ids(mistral):
    """st2 execution ids with an update still waiting in the spool."""
    return [u['target']['execution_id'] for u in spool_rows(mistral)['updates']]


def assert_clean_log(mistral):
    assert not mistral.log_lines('Exception in thread'), 'a publisher thread died'
    assert not mistral.log_lines(TOKEN) and not mistral.log_lines(API_KEY)


@pytest.mark.slow
def test_st2_down_60s_while_100_workflows_finish(mistral, st2):
    client = mistral.client()
    ok_wf, fail_wf = unique('outage_ok'), unique('outage_fail')
    client.workflows.create(simple_wf(ok_wf, tasks=2))
    client.workflows.create(simple_wf(fail_wf, tasks=2, fail=True))

    st2.go_down()
    down_at = time.monotonic()
    expected = {}                        # Mistral execution id -> (st2 id, final st2 status)
    for i in range(WORKFLOWS):
        workflow, status = (fail_wf, 'failed') if i % 4 == 0 else (ok_wf, 'succeeded')
        ex_id, st2_id = start_execution(client, st2, workflow)
        expected[ex_id] = (st2_id, status)

    states = wait_mistral_states(client, expected, timeout=OUTAGE_SECONDS - 10)
    mistral_status = {'SUCCESS': 'succeeded', 'ERROR': 'failed'}
    assert {ex: mistral_status[s] for ex, s in states.items()} == {
        ex: status for ex, (_, status) in expected.items()}
    assert time.monotonic() - down_at < OUTAGE_SECONDS, 'workflows outlasted the outage'

    # While st2 is down nothing reaches it, and the newest update of every
    # execution waits in the durable spool.
    st2_final = dict(expected.values())
    assert wait_spool_updates(mistral, st2_final) == st2_final
    assert all(history(st2, st2_id) == ['running'] for st2_id in st2_final)

    time.sleep(max(0.0, down_at + OUTAGE_SECONDS - time.monotonic()))  # the outage itself
    st2.come_up()
    up_at = time.monotonic()

    def all_final(emulator):
        return all(emulator.execution(st2_id)['status'] == status
                   for st2_id, status in st2_final.items())
    st2.wait_for(all_final, timeout=RECOVERY_LIMIT, interval=0.1)
    recovery = time.monotonic() - up_at
    print('recovered %d executions %.1f s after st2 came back' % (len(st2_final), recovery))

    # The trace: tries that failed, the stale LAUNCHED superseded (never sent),
    # the final update published once, no ERROR.
    for ex_id, (_, status) in expected.items():
        event = 'WORKFLOW_SUCCEEDED' if status == 'succeeded' else 'WORKFLOW_FAILED'
        assert len(wait_lines(mistral, '[%s] The workflow event %s for %s is published '
                                       'to st2.' % (ex_id, event, ex_id))) == 1
        # LAUNCHED never reaches st2: superseded by the final update while it waited,
        # or, when the notifier handled it after the workflow had finished, skipped
        # as stale (which of the two depends on timing).
        launched = '[%s] The workflow event WORKFLOW_LAUNCHED for %s ' % (ex_id, ex_id)
        assert len(notifier_lines(mistral, launched + 'is superseded by %s' % event)
                   + notifier_lines(mistral, launched + 'is not published to st2: the '
                                    'workflow is')) == 1
        assert notifier_lines(mistral, '[%s] ' % ex_id, 'is not yet published to st2 (try 1)',
                              'cannot connect to st2', 'Will retry.')
        assert not notifier_lines(mistral, 'WORKFLOW_LAUNCHED for %s is published' % ex_id)
        # The level, not the state: "the workflow is ERROR now" (a stale LAUNCHED of a
        # failed workflow) is an INFO line.
        assert not notifier_lines(mistral, '[%s] ' % ex_id, ' ERROR st2mistral.')
    wait_spool_empty(mistral)

    for ex_id, (st2_id, status) in expected.items():
        # No regression, no duplicate: the stale ``running`` was superseded, so
        # st2 got exactly one update per execution, the final one.
        assert history(st2, st2_id) == ['running', status], ex_id
        assert answered_puts(st2, st2_id) == [(status, 200)], ex_id
    assert_clean_log(mistral)


def test_pause_during_outage_reaches_st2_without_running_after_paused(mistral, st2):
    client = mistral.client()
    name = unique('outage_pause')
    client.workflows.create(async_wf(name))
    st2.go_down()
    runs = [start_execution(client, st2, name) for _ in range(3)]
    actions = {ex_id: wait_action_running(client, ex_id) for ex_id, _ in runs}
    for ex_id, _ in runs:
        client.executions.update(ex_id, 'PAUSED')
    wait_mistral_states(client, actions, states=('PAUSED',), timeout=20)
    # The stale ``running`` (LAUNCHED) was replaced by ``paused`` in the spool.
    paused = {st2_id: 'paused' for _, st2_id in runs}
    assert wait_spool_updates(mistral, paused) == paused

    st2.come_up()
    for ex_id, st2_id in runs:
        st2.wait_for_status(st2_id, 'paused', timeout=15)
        assert history(st2, st2_id) == ['running', 'pausing', 'paused'], ex_id
        assert not notifier_lines(mistral, 'WORKFLOW_LAUNCHED for %s is published' % ex_id)
        assert wait_lines(mistral, 'WORKFLOW_PAUSED for %s is published to st2.' % ex_id)

    for ex_id, st2_id in runs:
        client.executions.update(ex_id, 'RUNNING')
        st2.wait_for(lambda s, i=st2_id: history(s, i)[-1] == 'running', timeout=15)
        client.action_executions.update(actions[ex_id].id, 'SUCCESS', output={'result': 1})
    for ex_id, st2_id in runs:
        st2.wait_for_status(st2_id, 'succeeded', timeout=15)
        assert history(st2, st2_id) == ['running', 'pausing', 'paused', 'running',
                                        'succeeded'], ex_id
    assert_clean_log(mistral)


def _one_task(client):
    name = unique('fault')
    client.workflows.create(simple_wf(name, tasks=1))
    return name


@pytest.mark.parametrize('status', [429, 502, 503])
def test_busy_st2_answers_are_retried(mistral, st2, status):
    client = mistral.client()
    name = _one_task(client)
    st2_id = add_st2_execution(st2, name)
    st2.fail_next(status, count=4, on=st2_put(st2_id))
    ex_id, st2_id = start_execution(client, st2, name, st2_id=st2_id)
    st2.wait_for_status(st2_id, 'succeeded', timeout=20)
    assert history(st2, st2_id) == ['running', 'succeeded']
    assert [s for _, s in answered_puts(st2, st2_id)].count(status) == 4
    assert notifier_lines(mistral, '[%s] ' % ex_id, 'is not yet published to st2 (try 1)',
                          'HTTP %d' % status, 'Will retry.')
    assert wait_lines(mistral, 'WORKFLOW_SUCCEEDED for %s is published to st2.' % ex_id)
    assert not notifier_lines(mistral, '[%s] ' % ex_id, ' ERROR ')


def test_hanging_st2_is_timed_out_and_retried(mistral, st2):
    client = mistral.client()
    name = _one_task(client)
    st2.hang(3)
    ex_id, st2_id = start_execution(client, st2, name)
    st2.wait_for_status(st2_id, 'succeeded', timeout=20)
    assert history(st2, st2_id) == ['running', 'succeeded']
    held = [put for put in answered_puts(st2, st2_id) if put[1] == 0]
    assert held, 'no request was held unanswered'   # so nothing was applied twice
    assert notifier_lines(mistral, '[%s] ' % ex_id, 'st2 did not answer PUT', 'Will retry.')
    assert not notifier_lines(mistral, '[%s] ' % ex_id, ' ERROR ')


def test_unknown_execution_is_retried_until_st2_knows_it(mistral, st2):
    client = mistral.client()
    name = _one_task(client)
    st2_id = new_object_id()       # st2 has not recorded the execution yet
    ex_id = client.executions.create(
        name, env=contract.build_env(st2_id, st2.api_url, auth_token=TOKEN),
        notify=[contract.ST2_NOTIFY_ENTRY]).id
    st2.wait_for(lambda s: any(r.status == 404 for r in s.requests_for('PUT')), timeout=10)
    st2.add_execution(execution_id=st2_id, action='examples.' + name)
    st2.wait_for_status(st2_id, 'succeeded', timeout=10)
    assert history(st2, st2_id) == ['running', 'succeeded']
    assert notifier_lines(mistral, '[%s] ' % ex_id, 'HTTP 404', 'Will retry.')
    assert not notifier_lines(mistral, '[%s] ' % ex_id, ' ERROR ')


def test_execution_st2_never_knows_is_given_up_once_with_the_command(mistral, st2):
    client = mistral.client()
    name = _one_task(client)
    st2_id = new_object_id()
    ex_id = client.executions.create(
        name, env=contract.build_env(st2_id, st2.api_url, auth_token=TOKEN),
        notify=[contract.ST2_NOTIFY_ENTRY]).id
    wait_mistral_states(client, [ex_id])
    wait_lines(mistral, '[%s] ' % ex_id, ' ERROR ', 'WORKFLOW_SUCCEEDED', timeout=15)
    (line,) = notifier_lines(mistral, '[%s] ' % ex_id, ' ERROR ')
    assert 'could not be published to st2 execution %s (HTTP 404)' % st2_id in line
    assert 'run "st2-track-result %s --config-dir /etc/st2"' % st2_id in line
    # Nothing more is tried for it, shown by counts rather than by waiting: the
    # spool (which mirrors what the sender still holds) has no update for it
    # left, and st2 saw exactly one PUT per try the trace logs.
    wait_until(lambda: st2_id not in spooled_ids(mistral), timeout=5,
               message=lambda: 'no spooled update for %s: %s' % (st2_id, spooled_ids(mistral)))
    retries = notifier_lines(mistral, '[%s] ' % ex_id, 'is not yet published to st2 (try')
    puts = st2.requests_for('PUT', '/api/v1/executions/' + st2_id)
    assert [p.status for p in puts] == [404] * (len(retries) + 1)


def test_final_client_error_is_given_up_once_with_the_command(mistral, st2):
    client = mistral.client()
    name = unique('fault_400')
    client.workflows.create(async_wf(name))
    ex_id, st2_id = start_execution(client, st2, name)
    action = wait_action_running(client, ex_id)
    st2.wait_for(lambda s: answered_puts(s, st2_id) == [('running', 200)], timeout=10)
    st2.fail_next(400, body={'faultstring': 'Failed updating execution.'}, on=st2_put(st2_id))
    client.action_executions.update(action.id, 'SUCCESS', output={'result': 1})
    wait_mistral_states(client, [ex_id])
    st2.wait_for(lambda s: ('succeeded', 400) in answered_puts(s, st2_id), timeout=10)
    wait_lines(mistral, '[%s] ' % ex_id, ' ERROR ')
    (line,) = notifier_lines(mistral, '[%s] ' % ex_id, ' ERROR ')
    assert 'WORKFLOW_SUCCEEDED for %s could not be published to st2 execution %s (HTTP 400)' \
        % (ex_id, st2_id) in line
    assert 'st2-track-result %s' % st2_id in line
    assert history(st2, st2_id) == ['running']
    assert answered_puts(st2, st2_id) == [('running', 200), ('succeeded', 400)]


def test_expired_token_falls_back_to_the_api_key(mistral, st2):
    client = mistral.client()
    name = _one_task(client)
    st2.expire_token(TOKEN)
    ex_id, st2_id = start_execution(client, st2, name)
    st2.wait_for_status(st2_id, 'succeeded', timeout=10)
    assert history(st2, st2_id) == ['running', 'succeeded']
    puts = st2.requests_for('PUT', '/api/v1/executions/' + st2_id)
    assert [(bool(p.headers.get('X-Auth-Token')), p.status) for p in puts][:2] == [
        (True, 401), (False, 200)]
    assert all(p.headers.get('St2-Api-Key') == API_KEY for p in puts if p.status == 200)
    # The key is used because st2's record of the execution names this workflow.
    assert st2.requests_for('GET', '/api/v1/executions/' + st2_id)
    assert mistral.log_lines('st2 refused the token of %s for st2 execution %s' % (ex_id, st2_id))
    assert wait_lines(mistral, 'WORKFLOW_SUCCEEDED for %s is published to st2.' % ex_id)
    assert_clean_log(mistral)
