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

"""StackStorm's own services in ONE process, for tests. Runs INSIDE the st2 venv.

Started by :mod:`st2mistral.testing.real_st2.launcher`; never imported by the
product. It serves st2's real st2api, st2stream and st2auth WSGI apps on one
loopback port (``/api``, ``/stream``, ``/auth`` as nginx maps them) and runs
st2's scheduler handler and entrypoint and its action-runner worker. MongoDB
is mongomock (the database is in memory, hence one process); the message bus
is kombu's in-memory transport. Runners, this project's ``mistral-v2``
included, are registered by st2's own ``runnersregistrar`` from their entry
points; in an st2 3.2 venv on Python 3.6 the ``mistral-v2`` registered is st2's
OWN runner (``--mistral-runner st2`` makes sure), and ``--results-tracker``
also runs st2 3.2's ``st2resultstracker`` (its querier polls Mistral).

A small control channel on the same port (``POST /_control/<command>``,
JSON in and out, loopback only) does what tests need inside the process:
tokens and API keys, registering actions, reading st2's records, running
st2's own ``st2common/bin/st2-track-result`` with ``runpy``, and hosting the
relay of the st2 side (``start_relay``: see :func:`start_relay`).

    python server.py --config-file st2.conf --port 9101 --st2-tree DIR --packs DIR
"""

# st2's services monkey patch first of all (st2api/cmd/api.py).
from st2common.util.monkey_patch import monkey_patch

monkey_patch()

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging as stdlib_logging  # noqa: E402
import os  # noqa: E402
import runpy  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

import eventlet  # noqa: E402
from eventlet import wsgi  # noqa: E402
import mongoengine  # noqa: E402
import mongomock  # noqa: E402

_real_connect = mongoengine.connection.connect


def _mock_connect(db=None, alias='default', **kwargs):
    """mongoengine.connect on mongomock; a second connect reuses the first database."""
    existing = mongoengine.connection._connections.get(alias)
    if existing is not None:
        return existing
    for key in ('connectTimeoutMS', 'serverSelectionTimeoutMS', 'uuidRepresentation',
                'username', 'password', 'authentication_mechanism', 'ssl', 'tls'):
        kwargs.pop(key, None)
    kwargs.pop('port', None)
    kwargs.pop('host', None)
    if _MONGOENGINE_VERSION < (0, 27):
        # mongoengine 0.18 (st2 3.2) selects mongomock by the host's scheme.
        return _real_connect(db, alias=alias, host='mongomock://localhost', **kwargs)
    return _real_connect(db, alias=alias, host='localhost',
                         mongo_client_class=mongomock.MongoClient, **kwargs)


def _command(self, command, *args, **kwargs):
    # st2 3.2 checks its connection with "ismaster", which mongomock does not answer.
    name = command if isinstance(command, str) else next(iter(command), None)
    if name in ('ismaster', 'isMaster'):
        return {'ismaster': True, 'ok': 1.0}
    return _real_command(self, command, *args, **kwargs)


_MONGOENGINE_VERSION = tuple(int(p) for p in mongoengine.__version__.split('.')[:2])
_real_command = mongomock.database.Database.command
mongomock.database.Database.command = _command


mongoengine.connection.connect = _mock_connect
mongoengine.connect = _mock_connect

from oslo_config import cfg  # noqa: E402

CONTROL = {}
STATE = {'relays': []}


def control(fn):
    CONTROL[fn.__name__] = fn
    return fn


# -- setup ------------------------------------------------------------------------------

def setup(config_file):
    from st2actions import config as actions_config  # noqa: F401  (registers at import)
    from st2actions.scheduler import config as scheduler_config  # noqa: F401
    from st2api import config as api_config
    from st2auth import config as auth_config
    from st2common import service_setup
    from st2stream import config as stream_config

    for module in (api_config, stream_config, auth_config):
        try:
            module.register_opts(ignore_errors=True)
        except TypeError:  # st2 3.2: no ignore_errors; identical options register twice fine
            module.register_opts()
    service_setup.setup(
        service='api', config=api_config, setup_db=True, register_mq_exchanges=True,
        register_signal_handlers=False, register_internal_trigger_types=True,
        run_migrations=False, register_runners=True, service_registry=False,
        config_args=['--config-file', config_file])


def build_app():
    from st2api import app as api_app
    from st2auth import app as auth_app
    from st2stream import app as stream_app

    apps = [('/api', api_app.setup_app()), ('/stream', stream_app.setup_app()),
            ('/auth', auth_app.setup_app())]

    def dispatch(environ, start_response):
        path = environ.get('PATH_INFO', '')
        if path.startswith('/_control/'):
            return control_app(environ, start_response)
        for prefix, app in apps:
            if path.startswith(prefix + '/'):
                environ['PATH_INFO'] = path[len(prefix):]
                return app(environ, start_response)
        start_response('404 Not Found', [('Content-Type', 'application/json')])
        return [b'{"faultstring": "The resource could not be found."}']

    return dispatch


