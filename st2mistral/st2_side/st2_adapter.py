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

"""The one module of st2mistral that imports st2common (tools/check_layout.py keeps it
so): the st2 plugin seams.

st2 loads, through entry points (setup.cfg):

- ``st2common.runners.runner: mistral-v2`` -> this module: ``get_runner()``
  and ``get_metadata()`` (runner.yaml); ``MistralRunner`` is the runner;
- ``st2common.runners.query: mistral-v2`` -> st2mistral.st2_side.query
  (``get_instance()`` -> a querier; st2 <= 3.3 only, run by st2resultstracker);
- ``st2common.runners.callback: mistral-v2`` -> st2mistral.st2_side.callback
  (``get_instance()`` -> handler class; st2 <= 3.3 only).

It also gives the relay service (relay_service.py) st2's own records:
``connect()`` and ``St2Records`` (the rows st2's ``st2-track-result`` writes,
and st2's ``update_status`` for what st2's API refuses).

Everything here is a thin translation between st2's objects and the plain
values of launcher.py, child_results.py and reconcile.py, which hold the
logic. Imports of st2common modules that only some st2 versions have (query,
callback, persistence, services) happen inside the functions that need them,
so the runner loads on st2 3.2 through 3.9.
"""

import functools
import logging
import pkgutil
import time
import uuid

from oslo_config import cfg
from st2common.runners import base as runners_base
import yaml

from st2mistral.core import contract
from st2mistral.core import results
from st2mistral.st2_side import child_results
from st2mistral.st2_side import clients
from st2mistral.st2_side import config
from st2mistral.st2_side import definitions
from st2mistral.st2_side import launcher
from st2mistral.st2_side import reconcile

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

config.register_opts(CONF)

# st2 < 3.4 starts results tracking only for PollingAsyncActionRunner runners.
_RUNNER_BASE = getattr(runners_base, 'PollingAsyncActionRunner', None) or \
    runners_base.AsyncActionRunner


def get_metadata():
    """The runner type st2 registers: the first entry of runner.yaml."""
    # pkgutil, not importlib.resources.files: st2 runs on Python 3.8 too.
    text = pkgutil.get_data('st2mistral.st2_side', 'runner.yaml').decode('utf-8')
    return yaml.safe_load(text)[0]


def get_runner(config=None):
    return MistralRunner(str(uuid.uuid4()))


def lookup_action(ref):
    """definitions.ActionInfo of a registered st2 action (runner parameters merged)."""
    from st2common.util import action_db

    action = action_db.get_action_by_ref(ref)
    if not action:
        return None
    parameters = {}
    runner_type = action_db.get_runnertype_by_name(action.runner_type['name'])
    if runner_type is not None:
        parameters.update(getattr(runner_type, 'runner_parameters', None) or {})
    parameters.update(action.parameters or {})
    return definitions.ActionInfo(ref=ref, parameters=parameters,
                                  runner=action.runner_type['name'])


