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

"""The Mistral process running the st2 publisher is killed with SIGKILL between
accepting an event and st2 taking the update, then started again on the same
database and state directory: nothing is lost.

A restarted process adopts and replays a spool left with entries a couple
of seconds after it starts, without a workflow event (mistral_side/startup.py):
test_spooled_updates_reach_st2_after_restart_without_a_new_workflow shows it;
the other tests run one more workflow after the restart, as any live Mistral
soon would.
"""

import re
import sqlite3
import time

import pytest

from st2mistral.testing import mistral_launcher
from st2mistral.testing.waiting import wait_until
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
from tests.functional.notifiers.test_stackstorm_notifier import simple_wf

REPLAY_LINE = re.compile(r'st2 delivery spool (\S+): (\d+) entries \((\d+) bytes\) to replay\.')


@pytest.fixture
def mistral(st2_emulator, tmp_path):
    server = mistral_launcher.MistralServer(str(tmp_path / 'killed'),
                                            config=fault_config(st2_emulator))
    with server:
        yield server


def replays(mistral):
    """(pid, entries) of every 'to replay' line, oldest first."""
    found = []
    for line in notifier_lines(mistral, 'to replay.'):
        match = REPLAY_LINE.search(line)
        found.append((int(line.split()[2]), int(match.group(2))))
    return found


def restart_and_trigger(mistral, st2, client_workflow):
    """Start the killed server again and run one workflow to load the publisher."""
    mistral.start()
    client = mistral.client()
    trigger = start_execution(client, st2, client_workflow)
    wait_mistral_states(client, [trigger[0]])
    return client, trigger


def wait_spool_events_processed(mistral, timeout=10):
    wait_until(lambda: not spool_rows(mistral)['events'], timeout=timeout,
               message=lambda: 'no spooled event left; still %s' % spool_rows(mistral)['events'])


def test_updates_waiting_for_st2_survive_sigkill(mistral, st2):
    client = mistral.client()
    ok_wf, fail_wf = unique('kill_ok'), unique('kill_fail')
    client.workflows.create(simple_wf(ok_wf, tasks=2))
    client.workflows.create(simple_wf(fail_wf, tasks=2, fail=True))
    st2.go_down()
    expected = {}
    for i in range(10):
        workflow, status = (fail_wf, 'failed') if i % 3 == 0 else (ok_wf, 'succeeded')
        ex_id, st2_id = start_execution(client, st2, workflow)
        expected[ex_id] = (st2_id, status)
    wait_mistral_states(client, expected)
    st2_final = dict(expected.values())
    assert wait_spool_updates(mistral, st2_final) == st2_final
    wait_spool_events_processed(mistral)

    first_pid = mistral.pid
    mistral.kill()
    # What the dead process left: exactly the ten final updates, nothing else.
    assert {u['target']['execution_id']: u['status']
            for u in spool_rows(mistral)['updates']} == st2_final
    st2.come_up()
    assert all(history(st2, st2_id) == ['running'] for st2_id in st2_final)

    client, (trigger_id, trigger_st2_id) = restart_and_trigger(mistral, st2, ok_wf)
    st2_final[trigger_st2_id] = 'succeeded'
    st2.wait_for(lambda s: all(s.execution(i)['status'] == v for i, v in st2_final.items()),
                 timeout=15)
    for st2_id, status in st2_final.items():
        assert history(st2, st2_id) == ['running', status]
    wait_spool_empty(mistral)

    assert replays(mistral) == [(first_pid, 0), (mistral.pid, 10)]
    for ex_id, (_, status) in expected.items():
        event = 'WORKFLOW_SUCCEEDED' if status == 'succeeded' else 'WORKFLOW_FAILED'
        (line,) = wait_lines(mistral, 'The workflow event %s for %s is published' % (event, ex_id))
        assert int(line.split()[2]) == mistral.pid, 'delivered by the restarted process'
    assert wait_lines(mistral, 'WORKFLOW_SUCCEEDED for %s is published' % trigger_id)


def _restart_quietly(mistral, st2):
    """Five updates spooled while st2 is down, SIGKILL, st2 back, Mistral started
    again and NO workflow started: st2 must get them within 10 s of Mistral being up."""
    client = mistral.client()
    name = unique('kill_quiet')
    client.workflows.create(simple_wf(name, tasks=1))
    st2.go_down()
    expected = dict(start_execution(client, st2, name) for _ in range(5))
    wait_mistral_states(client, expected)
    st2_final = {st2_id: 'succeeded' for st2_id in expected.values()}
    assert wait_spool_updates(mistral, st2_final) == st2_final
    wait_spool_events_processed(mistral)
    mistral.kill()
    st2.come_up()

    mistral.start(timeout=120)           # no workflow is started after this
    up = time.monotonic()
    st2.wait_for(lambda s: all(s.execution(i)['status'] == 'succeeded' for i in st2_final),
                 timeout=10)
    print('delivered %.1f s after Mistral was up again' % (time.monotonic() - up))
    for st2_id in st2_final:
        assert history(st2, st2_id) == ['running', 'succeeded']
    assert sorted(e.id for e in mistral.client().executions.list()) == sorted(expected)
    assert wait_lines(mistral, 'Adopting at start the st2 delivery spool')
    wait_spool_empty(mistral)


