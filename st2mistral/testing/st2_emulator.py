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

"""A strict, recording emulator of the StackStorm (st2) REST API, for tests.

Code that talks to st2 is tested against this emulator: a real HTTP server on 127.0.0.1
(stdlib ``http.server`` in a daemon thread) that answers the few endpoints st2mistral uses
**the way st2 answers them** (v3.2 by default; ``version`` selects the per-version rules),
records every request, and can misbehave on demand (refuse, hang, be slow, answer
5xx/429/401/404/400, go down and come back on the same port). tests/contract runs the same
tests on this emulator and on StackStorm's own code (v3.2.0 and v3.9.0, see
:mod:`st2mistral.testing.real_st2`), so a rule that drifts from st2 fails there.

It is strict on purpose. A double that accepts anything hides exactly the bugs users hit on
a real st2: an unknown property in an update, a late update of a completed execution, a
status outside st2's enum, a missing token. Where st2 itself answers oddly (a 500 for an
update without ``status``), the emulator answers the same, so the client sees what it would
see in production.

Rules implemented, with the st2 sources they were read from (public StackStorm/st2 code of
the 3.x line, v3.2 where the index had it; ``st2common/st2common/openapi.yaml.j2`` for shapes):

Authentication (``router.py``, ``securityDefinitions`` in ``openapi.yaml.j2``; ``st2auth/app.py``
builds its router with auth enabled, so ``/auth/v1/tokens/validate`` needs credentials too):
  credentials are looked for in this order, the first one present wins: header
  ``X-Auth-Token``, header ``St2-Api-Key``, query ``x-auth-token``, query ``st2-api-key``.
  None -> 401 ``Unauthorized - One of Token or API key required.``; unknown token -> 401
  ``Unauthorized`` (st2's TokenNotFoundError has no message); expired token (see
  :meth:`St2Emulator.expire_token`) -> 401 ``Unauthorized - Token has expired.``; unknown API
  key -> 401 ``Unauthorized - ApiKey with key_hash=<hash> not found.`` (st2's salted sha512,
  :func:`api_key_hash`). API keys and the tokens given as a sequence authenticate as the user
  ``st2admin`` (:attr:`St2Emulator.user`); ``tokens`` given as a mapping, or
  :meth:`St2Emulator.add_token`, name each token's user (st2 resolves a token to the user it
  was issued to). Route matching comes first, so an unknown route answers 404 even without
  credentials.

``GET /api/v1/user`` (``st2api/controllers/v1/user.py`` @ v3.2.0 and v3.9.0; the router sets
  ``auth_info`` in ``st2common/st2common/router.py``): ``{"username": <user>,
  "authentication": {"method": "authentication token" | "API key", "location": "header" |
  "query"}, "rbac": {"enabled": false, "roles": [], "is_admin": true}}`` (RBAC off: st2's
  NoOp backend calls every user an admin). The token's expiry time is not emulated.

Request bodies (``router.py``): a missing Content-Type means JSON; an empty body is ``{}``;
  unparsable JSON -> 400 ``Failed to parse request body: <error>``; any other content type ->
  400 ``Failed to parse request body: Unsupported Content-Type: "<type>"``. Schema errors are
  400 with jsonschema-like messages (``Additional properties are not allowed ('x' was
  unexpected)``, ``'x' is not one of [...]``, ``[] is not of type 'object'``).

``PUT /api/v1/executions/{id}`` (``ExecutionUpdateRequest``; ``actionexecutions.py`` ``put``;
``services/action.py``; ``util/action_db.py``):
  body: only ``status`` (liveaction enum) and ``result`` (object); unknown id -> 404
  ``Unable to identify resource with id "<id>".``; completed execution (succeeded, failed,
  timeout, abandoned, canceled) -> 400 ``Execution is already in completed state.``; no
  ``status`` -> 500 ``Failed updating execution due to unexpected error.`` (st2 dereferences
  it); then, as st2's controller branches:

  * canceling + canceled: canceled, or stays canceling while children are active
    (``is_children_active``: only for the version's workflow runners; children completed,
    paused or pending are inactive);
  * canceling/canceled otherwise: a cancellation request. From canceling -> 500 (st2's
    ``request_cancellation`` returns a bare liveaction there); from a non-cancelable status
    -> 500; otherwise canceling (running, or has a ``parent`` in its context) or canceled,
    and the result becomes ``{"message": "Action canceled by user.", "user": ...}`` (the
    sent result is ignored);
  * pausing + paused: paused, or stays pausing while children are active;
  * pausing/paused otherwise: a pause request: 400 ``Failed updating execution. Unable to
    pause liveaction "<liveaction id>" because it is not supported by the "<runner>"
    runner.`` unless the runner is one of st2's workflow runners for the emulated ``version``
    (:func:`workflow_runners`: action-chain, mistral-v2, orquesta up to 3.2; action-chain,
    orquesta from 3.3, so a mistral-v2 pause or resume is refused there, as real st2 v3.9.0
    answers in tests/contract);
    no-op when already pausing/paused; 400 ``... because it is not in a running state.``
    unless running; else pausing (so ``running`` + PUT ``paused`` gives **pausing**);
  * resuming: a resume request (same runner rule; no-op when running; 400 ``... because it
    is not in a paused state.`` unless paused; else resuming);
  * anything else: ``update_status``.

  ``update_status`` is a no-op when the status is unchanged (the new result is NOT stored);
  on a change the result is stored only when truthy (``{}`` keeps the old one). Every
  applied change is appended to the execution's ``history``. The answer is 200 with the
  execution JSON, also for a no-op.

``GET /api/v1/executions/{id}``: the execution JSON, or the 404 above. Its ``context`` holds
  what a runner returned from ``run()`` (the mistral-v2 runner: ``{"mistral": {"execution_id":
  ...}}``) once :meth:`St2Emulator.update_context` is called where a real runner would return:
  st2's action container hands that context to ``update_liveaction_status``
  (``st2actions/st2actions/container/base.py`` ``_update_status``), which does
  ``liveaction_db.context.update(context)`` (``st2common/st2common/util/action_db.py``), and
  ``update_execution`` copies it onto the execution's top-level ``context``
  (``st2common/st2common/services/executions.py``; ``context`` is not one of the
  ``LIVEACTION_ATTRIBUTES``), both @ v3.2.0 and v3.9.0.

``POST /api/v1/executions`` (``ExecutionRequest``/``LiveAction``; ``actionexecutions.py``
``_handle_schedule_execution``): ``action`` (required ``pack.name`` string), ``parameters``,
  ``context`` (objects), ``notify`` (``on-complete``/``on-failure``/``on-success`` with
  ``message``/``data``/``routes``/``channels`` only), ``delay`` (integer), ``user``. STRICTER
  THAN st2: other top-level properties (st2 silently ignores them) -> 400, and ``callback``
  must be exactly ``{"source": str, "url": str}`` (what st2's callback reads). A malformed ref,
  or one outside the emulator's ``actions`` when that is set (st2 looks the action up,
  ``actionexecutions.py`` @ v3.9.0), -> 400 ``Action "<ref>" cannot be found.``; header
  ``st2-context`` that is not a JSON object -> 400 ``Unable to convert st2-context from the
  headers into JSON.`` (@ v3.2.0; @ v3.9.0 the text ends ``JSON (was <class 'str'>).``, the
  type of what the header parsed to). The child's context is
  the body's ``context``, then ``user`` and ``pack`` set, then ``dict.update`` with the parsed
  header (``_schedule_execution``), so the header's ``parent`` and ``mistral`` keys are stored
  as sent and listed back. A non-empty ``parent`` that is not an object with ``execution_id``
  -> 500 with the Python error text (``services/executions.py`` ``_get_parent_execution``
  subscripts it unguarded). Answer 201 with status ``requested``; then a background thread
  moves it to scheduled, running, and after the delay set by
  :meth:`St2Emulator.set_child_outcome` to its outcome (default: succeeded with
  ``{"stdout": "ok"}``). ``context.parent.execution_id`` sets the execution's ``parent`` field
  and the parent's ``children`` only when that execution exists (``create_execution_object``).

``GET /api/v1/executions`` (``actionexecutions.py`` ``get_all``; ``resource.py`` ``_get_all`` and
``validate_limit_query_param``; the router's query casting): a JSON array of execution JSONs
  (with ``context``), newest first (``-start_timestamp`` then ``action.ref``; ``sort_asc``
  gives oldest first unless ``sort_desc`` is also set), header ``X-Total-Count`` (all
  matches) and ``X-Limit`` (the limit applied; absent for ``limit=-1``). Only parameters st2
  declares are read; others are ignored. Filters, exact match, empty values ignored,
  ``null`` (any case) = "field absent" (so ``parent=null`` lists top-level executions):
  ``action`` (ref), ``status``, ``parent``, ``liveaction``, ``runner``, ``user``
  (``context.user``), ``rule``, ``trigger``, ``trigger_type``, ``trigger_instance``, ``id``
  (comma list). ``limit`` defaults to 100; ``0`` -> 400 ``Limit, "0" specified, must be a
  positive number or -1 for full result set.``; ``<= -2`` -> 400 ``Limit, "<n>" specified,
  must be a positive number.``; ``-1`` (everything) and above ``max_page_size`` (100) are
  allowed for admins only, i.e. for everyone with RBAC off (see ``admin=``), else 403
  ``Administrator access required ...`` / ``Limit "<n>" specified, maximum value is
  "100"``. ``offset`` defaults to 0; ``>= 2**31`` -> 400; negative -> 500 (pymongo).
  Non-integer ``limit``/``offset`` -> 400 ``Parameter "limit" is not of type integer``.
  ``exclude_attributes`` (comma list of ``result``, ``trigger_instance``, ``status``; else 400
  ``Invalid or unsupported exclude attribute specified: <name>``) drops those keys;
  ``include_attributes`` keeps only the named top-level keys plus ``id`` (dotted names
  project sub-keys; a name that is no execution field -> 500); both -> 400 ``exclude_fields
  and include_fields arguments are mutually exclusive. ...``. NOT EMULATED and refused with
  400 ``st2 emulator: query parameter "<name>" is not implemented``: ``sort``,
  ``timestamp``, ``timestamp_gt``, ``timestamp_lt``, ``filter``. Secrets are never masked.

Mistral callback (``contrib/runners/mistral_v2/mistral_v2/callback.py`` @ v3.2.0, called by
  ``runners/base.py`` ``post_run`` from ``services/action.py`` ``update_status``; st2 3.4+ has no
  callback in ``post_run`` (``runners/base.py`` @ v3.9.0), so from ``version`` 3.4 nothing is
  ever sent): up to 3.3, whenever an execution with ``callback.source == "mistral_v2"``
  reaches a completed status or paused (by its outcome or by a PUT), st2 sends
  ``{"state": S, "output": json.dumps(result)}`` with S from succeeded->SUCCESS,
  failed/timeout/abandoned->ERROR, canceled->CANCELLED, paused->PAUSED. st2 takes the action
  execution id from the URL with ``(.+)/action_executions/(.+)`` (no match: nothing is
  sent) and calls ``[mistral] v2_base_url``; the emulator PUTs the callback URL itself, or
  ``mistral_url + /action_executions/<id>`` when ``mistral_url`` is given. No auth header,
  5 s timeout, retried on connection errors only (st2's ``retry_on_exceptions``); HTTP
  errors are not retried. Each attempt is recorded in :attr:`St2Emulator.callbacks`.
  ``callback_output="object"`` sends the result object instead of the JSON string.

``GET /api/v1/keys/{name}`` (``keyvalue.py`` ``get_one``; ``util/keyvalue.py``): ``scope``
  defaults to ``st2kv.system``; ``system``/``user`` become ``st2kv.system``/``st2kv.user``;
  others -> 400 ``Scope <scope> is not in allowed scopes list: [...]``; ``?user=`` implies
  user scope and, with RBAC off, 403 unless it is the caller; ``decrypt`` must be a boolean
  (400 ``Parameter "decrypt" is not of type boolean``); missing key -> 404 ``KeyValuePair with
  name: <ref> and scope: <scope> not found in db.`` (user-scoped refs are ``<user>:<name>``).
  Encrypted values come back as an opaque upper-case hex ciphertext with ``encrypted: true``
  unless ``decrypt=true``.

``POST /auth/v1/tokens/validate`` (``st2auth/controllers/v1/auth.py``): body ``{"token": ...}``
  -> ``{"valid": true|false}`` (expired or unknown: false); no token -> 400 ``Token is not
  provided.``.

``GET /stream/v1/stream`` (:attr:`St2Emulator.stream_url` + ``/stream``; st2stream serves
``/v1/stream`` on port 9102 and nginx maps ``/stream/`` to it, ``st2stream/app.py``;
``st2stream/controllers/v1/stream.py``; ``st2common/stream/listener.py``; the openapi's
``/stream/v1/stream``): server-sent events. Credentials as for every route (headers or the
query parameters ``x-auth-token`` / ``st2-api-key``, which is how EventSource clients
authenticate); a refused request gets the JSON 401 above and no stream. Answer 200,
``Content-Type: text/event-stream; charset=UTF-8``, chunked, open until the emulator ends it.
  * ``events``: comma list of fnmatch globs (``st2.execution__*``); empty or absent: st2's
    default list (announcements, execution and liveaction create/update/delete).
    ``action_refs`` and ``execution_ids``: comma lists matched against ``action.ref`` and
    ``id``. Declared-but-not-emulated ``end_event`` / ``end_execution_id`` -> 400 ``st2
    emulator: query parameter "<name>" is not implemented``; others are ignored.
  * An event is ``event: <name>\\ndata: <execution JSON>\\n\\n`` (``json.dumps``
    defaults: one line, non-ASCII as ``\\uXXXX`` escapes), the execution in the same shape as
    ``GET /executions/{id}`` (result included). Keep-alive is what st2 sends: a bare newline
    (``\\n``) right after connecting and after every ``stream_heartbeat`` seconds (st2's ``[stream]
    heartbeat``, 25) without an event; not an SSE comment.
  * Emitted, in the order the changes are applied: ``st2.execution__create`` when an
    execution is created (:meth:`St2Emulator.add_execution`, ``POST /executions``; a linked
    parent first gets an ``st2.execution__update`` for its new child, as st2's
    ``create_execution_object`` saves the parent before ``publish_request``);
    ``st2.execution__update`` on every applied status change (PUT, a child's progress) and
    on :meth:`St2Emulator.update_context`. A no-op PUT emits nothing (st2's
    ``update_status`` returns early). Liveaction events and announcements are not emulated.
    No replay: a client that was not connected misses the event (see
    :attr:`St2Emulator.stream_events`).
  * :meth:`St2Emulator.go_down`, :meth:`St2Emulator.stop` and :meth:`St2Emulator.reset`
    end every stream: the HTTP response is finished (last chunk) and the connection closed,
    so clients see the stream end and have to reconnect.

Anything else -> 404 ``The resource could not be found.`` (st2 also routes on the method; the
emulator does not implement st2's other endpoints, e.g. DELETE or ``/executions/{id}/children``).

Faults: :meth:`St2Emulator.fail_next` (answer the next N requests with a status, nothing
applied), :meth:`St2Emulator.set_delay` (every request waits, is then applied and answered),
:meth:`St2Emulator.hang` (requests arriving in the window are held, NOT applied, and their
connection is closed without an answer; recorded with status 0),
:meth:`St2Emulator.go_down` / :meth:`St2Emulator.come_up` (listening socket closed and
reopened on the same port, open connections cut).

Example::

    with St2Emulator() as st2:
        ex_id = st2.add_execution()
        ...  # run the code under test against st2.api_url with token 'st2-token'
        st2.wait_for_status(ex_id, 'succeeded')
"""