class MistralRunner(_RUNNER_BASE):
    """st2's mistral-v2 runner for Mistral 23 (see launcher.py for what it does)."""

    def __init__(self, runner_id):
        super().__init__(runner_id=runner_id)
        self._notify = None
        self._skip_notify_tasks = []

    @classmethod
    def is_polling_enabled(cls):
        return CONF[config.MISTRAL].enable_polling

    def pre_run(self):
        super().pre_run()
        liveaction = getattr(self, 'liveaction', None)
        self._notify = getattr(liveaction, 'notify', None) if liveaction else None
        self._skip_notify_tasks = (self.runner_parameters or {}).get('skip_notify', [])

    def _launcher(self):
        token = self.auth_token.token if self.auth_token else None
        return launcher.Launcher(clients.mistral(CONF, auth_token=token), CONF,
                                 lookup=lookup_action)

    def _notify_dict(self):
        if not self._notify:
            return {}
        from st2common.models.api.notification import NotificationsHelper

        return NotificationsHelper.from_model(notify_model=self._notify)

    def _request(self, action_parameters):
        with open(self.entry_point, encoding='utf-8') as f:
            definition = f.read()
        liveaction = getattr(self, 'liveaction', None)
        return launcher.StartRequest(
            action_ref='%s.%s' % (self.action.pack, self.action.name),
            definition=definition,
            parameters=dict(action_parameters or {}),
            execution_id=str(self.execution_id),
            liveaction_id=str(self.liveaction_id) if self.liveaction_id else None,
            api_url=config.mistral_facing_api_url(CONF),
            public_api_url=config.public_api_url(CONF),
            runner_parameters=dict(self.runner_parameters or {}),
            context=dict(getattr(liveaction, 'context', None) or self.context or {}),
            notify=self._notify_dict(),
            auth_token=self.auth_token.token if self.auth_token else None,
            push=not self.is_polling_enabled())

    def run(self, action_parameters):
        rerun = launcher.rerun_options(self.context, self.runner_parameters)
        request = self._request(action_parameters)
        if rerun:
            if not self.rerun_ex_ref:
                raise launcher.RunnerError(
                    'The execution to re-run (%s) was not found: re-run a failed execution '
                    'that st2 still has.' % ((self.context or {}).get('re-run') or {}).get('ref'))
            started = self._launcher().rerun(request, self.rerun_ex_ref.context, rerun)
        else:
            started = self._launcher().start(request)
        return self._cancel_if_requested_meanwhile(*started)

    def _cancel_if_requested_meanwhile(self, status, result, context):
        """A cancel that came while the workflow was being started: st2's worker called
        ``cancel()`` before there was a Mistral execution to cancel, kept the execution
        ``canceling`` (``_do_cancel``), and would now overwrite that with our ``running``
        (``_update_live_action_db``; st2actions/container/base.py @ v3.9.0): the workflow
        would run on. Cancel it now and answer ``canceling``, which st2 keeps."""
        try:
            current = self._stored_liveaction().status
        except Exception as e:   # the workflow runs: st2 must hear so
            LOG.warning('[%s] Could not re-read the execution after starting its workflow '
                        '(a cancel sent meanwhile is not seen): %s', self.execution_id, e)
            return status, result, context
        if current not in ('canceling', 'canceled'):
            return status, result, context
        LOG.info('[%s] st2 was asked to cancel the execution while its Mistral workflow '
                 'was being started: cancelling it now.', self.execution_id)
        try:
            self._launcher().cancel(context)
        except launcher.RunnerError as e:
            # Still canceling in st2; the workflow's own end completes the record.
            LOG.error('[%s] %s', self.execution_id, e)
        return 'canceling', result, context

    # -- pause, resume, cancel -----------------------------------------------------

    def _children(self):
        from st2common.persistence.execution import ActionExecution

        children = []
        for child_id in getattr(self.execution, 'children', None) or ():
            child = ActionExecution.get(id=child_id)
            if child is not None:
                children.append((child, (child.runner or {}).get('name'), child.status))
        return children

    def _cascade(self, operation):
        from st2common.persistence.liveaction import LiveAction
        from st2common.services import action as action_service

        request = {'pause': action_service.request_pause,
                   'resume': action_service.request_resume,
                   'cancel': action_service.request_cancellation}[operation]
        children = self._children()
        wanted = set(launcher.children_to_cascade(
            operation, [(str(c.id), runner, status) for c, runner, status in children]))
        for child, _, _ in children:
            if str(child.id) in wanted:
                request(LiveAction.get(id=child.liveaction['id']),
                        (self.context or {}).get('user'))

    def _children_active(self):
        # Not st2's is_children_active: from st2 3.3 it answers False for any
        # runner outside WORKFLOW_RUNNER_TYPES, mistral-v2 included
        # (st2common/services/action.py @ v3.9.0).
        return reconcile.st2_children_active(None, [status for _, _, status in self._children()])

    def _mistral_result(self):
        """The workflow's result as a completed st2 execution shows it (extra, tasks),
        or None while Mistral has not reached a state with a result."""
        mistral_id = contract.mistral_execution_id(self.context)
        if not mistral_id:
            return None
        reader = reconcile.MistralReader(clients.mistral(CONF), CONF)
        try:
            reading = reader.read(mistral_id)
        except reconcile.ExecutionChanging:
            return None     # still changing: the publisher or the relay brings the result
        if reading.snapshot is None:
            return None
        return results.result_for_st2(reading.snapshot, CONF[config.MISTRAL].max_result_size)

    def pause(self):
        self._launcher().pause(self.context)
        self._cascade('pause')
        return (launcher.status_after('pause', self._children_active()),
                self.liveaction.result, self.liveaction.context)

    def resume(self):
        self._launcher().resume(self.context)
        self._cascade('resume')
        return launcher.RUNNING, self.execution.result, self.execution.context

    def _stored_liveaction(self):
        """The liveaction as st2's database holds it now: run() and cancel() each run on
        the copy st2's worker had when it dispatched them."""
        from st2common.persistence.liveaction import LiveAction

        return LiveAction.get_by_id(str(self.liveaction_id))

    def _take_stored_context(self):
        """st2's worker builds this runner from the liveaction its queue message carried:
        a cancel sent while run() was starting the workflow carries the context of before,
        without the Mistral execution id that run() has stored since
        (st2actions/worker.py warns "has changed ... while in the queue" @ v3.9.0). Take
        the stored one; it is also what st2 writes back with cancel()'s answer."""
        if contract.mistral_execution_id(self.context):
            return
        try:
            stored = self._stored_liveaction().context or {}
        except Exception:   # nothing better to go on: cancel() says what is missing
            return
        if contract.mistral_execution_id(stored):
            self.context = stored
            self.liveaction.context = stored

    def cancel(self):
        """What st2 writes into the liveaction and the execution when a cancel
        completes (st2actions/container/base.py ``_do_cancel`` @ v3.9.0 and v3.2.0).

        st2 has just set the result to ``{message, user}``
        (``request_cancellation``); the workflow's output, ``extra`` and tasks,
        as for any completed workflow, replace it. The cancel may have started
        in Mistral: the runner then only reads the result.
        """
        self._take_stored_context()
        if not contract.mistral_execution_id(self.context):
            # No workflow was started: st2 cancels a child it has not even scheduled
            # through the runner (request_cancellation: "parent" in its context), or
            # run() is starting one and cancels it once started (the answer st2 keeps
            # is canceled; st2 writes run()'s after it only over a non-completed one).
            LOG.info('[%s] Cancelled before its Mistral workflow was started: nothing to '
                     'cancel in Mistral yet.', self.execution_id)
            return 'canceled', self.liveaction.result, self.liveaction.context
        self._launcher().cancel(self.context)
        self._cascade('cancel')
        status = launcher.status_after('cancel', self._children_active())
        result = self._mistral_result()
        return status, result or self.liveaction.result, self.liveaction.context


