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

"""The st2 emulator's state and request dispatch: :class:`St2Emulator`.

The rules it applies are in rules.py (pure), the endpoints in endpoints.py, the children
it runs in children.py, HTTP plumbing in wire.py, the event stream in stream.py and the
fault controls in faults.py.
"""

import collections
import collections.abc
import copy
import json
import re
import socket
import threading
import time
import urllib.parse

from st2mistral.testing import waiting
from st2mistral.testing.st2_emulator import wire
from st2mistral.testing.st2_emulator.children import ChildRunner
from st2mistral.testing.st2_emulator.endpoints import ApiEndpoints
from st2mistral.testing.st2_emulator.faults import FaultControls
from st2mistral.testing.st2_emulator.faults import _ProxyAnswer
from st2mistral.testing.st2_emulator.inquiries import InquiryRunner
from st2mistral.testing.st2_emulator.rules import _OBJECT_ID
from st2mistral.testing.st2_emulator.rules import COMPLETED_STATUSES
from st2mistral.testing.st2_emulator.rules import DEFAULT_VERSION
from st2mistral.testing.st2_emulator.rules import EXECUTION_UPDATE
from st2mistral.testing.st2_emulator.rules import FULL_SYSTEM_SCOPE
from st2mistral.testing.st2_emulator.rules import FULL_USER_SCOPE
from st2mistral.testing.st2_emulator.rules import LIVEACTION_STATUSES
from st2mistral.testing.st2_emulator.rules import MAX_PAGE_SIZE
from st2mistral.testing.st2_emulator.rules import NOT_FOUND
from st2mistral.testing.st2_emulator.rules import STREAM_HEARTBEAT
from st2mistral.testing.st2_emulator.rules import _ApiError
from st2mistral.testing.st2_emulator.rules import api_key_hash
from st2mistral.testing.st2_emulator.rules import full_scope
from st2mistral.testing.st2_emulator.rules import new_object_id
from st2mistral.testing.st2_emulator.rules import parse_version
from st2mistral.testing.st2_emulator.stream import EventStream
from st2mistral.testing.st2_emulator.stream import _Subscriber
from st2mistral.testing.st2_urls import St2Urls

# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------

class St2Emulator(St2Urls, EventStream, FaultControls, ApiEndpoints, ChildRunner,
                  InquiryRunner):
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
        self._inquiry_actions = set()
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
        server = wire._Server(('127.0.0.1', self._port), wire._Handler)
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
        last_error = []

        def met():
            try:
                result = predicate(self)
            except Exception as exc:  # not there yet (KeyError, IndexError, ...): keep polling
                last_error[:] = [exc]
                return False
            last_error[:] = []
            return result

        name = getattr(predicate, '__name__', repr(predicate))

        def describe():
            lines = ['condition %s not met within %.2f s' % (name, timeout)]
            lines.extend('last error: %r' % (exc,) for exc in last_error)
            lines.append(self._describe())
            return '\n'.join(lines)

        waiting.wait_until(met, timeout=timeout, interval=interval, message=describe)
        return True

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
            raw = wire.read_body(handler)
        except (ValueError, OSError):
            handler.close_connection = True
            wire.send_answer(handler, 400, {'faultstring': 'Malformed request body'})
            return
        split = urllib.parse.urlsplit(handler.path)
        body = None
        if raw:
            try:
                body = json.loads(raw.decode('utf-8'))
            except ValueError:
                body = None
        record = wire.RecordedRequest(
            method=handler.command, path=split.path,
            query=dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
            headers=wire.Headers(handler.headers.items()), body=body, raw=raw,
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
        wire.send_answer(handler, status, answer, headers)

    # -- routing ----------------------------------------------------------------------------------

    _ROUTES = (
        ('GET', re.compile(r'^/api/v1/executions/([^/]+)$'), '_get_execution'),
        ('PUT', re.compile(r'^/api/v1/executions/([^/]+)$'), '_put_execution'),
        ('GET', re.compile(r'^/api/v1/executions$'), '_list_executions'),
        ('POST', re.compile(r'^/api/v1/executions$'), '_post_execution'),
        ('POST', re.compile(r'^/api/v1/executions/([^/]+)/re_run$'), '_rerun_execution'),
        ('GET', re.compile(r'^/api/v1/keys/([^/]+)$'), '_get_key'),
        ('PUT', re.compile(r'^/api/v1/inquiries/([^/]+)$'), '_respond_inquiry'),
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
