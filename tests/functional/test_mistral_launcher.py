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

"""The launcher runs a REAL Mistral 23; these tests drive it with python-mistralclient."""

import concurrent.futures
import importlib.metadata
import os
import socket
import statistics
import subprocess
import sys
import textwrap
import time

import pytest

from st2mistral.testing import mistral_launcher
from st2mistral.testing.mistral_launcher import MistralServer
from st2mistral.testing.mistral_launcher import MistralStartError
from st2mistral.testing.waiting import wait_until

WORKFLOWS = """
version: '2.0'

three_tasks:
  tasks:
    t1:
      action: std.noop
      on-success: t2
    t2:
      action: std.echo output="hello"
      publish:
        said: <% task().result %>
      on-success: t3
    t3:
      action: std.noop

failing:
  tasks:
    boom:
      action: std.fail error_data="kaboom"
"""

# One workflow execution with three tasks: launched + 3 x (launched, succeeded) + succeeded.
EVENTS_PER_THREE_TASK_RUN = 8


def process_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open('/proc/%d/stat' % pid) as f:
        return f.read().split()[2] == 'Z'  # a zombie no longer runs


def group_gone(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_for_running_action(client, wf_ex_id, timeout=10):
    def running():
        return [action for task in client.tasks.list(workflow_execution_id=wf_ex_id)
                for action in client.action_executions.list(task_execution_id=task.id)
                if action.state == 'RUNNING']

    return wait_until(running, timeout=timeout, interval=0.02,
                      message='a RUNNING action execution in %s' % wf_ex_id)[0]


def run_to_end(server, client, workflow, **kwargs):
    ex = client.executions.create(workflow, **kwargs)
    return server.wait_for_execution(ex.id, client=client, interval=0.005)


@pytest.fixture(scope='module')
def single(tmp_path_factory):
    server = MistralServer(tmp_path_factory.mktemp('mistral-single'))
    server.start()
    server.client().workflows.create(WORKFLOWS)
    yield server
    pid = server.pid
    server.stop()
    assert server.pid is None
    assert process_gone(pid)


# ------------------------------------------------------------------ single


def test_single_runs_three_task_workflow_to_success(single):
    client = single.client()

    ex = run_to_end(single, client, 'three_tasks')

    assert ex.state == 'SUCCESS', ex.state_info
    tasks = {t.name: t for t in client.tasks.list(workflow_execution_id=ex.id)}
    assert sorted(tasks) == ['t1', 't2', 't3']
    assert {t.state for t in tasks.values()} == {'SUCCESS'}
    assert '"said": "hello"' in tasks['t2'].published


def test_single_failing_workflow_goes_to_error(single):
    client = single.client()

    ex = run_to_end(single, client, 'failing')

    assert ex.state == 'ERROR'
    [task] = client.tasks.list(workflow_execution_id=ex.id)
    assert task.state == 'ERROR'
    assert 'kaboom' in task.state_info


def test_single_has_standard_and_plugin_actions(single):
    names = {a.name for a in single.client().actions.list(limit=1000)}

    assert {'std.noop', 'std.fail', 'std.echo', 'std.async_noop'} <= names
    # (distribution().entry_points: Mistral 18 and 20 run on Python 3.8 too)
    mistral_plugins = {
        ep.name for ep in importlib.metadata.distribution('mistral').entry_points
        if ep.group == 'mistral.actions'}
    assert mistral_plugins <= names


def test_single_async_action_waits_for_completion_by_api(single):
    client = single.client()
    client.workflows.create(textwrap.dedent("""
        version: '2.0'
        waits_for_callback:
          tasks:
            hold:
              action: std.async_noop
        """))
    ex = client.executions.create('waits_for_callback')

    held = wait_for_running_action(client, ex.id)
    assert client.executions.get(ex.id).state == 'RUNNING'

    client.action_executions.update(held.id, state='SUCCESS', output={'done': True})

    assert single.wait_for_execution(ex.id, client=client).state == 'SUCCESS'


def test_single_runs_concurrent_workflows_without_sqlite_locking(single):
    client = single.client()

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        ids = list(pool.map(lambda _: client.executions.create('three_tasks').id, range(20)))
    states = [single.wait_for_execution(ex_id, client=client).state for ex_id in ids]

    assert states == ['SUCCESS'] * 20
    assert single.log_lines('database is locked') == []


def test_single_runs_workflows_one_after_another_and_records_the_latency(single,
                                                                         record_property):
    # The latency is recorded, not asserted: a bound here failed under a loaded
    # machine (median 1.38 s); timing goals live in benchmarks/.
    client = single.client()
    latencies = []
    for _ in range(10):
        started = time.monotonic()
        assert run_to_end(single, client, 'three_tasks').state == 'SUCCESS'
        latencies.append(time.monotonic() - started)

    median = statistics.median(latencies)
    record_property('single_startup_s', round(single.startup_seconds, 3))
    record_property('single_three_task_median_s', round(median, 3))
    print('\nsingle: startup %.2fs, 3-task workflow median %.3fs (min %.3f, max %.3f)' % (
        single.startup_seconds, median, min(latencies), max(latencies)))


def test_single_log_file_has_oslo_format_and_no_errors(single):
    ready = single.log_lines(mistral_launcher_ready_message())

    assert ready, 'the runner did not log that it is ready'
    # oslo.log default format: "<date> <time> <pid> <LEVEL> <logger> [...] message".
    fields = ready[-1].split()
    assert fields[2] == str(single.pid)
    assert fields[3] == 'INFO'
    assert single.log_lines(' ERROR ') == []


def mistral_launcher_ready_message():
    from st2mistral.testing import mistral_single

    return mistral_single.READY_MESSAGE


@pytest.mark.parametrize('notifier_type', ['local', 'remote'])
def test_single_global_notify_reaches_publishers(tmp_path, notifier_type):
    with MistralServer(tmp_path, notifier_type=notifier_type,
                       notify=[{'type': 'noop', 'extra': [1, 2], 'other': 'x'}]) as server:
        client = server.client()
        client.workflows.create(WORKFLOWS)

        ex = run_to_end(server, client, 'three_tasks')
        assert ex.state == 'SUCCESS'

        # With the remote notifier, publishing runs after the state change
        # and in no guaranteed order.
        def published():
            return [line.split('The event ')[1].split()[0]
                    for line in server.log_lines('noop notification publisher')]

        wait_until(lambda: len(published()) >= EVENTS_PER_THREE_TASK_RUN, timeout=10,
                   interval=0.02, message=lambda: '%d events; seen %s' % (
                       EVENTS_PER_THREE_TASK_RUN, published()))
        events = published()

    assert sorted(events) == sorted(
        ['WORKFLOW_LAUNCHED'] + ['TASK_LAUNCHED', 'TASK_SUCCEEDED'] * 3
        + ['WORKFLOW_SUCCEEDED'])


def test_single_log_setup_lets_st2mistral_info_reach_the_file(tmp_path):
    """What the operator greps: INFO from a ``...stackstorm_notifier`` logger in the file."""
    server = MistralServer(tmp_path)
    server.port = mistral_launcher.free_port()
    server._write_config()
    probe = textwrap.dedent("""
        import sys
        from oslo_log import log
        from st2mistral.testing import mistral_single
        mistral_single.load_config(['--config-file', sys.argv[1]])
        name = 'st2mistral.mistral_side.notifiers.stackstorm_notifier'
        log.getLogger(name).info('[root-id] probe line')
        log.getLogger(name).debug('debug is hidden')
        """)

    subprocess.run([sys.executable, '-c', probe, server.conf_path], check=True, timeout=60,
                   capture_output=True)

    [line] = server.log_lines('stackstorm_notifier')
    logger = 'st2mistral.mistral_side.notifiers.stackstorm_notifier'
    assert ' INFO %s [-] [root-id] probe line' % logger in line
    assert server.log_lines('debug is hidden') == []


def test_single_kill_then_restart_keeps_url_and_database(tmp_path):
    server = MistralServer(tmp_path)
    try:
        server.start()
        server.client().workflows.create(WORKFLOWS)
        url, pid = server.api_url, server.pid

        server.kill()

        assert server.pid is None and process_gone(pid)
        server.start()
        assert server.api_url == url
        assert server.pid != pid
        client = server.client()
        assert run_to_end(server, client, 'three_tasks').state == 'SUCCESS'
    finally:
        server.stop()


def test_single_start_failure_raises_with_log_tail_and_leaves_nothing(tmp_path):
    server = MistralServer(
        tmp_path, config={'database': {'connection': 'sqlite:////nonexistent/dir/m.db'}})

    with pytest.raises(MistralStartError) as failure:
        server.start(timeout=60)

    assert 'exited with rc=1' in str(failure.value)
    assert 'unable to open database file' in str(failure.value)
    assert server.pid is None


def test_single_moves_to_a_free_port_when_its_port_is_taken(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(('127.0.0.1', 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        server = MistralServer(tmp_path)
        server.port = taken
        try:
            server.start()
            assert server.port != taken
            assert server.client().workflows.list() is not None
        finally:
            server.stop()

    assert server.log_lines('Address already in use')


def test_single_stop_is_idempotent_and_fast(tmp_path):
    server = MistralServer(tmp_path).start()
    pid = server.pid

    started = time.monotonic()
    server.stop()
    server.stop()

    assert time.monotonic() - started < 5
    assert process_gone(pid)
    assert server.log_lines('st2mistral single-process Mistral stopped')


def test_config_file_merges_caller_options(tmp_path):
    server = MistralServer(
        tmp_path, notify=[{'type': 'st2', 'a': 1}],
        config={'st2': {'api_url': 'http://127.0.0.1:9101/v1', 'verify': False},
                'engine': {'execution_field_size_limit_kb': 2048}})
    server.port = 12345
    server._write_config()

    with open(server.conf_path) as f:
        text = f.read()

    assert os.stat(server.conf_path).st_mode & 0o077 == 0
    assert 'notify = [{"type": "st2", "a": 1}]' in text
    assert ('[st2]\nstate_dir = %s\napi_url = http://127.0.0.1:9101/v1\nverify = False'
            % os.path.join(str(tmp_path), 'st2-spool')) in text
    assert 'execution_field_size_limit_kb = 2048' in text
    assert 'transport_url = fake:/' in text
    assert 'port = 12345' in text


def test_notify_must_be_a_list():
    with pytest.raises(TypeError):
        mistral_launcher.notify_option_value({'type': 'st2'})


# ------------------------------------------------------------------- stock

def _stock_or_skip():
    ok, reason = mistral_launcher.services_available()
    if not ok:
        pytest.skip('stock Mistral needs PostgreSQL and RabbitMQ: %s' % reason)


def _fresh_databases():
    conn = mistral_launcher._postgres_connect(
        mistral_launcher._reachable_postgres_admin_url(
            mistral_launcher.DEFAULT_DATABASE_ADMIN_URLS))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE datname LIKE 'st2mistral_%'")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def test_stock_runs_workflows_and_cleans_up(tmp_path, record_property):
    _stock_or_skip()
    server = MistralServer(tmp_path, topology='stock', notifier_type='remote')
    try:
        server.start(timeout=120)
        pgid = server.pid
        database = server._fresh_db.name
        assert database in _fresh_databases()
        client = server.client()
        client.workflows.create(WORKFLOWS)

        latencies = []
        for _ in range(5):
            started = time.monotonic()
            assert run_to_end(server, client, 'three_tasks').state == 'SUCCESS'
            latencies.append(time.monotonic() - started)
        assert run_to_end(server, client, 'failing').state == 'ERROR'
    finally:
        server.stop()

    record_property('stock_startup_s', round(server.startup_seconds, 3))
    record_property('stock_three_task_median_s', round(statistics.median(latencies), 3))
    print('\nstock: startup %.2fs, 3-task workflow median %.3fs' % (
        server.startup_seconds, statistics.median(latencies)))
    assert group_gone(pgid)
    assert database not in _fresh_databases()


def test_stock_instances_in_parallel_do_not_cross_talk(tmp_path):
    _stock_or_skip()
    servers = [MistralServer(tmp_path / name, topology='stock') for name in ('a', 'b')]
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda s: s.start(timeout=120), servers))
        for server in servers:
            server.client().workflows.create(WORKFLOWS)

        for server in servers:
            for _ in range(3):
                assert run_to_end(server, server.client(), 'three_tasks').state == 'SUCCESS'

        # Each engine only ever saw the start requests of its own API.
        for server in servers:
            received = server.log_lines("Received RPC request 'start_workflow'")
            assert len(received) == 3
    finally:
        for server in servers:
            server.stop()
