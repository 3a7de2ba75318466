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

"""The st2 emulator's HTTP server and state: :class:`St2Emulator`.

The rules it applies are in rules.py (pure), the event stream in stream.py and the fault
controls in faults.py.
"""

import collections
import collections.abc
import copy
import dataclasses
import http
import http.server
import json
import re
import socket
import threading
import time
import urllib.parse

import requests as http_lib

from st2mistral.testing.st2_emulator.faults import FaultControls
from st2mistral.testing.st2_emulator.faults import _ProxyAnswer
from st2mistral.testing.st2_emulator.rules import _CALLBACK_URL
from st2mistral.testing.st2_emulator.rules import _OBJECT_ID
from st2mistral.testing.st2_emulator.rules import _SECRET_HEADERS
from st2mistral.testing.st2_emulator.rules import ALLOWED_SCOPES
from st2mistral.testing.st2_emulator.rules import CHILD_INACTIVE_STATUSES
from st2mistral.testing.st2_emulator.rules import CHILD_RUNNER
from st2mistral.testing.st2_emulator.rules import COMPLETED_STATUSES
from st2mistral.testing.st2_emulator.rules import DEFAULT_CHILD_OUTCOME
from st2mistral.testing.st2_emulator.rules import DEFAULT_VERSION
from st2mistral.testing.st2_emulator.rules import EXECUTION_CREATE
from st2mistral.testing.st2_emulator.rules import EXECUTION_UPDATE
from st2mistral.testing.st2_emulator.rules import FULL_SYSTEM_SCOPE
from st2mistral.testing.st2_emulator.rules import FULL_USER_SCOPE
from st2mistral.testing.st2_emulator.rules import LIVEACTION_STATUSES
from st2mistral.testing.st2_emulator.rules import MAX_PAGE_SIZE
from st2mistral.testing.st2_emulator.rules import MISTRAL_STATES
from st2mistral.testing.st2_emulator.rules import NOT_FOUND
from st2mistral.testing.st2_emulator.rules import STREAM_HEARTBEAT
from st2mistral.testing.st2_emulator.rules import _ApiError
from st2mistral.testing.st2_emulator.rules import _ciphertext
from st2mistral.testing.st2_emulator.rules import _is_object
from st2mistral.testing.st2_emulator.rules import _isotime
from st2mistral.testing.st2_emulator.rules import _type_error
from st2mistral.testing.st2_emulator.rules import api_key_hash
from st2mistral.testing.st2_emulator.rules import context_header_error
from st2mistral.testing.st2_emulator.rules import full_scope
from st2mistral.testing.st2_emulator.rules import list_executions
from st2mistral.testing.st2_emulator.rules import new_object_id
from st2mistral.testing.st2_emulator.rules import parse_bool_param
from st2mistral.testing.st2_emulator.rules import parse_json_body
from st2mistral.testing.st2_emulator.rules import parse_list_query
from st2mistral.testing.st2_emulator.rules import parse_version
from st2mistral.testing.st2_emulator.rules import plan_update
from st2mistral.testing.st2_emulator.rules import validate_create_body
from st2mistral.testing.st2_emulator.rules import validate_update_body
from st2mistral.testing.st2_emulator.rules import workflow_runners
from st2mistral.testing.st2_emulator.stream import EventStream
from st2mistral.testing.st2_emulator.stream import _Subscriber
from st2mistral.testing.st2_urls import St2Urls

# --------------------------------------------------------------------------------------------
# Recorded requests
# --------------------------------------------------------------------------------------------

class Headers(collections.abc.Mapping):
    """Read-only, case-insensitive header mapping; secrets are masked in its repr."""

    def __init__(self, items=()):
        self._items = {}
        for key, value in items:
            self._items[key.lower()] = (key, value)

    def __getitem__(self, key):
        return self._items[key.lower()][1]

    def __iter__(self):
        return (key for key, _ in self._items.values())

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        shown = {key: ('***' if key.lower() in _SECRET_HEADERS else value)
                 for key, value in self._items.values()}
        return 'Headers(%r)' % shown


