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

"""Inquiries: children of st2's inquirer runner, and ``PUT /inquiries/<id>``.

st2's rules (v3.2.0 and v3.9.0 alike; what differs is ``workflow_runners``):

- the inquirer runner answers ``pending`` (contrib/runners/inquirer_runner/
  inquirer_runner/inquirer_runner.py ``run``), then in ``post_run`` asks to pause the
  ROOT workflow of an inquiry whose context has a ``parent`` and no ``orquesta``
  (st2common/st2common/services/action.py ``get_root_liveaction``,
  ``request_pause``); ``request_pause`` refuses a runner outside
  WORKFLOW_RUNNER_TYPES (mistral-v2 from 3.3) and st2's worker then fails the
  inquiry with that message (st2actions/st2actions/worker.py ``_run_action``);
  a root that is running becomes ``pausing``;
- ``PUT /inquiries/<id>`` (st2api/st2api/controllers/v1/inquiries.py ``put``,
  st2common/st2common/services/inquiry.py): 400 unless the execution is an inquiry
  still pending; the root (parent under orquesta) is resumed when paused or
  pausing; the inquiry then succeeds with ``response`` in its result; the answer is
  ``{"id", "response"}``. Response schemas and permissions are not emulated.
"""

import copy
import threading

from st2mistral.testing.st2_emulator.rules import _ApiError
from st2mistral.testing.st2_emulator.rules import parse_json_body
from st2mistral.testing.st2_emulator.rules import workflow_runners

INQUIRER_RUNNER = 'inquirer'
PAUSE_STATES = frozenset({'pausing', 'paused'})
# The inquirer's result while pending, with its runner parameters' defaults.
PENDING_RESULT = {'roles': [], 'users': [], 'route': '', 'ttl': 1440}


def pause_refusal(liveaction_id, runner):
    """request_pause's refusal (st2common/st2common/services/action.py @ v3.9.0)."""
    return ('Unable to pause liveaction "%s" because it is not supported by the "%s" '
            'runner.' % (liveaction_id, runner))


class InquiryRunner:
    """Mixin of St2Emulator: inquiry children and the inquiries endpoint."""

    def set_inquiry_action(self, action_ref):
        """Children POSTed for ``action_ref`` run on st2's inquirer runner (core.ask)."""
        with self._lock:
            self._inquiry_actions.add(action_ref)

    def _is_inquiry_action(self, action_ref):
        return action_ref in self._inquiry_actions

    def _start_inquiry(self, execution_id):
        threading.Thread(target=self._run_inquiry, args=(execution_id, self._generation),
                         name='st2-emulator-inquiry-%s' % execution_id, daemon=True).start()

    def _root(self, ex):
        # get_root_liveaction: up through context.parent.execution_id.
        while True:
            parent = (ex.context or {}).get('parent') or {}
            up = self._executions.get(parent.get('execution_id')) if parent else None
            if up is None:
                return ex
            ex = up

    def _run_inquiry(self, execution_id, generation):
        for step in ('scheduled', 'running'):
            if not self._set_if_current(execution_id, step, None, generation):
                return
        result = dict(PENDING_RESULT, schema=copy.deepcopy(
            self._executions[execution_id].parameters.get('schema') or {}))
        if not self._set_if_current(execution_id, 'pending', result, generation):
            return
        with self._lock:
            ex = self._executions.get(execution_id)
            if generation != self._generation or ex is None:
                return
            if not (ex.context or {}).get('parent') or 'orquesta' in ex.context:
                return
            root = self._root(ex)
            if root.runner not in workflow_runners(self.version):
                self._apply_status(ex, 'failed', {
                    'error': pause_refusal(root.liveaction_id, root.runner)})
            elif root.status == 'running':
                self._apply_status(root, 'pausing', None)

    def _respond_inquiry(self, record, requester, inquiry_id):
        body = parse_json_body(record.headers, record.raw)
        if not isinstance(body, dict) or 'id' not in body:
            raise _ApiError(400, "'id' is a required property")
        ex = self._find(inquiry_id)
        if ex.runner != INQUIRER_RUNNER:
            raise _ApiError(400, 'Action execution "%s" is not an inquiry.' % inquiry_id)
        if ex.status == 'timeout':
            raise _ApiError(400, 'Inquiry "%s" timed out and cannot be responded to.'
                            % inquiry_id)
        if ex.status != 'pending':
            raise _ApiError(400, 'Inquiry "%s" has already been responded to.' % inquiry_id)
        response = body.get('response')
        parent = (ex.context or {}).get('parent')
        if parent:
            target = (self._executions.get(parent.get('execution_id'))
                      if 'orquesta' in ex.context else self._root(ex))
            if target is not None and target.status in PAUSE_STATES:
                self._apply_status(target, 'resuming', None)
        result = copy.deepcopy(ex.result)
        result['response'] = response
        self._apply_status(ex, 'succeeded', result)
        return 200, {'id': inquiry_id, 'response': response}