# -- st2 <= 3.3: results tracker (querier) and callback ------------------------------


@functools.lru_cache(maxsize=None)
def _querier_class():
    from st2common.query.base import Querier

    class MistralResultsQuerier(Querier):
        delete_state_object_on_error = False

        def __init__(self, querier_id=None, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.querier_id = querier_id

        def query(self, execution_id, query_context, last_query_time=None):
            return query(execution_id, query_context)

    return MistralResultsQuerier


def get_querier():
    return _querier_class()(str(uuid.uuid4()))


def query(liveaction_id, query_context):
    """(status, result) of one tracked liveaction, for st2's results tracker: the
    relay's reconcile pass (reconcile.check), with st2's state read from st2's
    database (st2resultstracker holds no API credentials), as st2 3.2's querier did."""
    from st2common.persistence.execution import ActionExecution
    from st2common.util import action_db

    mistral_id = contract.mistral_execution_id(query_context)
    if not mistral_id:
        raise ValueError('[%s] Missing mistral workflow execution ID in query context.'
                         % liveaction_id)
    group = CONF[config.MISTRAL]
    reader = reconcile.MistralReader(clients.mistral(CONF), CONF)
    read = {}

    def st2_now():
        liveaction = read['liveaction'] = action_db.get_liveaction_by_id(liveaction_id)
        execution = ActionExecution.get(liveaction__id=str(liveaction.id))
        children = [ActionExecution.get(id=child_id) for child_id in execution.children or ()]
        return liveaction.status, [{'id': str(c.id), 'status': c.status}
                                   for c in children if c is not None]

    # time.sleep: green under st2's eventlet.
    found = reconcile.check(lambda: reader.read(mistral_id), mistral_id, st2_now,
                            jitter=group.jitter_interval, sleep=time.sleep,
                            max_result_size=group.max_result_size)
    if found.reading is None:
        return found.status, found.result
    LOG.info('[%s] Mistral execution %s is %s; st2 status %s.', liveaction_id, mistral_id,
             found.reading.state, found.status)
    return found.status, (found.result if found.result is not None
                          else (read['liveaction'].result or {'tasks': []}))


@functools.lru_cache(maxsize=None)
def _callback_class():
    from st2common.callback import base as callback_base

    class MistralCallbackHandler(callback_base.AsyncActionExecutionCallbackHandler):
        @classmethod
        def callback(cls, liveaction):
            callback = getattr(liveaction, 'callback', None) or {}
            action_execution_id = child_results.action_execution_id_from_url(
                callback.get('url'))
            if action_execution_id is None:
                LOG.error('[%s] Unable to extract the action execution ID from the callback '
                          'URL (%s).', liveaction.id, callback.get('url'))
                return
            children = child_results.ChildResults(clients.mistral(CONF), CONF)
            # The liveaction's context is what st2 recorded (context.user, context.rbac).
            if liveaction.status in contract.CALLBACK_STATUSES and children.vouched(
                    {'id': str(liveaction.id), 'context': getattr(liveaction, 'context', None)},
                    action_execution_id) is not None:
                return
            children.deliver(
                action_execution_id, liveaction.status, liveaction.result,
                execution_id=str(liveaction.id),
                workflow_execution_id=child_results.workflow_of(
                    getattr(liveaction, 'context', None)))

    return MistralCallbackHandler


def get_callback_handler():
    return _callback_class()


# -- st2 3.4+: st2's own records for the relay service ---------------------------------


# query_module of st2-track-result's rows: runner.yaml's (st2 3.2's runner had the same).
QUERY_MODULES = ('mistral_v2', 'mistral-v2')


def connect(config_args):
    """St2Records after st2common has read st2.conf and connected to st2's database,
    as st2's own services do (st2common/config.py ``parse_args``,
    st2common/service_setup.py ``db_setup``)."""
    from st2common import config as st2_config
    from st2common import service_setup

    st2_config.parse_args(args=list(config_args))
    service_setup.db_setup()
    return St2Records()


class St2Records:
    """st2's database, for the relay: what st2's API does not offer."""

    def tracked(self):
        """Liveaction ids st2-track-result tracks for mistral-v2
        (st2common/services/queries.py ``setup_query`` writes them)."""
        from st2common.persistence.executionstate import ActionExecutionState

        rows = ActionExecutionState.query(query_module__in=list(QUERY_MODULES))
        return [str(row.execution_id) for row in rows]

    def untrack(self, liveaction_id):
        """Delete the row, as ``st2-track-result --delete`` does (queries.remove_query)."""
        from st2common.persistence.executionstate import ActionExecutionState

        rows = list(ActionExecutionState.query(execution_id=liveaction_id))
        for row in rows:
            ActionExecutionState.delete(row, publish=False, dispatch_trigger=False)
        return bool(rows)

    def execution_id(self, liveaction_id):
        """The id of the execution of a liveaction, or None."""
        from st2common.persistence.execution import ActionExecution

        execution = ActionExecution.get(liveaction__id=str(liveaction_id))
        return str(execution.id) if execution is not None else None

    def set_status(self, execution_id, status, result=None):
        """Set a status the way st2's action runner sets a runner's answer: through
        ``update_status`` (st2common/services/action.py), which writes the liveaction
        and the execution and publishes the change. A completed execution is left
        as it is. Returns the status st2 then shows."""
        from st2common.constants import action as action_constants
        from st2common.persistence.execution import ActionExecution
        from st2common.persistence.liveaction import LiveAction
        from st2common.services import action as action_service

        execution = ActionExecution.get(id=execution_id)
        liveaction = LiveAction.get_by_id(execution.liveaction['id'])
        if liveaction.status in action_constants.LIVEACTION_COMPLETED_STATES:
            return liveaction.status
        # The execution update is published either way (st2's stream and UI see it).
        # A liveaction published as pausing/canceling would be dispatched to st2's
        # action runner (ACTIONRUNNER_DISPATCHABLE_STATES, st2actions/worker.py @
        # v3.9.0), which would call the runner's pause()/cancel() on a workflow Mistral
        # has already paused or cancelled.
        liveaction = action_service.update_status(
            liveaction, status, result=result,
            publish=status not in (action_constants.LIVEACTION_STATUS_PAUSING,
                                   action_constants.LIVEACTION_STATUS_CANCELING))
        return liveaction.status

    def write_progress(self, execution_id, result):
        """Write a running execution's result (the relay's progress job) the way st2's
        ``update_execution`` writes an execution (st2common/st2common/services/
        executions.py @ v3.9.0): under st2's coordination lock for its liveaction, only
        while st2 shows it running, the ``result`` field alone, published.

        st2's API cannot: ``PUT /executions/<id>`` of the unchanged ``running`` goes
        through ``update_status``, which returns at once when the status is unchanged
        (st2common/st2common/services/action.py @ v3.9.0). Only the result is set, so a
        status st2 writes meanwhile is never overwritten, and a completion that follows
        replaces the result. Returns the status st2 shows (None: no such execution).
        """
        from st2common.persistence.execution import ActionExecution
        from st2common.services import coordination

        execution = ActionExecution.get(id=execution_id)
        if execution is None:
            return None
        lock_name = str(execution.liveaction['id']).encode()
        with coordination.get_coordinator().get_lock(lock_name):
            execution = ActionExecution.get(id=execution_id)
            if execution.status != 'running':
                return execution.status
            ActionExecution.update(execution, publish=True, set__result=result)
        return 'running'
