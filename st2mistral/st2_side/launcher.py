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

"""What the mistral-v2 runner does in Mistral. No st2 import: st2_adapter.py
feeds it plain values and turns its answers into st2 statuses.

- start: save the (transformed) workflow or workbook only when it changed and
  start an execution with the env and ``st2`` notify entry the publisher needs
  (docs/contracts.rst, section 7), so status comes back to st2 by push;
- re-run: only tasks in ERROR, ``parent.child`` names for tasks of
  sub-workflows, after updating the env of the workflow and its sub-workflows;
- pause / resume / cancel: the execution, and the parent task's action
  execution when this workflow runs as a child of another Mistral workflow
  (Mistral cascades to its own sub-workflows). Cascading to st2 children is
  the caller's (``children_to_cascade`` says which).

Every Mistral call is retried on transient failures (clients.call_mistral).
"""

from __future__ import annotations

import copy
import dataclasses
import logging

from st2mistral.core import contract
from st2mistral.core import results
from st2mistral.core import retry
from st2mistral.st2_side import clients
from st2mistral.st2_side import definitions

LOG = logging.getLogger(__name__)

RUNNING = 'running'
WORKFLOW_RUNNERS = frozenset({'action-chain', 'mistral-v2', 'orquesta'})
# Mistral states of sub-workflows whose env Mistral lets us update.
ENV_UPDATABLE = frozenset({'IDLE', 'PAUSED', 'ERROR'})


class RunnerError(Exception):
    """The runner cannot do what st2 asked; the message says why."""


@dataclasses.dataclass
class StartRequest:
    """Everything the runner knows about one execution, as plain values."""

    action_ref: str                 # <pack>.<action>
    definition: str                 # the entry point file's text
    parameters: dict                # action parameters (workflow input)
    execution_id: str               # st2 execution id
    api_url: str                    # st2 API URL (with /v1) Mistral calls
    runner_parameters: dict = dataclasses.field(default_factory=dict)
    liveaction_id: str | None = None
    public_api_url: str | None = None
    context: dict = dataclasses.field(default_factory=dict)   # liveaction context
    notify: dict | None = None
    auth_token: str | None = dataclasses.field(default=None, repr=False)
    push: bool = True               # False with [mistral] enable_polling


# -- pure helpers -------------------------------------------------------------------


def parent_context(execution_id, context):
    """The ``parent`` st2.action hands to each st2 child (st2's rules)."""
    parent = copy.deepcopy(context or {})
    parent['execution_id'] = execution_id
    chain = parent.get('chain')
    if isinstance(chain, dict):
        for key in ('params', 'parameters'):
            if isinstance(chain.get(key), dict):
                chain[key] = definitions.raw_jinja(chain[key])
    return parent


def build_env(request):
    env = contract.build_env(
        request.execution_id, request.api_url, auth_token=request.auth_token,
        liveaction_id=request.liveaction_id,
        parent=parent_context(request.execution_id, request.context),
        notify=request.notify,
        skip_notify_tasks=request.runner_parameters.get('skip_notify') or ())
    if request.public_api_url:
        env['st2_action_api_url'] = request.public_api_url.rstrip('/')
    return env


def notify_entries(request):
    entry = dict(contract.ST2_NOTIFY_ENTRY)
    if request.public_api_url and request.public_api_url.rstrip('/') != request.api_url.rstrip('/'):
        entry['api_url'] = request.api_url.rstrip('/')  # what Mistral can reach
    return [entry]


def runner_context(context, execution_id, workflow_name):
    """The context st2 stores: ``mistral`` for this execution, parent's moved aside.

    A workflow started by a task of another Mistral workflow carries that
    task's ids in ``context.mistral``: they stay (pause/resume/cancel of the
    parent task use ``action_execution_id``) and the parent workflow's name
    and id move to ``mistral.parent``.
    """
    inherited = copy.deepcopy(contract.mistral_context(context))
    parent = {key: inherited.pop(key) for key in ('workflow_name', 'workflow_execution_id')
              if key in inherited}
    mistral = inherited
    mistral.update({'execution_id': execution_id, 'workflow_name': workflow_name})
    if parent:
        mistral['parent'] = parent
    return {'mistral': mistral}