import collections
import collections.abc
import copy
import dataclasses
import datetime
import fnmatch
import hashlib
import http
import http.server
import json
import queue
import re
import secrets
import socket
import threading
import time
import urllib.parse

import requests as http_lib

__all__ = [
    'COMPLETED_STATUSES',
    'LIVEACTION_STATUSES',
    'Headers',
    'ListQuery',
    'RecordedRequest',
    'St2Emulator',
    'StreamFilter',
]

LIVEACTION_STATUSES = (
    'requested', 'scheduled', 'delayed', 'running', 'succeeded', 'failed', 'timeout',
    'abandoned', 'canceling', 'canceled', 'pending', 'pausing', 'paused', 'resuming',
)
COMPLETED_STATUSES = frozenset({'succeeded', 'failed', 'timeout', 'abandoned', 'canceled'})
CANCELABLE_STATUSES = frozenset({
    'requested', 'scheduled', 'delayed', 'running', 'pausing', 'paused', 'resuming',
})
WORKFLOW_RUNNERS = frozenset({'action-chain', 'mistral-v2', 'orquesta'})
# st2's is_children_active: children in these statuses do not hold a parent in
# pausing/canceling (st2common/st2common/services/action.py @ v3.2.0 and @ v3.9.0).
CHILD_INACTIVE_STATUSES = COMPLETED_STATUSES | {'paused', 'pending'}