def control_app(environ, start_response):
    name = environ['PATH_INFO'][len('/_control/'):]
    size = int(environ.get('CONTENT_LENGTH') or 0)
    body = json.loads(environ['wsgi.input'].read(size) or b'{}')
    fn = CONTROL.get(name)
    if fn is None:
        status, answer = '404 Not Found', {'error': 'no control command %r' % name}
    else:
        try:
            status, answer = '200 OK', {'result': fn(**body)}
        except Exception as exc:  # the test sees what failed inside st2
            status, answer = '500 Internal Server Error', {
                'error': '%s: %s' % (type(exc).__name__, exc),
                'traceback': traceback.format_exc()}
    data = json.dumps(answer, default=str).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data)))])
    return [data]


def start_services(results_tracker=False):
    """st2's scheduler (handler + entrypoint) and action-runner worker, as their cmds do;
    with ``results_tracker``, st2 3.2's ``st2resultstracker`` too (st2actions/cmd/
    st2resultstracker.py: ``resultstracker.get_tracker().start()``)."""
    from st2actions import worker
    from st2actions.scheduler import entrypoint as scheduler_entrypoint
    from st2actions.scheduler import handler as scheduler_handler

    handler = scheduler_handler.get_handler()
    entrypoint = scheduler_entrypoint.get_scheduler_entrypoint()
    action_worker = worker.get_worker()
    services = [handler, entrypoint, action_worker]
    if results_tracker:
        from st2actions.resultstracker import resultstracker

        services.append(resultstracker.get_tracker())
    for service in services:
        service.start()
    # orquesta's workflow engine, as st2workflowengine runs it (st2actions/cmd/
    # workflow_engine.py: ``workflows.get_engine().start(wait=True)``), when the venv
    # has the orquesta runner: orquesta workflows (parents of mistral-v2 actions) run.
    try:
        import orquesta_runner  # noqa: F401
        from st2actions.workflows import workflows as workflow_engine
    except ImportError:
        return services
    engine = workflow_engine.get_engine()
    engine.start(wait=False)
    services.append(engine)
    return services


# Which module st2's registrar loaded for mistral-v2: st2's own runner (st2 3.2's
# contrib/runners/mistral_v2) or this project's (setup.cfg's entry point).
MISTRAL_RUNNER_MODULES = {'st2': 'mistral_v2.', 'project': 'st2mistral.'}


@control
def mistral_runner_module():
    from st2common.runners.base import get_runner_module

    return get_runner_module('mistral-v2').__name__


# -- control commands -------------------------------------------------------------------

@control
def ping():
    from st2common.constants.system import VERSION_STRING

    return {'version': VERSION_STRING, 'pid': os.getpid()}


@control
def create_token(username='st2admin', ttl=None, expired=False):
    from st2common.services import access

    token = access.create_token(username, ttl=ttl)
    if expired:
        import datetime

        from st2common.persistence.auth import Token

        token.expiry = token.expiry - datetime.timedelta(days=3650)
        Token.add_or_update(token)
    return token.token


@control
def create_api_key(username='st2admin'):
    from st2common.models.db.auth import ApiKeyDB
    from st2common.persistence.auth import ApiKey
    from st2common.util import auth as auth_utils

    key, key_hash = auth_utils.generate_api_key_and_hash()
    ApiKey.add_or_update(ApiKeyDB(user=username, key_hash=key_hash))
    return key


@control
def register_pack(pack_dir, fail_on_failure=True):
    """Register a pack and its actions with st2's own ActionsRegistrar; [registered,
    overridden]. ``fail_on_failure=False``: an action st2 cannot register (its runner is
    not installed) is logged and skipped, as ``st2ctl reload`` does without
    ``--register-fail-on-failure``."""
    from st2common.bootstrap import actionsregistrar

    registrar = actionsregistrar.ActionsRegistrar(use_pack_cache=False,
                                                 fail_on_failure=fail_on_failure)
    return registrar.register_from_pack(pack_dir)


@control
def new_execution(action, status='running', context=None, parameters=None, callback=None):
    """An execution as the API would create it, moved to ``status`` without running it.

    Made with st2's own services/action.py (create_request, update_status); the
    scheduler is not told (no publish), so nothing picks it up.
    """
    from st2common.models.db.liveaction import LiveActionDB
    from st2common.services import action as action_service

    lv = LiveActionDB(action=action, parameters=parameters or {},
                      context=context or {'user': 'st2admin'}, callback=callback or {})
    lv, ex = action_service.create_request(lv)
    if status != lv.status:
        lv = action_service.update_status(lv, status, publish=False)
    return {'id': str(ex.id), 'liveaction_id': str(lv.id)}


@control
def set_option(group, name, value):
    """``cfg.CONF.set_override`` in this process (e.g. ``[mistral] enable_polling``, which
    st2 3.2's runner reads on every run)."""
    cfg.CONF.set_override(name, value, group=group)
    return getattr(cfg.CONF[group], name)


@control
def runner_types():
    from st2common.persistence.runner import RunnerType

    return sorted(r.name for r in RunnerType.get_all())


def _doc(db):
    return json.loads(json.dumps(db.to_serializable_dict(), default=str))


