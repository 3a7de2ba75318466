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

"""The st2 side against a REAL Mistral 23 and the strict st2 emulator.

The emulator here behaves like st2 3.9 (``version='3.9'``): it calls no
callback module (``callback_attempts=0``), so a child's result reaches Mistral
only through this project's relay, and it refuses to pause a mistral-v2
execution through its API. The st2common stand-in (tests/unit/runner/
st2common_standin) is bound to the emulator, so st2_adapter.St2Records reads
and writes the same st2 the API shows. The ``stream`` fixture runs the real
relay service (``Relay.start``, what ``st2mistral-relay`` runs) in threads:
it follows the emulator's server-sent event stream over HTTP and runs its
reconciliation jobs. ``RelayProcess`` runs the console script itself (with
st2common stand-in on its path), for restarts.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

from oslo_config import cfg
import pytest
import requests

from st2mistral.st2_side import clients
from st2mistral.st2_side import config
from st2mistral.st2_side import definitions
from st2mistral.st2_side import launcher
from st2mistral.st2_side import relay_service
from st2mistral.testing import mistral_launcher
from st2mistral.testing import st2_emulator
from st2mistral.testing.waiting import wait_until
from tests.unit.runner import standin

TOKEN = 'st2-token'
API_KEY = 'st2-key'
# [engine] execution_field_size_limit_kb of this Mistral. Mistral measures a field as
# sys.getsizeof(str(value)): text with any character above U+00FF counts 2 (or 4)
# bytes per character, so a 2 MiB result with such text needs more than 4 MiB.
SIZE_LIMIT_KB = 5120
# st2 sends a keep-alive newline every 25 s; a short one makes the emulator notice a
# client that went away (it only sees it when a write fails) within a fraction of a second.
STREAM_HEARTBEAT = 0.2

# st2 actions these tests call through st2.action, with their parameters.
ACTIONS = {
    'examples.echo': {'msg': {'type': 'string', 'required': True},
                      'n': {'type': 'integer'}},
    'examples.slow': {},
    'examples.flaky': {'item': {'type': 'string'}},
    'examples.ok': {'item': {'type': 'string'}},
    'examples.big': {},
    'core.local': {'cmd': {'type': 'string', 'required': True}},
}


def lookup(ref):
    if ref in ACTIONS:
        return definitions.ActionInfo(ref, ACTIONS[ref])
    return None


@pytest.fixture(scope='package')
def st2_emulator_34():
    st2common = standin.install()
    with st2_emulator.St2Emulator(tokens=(TOKEN,), api_keys=(API_KEY,),
                                  callback_attempts=0, version='3.9',
                                  stream_heartbeat=STREAM_HEARTBEAT) as emulator:
        st2common.bind(emulator)
        yield emulator
        st2common.bind(None)


def tracked_rows():
    """st2's ActionExecutionStateDB rows (the stand-in's table)."""
    from st2common.persistence import executionstate

    return executionstate.ROWS


@pytest.fixture(scope='package')
def mistral(st2_emulator_34, tmp_path_factory):
    st2 = st2_emulator_34
    conf = {'st2': {'api_url': st2.api_url, 'auth_url': st2.auth_url,
                    'retry_initial_delay': 0.05, 'retry_max_delay': 0.5,
                    'unknown_execution_grace': 5},
            'engine': {'execution_field_size_limit_kb': SIZE_LIMIT_KB}}
    workdir = str(tmp_path_factory.mktemp('mistral_runner'))
    with mistral_launcher.MistralServer(workdir, config=conf) as server:
        yield server


@pytest.fixture
def st2(st2_emulator_34):
    st2_emulator_34.reset()
    tracked_rows().clear()
    yield st2_emulator_34
    st2_emulator_34.reset()
    st2_emulator_34.version = '3.9'   # a test may emulate another st2
    tracked_rows().clear()


def st2_conf(mistral, st2):
    """st2.conf as the operator writes it, as a ConfigOpts (fast retries)."""
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    for name, value in dict(v2_base_url=mistral.api_url, retry_exp_msec=50,
                            retry_exp_max_msec=500, retry_stop_max_msec=10000,
                            jitter_interval=0.0, st2_api_key=API_KEY,
                            st2_stream_url=st2.stream_url,
                            reconcile_interval=0, pause_check_interval=1.0).items():
        conf.set_override(name, value, group='mistral')
    conf.set_override('api_url', st2.base_url + '/api', group='auth')
    conf.set_override('query_interval', 0.05, group='resultstracker')
    return conf


def st2_conf_file(mistral, st2, path):
    path.write_text(
        '[mistral]\nv2_base_url = %s\nst2_api_key = %s\n'
        'st2_stream_url = %s\nretry_exp_msec = 50\njitter_interval = 0\n'
        'reconcile_interval = 1\n'
        '[resultstracker]\nquery_interval = 0.1\nempty_q_sleep_time = 0.1\n'
        '[auth]\napi_url = %s\n'
        % (mistral.api_url, API_KEY, st2.stream_url, st2.base_url + '/api'))
    return str(path)


class Side:
    """The st2 side as one test uses it: runner logic, relay service, Mistral client."""

    def __init__(self, mistral, st2, tmp_path):
        from st2mistral.st2_side import st2_adapter  # after the stand-in is installed

        self.mistral = mistral
        self.st2 = st2
        self.conf = st2_conf(mistral, st2)
        self.client = clients.mistral(self.conf)
        self.launcher = launcher.Launcher(self.client, self.conf, lookup=lookup)
        self.records = st2_adapter.St2Records()
        self.service = self.relay()

    def relay(self):
        """A new relay service (``st2mistral-relay``) with this test's st2.conf."""
        return relay_service.Relay(self.conf, records=self.records)

    def request(self, definition, action_ref, execution_id, parameters=None, push=True,
                runner_parameters=None):
        return launcher.StartRequest(
            action_ref=action_ref, definition=definition, parameters=parameters or {},
            execution_id=execution_id, api_url=self.st2.api_url,
            public_api_url=config.public_api_url(self.conf),
            runner_parameters=runner_parameters or {}, context={'user': 'st2admin'},
            auth_token=TOKEN, push=push)

    def start(self, definition, action_ref, **kw):
        """Like st2: the st2 execution exists, the runner starts the workflow, and st2
        stores the context the runner returns on the execution."""
        st2_id = self.st2.add_execution(action=action_ref, runner='mistral-v2')
        request = self.request(definition, action_ref, st2_id, **kw)
        status, result, context = self.launcher.start(request)
        assert (status, result) == ('running', {'tasks': []})
        self.st2.update_context(st2_id, context)
        return st2_id, request, context

    def wait_state(self, ex_id, states=mistral_launcher.TERMINAL_STATES, timeout=30):
        return self.mistral.wait_for_execution(ex_id, states=states, timeout=timeout,
                                               client=self.client)

    def task(self, ex_id, name):
        (found,) = [t for t in self.client.tasks.list(workflow_execution_id=ex_id)
                    if t.name == name]
        return found

    def wait_task(self, ex_id, name, states, timeout=30):
        seen = []

        def task_there():
            seen[:] = [t for t in self.client.tasks.list(workflow_execution_id=ex_id)
                       if t.name == name]
            return seen[-1] if seen and seen[-1].state in states else None

        return wait_until(task_there, timeout=timeout, interval=0.02,
                          message=lambda: 'task %s in %s; it is in %s' % (
                              name, states, [t.state for t in seen]))


