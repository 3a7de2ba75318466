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

"""Returning a finished st2 child's result to the Mistral task that started it.

``st2.action`` starts an st2 execution with ``callback: {source: mistral_v2,
url: .../action_executions/<id>}`` and leaves its Mistral action execution
RUNNING. When that st2 execution completes (or pauses), this module sends
``PUT /v2/action_executions/<id>`` with the state map of docs/contracts.rst, section 8.5.

Used by the st2 <= 3.3 callback module (st2_adapter) and by the relay service
(relay_service.py) on st2 3.4+, where st2 calls no callback module.

- The request goes to ``[mistral] v2_base_url``, never to the host named in
  the callback URL (only the action execution id is taken from it).
- The output is the st2 result as a JSON object (Mistral refuses any other
  output); a result that is not an object is wrapped as ``{"result": ...}``.
  Unicode travels as JSON escapes, so no encoding can break it.
- Mistral's "is already completed" (HTTP 500) means a previous delivery
  arrived: done. Connection errors and transient answers are retried.
- Under ``auth_type = st2`` (``[mistral] use_st2_token``: one Mistral project per
  st2 user), when the child names its Mistral workflow, the workflow's project is
  read (admins read every workflow) and the PUT acts in it
  (contract.MISTRAL_PROJECT_HEADER): Mistral before 22 confines the admin
  ``[mistral] st2_service_token`` to its own project, before 21 when completing
  the action execution (it answers "ActionExecution not found"), in 21.0.0 when
  completing the workflow after it (the workflow stays RUNNING);
  docs/mistral-versions.rst, note [3]. Otherwise, on "ActionExecution not
  found" the same is tried once.
- A result above Mistral's ``[engine] execution_field_size_limit_kb`` is
  refused by Mistral, which then fails the task with its size message: the
  task never stays RUNNING.
- Under ``auth_type = st2`` a child completes only an action execution in its
  own st2 user's Mistral project (child_binding.py): any st2 user can start an
  execution whose callback names another user's task.
"""

import logging
import re

from st2mistral.core import contract
from st2mistral.core import results
from st2mistral.st2_side import child_binding
from st2mistral.st2_side import clients

LOG = logging.getLogger(__name__)

_CALLBACK_URL = re.compile(r'(.+)/action_executions/([^/?#]+)/?$')

# st2 liveaction status -> Mistral action execution state (st2's callback map).
MISTRAL_STATES = {
    'requested': 'RUNNING', 'scheduled': 'RUNNING', 'delayed': 'RUNNING',
    'running': 'RUNNING', 'resuming': 'RUNNING',
    'succeeded': 'SUCCESS',
    'failed': 'ERROR', 'timeout': 'ERROR', 'abandoned': 'ERROR',
    'canceling': 'CANCELLED', 'canceled': 'CANCELLED',
    'pending': 'PAUSED', 'pausing': 'PAUSED', 'paused': 'PAUSED',
}

DELIVERED = 'delivered'
ALREADY_COMPLETED = 'already-completed'
SKIPPED = 'skipped'
FAILED = 'failed'
REFUSED = 'refused'      # not the st2 user's task (child_binding.py)


# Mistral's answer (HTTP 500, its engine's DBEntityNotFoundError) when it finds no
# action execution with that id in the request's project.
_NOT_FOUND = 'ActionExecution not found'


def mistral_state(st2_status):
    return MISTRAL_STATES.get(st2_status, 'RUNNING')


def action_execution_id_from_url(url):
    match = _CALLBACK_URL.search(url or '')
    return match.group(2) if match else None


def callback_of(execution):
    """The Mistral action execution id an st2 execution reports to, or None.

    Read from ``liveaction.callback`` (what st2.action sent), else from
    ``context.mistral`` for st2 versions whose API omits the liveaction.
    """
    liveaction = execution.get('liveaction') or {}
    callback = liveaction.get('callback') if isinstance(liveaction, dict) else None
    if callback:
        if callback.get('source') != contract.CALLBACK_SOURCE:
            return None
        return action_execution_id_from_url(callback.get('url'))
    mistral = contract.mistral_context(execution.get('context'))
    if mistral.get('callback_url') and mistral.get('action_execution_id'):
        return mistral['action_execution_id']
    return None


def workflow_of(context):
    """The Mistral workflow execution an st2 child reports to (st2.action's
    ``context.mistral.workflow_execution_id``), or None."""
    value = contract.mistral_context(context).get('workflow_execution_id')
    return value if isinstance(value, str) and value else None


# st2 3.3+ fails an inquiry whose root workflow is mistral-v2 with request_pause's message
# (st2common/st2common/services/action.py @ v3.9.0): what to do instead goes with it.
_PAUSE_REFUSED = 'because it is not supported by the "mistral-v2" runner'
INQUIRY_HINT = ('st2 3.3+ cannot pause a mistral-v2 workflow for an inquiry. The runner marks '
                'a task whose st2 action is an inquiry; for st2.action with a ref known only '
                'when the task runs, add "inquiry: true" to its input (docs/st2-side.rst, '
                '"Inquiries").')