def task_specs(rerun_options):
    """``context['re-run']`` -> {task name: reset?}."""
    reset = set((rerun_options or {}).get('reset') or ())
    return {name: name in reset for name in (rerun_options or {}).get('tasks') or ()}


# Runner parameters that ask for a re-run of tasks where st2 3.3+ refuses
# ``st2 execution re-run <id> --tasks`` for any runner but orquesta
# (st2api/st2api/controllers/v1/actionexecutions.py, lines 632-633 @ v3.9.0) but
# accepts parameters: ``st2 execution re-run <id> rerun_tasks=a,b.c rerun_no_reset=b.c``.
RERUN_TASKS = 'rerun_tasks'
RERUN_NO_RESET = 'rerun_no_reset'
RERUN_HOW = ('st2 execution re-run <id of the failed execution> %s=<task>[,<task>...] '
             '[%s=<task>,...]' % (RERUN_TASKS, RERUN_NO_RESET))


def rerun_options(context, runner_parameters):
    """The tasks st2 asks to re-run, as ``{'tasks': [...], 'reset': [...]}``, or None
    for a plain start.

    st2 <= 3.2 puts them in ``context['re-run']`` (``--tasks``/``--no-reset``); on
    st2 3.3+ they come as the runner parameters ``rerun_tasks``/``rerun_no_reset``
    of a re-run (``context['re-run']['ref']``: the execution re-run). Every task
    listed is reset but those in ``rerun_no_reset``, as st2 3.2's client did.
    """
    rerun = (context or {}).get('re-run') or {}
    if rerun.get('tasks'):
        return {'tasks': list(rerun['tasks']), 'reset': list(rerun.get('reset') or ())}
    params = runner_parameters or {}
    tasks = [t for t in params.get(RERUN_TASKS) or () if t]
    no_reset = [t for t in params.get(RERUN_NO_RESET) or () if t]
    if not tasks:
        if no_reset:
            raise RunnerError('%s names tasks (%s) but %s is empty: list the tasks to re-run '
                              'in %s too (%s).' % (RERUN_NO_RESET, ', '.join(no_reset),
                                                   RERUN_TASKS, RERUN_TASKS, RERUN_HOW))
        return None
    unknown = sorted(set(no_reset) - set(tasks))
    if unknown:
        raise RunnerError('%s names tasks that %s does not: %s. Every task not to reset must '
                          'be re-run too (%s).' % (RERUN_NO_RESET, RERUN_TASKS,
                                                   ', '.join(unknown), RERUN_HOW))
    if not rerun.get('ref'):
        raise RunnerError('%s re-runs tasks of a failed execution: use it with st2\'s re-run, '
                          '"%s", not with "st2 run" (to start the workflow anew, leave %s '
                          'empty).' % (RERUN_TASKS, RERUN_HOW, RERUN_TASKS))
    return {'tasks': tasks, 'reset': [t for t in tasks if t not in no_reset]}


def children_to_cascade(operation, children):
    """Ids of st2 children an operation must be cascaded to.

    ``children``: (id, runner name, status) of the st2 execution's children.
    Only workflow runners pause, resume and cancel their own children.
    """
    wanted = {'pause': {RUNNING}, 'resume': {'paused'},
              'cancel': contract.ST2_CANCELABLE}[operation]
    return [child_id for child_id, runner, status in children
            if runner in WORKFLOW_RUNNERS and status in wanted]


def status_after(operation, children_active):
    """st2 status a pause/cancel returns: -ing while st2 children still run."""
    if operation == 'pause':
        return 'pausing' if children_active else 'paused'
    if operation == 'cancel':
        return 'canceling' if children_active else 'canceled'
    return RUNNING


def _mistral_id(context, operation):
    ex_id = contract.mistral_execution_id(context)
    if not ex_id:
        raise RunnerError('Unable to %s because mistral execution_id is missing.' % operation)
    return ex_id


# -- talking to Mistral -------------------------------------------------------------


