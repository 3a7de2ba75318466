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

"""Reconciling an st2 mistral-v2 execution with its Mistral execution (pull).

Push (the publisher in Mistral) is the normal path. When a push was lost (st2
or Mistral offline, a spool lost with its host, an update given up) or st2's
API refused it (st2 3.3+ refuses to pause a mistral-v2 execution), the relay's
jobs (relay/) pull the same facts from Mistral's REST API into a
``results.Snapshot`` and call ``results.build_update``: the same Mistral
state always gives the same st2 result as the publisher sends.

One pass over one workflow is ``check``: shared by the relay (``Reconciler``)
and st2 3.2's querier (st2_adapter.query). It waits up to ``jitter_interval``,
reads Mistral (``MistralReader``), then st2's state, and decides the st2
status and result (``reconcile``); a Mistral execution that is gone fails the
st2 execution (NOT_FOUND).

Mistral API calls per reconciliation of one workflow, whatever its task count:

- while it runs, or its state is unchanged since the last read: 1
  (``GET /executions/<id>``);
- when it is paused or finished and not read yet (the read that builds the
  result): 4 or more:
  + 1 ``GET /executions/<id>``
  + 1 ``GET /tasks?workflow_execution_id=..`` (state, published)
  + 1 ``GET /action_executions?workflow_name=..&created_at=gte:..`` (outputs; Mistral
  23's task list carries no result and cannot filter actions by workflow execution)
  + 1 ``GET /executions?root_execution_id=..`` only if the workflow has
  sub-workflow tasks, + 1 per with-items task (their ordered result needs
  Mistral's own computation)
  + 1 ``GET /executions/<id>`` again: a reading that straddles a change (a
  resume between the execution and its tasks) is read again, up to
  READ_TRIES times in all, then left to the next pass (ExecutionChanging);
  lists are read in pages of 1000 rows (one more call per further page).

st2 API calls (the relay, st2_executions.St2Executions): 1 ``GET
/executions/<id>`` unless the caller already holds the execution (the
relay's listing), + 1 ``GET /executions?parent=<id>`` per 100 children when it
has children, + the update when the status differs.

The st2 status follows the rules of st2's Mistral querier (``decide_status``):
children still active keep the parent running/canceling/pausing, and a child
stuck in ``requested`` after the workflow finished (a duplicate from a
retried POST, st2 issue #3871) is ignored.

How st2 is updated: through its API (``PUT /executions/<id>``) like the
publisher, except ``pausing``/``paused`` and what follows them: st2 3.3+
refuses those for mistral-v2 (only ``WORKFLOW_RUNNER_TYPES`` may pause,
st2common/constants/action.py), and a cancel of a paused execution through the
API ends with st2's ``{message, user}`` instead of the workflow's result; so
they are written the way st2's own action runner writes a runner's answer,
through st2common's ``update_status`` (``records``, see st2_adapter.St2Records).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time

from st2mistral.core import contract
from st2mistral.core import results
from st2mistral.core import retry
from st2mistral.core import st2update
from st2mistral.st2_side import child_results
from st2mistral.st2_side import clients

LOG = logging.getLogger(__name__)

ACTIVE_TASK_STATES = frozenset({'RUNNING', 'RUNNING_DELAYED', 'WAITING'})
CANCELING = frozenset({'canceling', 'canceled'})
# Statuses st2's API refuses to set for mistral-v2 on st2 3.3+ (request_pause,
# st2common/services/action.py @ v3.9.0).
PAUSE_STATUSES = frozenset({'pausing', 'paused'})
# What a reconciliation tells st2 when the Mistral execution is gone.
NOT_FOUND = 'Mistral execution %s was not found.'


# -- the querier's decision rules (pure) ---------------------------------------------


def st2_children_active(workflow_state, children_statuses):
    """True if an st2 child of the workflow still runs."""
    for status in children_statuses:
        if workflow_state in results.STATES_WITH_RESULT and status == 'requested':
            continue  # duplicate child left in requested by a retried POST (#3871)
        # Paused and pending children are inactive, as in st2's is_children_active
        # (st2common/services/action.py @ v3.2.0 and v3.9.0).
        if status not in contract.ST2_COMPLETED and status not in ('paused', 'pending'):
            return True
    return False


def decide_status(st2_status, workflow_state, active):
    """The st2 status for a Mistral state, given st2's current status and activity."""
    canceled = st2_status in CANCELING
    # Only a pause st2 asked for and has not confirmed waits for Mistral; an st2
    # "paused" with Mistral RUNNING was resumed in Mistral.
    paused = st2_status == 'pausing'
    if canceled and (active or workflow_state not in results.STATES_WITH_RESULT):
        return 'canceling'
    if not canceled and active and workflow_state == 'CANCELLED':
        return 'canceling'
    if paused and (active or workflow_state not in results.STATES_WITH_RESULT):
        return 'pausing'
    if not paused and active and workflow_state == 'PAUSED':
        return 'pausing'
    if st2_status == 'resuming' and workflow_state == 'PAUSED':
        return 'resuming'
    if workflow_state in results.STATES_WITH_RESULT and not active:
        return results.st2_status(workflow_state)
    return 'running'