def workflow_runners(version):
    """st2's WORKFLOW_RUNNER_TYPES for an st2 version (st2common/st2common/constants/action.py).

    @ v3.2.0: action-chain, mistral-v2, orquesta; @ v3.9.0: action-chain, orquesta (st2 3.3
    dropped its Mistral runner). It decides which runners may be paused and resumed
    (services/action.py request_pause/request_resume) and whose children count in
    is_children_active.
    """
    return WORKFLOW_RUNNERS if tuple(version) < (3, 3, 0) else WORKFLOW_RUNNERS - {'mistral-v2'}
CHILD_RUNNER = 'local-shell-cmd'

# st2 -> Mistral states sent by the mistral_v2 callback, and the statuses that are called back.
MISTRAL_STATES = {
    'succeeded': 'SUCCESS', 'failed': 'ERROR', 'timeout': 'ERROR', 'abandoned': 'ERROR',
    'canceled': 'CANCELLED', 'paused': 'PAUSED',
}
DEFAULT_CHILD_OUTCOME = ('succeeded', {'stdout': 'ok'}, 0.0)

FULL_SYSTEM_SCOPE = 'st2kv.system'
FULL_USER_SCOPE = 'st2kv.user'
ALLOWED_SCOPES = ['system', 'user', FULL_SYSTEM_SCOPE, FULL_USER_SCOPE]