@pytest.fixture
def side(mistral, st2, tmp_path):
    return Side(mistral, st2, tmp_path)


class StreamProblems(logging.Handler):
    """Collects what the stream follower logs when an event could not be handled
    (a handler exception) or the stream broke: a test of the loop sees none."""

    LOGGER = 'st2mistral.st2_side.stream'

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        logging.getLogger(self.LOGGER).addHandler(self)
        return self

    def __exit__(self, *exc_info):
        logging.getLogger(self.LOGGER).removeHandler(self)

    def messages(self):
        return [record.getMessage() for record in self.records]


RELAY_THREADS = tuple(relay_service.thread_name(job) for job in relay_service.JOBS)


def _relay_threads():
    return {t for t in threading.enumerate() if t.name in RELAY_THREADS}  # Relay.start's


class RelayThread:
    """The real relay service of one test, run in threads the way main() runs it."""

    def __init__(self, svc, st2, problems=None):
        self.service = svc
        self.st2 = st2
        self.problems = problems  # StreamProblems seen while it ran
        self._stop = threading.Event()
        self._thread = threading.Thread(target=svc.run, args=(self._stop,),
                                        name='st2mistral-relay', daemon=True)
        self._jobs = set()

    def start(self, timeout=10):
        clients, before = self.st2.stream_clients, _relay_threads()
        self._thread.start()
        connected = self.service.jobs['children'].stream.connected
        assert connected.wait(timeout), 'the relay did not connect'
        self.st2.wait_for(lambda e: e.stream_clients > clients, timeout=timeout)
        self._jobs = _relay_threads() - before
        return self

    def stop(self, timeout=2):
        """Stops the service; it and its job threads must be gone within ``timeout``."""
        started = time.monotonic()
        self._stop.set()
        for thread in [self._thread, *self._jobs]:
            thread.join(max(timeout - (time.monotonic() - started), 0))
            assert not thread.is_alive(), '%s did not stop within %s s' % (thread.name, timeout)


