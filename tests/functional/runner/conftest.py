"""The st2 side against a REAL Mistral 23 and the strict st2 emulator.

The emulator here behaves like st2 3.4+: it calls no callback module
(``callback_attempts=0``), so a child's result reaches Mistral only through
this project's relay. The emulator has no event stream, so ``StreamStandIn``
plays st2's ``/stream``: it watches the emulator's executions and hands every
status change, read through the emulator's real ``GET /executions/<id>``, to
``Service.on_execution_update`` (what the stream follower calls).
"""

import threading
import time
import uuid

from oslo_config import cfg
import pytest
import requests

from st2mistral.runner import clients
from st2mistral.runner import config
from st2mistral.runner import definitions
from st2mistral.runner import launcher
from st2mistral.runner import service
from st2mistral.testing import mistral_launcher
from st2mistral.testing import st2_emulator

TOKEN = 'st2-token'
API_KEY = 'st2-key'
# [engine] execution_field_size_limit_kb of this Mistral. Mistral measures a field as
# sys.getsizeof(str(value)): text with any character above U+00FF counts 2 (or 4)
# bytes per character, so a 2 MiB result with such text needs more than 4 MiB.
SIZE_LIMIT_KB = 5120

# st2 actions these tests call through st2.action, with their parameters.
ACTIONS = {
    'examples.echo': {'msg': {'type': 'string', 'required': True},
                      'n': {'type': 'integer'}},
    'examples.slow': {},
    'examples.flaky': {'item': {'type': 'string'}},
    'examples.ok': {'item': {'type': 'string'}},
    'examples.big': {},
}


def lookup(ref):
    if ref in ACTIONS:
        return definitions.ActionInfo(ref, ACTIONS[ref])
    return None


@pytest.fixture(scope='package')
def st2_emulator_34():
    with st2_emulator.St2Emulator(tokens=(TOKEN,), api_keys=(API_KEY,),
                                  callback_attempts=0) as emulator:
        yield emulator


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
    yield st2_emulator_34
    st2_emulator_34.reset()


def st2_conf(mistral, st2, tracking_dir):
    """st2.conf as the operator writes it, as a ConfigOpts (fast retries)."""
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    for name, value in dict(v2_base_url=mistral.api_url, retry_exp_msec=50,
                            retry_exp_max_msec=500, retry_stop_max_msec=10000,
                            jitter_interval=0.0, st2_api_key=API_KEY,
                            tracking_dir=str(tracking_dir)).items():
        conf.set_override(name, value, group='mistral')
    conf.set_override('api_url', st2.base_url + '/api', group='auth')
    conf.set_override('query_interval', 0.05, group='resultstracker')
    return conf


def st2_conf_file(mistral, st2, tracking_dir, path):
    path.write_text(
        '[mistral]\nv2_base_url = %s\nst2_api_key = %s\ntracking_dir = %s\n'
        'retry_exp_msec = 50\njitter_interval = 0\n[auth]\napi_url = %s\n'
        % (mistral.api_url, API_KEY, tracking_dir, st2.base_url + '/api'))
    return str(path)


class Side:
    """The st2 side as one test uses it: runner logic, relay service, Mistral client."""

    def __init__(self, mistral, st2, tmp_path):
        self.mistral = mistral
        self.st2 = st2
        self.tracking_dir = tmp_path / 'tracking'
        self.conf = st2_conf(mistral, st2, self.tracking_dir)
        self.client = clients.mistral(self.conf)
        self.launcher = launcher.Launcher(self.client, self.conf, lookup=lookup)
        self.service = service.Service(self.conf)

    def request(self, definition, action_ref, execution_id, parameters=None, push=True,
                runner_parameters=None):
        return launcher.StartRequest(
            action_ref=action_ref, definition=definition, parameters=parameters or {},
            execution_id=execution_id, api_url=self.st2.api_url,
            public_api_url=config.public_api_url(self.conf),
            runner_parameters=runner_parameters or {}, context={'user': 'st2admin'},
            auth_token=TOKEN, push=push)

    def start(self, definition, action_ref, **kw):
        """Like st2: the st2 execution exists, then the runner starts the workflow."""
        st2_id = self.st2.add_execution(action=action_ref, runner='mistral-v2')
        request = self.request(definition, action_ref, st2_id, **kw)
        status, result, context = self.launcher.start(request)
        assert (status, result) == ('running', {'tasks': []})
        return st2_id, request, context

    def wait_state(self, ex_id, states=mistral_launcher.TERMINAL_STATES, timeout=30):
        return self.mistral.wait_for_execution(ex_id, states=states, timeout=timeout,
                                               client=self.client)

    def task(self, ex_id, name):
        (found,) = [t for t in self.client.tasks.list(workflow_execution_id=ex_id)
                    if t.name == name]
        return found

    def wait_task(self, ex_id, name, states, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            tasks = [t for t in self.client.tasks.list(workflow_execution_id=ex_id)
                     if t.name == name]
            if tasks and tasks[-1].state in states:
                return tasks[-1]
            assert time.monotonic() < deadline, 'task %s not in %s: %s' % (
                name, states, [t.state for t in tasks])
            time.sleep(0.02)


@pytest.fixture
def side(mistral, st2, tmp_path):
    return Side(mistral, st2, tmp_path)


class StreamStandIn:
    """Stands in for st2's event stream, which the emulator does not serve."""

    def __init__(self, st2, handler, interval=0.01):
        self._st2 = st2
        self._handler = handler
        self._interval = interval
        self._seen = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.errors = []

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    def _run(self):
        session = requests.Session()
        while not self._stop.wait(self._interval):
            for ex in self._st2.executions():
                if self._seen.get(ex['id']) == ex['status']:
                    continue
                self._seen[ex['id']] = ex['status']
                try:
                    doc = session.get('%s/executions/%s' % (self._st2.api_url, ex['id']),
                                      headers={'St2-Api-Key': API_KEY}, timeout=5).json()
                    self._handler(doc)
                except Exception as e:  # a test asserts on errors
                    self.errors.append(e)


@pytest.fixture
def stream(side):
    standin = StreamStandIn(side.st2, side.service.on_execution_update).start()
    yield standin
    standin.stop()
    assert not standin.errors


def unique(name):
    return '%s_%s' % (name, uuid.uuid4().hex[:8])
