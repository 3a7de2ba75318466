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

"""Start a REAL Mistral 23 as a child process, for tests, demos and benchmarks.

Two topologies:

- ``single``: our one-process runner (:mod:`st2mistral.testing.mistral_single`)
  with SQLite and the in-memory ``fake:/`` transport. Needs nothing else.
- ``stock``: the real ``mistral-server --server all`` from this virtualenv
  over RabbitMQ and a fresh PostgreSQL database made for this instance.

Example::

    with MistralServer(tmp_path) as mistral:
        client = mistral.client()
        client.workflows.create(definition)
        ex = client.executions.create('my_wf')
        assert mistral.wait_for_execution(ex.id).state == 'SUCCESS'

The server is stopped by PID (and process group for ``stock``), never by name.
"""

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid

from st2mistral.testing import waiting
from st2mistral.testing.mistral_services import DEFAULT_DATABASE_ADMIN_URLS  # noqa: F401
from st2mistral.testing.mistral_services import DEFAULT_TRANSPORT_URL
from st2mistral.testing.mistral_services import FreshPostgresDatabase
from st2mistral.testing.mistral_services import _postgres_connect  # noqa: F401
from st2mistral.testing.mistral_services import _reachable_postgres_admin_url  # noqa: F401
from st2mistral.testing.mistral_services import services_available  # noqa: F401

TOPOLOGIES = ('single', 'stock')
TERMINAL_STATES = ('SUCCESS', 'ERROR', 'CANCELLED')


LOG_FILE_NAME = 'mistral-server.log'
CONF_FILE_NAME = 'mistral.conf'

# With the fake transport, listeners are woken on delivery; this is only the
# longest they sleep when a wake-up is missed (see mistral_single).
DEFAULT_FAKE_POLL_INTERVAL = 0.01
# The interpreter (of a virtualenv with Mistral 23) that runs Mistral, when not this one.
MISTRAL_PYTHON_ENV = 'ST2MISTRAL_MISTRAL_PYTHON'

# Log lines each stock service prints once it can take work.
_STARTED_MARKERS = {
    'engine': 'Engine server started.',
    'executor': 'Executor server started.',
    'notifier': 'Notification server started.',
    'periodic': 'Periodic server started.',
}
# Mistral before 23 has no periodic server: its API runs the cron triggers.
_FIRST_WITH_PERIODIC_SERVER = 23

# Keep Mistral at INFO as operators run it; silence start-up chatter only.
# ``st2mistral=INFO`` makes sure our own loggers (stackstorm_notifier...) reach
# the file whatever a caller's logging defaults are.
_EXTRA_LOG_LEVELS = [
    'eventlet.wsgi.server=WARN',
    'oslo_service.periodic_task=INFO',
    'oslo_service.loopingcall=INFO',
    'mistral.services.periodic=INFO',
    'kazoo.client=WARN',
    'oslo_db=WARN',
    'alembic=WARN',
    'st2mistral=INFO',
]
# What the README (Mistral releases) and the devstack plugin give for Mistral < 23,
# which would log execution params, with the st2 token, at INFO through these.
_PARAMS_QUIET_LEVELS = [
    'mistral.api.controllers.v2.execution=WARN',
    'mistral.rpc.clients=WARN',
    'mistral.engine.engine_server=WARN',
]

_LOG_TAIL_LINES = 60


class MistralStartError(RuntimeError):
    """The server did not come up; the message carries the log tail."""


# ---------------------------------------------------------------- pure helpers