# GET /executions (st2api actionexecutions.py, controllers/resource.py, openapi.yaml.j2).
DEFAULT_LIST_LIMIT = 100  # the openapi default of ``limit``, also st2's ``default_limit``
MAX_PAGE_SIZE = 100  # st2's ``[api] max_page_size``; binds non-admin users only
# Filters (execution_views.SUPPORTED_FILTERS) -> the execution field they match.
LIST_FILTERS = {
    'action': 'action.ref', 'status': 'status', 'liveaction': 'liveaction.id',
    'parent': 'parent', 'rule': 'rule.name', 'runner': 'runner.name',
    'trigger': 'trigger.name', 'trigger_type': 'trigger_type.name',
    'trigger_instance': 'trigger_instance.id', 'user': 'context.user',
}
# Declared by st2 but not emulated: refused rather than silently ignored.
UNSUPPORTED_LIST_PARAMS = ('sort', 'timestamp', 'timestamp_gt', 'timestamp_lt', 'filter')
VALID_EXCLUDE_ATTRIBUTES = ('result', 'trigger_instance', 'status')
MANDATORY_INCLUDE_FIELDS = ('action.parameters', 'runner.runner_parameters', 'parameters')
# ActionExecutionDB's fields: include_attributes naming anything else fails in mongoengine.
EXECUTION_DB_FIELDS = frozenset({
    'id', 'trigger', 'trigger_type', 'trigger_instance', 'rule', 'action', 'runner',
    'liveaction', 'workflow_execution', 'task_execution', 'status', 'start_timestamp',
    'end_timestamp', 'parameters', 'result', 'context', 'parent', 'children', 'log', 'delay',
    'web_url',
})

# The event stream (st2stream/controllers/v1/stream.py, st2common/stream/listener.py).
EXECUTION_CREATE = 'st2.execution__create'
EXECUTION_UPDATE = 'st2.execution__update'
DEFAULT_STREAM_EVENTS = (
    'st2.announcement__*',
    'st2.execution__create', 'st2.execution__update', 'st2.execution__delete',
    'st2.liveaction__create', 'st2.liveaction__update', 'st2.liveaction__delete',
)
UNSUPPORTED_STREAM_PARAMS = ('end_event', 'end_execution_id')
STREAM_HEARTBEAT = 25.0  # st2's [stream] heartbeat
HEARTBEAT = b'\n'  # what st2's format() yields for an empty message
STREAM_CONTENT_TYPE = 'text/event-stream; charset=UTF-8'

UNEXPECTED_UPDATE_ERROR = 'Failed updating execution due to unexpected error.'
NOT_FOUND = 'The resource could not be found.'
INTERNAL_SERVER_ERROR = 'Internal Server Error'
_MISSING = object()
_SECRET_HEADERS = frozenset({'x-auth-token', 'st2-api-key'})
_OBJECT_ID = re.compile(r'^[0-9a-f]{24}$')
_CALLBACK_URL = re.compile(r'(.+)/action_executions/(.+)')


class _ApiError(Exception):
    """An st2 error answer: HTTP status and faultstring."""

    def __init__(self, status, faultstring):
        super().__init__(faultstring)
        self.status = status
        self.faultstring = faultstring


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
# Pure logic: validation and st2's update rules (no I/O, no locking)
# --------------------------------------------------------------------------------------------

def _type_error(value, type_name):
    return '%r is not of type %s' % (value, type_name)


def _is_object(value):
    return isinstance(value, dict)


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _extras_error(extras):
    verb = 'was' if len(extras) == 1 else 'were'
    return 'Additional properties are not allowed (%s %s unexpected)' % (
        ', '.join(repr(key) for key in extras), verb)