class Launcher:
    """Runner operations against one Mistral (a mistral_api.Client)."""

    def __init__(self, client, conf, lookup=None, sleep=None):
        self._client = client
        self._conf = conf
        self._lookup = lookup or (lambda ref: None)
        self._sleep = sleep

    def _call(self, fn, *args, **kwargs):
        return clients.call_mistral(self._conf, self._sleep, fn, *args, **kwargs)

    # -- start ---------------------------------------------------------------------

    def prepare(self, request):
        """(spec after transformation, workbook?, workflow to start); raises RunnerError."""
        try:
            spec = definitions.load(request.definition)
            definitions.check_name(request.action_ref, spec)
            transformed = definitions.transform(spec, self._lookup)
            workbook = definitions.is_workbook(transformed)
            workflow = (definitions.default_workflow(
                transformed, request.runner_parameters.get('workflow'))
                if workbook else request.action_ref)
        except definitions.DefinitionError as e:
            raise RunnerError(str(e)) from None
        return transformed, workbook, workflow

    def start(self, request):
        """Start the workflow; returns st2's ``(status, result, context)``."""
        spec, workbook, workflow = self.prepare(request)
        self.save(request.action_ref, spec, workbook)
        inputs = dict(request.runner_parameters.get('context') or {})
        inputs.update(request.parameters or {})
        options = {'env': build_env(request)}
        if request.push:
            options['notify'] = notify_entries(request)
        task_name = request.runner_parameters.get('task_name')
        if task_name:
            options['task_name'] = task_name  # reverse workflows
        execution = self._call(self._client.executions.create, workflow,
                               workflow_input=inputs, **options)
        LOG.info('[%s] Started Mistral workflow %s as execution %s.', request.execution_id,
                 workflow, execution.id)
        return (RUNNING, {'tasks': []},
                runner_context(request.context, execution.id, execution.workflow_name))

    def save(self, name, spec, workbook):
        """Create or update the workflow/workbook only when its definition changed.

        Returns 'created', 'updated' or 'unchanged'.
        """
        this, other = ((self._client.workbooks, self._client.workflows) if workbook
                       else (self._client.workflows, self._client.workbooks))
        text = definitions.dump(spec)
        try:
            existing = self._call(this.get, name)
        except Exception as e:
            if not clients.is_not_found(e):
                raise
            try:  # the same action may have been the other kind before
                self._call(other.delete, name)
            except Exception as e2:
                if not clients.is_not_found(e2):
                    raise
            self._send_definition(this.create, name, text)
            return 'created'
        if _same_definition(existing.definition, spec):
            return 'unchanged'
        self._send_definition(this.update, name, text)
        return 'updated'

    def _send_definition(self, fn, name, text):
        # Mistral 23 parses YAQL with one PLY parser shared by all its threads
        # (mistral/expressions/yaql_expression.py), and PLY is not thread safe:
        # under load a valid definition can fail to parse. A definition that
        # really is wrong fails the same way again, and that error is raised.
        return retry.at_once(tries=2).call(
            self._call, fn, text, retry_if=clients.is_parse_error,
            on_retry=lambda e: LOG.warning(
                'Mistral could not parse the definition of %s (%s); sending it once more, as '
                'Mistral 23 can fail to parse a valid expression under load.', name, e))

    # -- re-run --------------------------------------------------------------------

    def rerun(self, request, mistral_context, rerun_options):
        """Re-run tasks in ERROR of a failed execution (context['re-run'])."""
        specs = task_specs(rerun_options)
        ex_id = _mistral_id(mistral_context, 're-run')
        execution = self._call(self._client.executions.get, ex_id)
        if execution.state != 'ERROR':
            raise RunnerError('Workflow execution %s is %s, not ERROR: only a failed workflow '
                              'can be re-run.' % (ex_id, execution.state))
        descendants = self._list(self._client.executions.list, root_execution_id=ex_id)
        found = {}
        for name in specs:
            found.update(self._error_tasks(ex_id, name, name, descendants))
        missing = sorted(set(specs) - set(found))
        if missing:
            raise RunnerError('Only tasks in error state can be re-run. Unable to identify '
                              'rerunable tasks: %s. Please make sure that the task name is '
                              'correct and the task is in rerunable state.' % ', '.join(missing))

        env = build_env(request)
        self._call(self._client.executions.update, ex_id, None, env=env)
        for sub in descendants:
            if sub.state in ENV_UPDATABLE:
                self._call(self._client.executions.update, sub.id, None, env=env)
        for name, task_id in sorted(found.items()):
            LOG.info('[%s] Re-running task %s (%s) of Mistral execution %s, reset=%s.',
                     request.execution_id, name, task_id, ex_id, specs[name])
            self._call(self._client.tasks.rerun, task_id, reset=specs[name], env=env)
        return (RUNNING, {'tasks': []},
                runner_context(request.context, execution.id, execution.workflow_name))

    def _error_tasks(self, wf_ex_id, full_name, name, descendants):
        """{full name: task id} of tasks in ERROR named ``name`` (``a.b``: in sub-workflows)."""
        tasks = self._list(self._client.tasks.list, workflow_execution_id=wf_ex_id)
        if '.' not in name:
            matches = [t.id for t in tasks if t.name == name and t.state == 'ERROR']
            return {full_name: matches[-1]} if matches else {}
        parent_name, child_name = name.split('.', 1)
        parent_ids = {t.id for t in tasks if t.name == parent_name}
        found = {}
        for sub in descendants:
            if getattr(sub, 'task_execution_id', None) in parent_ids:
                found.update(self._error_tasks(sub.id, full_name, child_name, descendants))
        return found

    def _list(self, list_fn, **filters):
        return clients.list_all(self._call, list_fn, **filters)

    # -- pause, resume, cancel -----------------------------------------------------

    def _set_state(self, context, operation, state):
        ex_id = _mistral_id(context, operation)
        mistral = contract.mistral_context(context)
        parent_task_action = mistral.get('action_execution_id') if 'parent' in context else None
        if state == 'RUNNING' and parent_task_action:
            # Resume the parent's task first so the parent can take our result.
            self._call(self._client.action_executions.update, parent_task_action, state)
        try:
            self._call(self._client.executions.update, ex_id, state)
        except Exception as e:
            if operation == 'cancel' and self._finished(ex_id):
                # Canceled (or finished) in Mistral first: st2 only has to take the result.
                LOG.info('Mistral execution %s had already finished; nothing to cancel.', ex_id)
                return
            raise RunnerError('Unable to %s Mistral execution %s: %s' % (operation, ex_id, e))
        parent_wf = (mistral.get('parent') or {}).get('workflow_execution_id')
        if state == 'CANCELLED' and parent_task_action and parent_wf:
            # Cancel the parent workflow and leave its task's action running until this
            # execution's own result reaches it (the relay, st2's callback): Mistral then
            # shows a cancelled parent with a running task, which st2 shows canceling
            # until this child has finished, as st2 3.2 did (its is_children_active
            # counted mistral-v2 children; test_wiring_cancel
            # test_cancellation_cascade_from_subworkflow_action).
            self._cancel_parent(parent_wf)
        elif state != 'RUNNING' and parent_task_action:
            self._call(self._client.action_executions.update, parent_task_action, state)
        LOG.info('Requested %s of Mistral execution %s.', operation, ex_id)

    def _cancel_parent(self, parent_wf):
        try:
            self._call(self._client.executions.update, parent_wf, 'CANCELLED')
        except Exception as e:
            if not self._finished(parent_wf):
                raise RunnerError('Unable to cancel the parent Mistral execution %s: %s'
                                  % (parent_wf, e))

    def _finished(self, ex_id):
        try:
            return self._call(self._client.executions.get, ex_id).state in results.COMPLETED_STATES
        except Exception:
            return False

    def pause(self, context):
        self._set_state(context, 'pause', 'PAUSED')

    def resume(self, context):
        self._set_state(context, 'resume', 'RUNNING')

    def cancel(self, context):
        self._set_state(context, 'cancel', 'CANCELLED')


def _same_definition(stored_text, spec):
    try:
        return definitions.load(stored_text) == spec
    except definitions.DefinitionError:
        return False