def free_port(host='127.0.0.1'):
    """A TCP port that was free a moment ago (the server retries if it is taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def default_log_levels(python=None):
    """oslo.log's default levels plus ours, from the interpreter that runs Mistral.

    The st2-side tests run without oslo.log (st2's virtualenv) and start Mistral
    with another interpreter (``python``): that one is asked.
    """
    try:
        from oslo_log import log as oslo_log
    except ImportError:
        if python is None:
            raise
    else:
        return oslo_log.get_default_log_levels() + _EXTRA_LOG_LEVELS
    levels = subprocess.run(
        [python, '-c', 'from oslo_log import log; print(",".join(log.get_default_log_levels()))'],
        check=True, stdout=subprocess.PIPE, universal_newlines=True, timeout=60).stdout
    return levels.strip().split(',') + _EXTRA_LOG_LEVELS


def mistral_major(python=None):
    """Major version of the Mistral that ``python`` imports (23 for 23.0.0)."""
    if python is None or python == sys.executable:
        from importlib import metadata
        return int(metadata.version('mistral').split('.')[0])
    version = subprocess.run(
        [python, '-c', 'from importlib import metadata; print(metadata.version("mistral"))'],
        check=True, stdout=subprocess.PIPE, universal_newlines=True, timeout=60).stdout
    return int(version.strip().split('.')[0])


def started_markers(major):
    """The log lines of a stock Mistral ``major`` that say each service can take work."""
    return [marker for service, marker in sorted(_STARTED_MARKERS.items())
            if service != 'periodic' or major >= _FIRST_WITH_PERIODIC_SERVER]


def build_config(*, topology, workdir, port, notifier_type, notify, database_url,
                 transport_url, auth_enable, instance_id, config=None, python=None):
    """Return mistral.conf as ``{section: {option: str}}``; caller's ``config`` wins."""
    log_path = os.path.join(workdir, LOG_FILE_NAME)
    conf = {
        'DEFAULT': {
            'transport_url': transport_url,
            'auth_type': 'none' if not auth_enable else 'keystone',
            'log_file': log_path,
            'use_stderr': 'False',
            'debug': 'False',
            'default_log_levels': ','.join(
                default_log_levels(python)
                + (_PARAMS_QUIET_LEVELS if mistral_major(python) < 23 else [])),
        },
        'api': {'host': '127.0.0.1', 'port': str(port)},
        'pecan': {'auth_enable': str(bool(auth_enable))},
        'notifier': {'type': notifier_type},
        'database': {'connection': database_url},
        # Mistral 23: a periodic server runs; the API must not run a second cron
        # loop. Before 23 the option does not exist (ignored) and the API runs them.
        'cron_trigger': {'run_in_api': 'False'},
        # The st2 publisher's durable spool lives with this instance, never
        # in the machine-wide default (/var/lib/mistral/st2mistral).
        'st2': {'state_dir': os.path.join(workdir, 'st2-spool')},
    }
    if notify is not None:
        conf['notifier']['notify'] = notify_option_value(notify)

    if topology == 'single':
        conf['executor'] = {'type': 'local'}
    else:
        # Topics are queue names on RabbitMQ: unique ones keep parallel
        # instances on the same broker from taking each other's messages.
        conf['DEFAULT']['control_exchange'] = 'st2mistral_%s' % instance_id
        conf['executor'] = {'type': 'remote'}
        for section in ('engine', 'executor', 'notifier', 'event_engine'):
            conf.setdefault(section, {})['topic'] = 'mistral_%s_%s' % (section, instance_id)
        # Leave no queues behind on the shared broker: topic queues go with
        # their consumers, reply/fanout queues expire a minute after.
        conf['oslo_messaging_rabbit'] = {
            'amqp_auto_delete': 'True', 'rabbit_transient_queues_ttl': '60'}

    for section, options in (config or {}).items():
        conf.setdefault(section, {}).update(
            {name: _ini_value(value) for name, value in options.items()})
    return conf


def notify_option_value(notify):
    """``[notifier] notify`` is a bracketed ListOpt of JSON items: a JSON list.

    oslo.config strips the brackets, splits on commas and re-joins the parts
    until each item parses as JSON, so ``json.dumps`` of the list is right.
    """
    if not isinstance(notify, (list, tuple)):
        raise TypeError('notify must be a list of publisher entries (dicts)')
    return json.dumps(list(notify))


def _ini_value(value):
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ','.join(str(v) for v in value)
    return str(value)


def render_config(conf):
    lines = []
    for section, options in conf.items():
        lines.append('[%s]' % section)
        for name, value in options.items():
            # A multi-line value would be read as a continuation; refuse it.
            if '\n' in value:
                raise ValueError('option %s.%s holds a newline' % (section, name))
            lines.append('%s = %s' % (name, value))
        lines.append('')
    return '\n'.join(lines)


# ------------------------------------------------------------------ launcher

_RUNNING = set()


@atexit.register
def _kill_leftovers():
    """Never leave a server behind when the test process ends without stop()."""
    for server in list(_RUNNING):
        server.stop(grace=0)


class MistralServer:
    """A real Mistral 23 server in a child process; see the module docstring."""

    def __init__(self, workdir, *, topology='single', notifier_type='local', notify=None,
                 config=None, database_url=None, transport_url=None, auth_enable=False,
                 env=None, python=None,
                 fake_poll_interval=DEFAULT_FAKE_POLL_INTERVAL):
        if topology not in TOPOLOGIES:
            raise ValueError('topology must be one of %s' % (TOPOLOGIES,))
        if notifier_type not in ('local', 'remote'):
            raise ValueError("notifier_type must be 'local' or 'remote'")
        self.workdir = os.path.abspath(str(workdir))
        self.topology = topology
        self.notifier_type = notifier_type
        self.notify = notify
        self.config = config or {}
        self.database_url = database_url
        self.transport_url = transport_url
        self.auth_enable = auth_enable
        self.env = env or {}
        # Mistral 23 needs Python >= 3.10: tests of the st2 side on Python 3.8 name
        # another interpreter (with Mistral installed) in ST2MISTRAL_MISTRAL_PYTHON.
        self.python = python or os.environ.get(MISTRAL_PYTHON_ENV) or sys.executable
        self.fake_poll_interval = fake_poll_interval
        self.major = None   # Mistral's major version, asked of self.python when needed

        self.instance_id = uuid.uuid4().hex[:12]
        self.conf_path = os.path.join(self.workdir, CONF_FILE_NAME)
        self.log_path = os.path.join(self.workdir, LOG_FILE_NAME)
        self.port = None
        self.startup_seconds = None
        self._proc = None
        self._log_offset = 0
        self._fresh_db = None

    # -- public properties

    @property
    def pid(self):
        return self._proc.pid if self._proc else None

    @property
    def api_url(self):
        return 'http://127.0.0.1:%s/v2' % self.port if self.port else None

    def is_running(self):
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle

    def start(self, timeout=60):
        """Write the config, prepare the database, spawn the server, wait for it."""
        if self.is_running():
            raise RuntimeError('Mistral is already running (pid %s)' % self.pid)
        if not os.path.exists(self.python):
            raise MistralStartError(
                'the Python to run Mistral with, %s, does not exist (%s): build the py311 '
                'env first (tools/test.sh -e py311 --notest)' % (self.python, MISTRAL_PYTHON_ENV))
        if self._proc is not None:  # it died on its own: reap it and its group
            self.stop(grace=0, drop_database=False)
        os.makedirs(self.workdir, exist_ok=True)
        started_at = time.monotonic()
        deadline = started_at + timeout
        if self.port is None:
            self.port = free_port()

        try:
            for attempt in range(3):
                self._write_config()
                self._log_offset = self._log_size()
                if self.topology == 'stock':
                    self._run_db_manage('upgrade', 'head', deadline=deadline)
                    self._run_db_manage('populate', deadline=deadline)
                self._spawn()
                try:
                    self._wait_ready(deadline)
                    break
                except MistralStartError:
                    port_taken = any('Address already in use' in line
                                     for line in self._new_log_lines())
                    if not port_taken or attempt == 2:
                        raise
                    # Somebody took the port between our probe and the bind.
                    self.stop(grace=0, drop_database=False)
                    self.port = free_port()
        except BaseException:
            self.stop(grace=0)  # a failed start() leaves nothing behind
            raise
        self.startup_seconds = time.monotonic() - started_at
        return self

    def stop(self, grace=5, drop_database=True):
        """SIGTERM, then SIGKILL after ``grace`` seconds; by PID (and group for 'stock')."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
            # The stock master may ignore SIGTERM and its workers may outlive it.
            self._signal(signal.SIGKILL)
            proc.wait()
            self._proc = None
            _RUNNING.discard(self)
        if drop_database and self._fresh_db is not None:
            self._fresh_db.drop()
            self._fresh_db = None

    def kill(self):
        """SIGKILL now, no clean-up in the server (fault tests). The database stays."""
        if self._proc is not None:
            self._signal(signal.SIGKILL)
            self._proc.wait()
            self._proc = None
            _RUNNING.discard(self)

    def __enter__(self):
        if not self.is_running():
            self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    # -- using the server

    def client(self, **kwargs):
        """A python-mistralclient v2 client for this server (no Keystone).

        Where python-mistralclient is not installed (st2's virtualenv), the st2
        side's own REST client, which has the same calls.
        """
        try:
            from mistralclient.api.v2 import client as mistral_client
        except ImportError:
            from st2mistral.st2_side import mistral_api

            return mistral_api.Client(self.api_url, auth_token=kwargs.get('auth_token'))
        kwargs.setdefault('auth_type', 'none')
        return mistral_client.Client(mistral_url=self.api_url, **kwargs)

    def log_lines(self, contains=None):
        try:
            with open(self.log_path, encoding='utf-8', errors='replace') as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        if contains is None:
            return lines
        return [line for line in lines if contains in line]

    def wait_for_execution(self, ex_id, states=TERMINAL_STATES, timeout=30, client=None,
                           interval=0.02):
        """Poll until the workflow execution reaches one of ``states``; return it."""
        client = client or self.client()
        seen = []

        def reached():
            execution = client.executions.get(ex_id)
            seen[:] = [execution]
            if execution.state in states:
                return execution
            if not self.is_running():
                raise RuntimeError('Mistral exited while waiting for %s\n%s' % (
                    ex_id, self._log_tail()))
            return None

        try:
            return waiting.wait_until(reached, timeout=timeout, interval=interval)
        except waiting.WaitTimeout:
            raise TimeoutError('execution %s still %s after %ss (waiting for %s): %s' % (
                ex_id, seen[0].state, timeout, '/'.join(states), seen[0].state_info)) from None

    # -- internals

    def _database_url(self):
        if self.topology == 'single':
            return self.database_url or 'sqlite:///%s' % os.path.join(self.workdir, 'mistral.db')
        if self.database_url and not self.database_url.startswith('postgresql'):
            return self.database_url  # used as is; only PostgreSQL gets a fresh database
        if self._fresh_db is None:
            candidates = [self.database_url] if self.database_url else DEFAULT_DATABASE_ADMIN_URLS
            admin_url = _reachable_postgres_admin_url(candidates)
            fresh = FreshPostgresDatabase(admin_url, 'st2mistral_%s' % self.instance_id)
            fresh.create()
            self._fresh_db = fresh
        return self._fresh_db.url

    def _write_config(self):
        if self.topology == 'single':
            transport_url = self.transport_url or 'fake:/'
        else:
            transport_url = self.transport_url or DEFAULT_TRANSPORT_URL
        conf = build_config(
            topology=self.topology, workdir=self.workdir, port=self.port,
            notifier_type=self.notifier_type, notify=self.notify,
            database_url=self._database_url(), transport_url=transport_url,
            auth_enable=self.auth_enable, instance_id=self.instance_id, config=self.config,
            python=self.python)
        fd = os.open(self.conf_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(render_config(conf))

    def _child_env(self):
        env = dict(os.environ)
        env.update(self.env)
        env['PYTHONUNBUFFERED'] = '1'
        # Mistral reads these in parse_args(); ours must be the only config.
        env.pop('MISTRAL_CONFIG_FILE', None)
        env.pop('MISTRAL_CONFIG_DIR', None)
        return env

    def _script(self, name):
        path = os.path.join(os.path.dirname(self.python), name)
        if not os.path.exists(path):
            raise MistralStartError('%s not found beside %s' % (name, self.python))
        return path

    def _command(self):
        if self.topology == 'single':
            return [self.python, '-m', 'st2mistral.testing.mistral_single',
                    '--config-file', self.conf_path,
                    '--fake-poll-interval', str(self.fake_poll_interval)]
        return [self._script('mistral-server'), '--server', 'all',
                '--config-file', self.conf_path]

    def _run_db_manage(self, *args, deadline):
        cmd = [self._script('mistral-db-manage'), '--config-file', self.conf_path] + list(args)
        with open(self.log_path, 'ab') as log:
            result = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self._child_env(), cwd=self.workdir,
                timeout=max(1, deadline - time.monotonic()))
        if result.returncode != 0:
            raise MistralStartError('mistral-db-manage %s failed (rc=%s)\n%s' % (
                ' '.join(args), result.returncode, self._log_tail()))

    def _spawn(self):
        # Appending: oslo.log writes to the same file (O_APPEND keeps lines whole);
        # this catches what is printed before logging is set up.
        with open(self.log_path, 'ab') as log:
            self._proc = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=self._child_env(), cwd=self.workdir,
                start_new_session=(self.topology == 'stock'))
        _RUNNING.add(self)

    def _signal(self, signum):
        try:
            if self.topology == 'stock':
                # The group outlives its leader while forked workers live.
                os.killpg(self._proc.pid, signum)
            elif self._proc.poll() is None:
                # Never signal a reaped PID: the system may have reused it.
                os.kill(self._proc.pid, signum)
        except ProcessLookupError:
            pass

    def _wait_ready(self, deadline):
        def ready():
            if self._proc.poll() is not None:
                raise MistralStartError('Mistral exited with rc=%s during start-up\n%s' % (
                    self._proc.returncode, self._log_tail()))
            return self._api_answers() and self._services_started()

        try:
            waiting.wait_until(ready, timeout=max(0.0, deadline - time.monotonic()))
        except waiting.WaitTimeout:
            raise MistralStartError('Mistral did not answer on %s in time\n%s' % (
                self.api_url, self._log_tail())) from None

    def _api_answers(self):
        try:
            with urllib.request.urlopen(self.api_url + '/', timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def _services_started(self):
        """The single runner starts the API last; stock services start independently."""
        if self.topology == 'single':
            return True
        if self.major is None:
            self.major = mistral_major(self.python)
        text = '\n'.join(self._new_log_lines())
        return all(marker in text for marker in started_markers(self.major))

    def _log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def _new_log_lines(self):
        """Lines written since this start() began (earlier runs share the file)."""
        try:
            with open(self.log_path, 'rb') as f:
                f.seek(self._log_offset)
                return f.read().decode('utf-8', 'replace').splitlines()
        except FileNotFoundError:
            return []

    def _log_tail(self):
        lines = self._new_log_lines()[-_LOG_TAIL_LINES:]
        return 'log tail (%s):\n%s' % (self.log_path, '\n'.join(lines))