def _check_no_extras(body, allowed):
    extras = [key for key in body if key not in allowed]
    if extras:
        raise _ApiError(400, _extras_error(extras))


def validate_update_body(body):
    """``ExecutionUpdateRequest``: only ``status`` (enum) and ``result`` (object)."""
    if not _is_object(body):
        raise _ApiError(400, _type_error(body, "'object'"))
    if 'status' in body:
        status = body['status']
        if not isinstance(status, str):
            raise _ApiError(400, _type_error(status, "'string'"))
        if status not in LIVEACTION_STATUSES:
            raise _ApiError(400, '%r is not one of %r' % (status, list(LIVEACTION_STATUSES)))
    if 'result' in body and not _is_object(body['result']):
        raise _ApiError(400, _type_error(body['result'], "'object'"))
    _check_no_extras(body, ('status', 'result'))


def _validate_notify(notify):
    if not _is_object(notify):
        raise _ApiError(400, _type_error(notify, "'object'"))
    _check_no_extras(notify, ('on-complete', 'on-failure', 'on-success'))
    for entry in notify.values():
        if not _is_object(entry):
            raise _ApiError(400, _type_error(entry, "'object'"))
        _check_no_extras(entry, ('message', 'data', 'routes', 'channels'))
        if 'message' in entry and not isinstance(entry['message'], str):
            raise _ApiError(400, _type_error(entry['message'], "'string'"))
        if 'data' in entry and not _is_object(entry['data']):
            raise _ApiError(400, _type_error(entry['data'], "'object'"))
        for key in ('routes', 'channels'):
            if key not in entry:
                continue
            if not isinstance(entry[key], list):
                raise _ApiError(400, _type_error(entry[key], "'array'"))
            for item in entry[key]:
                if not isinstance(item, str):
                    raise _ApiError(400, _type_error(item, "'string'"))


def validate_create_body(body):
    """``ExecutionRequest`` as st2.action sends it (stricter than st2, see module doc)."""
    if not _is_object(body):
        raise _ApiError(400, _type_error(body, "'object'"))
    if 'action' not in body:
        raise _ApiError(400, "'action' is a required property")
    if not isinstance(body['action'], str):
        raise _ApiError(400, _type_error(body['action'], "'string'"))
    for key in ('parameters', 'context'):
        if key in body and not _is_object(body[key]):
            raise _ApiError(400, _type_error(body[key], "'object'"))
    if 'notify' in body:
        _validate_notify(body['notify'])
    if 'delay' in body and not _is_integer(body['delay']):
        raise _ApiError(400, _type_error(body['delay'], "'integer'"))
    if 'user' in body and body['user'] is not None and not isinstance(body['user'], str):
        raise _ApiError(400, _type_error(body['user'], "'string', 'null'"))
    if 'callback' in body:
        callback = body['callback']
        if not _is_object(callback):
            raise _ApiError(400, _type_error(callback, "'object'"))
        for key in ('source', 'url'):
            if key not in callback:
                raise _ApiError(400, '%r is a required property' % key)
            if not isinstance(callback[key], str):
                raise _ApiError(400, _type_error(callback[key], "'string'"))
        _check_no_extras(callback, ('source', 'url'))
    _check_no_extras(body, ('action', 'parameters', 'context', 'notify', 'callback', 'delay',
                            'user'))


@dataclasses.dataclass
class UpdatePlan:
    """What a PUT does: the status to apply (same status = no-op) and the result to store."""

    status: str
    result: object = None


def plan_update(current, runner, context, liveaction_id, body, children_active, requester,
                workflow_runner_types=WORKFLOW_RUNNERS):
    """st2's ``ActionExecutionsController.put`` branches, as a pure decision.

    Returns an :class:`UpdatePlan` or raises :class:`_ApiError`.
    """
    if current in COMPLETED_STATUSES:
        raise _ApiError(400, 'Execution is already in completed state.')
    if 'status' not in body:
        # st2 reads liveaction_api.status unguarded: AttributeError -> 500.
        raise _ApiError(500, UNEXPECTED_UPDATE_ERROR)
    new = body['status']
    result = body.get('result')

    if current == 'canceling' and new == 'canceled':
        return UpdatePlan('canceling' if children_active else 'canceled', result)
    if new in ('canceling', 'canceled'):
        if current == 'canceling' or current not in CANCELABLE_STATUSES:
            raise _ApiError(500, UNEXPECTED_UPDATE_ERROR)
        under_workflow = 'parent' in (context or {})
        status = 'canceling' if under_workflow or current == 'running' else 'canceled'
        return UpdatePlan(status, {'message': 'Action canceled by user.', 'user': requester})
    if current == 'pausing' and new == 'paused':
        return UpdatePlan('pausing' if children_active else 'paused', result)
    if new in ('pausing', 'paused'):
        _check_workflow_runner('pause', runner, liveaction_id, workflow_runner_types)
        if current in ('pausing', 'paused'):
            return UpdatePlan(current)
        if current != 'running':
            raise _ApiError(400, 'Failed updating execution. Unable to pause liveaction "%s" '
                                 'because it is not in a running state.' % liveaction_id)
        return UpdatePlan('pausing')
    if new == 'resuming':
        _check_workflow_runner('resume', runner, liveaction_id, workflow_runner_types)
        if current == 'running':
            return UpdatePlan(current)
        if current != 'paused':
            raise _ApiError(400, 'Failed updating execution. Unable to resume liveaction "%s" '
                                 'because it is not in a paused state.' % liveaction_id)
        return UpdatePlan('resuming')
    return UpdatePlan(new, result)


