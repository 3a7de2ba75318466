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

"""st2's rules as the emulator applies them: constants and pure functions, no I/O.

Each rule names the st2 source file and tag it follows; docs/st2-emulator.rst
sums them up per st2 version.
"""

import copy
import dataclasses
import datetime
import fnmatch
import hashlib
import json
import re
import secrets
import time

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
# The 3.2 rules this emulator began with.
DEFAULT_VERSION = '3.2.0'


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

    ``workflow_runners``: :func:`workflow_runner_types` of the emulated st2 version.

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
    """st2api/st2api/controllers/v1/actionexecutions.py: a fixed text @ v3.2.0 and v3.4.1;
    from v3.5.0 (the same line @ v3.5.0, v3.6.0, v3.7.0, v3.8.1 and v3.9.0) it names the type
    of what the header parsed to."""
    if tuple(version) < (3, 5, 0):
        return 'Unable to convert st2-context from the headers into JSON.'
    return ("Unable to convert st2-context from the headers into JSON (was <class '%s'>)."
            % type(parsed).__name__)


def parse_version(version):
    """'3.9.0' (or 'v3.9.0') -> (3, 9, 0): the st2 release whose rules apply."""
    try:
        parts = tuple(int(p) for p in str(version).lstrip('v').split('.'))
    except ValueError:
        parts = ()
    if len(parts) == 2:
        parts += (0,)
    if len(parts) != 3:
        raise ValueError('version must look like "3.9.0" or "3.9", got %r' % (version,))
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