# -- reading Mistral ----------------------------------------------------------------


@dataclasses.dataclass
class Reading:
    """What one poll learnt from Mistral."""

    state: str
    updated_at: str | None
    snapshot: results.Snapshot | None = None   # set when the state has a result
    tasks_active: bool = False
    calls: int = 0


READ_TRIES = 3


class ExecutionChanging(Exception):
    """The Mistral execution changed while each try read it; the next check reads it."""


class MistralReader:
    """Reads a workflow execution from Mistral's REST API in a bounded number of calls."""

    def __init__(self, client, conf, sleep=None):
        self._client = client
        self._conf = conf
        self._sleep = sleep
        self.calls = 0

    def _call(self, fn, *args, **kwargs):
        self.calls += 1
        return clients.call_mistral(self._conf, self._sleep, fn, *args, **kwargs)

    def _list(self, fn, **kwargs):
        return clients.list_all(self._call, fn, **kwargs)

    def read(self, ex_id, known=None):
        """A Reading of execution ``ex_id``; no snapshot when ``known`` (state,
        updated_at) is unchanged or the workflow still runs.

        The execution and its tasks come from separate calls. A snapshot counts only
        if the execution is unchanged after its tasks were read: a resume in between
        would pair PAUSED with the next task running ("pausing" for a running
        workflow). Raises ExecutionChanging when it changed on every try.
        """
        start = self.calls
        reading = retry.at_once(tries=READ_TRIES).call(
            self._read_once, ex_id, known,
            retry_if=lambda e: isinstance(e, ExecutionChanging))
        reading.calls = self.calls - start
        return reading

    def _read_once(self, ex_id, known):
        execution = self._call(self._client.executions.get, ex_id)
        version = (execution.state, execution.updated_at)
        reading = Reading(state=execution.state, updated_at=execution.updated_at)
        if execution.state not in results.STATES_WITH_RESULT or known == version:
            return reading
        reading.snapshot, reading.tasks_active = self._snapshot(execution)
        again = self._call(self._client.executions.get, ex_id)
        if (again.state, again.updated_at) != version:
            raise ExecutionChanging(ex_id)
        return reading

    def _snapshot(self, execution):
        tasks = [t.to_dict() for t in self._list(self._client.tasks.list,
                                                 workflow_execution_id=execution.id)]
        task_ids = {t['id'] for t in tasks}
        children = {}
        for action in self._list(self._client.action_executions.list,
                                 workflow_name=execution.workflow_name,
                                 created_at='gte:%s' % execution.created_at,
                                 include_output=True):
            row = action.to_dict()
            if row.get('accepted') and row.get('task_execution_id') in task_ids:
                children.setdefault(row['task_execution_id'], []).append(
                    {'output': results.decode_json(row.get('output'))})
        if any(t.get('type') == 'WORKFLOW' for t in tasks):
            for sub in self._list(self._client.executions.list,
                                  root_execution_id=execution.id, include_output=True):
                row = sub.to_dict()
                if row.get('task_execution_id') in task_ids:
                    children.setdefault(row['task_execution_id'], []).append(
                        {'output': results.decode_json(row.get('output'))})

        snapshot_tasks = []
        for task in results.order_tasks(_with_next_tasks(tasks)):
            runtime = results.decode_json(task.get('runtime_context')) or {}
            if 'with_items' in runtime:
                result = results.decode_json(self._call(self._client.tasks.get, task['id']).result)
            else:
                result = results.task_result(task.get('type'), children.get(task['id'], []),
                                             with_items=False)
            row = {field: task.get(field) for field in results.TASK_FIELDS}
            row['published'] = results.decode_json(task.get('published'))
            row['result'] = result
            snapshot_tasks.append(row)
        snapshot = results.Snapshot(state=execution.state, state_info=execution.state_info,
                                    output=results.decode_json(execution.output),
                                    tasks=snapshot_tasks)
        if execution.state == 'CANCELLED':
            # The publisher's rule (results.held_status): only a running task holds it.
            return snapshot, results.tasks_running(snapshot_tasks)
        active = any(t['state'] in ACTIVE_TASK_STATES for t in snapshot_tasks)
        return snapshot, active