def api_key_hash(key):
    """How st2 hashes an API key: sha512 of a fixed salt and the key
    (st2common/st2common/util/hash.py @ v3.2.0 and @ v3.9.0)."""
    return hashlib.sha512(b'saltnpepper' + key.encode('utf-8')).hexdigest()


def context_header_error(parsed, version):
    """st2api/st2api/controllers/v1/actionexecutions.py: @ v3.2.0 a fixed text; @ v3.9.0 it
    names the type of what the header parsed to (releases in between not checked)."""
    if tuple(version) < (3, 9, 0):
        return 'Unable to convert st2-context from the headers into JSON.'
    return ("Unable to convert st2-context from the headers into JSON (was <class '%s'>)."
            % type(parsed).__name__)


def parse_version(version):
    """'3.9.0' (or 'v3.9.0') -> (3, 9, 0): the st2 release whose rules apply."""
    try:
        parts = tuple(int(p) for p in str(version).lstrip('v').split('.'))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise ValueError('version must look like "3.9.0", got %r' % (version,))
    return parts


def _check_workflow_runner(verb, runner, liveaction_id, workflow_runner_types):
    if runner not in workflow_runner_types:
        raise _ApiError(400, 'Failed updating execution. Unable to %s liveaction "%s" because '
                             'it is not supported by the "%s" runner.'
                        % (verb, liveaction_id, runner))


@dataclasses.dataclass
class ListQuery:
    """A parsed ``GET /executions`` query: what to match, in which order, which page."""

    filters: dict
    ids: list = None
    ascending: bool = False
    offset: int = 0
    limit: int = DEFAULT_LIST_LIMIT  # 0: no limit (``limit=-1``)
    exclude: list = dataclasses.field(default_factory=list)
    include: list = dataclasses.field(default_factory=list)


def _integer_param(query, name, default):
    """st2's router casting of an integer query parameter (``^-?[0-9]+$``)."""
    value = query.get(name)
    if value is None:
        return default
    if not re.search(r'^-?[0-9]+$', value):
        raise _ApiError(400, 'Parameter "%s" is not of type integer' % name)
    return int(value)


def _array_param(query, name):
    value = query.get(name)
    return [] if value is None else value.split(',')


def check_list_limit(limit, admin, max_page_size):
    """st2's ``validate_limit_query_param``; returns the limit to apply (0: all)."""
    if limit == -1:
        if not admin:
            raise _ApiError(403, 'Administrator access required to be able to specify '
                                 'limit=-1 and retrieve all the records')
        return 0
    if limit == 0:
        raise _ApiError(400, 'Limit, "0" specified, must be a positive number or -1 for full '
                             'result set.')
    if limit <= -2:
        raise _ApiError(400, 'Limit, "%s" specified, must be a positive number.' % limit)
    if limit > max_page_size and not admin:
        raise _ApiError(403, 'Limit "%s" specified, maximum value is "%s"'
                        % (limit, max_page_size))
    return limit


def parse_list_query(query, admin=True, max_page_size=MAX_PAGE_SIZE):
    """``GET /executions`` parameters, checked in the order st2's router and controller do.

    Returns a :class:`ListQuery` or raises :class:`_ApiError`.
    """
    for name in UNSUPPORTED_LIST_PARAMS:
        if query.get(name):
            raise _ApiError(400, 'st2 emulator: query parameter "%s" is not implemented'
                            % name)
    exclude = _array_param(query, 'exclude_attributes')
    include = _array_param(query, 'include_attributes')
    limit = _integer_param(query, 'limit', DEFAULT_LIST_LIMIT)
    offset = _integer_param(query, 'offset', 0)
    parse_bool_param('show_secrets', query.get('show_secrets'))

    if exclude and include:
        raise _ApiError(400, 'exclude_fields and include_fields arguments are mutually '
                             'exclusive. You need to provide either one or another, but not '
                             'both.')
    for name in exclude:
        if name not in VALID_EXCLUDE_ATTRIBUTES:
            raise _ApiError(400, 'Invalid or unsupported exclude attribute specified: %s'
                            % name)
    if offset >= 2 ** 31:
        raise _ApiError(400, 'Offset "%s" specified is more than 32-bit int' % offset)
    limit = check_list_limit(limit, admin, max_page_size)
    for name in include:
        # mongoengine cannot resolve the field (LookUpError): st2 answers a bare 500.
        if name.split('.')[0] not in EXECUTION_DB_FIELDS:
            raise _ApiError(500, INTERNAL_SERVER_ERROR)
    if offset < 0:
        # pymongo refuses a negative skip (IndexError): a bare 500 as well.
        raise _ApiError(500, INTERNAL_SERVER_ERROR)

    # Empty values are ignored, like st2's ``if not filter_value: continue``.
    filters = {LIST_FILTERS[name]: query[name] for name in LIST_FILTERS if query.get(name)}
    ids = query['id'].split(',') if query.get('id') else None
    # sort_desc wins over sort_asc; any non-empty value counts.
    ascending = bool(query.get('sort_asc')) and not query.get('sort_desc')
    return ListQuery(filters=filters, ids=ids, ascending=ascending, offset=offset,
                     limit=limit, exclude=exclude, include=include)


def _lookup(doc, path):
    """The value at a dotted path of an API document, or ``_MISSING``."""
    value = doc
    for key in path.split('.'):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _matches(doc, path, wanted):
    value = _lookup(doc, path)
    if wanted.lower() == 'null':  # st2's _process_null_filters: "the field does not exist"
        return value is _MISSING
    return value == wanted