@control
def liveaction(liveaction_id):
    from st2common.persistence.liveaction import LiveAction

    return _doc(LiveAction.get_by_id(liveaction_id))


@control
def execution(execution_id):
    from st2common.persistence.execution import ActionExecution

    return _doc(ActionExecution.get_by_id(execution_id))


@control
def state_rows():
    """st2's ActionExecutionStateDB rows (what st2-track-result writes)."""
    from st2common.persistence.executionstate import ActionExecutionState

    return [{'id': str(row.id), 'execution_id': str(row.execution_id),
             'query_module': row.query_module, 'query_context': row.query_context}
            for row in ActionExecutionState.get_all()]


@control
def set_status(liveaction_id, status, result=None):
    """What st2's action runner does to a liveaction (services/action.py update_status)."""
    from st2common.persistence.liveaction import LiveAction
    from st2common.services import action as action_service

    lv = LiveAction.get_by_id(liveaction_id)
    action_service.update_status(lv, status, result=result, publish=True)
    return status


@control
def track_result(execution_id, delete=False):
    """st2's own st2common/bin/st2-track-result, run with runpy in this process."""
    script = os.path.join(ARGS.st2_tree, 'st2common', 'bin', 'st2-track-result')
    argv = ['st2-track-result', execution_id, '--config-file', ARGS.config_file]
    if delete:
        argv.append('--delete')
    out = io.StringIO()
    handler = stdlib_logging.StreamHandler(out)
    handler.setFormatter(stdlib_logging.Formatter('%(levelname)s %(message)s'))
    root = stdlib_logging.getLogger()
    saved_argv = sys.argv
    sys.argv = argv
    cfg.CONF.clear()  # the script registers its CLI options and parses again
    root.addHandler(handler)
    code = 0
    try:
        runpy.run_path(script, run_name='__main__')
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        root.removeHandler(handler)
        sys.argv = saved_argv
    return {'exit_code': code, 'log': out.getvalue().splitlines()}


RELAY_MODULES = ('st2mistral.st2_side.relay_service',)
RELAY_HOOK = 'start_in_process'


@control
def start_relay(overrides=None):
    """Host the st2 side's relay in this process; the number of relays running.

    The hook: the first of :data:`RELAY_MODULES` that exposes
    ``start_in_process(conf)`` is called with st2's parsed ``cfg.CONF`` (st2common
    is set up already, so the relay can read st2's database directly) and returns
    an object with ``stop()``; its threads are green threads of this process.
    ``overrides``: ``{group: {option: value}}`` set on ``cfg.CONF`` first (e.g. the
    API key the relay calls st2 with, made after st2 started).
    """
    import importlib

    for group, values in (overrides or {}).items():
        for name, value in values.items():
            cfg.CONF.set_override(name, value, group=group)
    for name in RELAY_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        start = getattr(module, RELAY_HOOK, None)
        if start is not None:
            STATE['relays'].append(start(cfg.CONF))
            return len(STATE['relays'])
    raise RuntimeError('no relay hook: none of %s exposes %s(conf)'
                       % (', '.join(RELAY_MODULES), RELAY_HOOK))


@control
def stop_relays():
    while STATE['relays']:
        STATE['relays'].pop().stop()
    return 0


# -- main -------------------------------------------------------------------------------

def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument('--config-file', required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--st2-tree', required=True)
    parser.add_argument('--packs', action='append', default=[])
    parser.add_argument('--no-runners', action='store_true',
                        help='API, stream and auth only: no scheduler, no action runner')
    parser.add_argument('--mistral-runner', choices=sorted(MISTRAL_RUNNER_MODULES),
                        help="exit unless st2 registered this mistral-v2 runner ('st2': "
                             "st2's own, 'project': this project's)")
    parser.add_argument('--results-tracker', action='store_true',
                        help="also run st2's results tracker (st2 3.2's st2resultstracker)")
    ARGS = parser.parse_args()
    sys.argv = sys.argv[:1]
    setup(ARGS.config_file)
    if 'mistral-v2' not in runner_types():
        # stevedore logged why ("Could not load 'mistral-v2': ..."); say it plainly.
        sys.exit("st2's runner registrar could not load the mistral-v2 runner on Python %s "
                 "(stevedore's \"Could not load 'mistral-v2'\" line in st2's log says why)"
                 % sys.version.split()[0])
    if ARGS.mistral_runner:
        module = mistral_runner_module()
        if not module.startswith(MISTRAL_RUNNER_MODULES[ARGS.mistral_runner]):
            sys.exit('st2 registered the mistral-v2 runner from %s, not the %s runner'
                     % (module, ARGS.mistral_runner))
    for pack_dir in ARGS.packs:
        register_pack(pack_dir)
    app = build_app()
    if not ARGS.no_runners:
        start_services(results_tracker=ARGS.results_tracker)
    sock = eventlet.listen(('127.0.0.1', ARGS.port))
    print('st2 ready on 127.0.0.1:%d' % ARGS.port, flush=True)
    wsgi.server(sock, app, log_output=False, custom_pool=eventlet.GreenPool(1000))


ARGS = None

if __name__ == '__main__':
    main()