def _with_next_tasks(tasks):
    """Task rows with the ``next_tasks`` results.order_tasks reads.

    Mistral's REST API does not show ``next_tasks``; the same edges are in each
    task's ``runtime_context.triggered_by`` (the task that started it).
    """
    names = {task['id']: task['name'] for task in tasks}
    rows = [dict(task, next_tasks=[]) for task in tasks]
    by_name = {}
    for row in rows:
        by_name.setdefault(row['name'], []).append(row)
    for row in rows:
        runtime = results.decode_json(row.get('runtime_context')) or {}
        for trigger in runtime.get('triggered_by') or ():
            predecessor = names.get((trigger or {}).get('task_id'))
            for pred_row in by_name.get(predecessor, ()):
                pred_row['next_tasks'].append([row['name'], trigger.get('event')])
    return rows


def reconcile(reading, st2_status, children_statuses, max_result_size=None):
    """(status, result) for st2 from a Reading; result None when there is none.

    ``max_result_size`` cuts the result down the way the publisher does
    (``results.fit``), so push and pull send st2 the same thing.
    """
    active = reading.tasks_active or st2_children_active(reading.state, children_statuses)
    status = decide_status(st2_status, reading.state, active)
    result = None
    if reading.snapshot is not None:
        result = results.result_for_st2(reading.snapshot, max_result_size)
    return status, result


@dataclasses.dataclass
class Check:
    """What one pass (``check``) decided for one workflow: the st2 status and result
    (None: keep st2's), the Reading (None when the Mistral execution is gone) and
    the st2 children it saw."""

    status: str
    result: dict | None
    reading: Reading | None = None
    children: list = dataclasses.field(default_factory=list)


def check(read, mistral_id, st2_now, jitter=0.0, sleep=time.sleep, max_result_size=None):
    """One reconciliation pass over one workflow (the relay's and st2 3.2's querier's).

    Waits a random time up to ``jitter`` seconds (spreading a pass's calls),
    calls ``read()`` for Mistral's Reading, then ``st2_now()`` for st2's
    (status, children as dicts with a ``status``), read after Mistral: st2 may
    have changed meanwhile. A Mistral execution that is gone gives ``failed``
    with NOT_FOUND; ExecutionChanging is raised for the caller.
    """
    if jitter:
        sleep(random.uniform(0, jitter))
    try:
        reading = read()
    except Exception as e:
        if clients.is_not_found(e):
            return Check('failed', {'error': NOT_FOUND % mistral_id})
        raise
    st2_status, children = st2_now()
    status, result = reconcile(reading, st2_status, [c.get('status') for c in children],
                               max_result_size)
    return Check(status, result, reading, children)


# -- reconciling one st2 execution ----------------------------------------------------


@dataclasses.dataclass
class PollOutcome:
    """What one reconciliation found. ``completed``: st2 shows the execution completed
    (or it is gone), so nothing is left to reconcile."""

    completed: bool
    status: str | None = None
    message: str = ''


def mistral_execution_id(execution):
    """The Mistral execution id the runner stored in an st2 execution's context."""
    return contract.mistral_execution_id(execution.get('context'))