@dataclasses.dataclass
class RecordedRequest:
    """One request as received. ``status`` is the answer sent (0: none, e.g. hung or cut)."""

    method: str
    path: str
    query: dict
    headers: Headers
    body: object
    raw: bytes
    status: int = 0
    at: float = 0.0

    def __str__(self):
        return '%s %s -> %s' % (self.method, self.path, self.status or 'no answer')


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class _Execution:
    id: str
    liveaction_id: str
    action: str
    runner: str
    status: str
    parameters: dict
    context: dict
    result: dict = dataclasses.field(default_factory=dict)
    callback: dict = None
    notify: dict = None
    parent: str = None
    children: list = dataclasses.field(default_factory=list)
    history: list = dataclasses.field(default_factory=list)
    started: float = 0.0
    ended: float = None

    def record(self, now_wall):
        self.history.append({'status': self.status, 'result': copy.deepcopy(self.result),
                             'at': time.monotonic(), 'timestamp': _isotime(now_wall)})

    def snapshot(self):
        return copy.deepcopy({
            'id': self.id, 'status': self.status, 'result': self.result,
            'action': self.action, 'runner': self.runner, 'history': self.history,
            'context': self.context, 'parameters': self.parameters, 'callback': self.callback,
            'notify': self.notify, 'parent': self.parent, 'children': self.children,
            'liveaction_id': self.liveaction_id,
        })

    def to_api(self):
        """The shape of st2's ``ActionExecutionAPI`` (the fields clients read)."""
        pack, _, name = self.action.partition('.')
        doc = {
            'id': self.id,
            'action': {'ref': self.action, 'pack': pack, 'name': name,
                       'runner_type': self.runner},
            'runner': {'name': self.runner},
            'liveaction': {'id': self.liveaction_id, 'action': self.action,
                           'callback': self.callback or {}},
            'status': self.status,
            'start_timestamp': _isotime(self.started),
            'parameters': self.parameters,
            'context': self.context,
            'result': self.result,
            'children': self.children,
            'log': [{'status': h['status'], 'timestamp': h['timestamp']} for h in self.history],
        }
        if self.ended is not None:
            doc['end_timestamp'] = _isotime(self.ended)
            doc['elapsed_seconds'] = round(self.ended - self.started, 6)
        if self.parent:
            doc['parent'] = self.parent
        if self.notify:
            doc['liveaction']['notify'] = self.notify
        return copy.deepcopy(doc)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    # Headers and body go out in separate writes: without TCP_NODELAY every
    # keep-alive answer would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server_version = 'st2-emulator'

    def setup(self):
        super().setup()
        self.server.emulator._track_connection(self.connection, open_=True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.emulator._track_connection(self.connection, open_=False)

    def log_message(self, format, *args):
        pass  # quiet, and never writes tokens anywhere

    def _dispatch(self):
        self.server.emulator._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------

class St2Emulator(St2Urls, EventStream, FaultControls):
    """A strict st2 API on 127.0.0.1 that records requests; see docs/st2-emulator.rst."""

    #: the user every accepted credential authenticates as
    user = 'st2admin'

    def __init__(self, tokens=('st2-token',), api_keys=('st2-key',), port=0,
                 mistral_url=None, callback_output='string', callback_attempts=3,
                 callback_retry_wait=0.1, callback_timeout=5.0, admin=True,
                 max_page_size=MAX_PAGE_SIZE, stream_heartbeat=STREAM_HEARTBEAT,
                 version=DEFAULT_VERSION, actions=None):
        """``admin``: whether the caller is an st2 admin. True is st2 with RBAC off (its NoOp
        backend makes every user an admin); False emulates a non-admin under RBAC, for whom
        listing limits above ``max_page_size`` or of -1 are 403. Nothing else depends on it.
        ``stream_heartbeat``: seconds without an event after which the stream sends its
        keep-alive newline (st2's ``[stream] heartbeat``).
        ``version``: the st2 release whose per-version rules apply (``'3.2.0'``, ``'3.9.0'``;
        see :func:`workflow_runners`). The default keeps the 3.2 rules this emulator began with.
        ``actions``: the action refs st2 has registered; ``None`` (the default) takes every
        well-formed ``pack.name`` as registered.
        """
        if stream_heartbeat <= 0:
            raise ValueError('stream_heartbeat must be > 0')
        if callback_output not in ('string', 'object'):
            raise ValueError("callback_output must be 'string' or 'object'")
        self.admin = admin
        self.max_page_size = max_page_size
        # token -> the st2 user it was issued to
        self._tokens = (dict(tokens) if isinstance(tokens, collections.abc.Mapping)
                        else dict.fromkeys(tokens, self.user))
        self._api_keys = set(api_keys)
        self._port = port
        self.mistral_url = mistral_url
        self.callback_output = callback_output
        self.callback_attempts = callback_attempts
        self.callback_retry_wait = callback_retry_wait
        self.callback_timeout = callback_timeout
        self.stream_heartbeat = float(stream_heartbeat)
        self.version = version       # parsed by the property: a bad one fails here
        self.actions = None if actions is None else frozenset(actions)

        self._lock = threading.RLock()
        self._subscribers = []
        self._streams_ended = threading.Condition(self._lock)
        self._server = None
        self._serve_thread = None
        self._connections = set()
        self._wake = threading.Event()
        self._stopped = False
        self._clear_state()

    def _clear_state(self):
        self._executions = collections.OrderedDict()
        self._requests = []
        self._callbacks = []
        self._stream_events = []
        self._keys = {}
        self._expired = set()
        self._outcomes = {}
        self._faults = collections.deque()
        self._delay = 0.0
        self._hang_until = 0.0
        self._generation = getattr(self, '_generation', 0) + 1

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self):
        if self._server is not None:
            raise RuntimeError('St2Emulator is already started')
        self._stopped = False
        self._listen()
        return self

    def stop(self):
        self._stopped = True
        self._close_listener()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def version(self):
        """The st2 release whose rules apply, as a tuple such as (3, 9, 0)."""
        return self._version

    @version.setter
    def version(self, value):
        self._version = parse_version(value)

    @property
    def is_up(self):
        return self._server is not None

    @property
    def port(self):
        if not self._port:
            raise RuntimeError('St2Emulator has no port yet: call start() first')
        return self._port

    def _listen(self):
        server = _Server(('127.0.0.1', self._port), _Handler)
        server.emulator = self
        self._port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.02},
                                  name='st2-emulator-%d' % self._port, daemon=True)
        thread.start()
        self._server, self._serve_thread = server, thread

    def _close_listener(self):
        server, thread = self._server, self._serve_thread
        self._server = self._serve_thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        self._end_streams()
        self._interrupt_connections()

    def _interrupt_connections(self):
        # Wake requests held by hang() and cut every open connection.
        with self._lock:
            wake, self._wake = self._wake, threading.Event()
            connections = list(self._connections)
        wake.set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _track_connection(self, conn, open_):
        with self._lock:
            if open_:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- test set-up ---------------------------------------------------------------------------

    def reset(self):
        """Forget executions, requests, callbacks, keys, faults, outcomes, expired tokens.

        Held (hung) requests are released unanswered, streams are ended and a downed
        emulator comes back up.
        """
        with self._lock:
            self._clear_state()
        self._end_streams()
        self._interrupt_connections()
        if not self._stopped and self._port and self._server is None:
            self._listen()

    def add_execution(self, execution_id=None, status='running', action='examples.mistral',
                      parameters=None, context=None, runner='mistral-v2', start_timestamp=None,
                      callback=None):
        """Create an st2 execution (as the mistral-v2 runner's parent would be); returns its id.

        ``history[0]`` records this initial status. ``start_timestamp`` (seconds since the
        epoch, default now) is what listing sorts on.
        """
        if status not in LIVEACTION_STATUSES:
            raise ValueError('%r is not an st2 liveaction status' % (status,))
        if execution_id is not None and not _OBJECT_ID.match(execution_id):
            raise ValueError('st2 execution ids are 24 lower-case hex digits (a Mongo ObjectId), '
                             'got %r' % (execution_id,))
        with self._lock:
            execution_id = execution_id or new_object_id()
            if execution_id in self._executions:
                raise ValueError('execution %s already exists' % execution_id)
            self._create(execution_id, action, runner, status, parameters or {},
                         context or {}, copy.deepcopy(callback), None,
                         started=start_timestamp)
        return execution_id

    def set_key(self, name, value, scope='user', user='st2admin', encrypted=False):
        """Store a datastore item (``encrypted``: a secret, st2's ``secret: true``)."""
        if not isinstance(value, str):
            raise TypeError('st2 datastore values are strings, got %r' % type(value).__name__)
        scope = full_scope(scope)
        if scope not in (FULL_SYSTEM_SCOPE, FULL_USER_SCOPE):
            raise ValueError('scope must be user, system, st2kv.user or st2kv.system')
        ref = '%s:%s' % (user, name) if scope == FULL_USER_SCOPE else name
        with self._lock:
            self._keys[(scope, ref)] = {'id': new_object_id(), 'name': name, 'value': value,
                                        'secret': bool(encrypted), 'user': user}

    def set_child_outcome(self, action_ref, status='succeeded', result=None, delay=0.0):
        """How children POSTed for ``action_ref`` end: status, result, after ``delay`` s."""
        if status not in COMPLETED_STATUSES and status != 'paused':
            raise ValueError('a child outcome is a completed status or paused, got %r'
                             % (status,))
        with self._lock:
            self._outcomes[action_ref] = (status, copy.deepcopy(result or {}), float(delay))

    def update_context(self, execution_id, context):
        """Merge ``context`` into an execution's context, as st2 stores a runner's context.

        st2's action container passes the context a runner returns to
        ``update_liveaction_status`` (``liveaction.context.update(context)``: top-level keys
        replaced, not merged deeper), then ``update_execution`` copies it onto the execution
        and publishes an ``st2.execution__update`` (``st2actions/st2actions/container/base.py``,
        ``st2common/st2common/util/action_db.py``, ``st2common/st2common/services/
        executions.py`` @ v3.2.0 and v3.9.0). Status and history do not change. Tests that
        start a workflow the way the mistral-v2 runner does call it with ``{"mistral":
        {"execution_id": <Mistral execution id>}}`` right after creating the execution.
        """
        if not isinstance(context, dict):
            raise TypeError('context must be a dict, got %r' % type(context).__name__)
        with self._lock:
            ex = self._executions.get(execution_id)
            if ex is None:
                raise KeyError('no execution %s in the emulator' % execution_id)
            ex.context.update(copy.deepcopy(context))
            self._publish(EXECUTION_UPDATE, ex)

    def add_token(self, token, user):
        """Make ``token`` a valid token of st2 user ``user`` (kept by :meth:`reset`)."""
        with self._lock:
            self._tokens[token] = user

    # -- inspection ----------------------------------------------------------------------------

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    @property
    def callbacks(self):
        """Callback attempts: dicts with execution_id, url, body, attempt, status, error, at."""
        with self._lock:
            return copy.deepcopy(self._callbacks)

    def requests_for(self, method=None, path_prefix=None):
        with self._lock:
            return [r for r in self._requests
                    if (method is None or r.method == method.upper())
                    and (path_prefix is None or r.path.startswith(path_prefix))]

    def execution(self, execution_id):
        with self._lock:
            try:
                return self._executions[execution_id].snapshot()
            except KeyError:
                raise KeyError('no execution %s in the emulator' % execution_id) from None

    def executions(self, action=None):
        """Snapshots of all executions in creation order (optionally of one action ref)."""
        with self._lock:
            return [ex.snapshot() for ex in self._executions.values()
                    if action is None or ex.action == action]

    def wait_for(self, predicate, timeout=10.0, interval=0.01):
        """Poll ``predicate(self)`` until true; True, or AssertionError saying what was seen."""
        deadline = time.monotonic() + timeout
        last_error = None
        while True:
            try:
                if predicate(self):
                    return True
                last_error = None
            except Exception as exc:  # not there yet (KeyError, IndexError, ...): keep polling
                last_error = exc
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        name = getattr(predicate, '__name__', repr(predicate))
        lines = ['condition %s not met within %.2f s' % (name, timeout)]
        if last_error is not None:
            lines.append('last error: %r' % (last_error,))
        lines.append(self._describe())
        raise AssertionError('\n'.join(lines))

    def wait_for_status(self, execution_id, status, timeout=10.0):
        def reached(emulator):
            with emulator._lock:
                ex = emulator._executions.get(execution_id)
                return ex is not None and ex.status == status

        reached.__name__ = 'execution %s reaching %r' % (execution_id, status)
        return self.wait_for(reached, timeout=timeout)

    def _describe(self):
        with self._lock:
            statuses = ['  %s %s: %s (history: %s)' % (ex.id, ex.action, ex.status,
                                                      [h['status'] for h in ex.history])
                        for ex in self._executions.values()]
            recent = ['  %s' % r for r in self._requests[-10:]]
            clients = len(self._subscribers)
        return '\n'.join(['executions:'] + (statuses or ['  none'])
                         + ['last requests:'] + (recent or ['  none'])
                         + ['stream clients: %d' % clients])

    # -- HTTP serving ----------------------------------------------------------------------------

    def _serve(self, handler):
        try:
            raw = self._read_body(handler)
        except (ValueError, OSError):
            handler.close_connection = True
            self._send(handler, 400, {'faultstring': 'Malformed request body'})
            return
        split = urllib.parse.urlsplit(handler.path)
        body = None
        if raw:
            try:
                body = json.loads(raw.decode('utf-8'))
            except ValueError:
                body = None
        record = RecordedRequest(
            method=handler.command, path=split.path,
            query=dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
            headers=Headers(handler.headers.items()), body=body, raw=raw,
            at=time.monotonic())
        with self._lock:
            self._requests.append(record)
            hang_until, wake, delay = self._hang_until, self._wake, self._delay

        remaining = hang_until - time.monotonic()
        if remaining > 0:
            wake.wait(remaining)
            handler.close_connection = True  # no answer at all, nothing applied
            return
        if delay:
            time.sleep(delay)

        fault = self._take_fault(record)
        headers = {}
        if fault is not None:
            status, answer = fault
            if isinstance(answer, _ProxyAnswer):
                if answer.applied:
                    self._respond(record)
                status, answer, headers = answer.render(record)
        else:
            try:
                status, answer, headers = self._respond(record)
            except Exception as exc:  # an emulator bug: make it visible to the test
                status, answer = 500, {'faultstring': 'st2 emulator internal error: %r' % exc}
        record.status = status
        if isinstance(answer, _Subscriber):
            self._stream(handler, answer)
            return
        self._send(handler, status, answer, headers)

    @staticmethod
    def _read_body(handler):
        if 'chunked' in handler.headers.get('Transfer-Encoding', '').lower():
            chunks = []
            while True:
                size = int(handler.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while handler.rfile.readline().strip():
                        pass  # trailers
                    return b''.join(chunks)
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
        length = int(handler.headers.get('Content-Length') or 0)
        if length < 0:
            raise ValueError('negative Content-Length')
        return handler.rfile.read(length) if length else b''

    @staticmethod
    def _send(handler, status, answer, headers=None):
        if isinstance(answer, (bytes, str)):
            data = answer.encode('utf-8') if isinstance(answer, str) else answer
        else:
            data = json.dumps(answer).encode('utf-8')
        headers = dict(headers or {})
        content_type = headers.pop('Content-Type', 'application/json')
        try:
            handler.send_response(status)
            if status != 204:
                handler.send_header('Content-Type', content_type)
                handler.send_header('Content-Length', str(len(data)))
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if handler.command != 'HEAD':
                handler.wfile.write(data)
        except OSError:
            handler.close_connection = True  # cut by go_down() or the client went away

    # -- routing ----------------------------------------------------------------------------------

    _ROUTES = (
        ('GET', re.compile(r'^/api/v1/executions/([^/]+)$'), '_get_execution'),
        ('PUT', re.compile(r'^/api/v1/executions/([^/]+)$'), '_put_execution'),
        ('GET', re.compile(r'^/api/v1/executions$'), '_list_executions'),
        ('POST', re.compile(r'^/api/v1/executions$'), '_post_execution'),
        ('GET', re.compile(r'^/api/v1/keys/([^/]+)$'), '_get_key'),
        ('GET', re.compile(r'^/api/v1/user$'), '_get_user'),
        ('POST', re.compile(r'^/auth/v1/tokens/validate$'), '_validate_token'),
        ('GET', re.compile(r'^/stream/v1/stream$'), '_open_stream'),
    )

    def _match_route(self, method, path):
        for route_method, pattern, name in self._ROUTES:
            match = pattern.match(path)
            if match and method == route_method:
                return name, [urllib.parse.unquote(arg) for arg in match.groups()]
        return None, None

    def _respond(self, record):
        """``(status, answer, headers)``; endpoints return ``(status, answer[, headers])``."""
        # st2's router matches the route (path AND method) before it authenticates.
        name, args = self._match_route(record.method, record.path)
        if name is None:
            return 404, {'faultstring': NOT_FOUND}, {}
        try:
            with self._lock:
                requester = self._authenticate(record)
                answer = getattr(self, name)(record, requester, *args)
        except _ApiError as exc:
            return exc.status, {'faultstring': exc.faultstring}, {}
        return answer if len(answer) == 3 else (answer[0], answer[1], {})

    @staticmethod
    def _credential_sources(record):
        return (
            ('token', 'header', record.headers.get('X-Auth-Token')),
            ('key', 'header', record.headers.get('St2-Api-Key')),
            ('token', 'query', record.query.get('x-auth-token')),
            ('key', 'query', record.query.get('st2-api-key')),
        )

    def _authenticate(self, record):
        for kind, _, credential in self._credential_sources(record):
            if not credential:
                continue
            if kind == 'token':
                if credential not in self._tokens:
                    raise _ApiError(401, 'Unauthorized')
                if credential in self._expired:
                    raise _ApiError(401, 'Unauthorized - Token has expired.')
                return self._tokens[credential]
            if credential not in self._api_keys:
                key_hash = api_key_hash(credential)
                raise _ApiError(401, 'Unauthorized - ApiKey with key_hash=%s not found.'
                                % key_hash)
            return self.user
        raise _ApiError(401, 'Unauthorized - One of Token or API key required.')

    # -- endpoints (called with the lock held) --------------------------------------------------

    # -- st2's database, for the st2common stand-in of the tests ---------------------------------
    # What st2's own services (not its API) read and write; the stand-in's modules call these.

    def db_execution(self, execution_id=None, liveaction_id=None):
        """An execution's state (:meth:`_Execution.snapshot`) by id or liveaction id, or None
        (st2common/persistence/execution.py ``ActionExecution.get``)."""
        with self._lock:
            for ex in self._executions.values():
                if ex.id == execution_id or (liveaction_id and ex.liveaction_id == liveaction_id):
                    return ex.snapshot()
        return None

    def db_update_status(self, liveaction_id, status, result=None):
        """st2common/st2common/services/action.py ``update_status`` @ v3.9.0: no API rules
        (no runner check, no completed check), a no-op when the status is unchanged, the
        result stored when truthy, the liveaction and the execution written together and
        the change published. Returns the status afterwards."""
        if status not in LIVEACTION_STATUSES:
            raise ValueError('%r is not an st2 liveaction status' % (status,))
        with self._lock:
            (ex,) = [e for e in self._executions.values() if e.liveaction_id == liveaction_id]
            self._apply_status(ex, status, result)
            return ex.status

    def db_update_execution_result(self, execution_id, result):
        """An execution's result written the way st2's ``update_execution`` writes an
        execution (st2common/st2common/services/executions.py @ v3.9.0): an execution
        already completed is left as it is; else the field is set
        (``ActionExecution.update``, st2common/st2common/persistence/base.py @ v3.9.0)
        and an ``st2.execution__update`` published. The status is unchanged, so no log
        entry is added (``push__log`` only on a status change). Unlike ``update_status``
        (st2common/st2common/services/action.py @ v3.9.0), which drops the result of an
        unchanged status, this stores it. Returns the status afterwards."""
        with self._lock:
            ex = self._find(execution_id)
            if ex.status in COMPLETED_STATUSES:
                return ex.status
            ex.result = copy.deepcopy(result)
            self._publish(EXECUTION_UPDATE, ex)
            return ex.status

    def _find(self, execution_id):
        ex = self._executions.get(execution_id)
        if ex is None:
            raise _ApiError(404, 'Unable to identify resource with id "%s".' % execution_id)
        return ex

    def _get_execution(self, record, requester, execution_id):
        return 200, self._find(execution_id).to_api()

    def _list_executions(self, record, requester, *unused):
        query = parse_list_query(record.query, self.admin, self.max_page_size)
        docs = [ex.to_api() for ex in self._executions.values()]
        page, total = list_executions(docs, query)
        headers = {'X-Total-Count': str(total)}
        if query.limit:
            headers['X-Limit'] = str(query.limit)
        return 200, page, headers

    def _put_execution(self, record, requester, execution_id):
        body = parse_json_body(record.headers, record.raw)
        validate_update_body(body)
        ex = self._find(execution_id)
        plan = plan_update(ex.status, ex.runner, ex.context, ex.liveaction_id, body,
                           self._children_active(ex), requester,
                           workflow_runners(self.version))
        self._apply_status(ex, plan.status, plan.result)
        return 200, ex.to_api()

    def _post_execution(self, record, requester, *unused):
        body = parse_json_body(record.headers, record.raw)
        validate_create_body(body)
        ref = body['action']
        pack, dot, name = ref.partition('.')
        if not (pack and dot and name) or (self.actions is not None
                                           and ref not in self.actions):
            raise _ApiError(400, 'Action "%s" cannot be found.' % ref)

        header = record.headers.get('st2-context')
        extra_context = {}
        if header:
            try:
                extra_context = json.loads(header)
            except ValueError:
                extra_context = header
            if not isinstance(extra_context, dict):
                raise _ApiError(400, context_header_error(extra_context, self.version))
        context = copy.deepcopy(body.get('context') or {})
        context['user'] = body.get('user') or requester
        context['pack'] = pack
        context.update(extra_context)
        parent = context.get('parent')
        if parent:
            try:
                parent['execution_id']  # st2's _get_parent_execution reads it unguarded
            except (KeyError, TypeError, IndexError) as exc:
                raise _ApiError(500, str(exc))

        child = self._create(new_object_id(), ref, CHILD_RUNNER, 'requested',
                             copy.deepcopy(body.get('parameters') or {}), context,
                             copy.deepcopy(body.get('callback')),
                             copy.deepcopy(body.get('notify')))
        answer = child.to_api()
        outcome = self._outcomes.get(ref, DEFAULT_CHILD_OUTCOME)
        threading.Thread(target=self._run_child, args=(child.id, outcome, self._generation),
                         name='st2-emulator-child-%s' % child.id, daemon=True).start()
        return 201, answer

    def _get_key(self, record, requester, name):
        query = record.query
        decrypt = parse_bool_param('decrypt', query.get('decrypt'))
        scope = query.get('scope') or FULL_SYSTEM_SCOPE
        if query.get('user'):
            scope = FULL_USER_SCOPE
        scope = full_scope(scope)
        if scope not in ALLOWED_SCOPES:
            raise _ApiError(400, 'Scope %s is not in allowed scopes list: %s.'
                            % (scope, ALLOWED_SCOPES))
        user = query.get('user') or requester
        if user != requester:
            raise _ApiError(403, '"user" attribute can only be provided by admins when RBAC '
                                 'is enabled')
        ref = '%s:%s' % (user, name) if scope == FULL_USER_SCOPE else name
        item = self._keys.get((scope, ref))
        if item is None:
            raise _ApiError(404, 'KeyValuePair with name: %s and scope: %s not found in db.'
                            % (ref, scope))
        masked = item['secret'] and not decrypt
        doc = {'id': item['id'], 'uid': 'key_value_pair:%s:%s' % (scope, ref), 'name': name,
               'value': _ciphertext(item['value']) if masked else item['value'],
               'secret': item['secret'], 'encrypted': masked, 'scope': scope}
        if scope == FULL_USER_SCOPE:
            doc['user'] = user
        return 200, doc

    def _get_user(self, record, requester, *unused):
        kind, location = next((kind, location) for kind, location, credential
                              in self._credential_sources(record) if credential)
        method = 'authentication token' if kind == 'token' else 'API key'
        return 200, {'username': requester,
                     'authentication': {'method': method, 'location': location},
                     'rbac': {'enabled': False, 'roles': [], 'is_admin': True}}

    def _validate_token(self, record, requester, *unused):
        body = parse_json_body(record.headers, record.raw)
        if not _is_object(body):
            raise _ApiError(400, _type_error(body, "'object'"))
        token = body.get('token')
        if token is not None and not isinstance(token, str):
            raise _ApiError(400, _type_error(token, "'string', 'null'"))
        if not token:
            raise _ApiError(400, 'Token is not provided.')
        return 200, {'valid': token in self._tokens and token not in self._expired}

    # -- execution state (called with the lock held) ---------------------------------------------

    def _create(self, execution_id, action, runner, status, parameters, context, callback,
                notify, started=None):
        now = time.time() if started is None else started
        parent = context.get('parent')
        parent_id = parent.get('execution_id') if isinstance(parent, dict) else None
        if parent_id not in self._executions:
            parent_id = None  # st2 links a parent only when that execution exists
        ex = _Execution(id=execution_id, liveaction_id=new_object_id(), action=action,
                        runner=runner, status=status, parameters=parameters, context=context,
                        callback=callback, notify=notify, parent=parent_id, started=now)
        ex.record(now)
        self._executions[execution_id] = ex
        if parent_id is not None:
            parent_ex = self._executions[parent_id]
            parent_ex.children.append(execution_id)
            self._publish(EXECUTION_UPDATE, parent_ex)
        self._publish(EXECUTION_CREATE, ex)
        return ex

    def _children_active(self, ex):
        # st2's is_children_active: only workflow runners have children that count.
        if ex.runner not in workflow_runners(self.version):
            return False
        return any(self._executions[child].status not in CHILD_INACTIVE_STATUSES
                   for child in ex.children if child in self._executions)

    def _apply_status(self, ex, status, result):
        """st2's ``update_status``: no-op when unchanged; result stored only when truthy."""
        if status == ex.status:
            return False
        now = time.time()
        ex.status = status
        if result:
            ex.result = copy.deepcopy(result)
        if status in COMPLETED_STATUSES:
            ex.ended = now
        ex.record(now)
        self._publish(EXECUTION_UPDATE, ex)
        if (self.version < (3, 4, 0) and status in MISTRAL_STATES
                and isinstance(ex.callback, dict)
                and ex.callback.get('source') == 'mistral_v2'):
            threading.Thread(target=self._send_callback,
                             args=(ex.id, ex.callback['url'], status,
                                   copy.deepcopy(ex.result), self._generation),
                             name='st2-emulator-callback-%s' % ex.id, daemon=True).start()
        return True

    # -- background work --------------------------------------------------------------------------

    def _run_child(self, execution_id, outcome, generation):
        status, result, delay = outcome
        for step in ('scheduled', 'running'):
            if not self._set_if_current(execution_id, step, None, generation):
                return
        if delay:
            time.sleep(delay)
        self._set_if_current(execution_id, status, result, generation)

    def _set_if_current(self, execution_id, status, result, generation):
        with self._lock:
            ex = self._executions.get(execution_id)
            if generation != self._generation or ex is None or ex.status in COMPLETED_STATUSES:
                return False
            if ex.status == 'canceling':
                status, result = 'canceled', None  # the runner honours the cancellation
            self._apply_status(ex, status, result)
            return True

    def _send_callback(self, execution_id, url, status, result, generation):
        match = _CALLBACK_URL.search(url)
        if not match:
            self._record_callback(generation, execution_id, url, None, 0, None,
                                  'Unable to extract the action execution ID from the '
                                  'callback URL (%s).' % url)
            return
        target = url
        if self.mistral_url:
            target = '%s/action_executions/%s' % (self.mistral_url.rstrip('/'), match.group(2))
        if self.callback_output == 'object':
            output = result
        else:
            output = json.dumps(result) if isinstance(result, (dict, list)) else str(result)
        body = {'state': MISTRAL_STATES[status], 'output': output}

        for attempt in range(1, self.callback_attempts + 1):
            if self._stopped or generation != self._generation:
                return
            try:
                answer = http_lib.put(target, json=body, timeout=self.callback_timeout)
            except http_lib.ConnectionError as exc:
                self._record_callback(generation, execution_id, target, body, attempt, None,
                                      '%s: %s' % (type(exc).__name__, exc))
                time.sleep(self.callback_retry_wait * attempt)
                continue
            except http_lib.RequestException as exc:  # e.g. a read timeout: st2 gives up
                self._record_callback(generation, execution_id, target, body, attempt, None,
                                      '%s: %s' % (type(exc).__name__, exc))
                return
            self._record_callback(generation, execution_id, target, body, attempt,
                                  answer.status_code, None)
            return

    def _record_callback(self, generation, execution_id, url, body, attempt, status, error):
        with self._lock:
            if generation != self._generation:
                return
            self._callbacks.append({'execution_id': execution_id, 'url': url,
                                    'body': copy.deepcopy(body), 'attempt': attempt,
                                    'status': status, 'error': error, 'at': time.monotonic()})