def _project(value, keys):
    """MongoDB's inclusion projection of one dotted path (already split) into ``value``."""
    if isinstance(value, list):
        return [_project(item, keys) for item in value if isinstance(item, (dict, list))]
    if not keys:
        return copy.deepcopy(value)
    if not isinstance(value, dict):
        return _MISSING
    head, rest = keys[0], keys[1:]
    if head not in value:
        return {}
    inner = _project(value[head], rest)
    return {} if inner is _MISSING else {head: inner}


def _merge(target, addition):
    for key, value in addition.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def shape_item(doc, query):
    """One listed execution as st2 answers it with exclude/include_attributes."""
    if query.exclude:
        return {key: value for key, value in doc.items() if key not in query.exclude}
    if not query.include:
        return doc
    # The database loads the asked fields, ``id`` (MongoDB's ``_id``) and st2's mandatory
    # ones (for secrets masking); st2's router then keeps the asked top-level names and ``id``.
    asked = ['id'] + list(query.include)
    for field in MANDATORY_INCLUDE_FIELDS:
        if field.split('.')[0] not in asked:
            asked.append(field)
    loaded = {}
    for path in asked:
        part = _project(doc, path.split('.'))
        if part is not _MISSING:
            _merge(loaded, part)
    kept = {name.split('.')[0] for name in query.include} | {'id'}
    return {key: value for key, value in loaded.items() if key in kept}


def list_executions(docs, query):
    """Filter, sort and page API documents (given in creation order) as st2 does.

    Returns ``(page, total)``: total is the number of matches (``X-Total-Count``).
    """
    found = [doc for doc in docs
             if all(_matches(doc, path, wanted) for path, wanted in query.filters.items())
             and (query.ids is None or doc['id'] in query.ids)]
    # st2 sorts on ['-start_timestamp', 'action.ref'] (or '+start_timestamp'); ties keep
    # insertion order. ISO timestamps of one fixed format sort like the times they show.
    found.sort(key=lambda doc: doc['action']['ref'])
    found.sort(key=lambda doc: doc['start_timestamp'], reverse=not query.ascending)
    end = query.offset + query.limit if query.limit else None
    page = [shape_item(doc, query) for doc in found[query.offset:end]]
    return page, len(found)


def full_scope(scope):
    """st2's ``get_datastore_full_scope``: ``user`` -> ``st2kv.user`` etc."""
    if scope == 'all' or 'st2kv' in scope:
        return scope
    return 'st2kv.%s' % scope


def parse_bool_param(name, value):
    """st2's router casting of a boolean query parameter."""
    if value is None:
        return False
    lowered = str(value).lower()
    if lowered in ('true', '1', 'yes', 'y'):
        return True
    if lowered in ('false', '0', 'no', 'n'):
        return False
    raise _ApiError(400, 'Parameter "%s" is not of type boolean' % name)


def parse_json_body(headers, raw):
    """Body decoding as st2's router does it."""
    content_type = (headers.get('Content-Type') or 'application/json').split(';')[0]
    content_type = content_type.strip().lower()
    if content_type != 'application/json':
        raise _ApiError(400, 'Failed to parse request body: Unsupported Content-Type: "%s"'
                        % content_type)
    try:
        return json.loads((raw or b'{}').decode('utf-8'))
    except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
        raise _ApiError(400, 'Failed to parse request body: %s' % exc)


@dataclasses.dataclass(frozen=True)
class StreamFilter:
    """What one stream client asked for: event name globs, action refs, execution ids."""

    events: tuple = DEFAULT_STREAM_EVENTS
    action_refs: tuple = ()
    execution_ids: tuple = ()

    def wants(self, event, action_ref, execution_id):
        """st2's late filtering (``BaseListener.generator``); empty lists filter nothing."""
        if not any(fnmatch.fnmatchcase(event, glob) for glob in self.events):
            return False
        if self.action_refs and action_ref not in self.action_refs:
            return False
        return not self.execution_ids or execution_id in self.execution_ids


def _list_param(query, name):
    return tuple(item for item in (query.get(name) or '').split(',') if item)


def parse_stream_query(query):
    """``GET /stream`` parameters -> :class:`StreamFilter`, or :class:`_ApiError`."""
    for name in UNSUPPORTED_STREAM_PARAMS:
        if query.get(name):
            raise _ApiError(400, 'st2 emulator: query parameter "%s" is not implemented'
                            % name)
    return StreamFilter(events=_list_param(query, 'events') or DEFAULT_STREAM_EVENTS,
                        action_refs=_list_param(query, 'action_refs'),
                        execution_ids=_list_param(query, 'execution_ids'))


def format_event(event, doc):
    """One server-sent event as st2's ``format()`` writes it (``json_encode(indent=None)``)."""
    return ('event: %s\ndata: %s\n\n' % (event, json.dumps(doc))).encode('utf-8')


def new_object_id():
    """A 24-hex id shaped like a Mongo ObjectId (time prefix + random)."""
    return '%08x%s' % (int(time.time()) & 0xFFFFFFFF, secrets.token_hex(8))


def _isotime(wall):
    stamp = datetime.datetime.fromtimestamp(wall, tz=datetime.timezone.utc)
    return stamp.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def _ciphertext(value):
    # Opaque stand-in for st2's AES ciphertext: upper-case hex, never the plain value.
    return hashlib.sha256(b'st2-emulator:' + value.encode('utf-8')).hexdigest().upper()


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


_END_OF_STREAM = object()


class _Subscriber:
    """One connected stream client: its filter and the frames waiting to be written."""

    def __init__(self, stream_filter):
        self.filter = stream_filter
        self.frames = queue.SimpleQueue()


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