class Reconciler:
    """Reconciles st2 mistral-v2 executions with Mistral and updates st2.

    Used by the relay's jobs (st2 3.4+) and by tests; st2 <= 3.3 uses the
    querier in st2_adapter, which runs the same pass (``check``).
    ``executions``: st2's executions API (st2_executions.St2Executions).
    A Mistral state already read is not read again (its Reading is kept), and
    an update already accepted by st2 is not sent again. ``records`` (st2's
    database through st2_adapter, optional) writes what st2's API refuses.
    """

    def __init__(self, reader, executions, children=None, records=None, jitter=0.0,
                 max_result_size=None, sleep=time.sleep):
        self._reader = reader
        self._max_result_size = max_result_size
        self._executions = executions
        self._children_results = children
        self._records = records
        self._jitter = jitter
        self._sleep = sleep
        self._readings = {}     # st2 execution id -> last Reading with a snapshot
        self._sent = {}         # st2 execution id -> (Mistral state, updated_at, st2 status)
        self._relayed = {}      # st2 execution id -> ids of children delivered to Mistral

    @property
    def mistral_calls(self):
        """Mistral API calls made so far (for the relay's log)."""
        return self._reader.calls

    def poll(self, execution_id, execution=None):
        """One reconciliation of one st2 execution (``execution``: its API document,
        when the caller has just read it)."""
        outcome = self._poll(execution_id, execution)
        if outcome.completed:
            self.forget(execution_id)
        return outcome

    def forget(self, execution_id):
        for memory in (self._readings, self._sent, self._relayed):
            memory.pop(execution_id, None)

    def _poll(self, execution_id, execution):
        if execution is None:
            execution = self._executions.get(execution_id)
        status = execution.get('status')
        if status in contract.ST2_COMPLETED:
            return PollOutcome(True, status, 'already completed in st2')
        mistral_id = mistral_execution_id(execution)
        if not mistral_id:
            return PollOutcome(False, status, 'no Mistral execution id in its context yet')
        try:
            found = check(lambda: self._read(execution_id, mistral_id), mistral_id,
                          lambda: (status, self._executions.children(execution)),
                          self._jitter, self._sleep, self._max_result_size)
        except ExecutionChanging:
            return PollOutcome(False, status, 'the Mistral execution changed while it was '
                                              'read; the next check reads it again')
        if found.reading is None:
            return self._finish(execution_id, found.status, found.result, status)
        self._relay_children(execution_id, found.children)
        sent = (found.reading.state, found.reading.updated_at, found.status)
        if found.status == status and (found.result is None or
                                       self._sent.get(execution_id) == sent):
            return PollOutcome(False, status, 'no change')
        outcome = self._finish(execution_id, found.status, found.result, status)
        if outcome.status == found.status:
            self._sent[execution_id] = sent
        return outcome

    def _read(self, execution_id, mistral_id):
        cached = self._readings.get(execution_id)
        # A task that was still active may have finished without the workflow's
        # updated_at changing (it is paused): read such a workflow in full again.
        known = (cached.state, cached.updated_at) if cached and not cached.tasks_active \
            else None
        reading = self._reader.read(mistral_id, known=known)
        if reading.snapshot is not None:
            self._readings[execution_id] = reading
        elif known == (reading.state, reading.updated_at):
            return cached
        return reading

    def _relay_children(self, execution_id, children):
        """Deliver finished children the stream may have missed (once each)."""
        if self._children_results is None:
            return
        relayed = self._relayed.setdefault(execution_id, set())
        for child in children:
            if child.get('id') in relayed or child.get('status') not in \
                    contract.CALLBACK_STATUSES:
                continue
            outcome = self._children_results.deliver_execution(
                self._executions.get(child['id']))
            if outcome in (child_results.DELIVERED, child_results.ALREADY_COMPLETED,
                           child_results.REFUSED) and \
                    child.get('status') in contract.ST2_COMPLETED:
                relayed.add(child.get('id'))

    def _finish(self, execution_id, status, result, current):
        # From pausing/paused, st2's API would turn a cancel into its own request and
        # complete it with {message, user} at once (request_cancellation): what follows
        # a pause is written as st2's action runner writes a runner's answer.
        through_records = status in PAUSE_STATUSES or current in PAUSE_STATUSES
        if through_records and self._records is not None:
            new = self._records.set_status(execution_id, status, result)
            if new in contract.ST2_COMPLETED and new != status:
                return PollOutcome(True, new, 'already completed in st2')
            LOG.info('[%s] The relay set the st2 execution from %s to %s as Mistral shows it '
                     '(through st2\'s update_status: st2 3.3+ cannot pause a mistral-v2 '
                     'execution through its API).', execution_id, current, new)
            return PollOutcome(new in contract.ST2_COMPLETED, new)
        try:
            new = self._executions.update(execution_id, status, result)
        except Exception as e:
            refusal = st2update.refusal(e)
            if refusal == st2update.ALREADY_COMPLETED:
                return PollOutcome(True, None, 'already completed in st2')
            if refusal == st2update.RUNNER_REFUSED:
                LOG.info('[%s] st2 (3.3 and later) refuses %s for a mistral-v2 execution '
                         'through its API; without st2\'s records the relay cannot set it.',
                         execution_id, status)
                return PollOutcome(False, current, 'refused by st2')
            raise
        LOG.info('[%s] The relay updated the st2 execution from %s to %s as Mistral shows it.',
                 execution_id, current, new)
        return PollOutcome(new in contract.ST2_COMPLETED, new)
