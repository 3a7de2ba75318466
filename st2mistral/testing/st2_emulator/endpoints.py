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

"""The emulated st2 API endpoints and the database calls st2's services make:
what each request does to the emulator's executions, by st2's rules (rules.py)."""

import copy
import dataclasses
import json
import threading
import time

from st2mistral.testing.st2_emulator.params import RenderError
from st2mistral.testing.st2_emulator.params import render_live_params
from st2mistral.testing.st2_emulator.reruns import plan_rerun
from st2mistral.testing.st2_emulator.rules import ALLOWED_SCOPES
from st2mistral.testing.st2_emulator.rules import CHILD_INACTIVE_STATUSES
from st2mistral.testing.st2_emulator.rules import CHILD_RUNNER
from st2mistral.testing.st2_emulator.rules import COMPLETED_STATUSES
from st2mistral.testing.st2_emulator.rules import DEFAULT_CHILD_OUTCOME
from st2mistral.testing.st2_emulator.rules import EXECUTION_CREATE
from st2mistral.testing.st2_emulator.rules import EXECUTION_UPDATE
from st2mistral.testing.st2_emulator.rules import FULL_SYSTEM_SCOPE
from st2mistral.testing.st2_emulator.rules import FULL_USER_SCOPE
from st2mistral.testing.st2_emulator.rules import LIVEACTION_STATUSES
from st2mistral.testing.st2_emulator.rules import MISTRAL_STATES
from st2mistral.testing.st2_emulator.rules import _ApiError
from st2mistral.testing.st2_emulator.rules import _ciphertext
from st2mistral.testing.st2_emulator.rules import _is_object
from st2mistral.testing.st2_emulator.rules import _isotime
from st2mistral.testing.st2_emulator.rules import _type_error
from st2mistral.testing.st2_emulator.rules import context_header_error
from st2mistral.testing.st2_emulator.rules import full_scope
from st2mistral.testing.st2_emulator.rules import list_executions
from st2mistral.testing.st2_emulator.rules import new_object_id
from st2mistral.testing.st2_emulator.rules import parse_bool_param
from st2mistral.testing.st2_emulator.rules import parse_json_body
from st2mistral.testing.st2_emulator.rules import parse_list_query
from st2mistral.testing.st2_emulator.rules import plan_update
from st2mistral.testing.st2_emulator.rules import validate_create_body
from st2mistral.testing.st2_emulator.rules import validate_update_body
from st2mistral.testing.st2_emulator.rules import workflow_runners


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


class ApiEndpoints:
    """Mixin of St2Emulator: the endpoint handlers (called with its lock held)."""

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
        # The body's user, else the requester; then the header may replace it: without
        # RBAC any user names any user here (actionexecutions.py _handle_schedule_execution
        # and _schedule_execution; rbac/backends/noop.py refuses another user only with
        # require_rbac, which this call does not pass; both @ v3.2.0 and v3.9.0). With RBAC
        # st2 adds context.rbac.user after the header (not emulated: RBAC is off here).
        context['user'] = body.get('user') or requester
        context['pack'] = pack
        context.update(extra_context)
        parent = context.get('parent')
        if parent:
            try:
                parent['execution_id']  # st2's _get_parent_execution reads it unguarded
            except (KeyError, TypeError, IndexError) as exc:
                raise _ApiError(500, str(exc))

        parameters = copy.deepcopy(body.get('parameters') or {})
        try:
            parameters = render_live_params(parameters, context, self._read_key)
        except RenderError as e:
            # st2 records the execution as failed, then answers 400 (actionexecutions.py).
            # No callback: st2.action gets the 400 and fails its task itself.
            failed = self._create(new_object_id(), ref, CHILD_RUNNER, 'failed', parameters,
                                  context, copy.deepcopy(body.get('callback')),
                                  copy.deepcopy(body.get('notify')))
            failed.result = {'error': str(e)}
            failed.history[-1]['result'] = copy.deepcopy(failed.result)
            failed.ended = failed.started
            raise _ApiError(400, str(e))
        inquiry = self._is_inquiry_action(ref)
        child = self._create(new_object_id(), ref, 'inquirer' if inquiry else CHILD_RUNNER,
                             'requested', parameters, context,
                             copy.deepcopy(body.get('callback')),
                             copy.deepcopy(body.get('notify')))
        answer = child.to_api()
        if inquiry:
            self._start_inquiry(child.id)
            return 201, answer
        outcome = self._outcomes.get(ref, DEFAULT_CHILD_OUTCOME)
        threading.Thread(target=self._run_child, args=(child.id, outcome, self._generation),
                         name='st2-emulator-child-%s' % child.id, daemon=True).start()
        return 201, answer

    def _rerun_execution(self, record, requester, execution_id):
        """``POST /executions/<id>/re_run`` (reruns.py): a new execution of the same action,
        ``requested``, left for the test to run as st2's scheduler would; the old one
        unchanged."""
        body = parse_json_body(record.headers, record.raw)
        old = self._find(execution_id)
        no_merge = parse_bool_param('no_merge', record.query.get('no_merge')) or False
        parameters, context = plan_rerun(execution_id, old.runner, old.parameters, body,
                                         no_merge, self.version)
        context['user'] = (body or {}).get('user') or requester
        context['pack'] = old.action.partition('.')[0]
        new = self._create(new_object_id(), old.action, old.runner, 'requested', parameters,
                           context, None, None)
        return 201, new.to_api()

    def _read_key(self, scope, name, user):
        ref = '%s:%s' % (user, name) if scope == FULL_USER_SCOPE else name
        return self._keys.get((scope, ref))

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