class St2Emulator:
    """A strict st2 API on 127.0.0.1 that records requests; see the module docstring."""

    #: the user every accepted credential authenticates as
    user = 'st2admin'

    def __init__(self, tokens=('st2-token',), api_keys=('st2-key',), port=0,
                 mistral_url=None, callback_output='string', callback_attempts=3,
                 callback_retry_wait=0.1, callback_timeout=5.0, admin=True,
                 max_page_size=MAX_PAGE_SIZE, stream_heartbeat=STREAM_HEARTBEAT,
                 version='3.2.0', actions=None):
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
        self.version = parse_version(version)
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

    def go_down(self):
        """Close the listening socket and cut open connections: connections are refused."""
        self._close_listener()

    def come_up(self):
        """Listen again on the same port."""
        if self._server is None:
            self._listen()

    @property
    def is_up(self):
        return self._server is not None

    @property
    def port(self):
        if not self._port:
            raise RuntimeError('St2Emulator has no port yet: call start() first')
        return self._port

    @property
    def base_url(self):
        return 'http://127.0.0.1:%d' % self.port

    @property
    def api_url(self):
        return self.base_url + '/api/v1'

    @property
    def auth_url(self):
        return self.base_url + '/auth/v1'

    @property
    def stream_url(self):
        """st2's stream API behind nginx; the event stream is ``stream_url + '/stream'``."""
        return self.base_url + '/stream/v1'

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

    def _end_streams(self, timeout=2.0):
        """Finish every stream response and wait (bounded) for their writers to exit."""
        deadline = time.monotonic() + timeout
        with self._lock:
            for subscriber in self._subscribers:
                subscriber.frames.put(_END_OF_STREAM)
            while self._subscribers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break  # a writer stuck on a full socket: the connection cut frees it
                self._streams_ended.wait(remaining)

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

    def expire_token(self, token):
        """Make ``token`` answer 401 "Token has expired." (and validate as invalid)."""
        if token not in self._tokens:
            raise ValueError('unknown token')
        with self._lock:
            self._expired.add(token)

    # -- faults --------------------------------------------------------------------------------

    def fail_next(self, status, count=1, body=None):
        """Answer the next ``count`` requests with ``status`` (nothing is applied)."""
        if not 200 <= int(status) <= 599:
            raise ValueError('status must be an HTTP status code from 200 to 599')
        if body is None:
            body = {'faultstring': http.HTTPStatus(status).phrase}
        with self._lock:
            for _ in range(count):
                self._faults.append((int(status), copy.deepcopy(body)))

    def set_delay(self, seconds):
        """Delay every answer by ``seconds`` (the request is applied after the delay)."""
        if seconds < 0:
            raise ValueError('delay must be >= 0')
        with self._lock:
            self._delay = float(seconds)

    def hang(self, seconds):
        """For ``seconds`` from now, accept requests but never answer nor apply them."""
        with self._lock:
            self._hang_until = time.monotonic() + float(seconds)

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

    @property
    def stream_clients(self):
        """How many stream clients are connected now."""
        with self._lock:
            return len(self._subscribers)

    @property
    def stream_events(self):
        """Events published on the stream, in order: dicts with event, execution_id, status,
        clients (how many connected clients it was sent to; 0: nobody got it) and at."""
        with self._lock:
            return copy.deepcopy(self._stream_events)

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

        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        headers = {}
        if fault is not None:
            status, answer = fault
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

    def _stream(self, handler, subscriber):
        """Write one client's server-sent events until its stream is ended."""
        try:
            handler.send_response(200)
            handler.send_header('Content-Type', STREAM_CONTENT_TYPE)
            handler.send_header('Transfer-Encoding', 'chunked')
            handler.end_headers()
            frame = HEARTBEAT  # st2 queues an empty message first: clients see it at once
            while frame is not _END_OF_STREAM:
                handler.wfile.write(b'%x\r\n%s\r\n' % (len(frame), frame))
                try:
                    frame = subscriber.frames.get(timeout=self.stream_heartbeat)
                except queue.Empty:
                    frame = HEARTBEAT
            handler.wfile.write(b'0\r\n\r\n')  # the last chunk: a clean end of the response
        except OSError:
            pass  # the client went away, or the connection was cut
        finally:
            handler.close_connection = True
            with self._lock:
                self._subscribers.remove(subscriber)
                self._streams_ended.notify_all()

    @staticmethod
    def _send(handler, status, answer, headers=None):
        if isinstance(answer, (bytes, str)):
            data = answer.encode('utf-8') if isinstance(answer, str) else answer
        else:
            data = json.dumps(answer).encode('utf-8')
        try:
            handler.send_response(status)
            handler.send_header('Content-Type', 'application/json')
            handler.send_header('Content-Length', str(len(data)))
            for name, value in (headers or {}).items():
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

    def _open_stream(self, record, requester, *unused):
        # Subscribed under the lock: every change applied after this is sent to the client.
        subscriber = _Subscriber(parse_stream_query(record.query))
        self._subscribers.append(subscriber)
        if self._server is None:
            subscriber.frames.put(_END_OF_STREAM)  # going down: answer, then end at once
        return 200, subscriber

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

    def _publish(self, event, ex):
        """Send one execution event to every connected client that wants it."""
        targets = [subscriber for subscriber in self._subscribers
                   if subscriber.filter.wants(event, ex.action, ex.id)]
        if targets:
            frame = format_event(event, ex.to_api())  # encoded once for all clients
            for subscriber in targets:
                subscriber.frames.put(frame)
        self._stream_events.append({'event': event, 'execution_id': ex.id,
                                    'status': ex.status, 'clients': len(targets),
                                    'at': time.monotonic()})

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