def test_spooled_updates_reach_st2_after_restart_without_a_new_workflow(mistral, st2):
    _restart_quietly(mistral, st2)
    assert replays(mistral)[-1] == (mistral.pid, 5)


@pytest.mark.skipif(not mistral_launcher.services_available()[0],
                    reason='the stock topology needs RabbitMQ and PostgreSQL')
def test_stock_mistral_server_replays_at_start_too(st2_emulator, st2, tmp_path):
    # mistral-server --server all forks a child per service after parsing its
    # configuration: the children adopt the spool, not the launcher.
    server = mistral_launcher.MistralServer(str(tmp_path / 'stock'), topology='stock',
                                            config=fault_config(st2_emulator))
    with server.start(timeout=120):
        _restart_quietly(server, st2)
        pids = {int(line.split()[2]) for line in
                notifier_lines(server, 'Adopting at start the st2 delivery spool')}
        assert server.pid not in pids                       # a child, not the launcher


def test_request_held_by_st2_when_killed_is_sent_again(mistral, st2):
    client = mistral.client()
    name = unique('kill_held')
    client.workflows.create(simple_wf(name, tasks=1))
    st2.hang(120)                        # st2 takes requests and never answers
    ex_id, st2_id = start_execution(client, st2, name)
    wait_mistral_states(client, [ex_id])
    st2.wait_for(lambda s: any(r.body['status'] == 'succeeded' for r in
                               s.requests_for('PUT', '/api/v1/executions/' + st2_id)))
    mistral.kill()
    left = spool_rows(mistral)
    assert [u['status'] for u in left['updates']] == ['succeeded']
    st2.hang(0)                          # st2 answers again (nothing held was applied)

    restart_and_trigger(mistral, st2, name)
    st2.wait_for_status(st2_id, 'succeeded')
    wait_spool_empty(mistral)            # removed once st2's answer came back
    assert history(st2, st2_id) == ['running', 'succeeded']
    answers = [(r.body['status'], r.status)
               for r in st2.requests_for('PUT', '/api/v1/executions/' + st2_id)]
    assert answers[-1] == ('succeeded', 200)
    assert all(code == 0 for _, code in answers[:-1])   # before the kill: held, unanswered
    assert replays(mistral)[-1] == (mistral.pid, len(left['events']) + 1)


# Big task results make building the final update take a while (reading and
# cutting ~3 MB), long enough to kill the process while it is at it.
BIG_WF = """
version: '2.0'
%s:
  tasks:
    big:
      with-items: i in <%% range(6) %%>
      action: std.echo output=<%% str($.i) * 500000 %%>
"""


def _spooled_events(mistral):
    try:
        return spool_rows(mistral)['events']
    except sqlite3.OperationalError:     # not created yet by the publisher
        return []


def test_event_not_yet_processed_when_killed_is_replayed(mistral, st2):
    client = mistral.client()
    name = unique('kill_event')
    client.workflows.create(BIG_WF % name)
    ex_id, st2_id = start_execution(client, st2, name)

    wait_until(lambda: any(e['event'] == 'WORKFLOW_SUCCEEDED' and e['ex_id'] == ex_id
                           for e in _spooled_events(mistral)),
               timeout=60, interval=0.002, message='the WORKFLOW_SUCCEEDED event to be spooled')
    mistral.kill()
    left = spool_rows(mistral)
    assert ('WORKFLOW_SUCCEEDED', ex_id) in [(e['event'], e['ex_id']) for e in left['events']]
    assert 'succeeded' not in [u['status'] for u in left['updates']]   # not processed yet
    assert not notifier_lines(mistral, 'WORKFLOW_SUCCEEDED for %s will be published' % ex_id)
    assert st2.execution(st2_id)['status'] == 'running'

    restart_and_trigger(mistral, st2, name)
    st2.wait_for_status(st2_id, 'succeeded', timeout=20)
    assert history(st2, st2_id) == ['running', 'succeeded']
    result = st2.execution(st2_id)['result']
    assert [t['name'] for t in result['tasks']] == ['big']
    assert 'st2mistral_truncated' in result           # 3 MB > the 1 MiB default
    wait_spool_empty(mistral)
    pid, entries = replays(mistral)[-1]
    assert pid == mistral.pid and entries == len(left['events']) + len(left['updates'])
    (line,) = wait_lines(mistral, 'WORKFLOW_SUCCEEDED for %s is published' % ex_id)
    assert int(line.split()[2]) == mistral.pid