@pytest.fixture
def stream(side):
    """st2's stream -> the relay service -> Mistral, for the length of one test."""
    with StreamProblems() as problems:
        relay = RelayThread(side.service, side.st2, problems).start()
        try:
            yield relay
        finally:
            relay.stop()
    assert not problems.messages()


class RelayProcess:
    """``st2mistral-relay --config-file F`` as a child process, stopped by its PID."""

    SCRIPT = os.path.join(os.path.dirname(sys.executable), 'st2mistral-relay')

    def __init__(self, conf_file, log_path):
        self.conf_file = conf_file
        self.log_path = log_path
        self.process = None

    def start(self, st2, timeout=30):
        clients = st2.stream_clients
        with open(self.log_path, 'ab') as log:
            # st2common is the stand-in (not bound to the emulator in that process).
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(
                p for p in (standin.STANDIN, os.environ.get('PYTHONPATH')) if p))
            self.process = subprocess.Popen([self.SCRIPT, '--config-file', self.conf_file],
                                            stdout=log, stderr=subprocess.STDOUT, env=env)

        def connected():
            assert self.process.poll() is None, 'st2mistral-relay exited: %s' % self.log()
            return st2.stream_clients > clients

        wait_until(connected, timeout=timeout, interval=0.02,
                   message=lambda: 'st2mistral-relay to connect: %s' % self.log())
        return self

    def kill(self):
        """Gone at once, as after a crash or a host failure."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def interrupt(self, timeout=10):
        """Ctrl-C: the service stops and main() returns."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.kill()

    def log(self):
        with open(self.log_path, encoding='utf-8', errors='replace') as log:
            return log.read()


@pytest.fixture
def relay_process(side, tmp_path):
    """A factory of relay processes that read this test's st2.conf; all killed at the end."""
    conf_file = st2_conf_file(side.mistral, side.st2, tmp_path / 'st2.conf')
    started = []

    def make():
        relay = RelayProcess(conf_file, str(tmp_path / 'st2mistral-relay.log'))
        started.append(relay)
        return relay

    make.conf_file = conf_file
    yield make
    for relay in started:
        relay.close()


def unique(name):
    return '%s_%s' % (name, uuid.uuid4().hex[:8])


def st2_put(st2, execution_id, status):
    """PUT {"status": ...} as ``st2 execution pause/resume/cancel`` does; st2's answer."""
    return requests.put('%s/executions/%s' % (st2.api_url, execution_id),
                        json={'status': status}, headers={'St2-Api-Key': API_KEY}, timeout=5)


def statuses(st2, execution_id):
    """The st2 execution's statuses, oldest first."""
    return [h['status'] for h in st2.execution(execution_id)['history']]
