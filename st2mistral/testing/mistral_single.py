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

"""Run a whole Mistral (api, engine, executor, notifier, periodic) in ONE process.

oslo.messaging's ``fake:/`` transport passes messages through in-memory queues,
so every Mistral service must live in the same process for it to work; the
stock ``mistral-server --server all`` forks one process per service. This
module is that single process, for tests, demos and benchmarks:

    python -m st2mistral.testing.mistral_single --config-file mistral.conf

It creates the schema (``setup_db()``: ``upgrade head`` does not work on
SQLite), registers the standard actions and workflows (what
``mistral-db-manage populate`` does), starts the services and serves until
SIGTERM/SIGINT. It is not a production server.
"""

import argparse
import logging as py_logging
import os
import signal
import sys
import threading
import time
import types

from oslo_config import cfg
from oslo_log import log as logging

READY_MESSAGE = "st2mistral single-process Mistral is ready"

# How long the in-memory transport's listeners sleep when their queues are
# empty. oslo.messaging hard-codes 50 ms; that sleep is most of a small
# workflow's latency, so we wake the listeners when a message is delivered.
DEFAULT_FAKE_POLL_INTERVAL = 0.05

# Stopping must not hang a test run: past this, the process exits anyway.
STOP_DEADLINE = 10

LOG = logging.getLogger(__name__)


def parse_own_args(argv):
    """Split our own options from the ones oslo.config parses."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--fake-poll-interval', type=float,
                        default=DEFAULT_FAKE_POLL_INTERVAL)
    return parser.parse_known_args(argv)


def speed_up_fake_transport(max_pause):
    """Wake fake-transport listeners as soon as a message is delivered.

    The fake driver's listener polls its queues and sleeps between polls.
    We give the driver's module a ``time`` look-alike whose ``sleep`` waits on
    a condition that ``deliver_message`` signals, capped at ``max_pause``. A
    delivery that lands between a poll and the wait is picked up at the next
    wake-up at the latest, so nothing is lost, only (rarely) delayed.
    """
    from oslo_messaging._drivers import impl_fake

    delivered = threading.Condition()

    def sleep(seconds):
        with delivered:
            delivered.wait(min(seconds, max_pause))

    wakeable_time = types.SimpleNamespace(
        time=time.time, monotonic=time.monotonic, sleep=sleep)

    original_deliver = impl_fake.FakeExchange.deliver_message

    def deliver_message(self, *args, **kwargs):
        original_deliver(self, *args, **kwargs)
        with delivered:
            delivered.notify_all()

    impl_fake.time = wakeable_time
    impl_fake.FakeExchange.deliver_message = deliver_message


def load_config(argv):
    from mistral import config as m_config

    cfg.CONF.register_cli_opts(m_config.CLI_OPTS)
    m_config.parse_args(argv)
    logging.setup(cfg.CONF, 'Mistral')
    # Python warnings (deprecations) go to the log, not to a bare stderr.
    py_logging.captureWarnings(True)


def prepare_database():
    """Create the schema and register standard actions and workflows."""
    from mistral.db.v2 import api as db_api
    from mistral.services import action_manager
    from mistral.services import workflows

    db_api.setup_db()
    action_manager.sync_db()
    workflows.sync_db()


def start_services():
    """Start the services in dependency order; return them, API last.

    The API goes last so that once GET /v2/ answers, the engine and the
    services behind it can take work.
    """
    from mistral.api import service as api_service
    from mistral.engine import engine_server
    from mistral.executors import executor_server
    from mistral.notifiers import notification_server
    from mistral.rpc import base as rpc
    from mistral.services import actions as action_service
    try:
        # Mistral 23 runs cron triggers in their own server; before 23 the API
        # runs them (mistral/api/app.py: periodic.setup()), as in production.
        from mistral.services import periodic_server
    except ImportError:
        periodic_server = None

    conf = cfg.CONF
    rpc.get_transport()
    started = []

    def start(service):
        service.start()
        started.append(service)
        return service

    waiting = []
    if conf.executor.type == 'remote':
        waiting.append(start(executor_server.get_oslo_service(setup_profiler=False)))
    if conf.notifier.type == 'remote':
        waiting.append(start(notification_server.get_oslo_service(setup_profiler=False)))
    waiting.append(start(engine_server.get_oslo_service(setup_profiler=False)))
    if periodic_server is not None:
        waiting.append(start(periodic_server.get_oslo_service()))

    # Loads every action provider (including plugins) once, up front.
    action_service.get_system_action_provider()

    for service in waiting:
        service.wait_started()

    start(api_service.WSGIService('mistral_api'))
    return started


def stop_services(services):
    for service in reversed(services):
        try:
            service.stop()
        except Exception:  # keep stopping the others
            LOG.exception("Failed to stop %s", type(service).__name__)


def _exit_after(seconds, code):
    def force():
        time.sleep(seconds)
        os._exit(code)

    threading.Thread(target=force, daemon=True).start()


def mistral_major():
    """The major version of the Mistral installed here (23 for 23.0.0)."""
    from importlib import metadata
    return int(metadata.version('mistral').split('.')[0])


def use_mistrals_concurrency():
    """Run on what Mistral's own launcher runs on: eventlet up to 20, threads after.

    Mistral <= 20 monkey-patches at start (mistral/cmd/launch.py: os, select,
    socket, thread, time); 21 and later select oslo.service's threading backend
    when mistral.cmd is imported. Either must happen before oslo_service is used.
    Returns 'eventlet' or 'threading'.
    """
    if mistral_major() <= 20:
        import eventlet
        eventlet.monkey_patch(os=True, select=True, socket=True, thread=True, time=True)
        return 'eventlet'
    import mistral.cmd  # noqa: F401
    return 'threading'


def main(argv=None):
    # Here rather than at module level, so importing this module is harmless.
    mode = use_mistrals_concurrency()

    own, oslo_argv = parse_own_args(sys.argv[1:] if argv is None else argv)
    load_config(oslo_argv)

    if own.fake_poll_interval < DEFAULT_FAKE_POLL_INTERVAL:
        # Harmless with other transports: it only touches the fake driver.
        speed_up_fake_transport(own.fake_poll_interval)

    stop_requested = threading.Event()
    received = []

    def on_signal(signum, _frame):
        received.append(signum)  # no logging in a signal handler
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        prepare_database()
        services = start_services()
    except BaseException:
        LOG.exception("Mistral failed to start")
        py_logging.shutdown()
        os._exit(1)
    LOG.info("%s (pid %s, Mistral %s on %s)", READY_MESSAGE, os.getpid(), mistral_major(), mode)

    while not stop_requested.wait(1):
        pass
    LOG.info("Signal %s received, stopping", received[0])

    _exit_after(STOP_DEADLINE, 1)
    stop_services(services)
    LOG.info("st2mistral single-process Mistral stopped")
    py_logging.shutdown()
    # Worker pools of oslo.messaging and the scheduler are not daemon
    # threads; a normal interpreter exit could wait on them for long.
    os._exit(0)


if __name__ == '__main__':
    main()