def with_hint(execution):
    """The result of a finished st2 child, with what to do instead when st2 failed an
    inquiry because it cannot pause the mistral-v2 workflow (issue 17 item 5)."""
    result = execution.get('result')
    runner = (execution.get('runner') or {}).get('name')
    if (runner == contract.INQUIRER_RUNNER and execution.get('status') == 'failed'
            and isinstance(result, dict) and _PAUSE_REFUSED in str(result.get('error'))):
        return dict(result, hint=INQUIRY_HINT)
    return result


def output_for(result):
    """The JSON object Mistral accepts as an action output."""
    value = results.decode_json(result)
    return value if isinstance(value, dict) else {'result': value}


class ChildResults:
    """Delivers st2 child results to one Mistral."""

    def __init__(self, mistral_client, conf, sleep=None):
        self._client = mistral_client
        self._conf = conf
        self._sleep = sleep
        self._binding = child_binding.ChildBinding(mistral_client, conf, sleep=sleep)

    def deliver(self, action_execution_id, st2_status, result, execution_id=None,
                workflow_execution_id=None):
        """PUT the state (and output) of one st2 child; returns an outcome constant.

        ``workflow_execution_id``: the Mistral workflow the child reports to (its
        ``context.mistral``), for Mistral before 22 (see the module's docstring)."""
        label = execution_id or '-'
        if st2_status not in contract.CALLBACK_STATUSES:
            LOG.info('[%s] Not calling back Mistral action execution %s: st2 status "%s" '
                     'is not one Mistral is told about.', label, action_execution_id,
                     st2_status)
            return SKIPPED
        state = mistral_state(st2_status)
        output = output_for(result) if state in ('SUCCESS', 'ERROR') else None
        try:
            self._update(action_execution_id, state, output, workflow_execution_id)
        except Exception as e:
            if clients.is_already_completed(e):
                LOG.info('[%s] Mistral action execution %s was already completed: the result '
                         'had been delivered before.', label, action_execution_id)
                return ALREADY_COMPLETED
            LOG.error('[%s] Unable to send the st2 result (%s) to Mistral action execution '
                      '%s: %s: %s', label, st2_status, action_execution_id,
                      type(e).__name__, e)
            return FAILED
        LOG.info('[%s] Sent st2 status %s as %s to Mistral action execution %s.', label,
                 st2_status, state, action_execution_id)
        return DELIVERED

    def _update(self, action_execution_id, state, output, workflow_execution_id):
        call = self._call
        read_first = bool(workflow_execution_id) and child_binding.is_checked(self._conf)
        if read_first:
            # One Mistral project per st2 user: act in the workflow's (Mistral 21.0.0
            # would complete the action execution for the admin user, then never
            # its workflow; docs/mistral-versions.rst, note [3]).
            project = self._st2_users_project(workflow_execution_id)
            if project:
                return call(self._client.action_executions.update, action_execution_id,
                            state, output, project=project)
        try:
            return call(self._client.action_executions.update, action_execution_id, state,
                        output)
        except Exception as e:
            if not (workflow_execution_id and _NOT_FOUND in str(e)):
                raise
            # Read above already (read_first): not an st2 user's workflow then.
            project = None if read_first else self._st2_users_project(workflow_execution_id)
            if not project:
                raise e from None    # auth off, or not an st2 user's: nothing to add
            LOG.info('Mistral found no action execution %s in the service user\'s project '
                     '(Mistral before 21): completing it in the project of workflow %s.',
                     action_execution_id, workflow_execution_id)
            return call(self._client.action_executions.update, action_execution_id, state,
                        output, project=project)

    def _st2_users_project(self, workflow_execution_id):
        """The workflow's Mistral project when it is an st2 user's, else None
        (admins read every workflow, in every Mistral release)."""
        project = getattr(self._call(self._client.executions.get, workflow_execution_id),
                          'project_id', None)
        if isinstance(project, str) and project.startswith(contract.ST2_USER_PROJECT_PREFIXES):
            return project
        return None

    def _call(self, fn, *args, **kwargs):
        return clients.call_mistral(self._conf, self._sleep, fn, *args, **kwargs)

    def vouched(self, execution, action_execution_id):
        """REFUSED, FAILED (the check could not be made) or None when
        ``execution`` (API shape, or a liveaction's id and context) may complete the
        action execution (child_binding.py)."""
        try:
            refusal = self._binding.refusal(execution, action_execution_id)
        except Exception as e:
            LOG.error('[%s] Unable to check that Mistral action execution %s belongs to the '
                      'st2 user of this execution (not sent this time; reconciliation retries): '
                      '%s: %s', execution.get('id') or '-', action_execution_id,
                      type(e).__name__, e)
            return FAILED
        return None if refusal is None else REFUSED

    def deliver_execution(self, execution):
        """Deliver an st2 execution document (API shape) if it reports to Mistral and
        may complete the action execution it names."""
        action_execution_id = callback_of(execution)
        if action_execution_id is None:
            return SKIPPED
        if execution.get('status') in contract.CALLBACK_STATUSES:
            outcome = self.vouched(execution, action_execution_id)
            if outcome is not None:
                return outcome
        return self.deliver(action_execution_id, execution.get('status'),
                            with_hint(execution), execution_id=execution.get('id'),
                            workflow_execution_id=workflow_of(execution.get('context')))
