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

"""The relay's progress job: a running workflow's tasks in its st2 execution.

st2 3.2's querier wrote a running workflow's tasks into its st2 execution's
result, ``{"extra": {"state", "state_info"}, "tasks": [...]}``
(contrib/runners/mistral_v2/mistral_v2/query.py @ v3.2.0), so ``st2
execution get`` and st2web showed them while it ran. st2 3.3+ has no querier,
and its API cannot take such a result: ``PUT /executions/<id>`` goes through
``update_status``, which does nothing when the status is unchanged
(st2common/st2common/services/action.py @ v3.9.0), and the publisher's
``running`` is the only status a running workflow has. So this job writes it
through st2's records (st2_adapter.St2Records.write_progress: the execution
update st2's own ``update_execution`` makes, under st2's lock for that
liveaction, only while st2 shows the execution running).

Every ``[mistral] progress_interval`` seconds (default 4; 0: off; off without
st2's records), whatever the number of workflows:

1. ``GET /executions?state=RUNNING&fields=id,params,created_at,task_execution_id``
   (one call per 1000 running executions): the root workflows st2 started
   (``params.env.st2_execution_id``);
2. ``GET /tasks?updated_at=gte:<since>&fields=<the task fields>`` (one call per
   1000 tasks): the tasks changed since the last change seen, less
   OVERLAP_SECONDS (Mistral's times have whole seconds, and a transaction may
   commit after a later one), but never before the oldest running workflow's
   start; the first pass reads from that start;
3. a workflow not running at the last pass that started before ``since``
   (resumed from a pause) has its tasks read by one
   ``GET /executions/<id>/tasks``;
4. st2 is written for each workflow whose tasks changed since st2 last took
   them (none in a pass where nothing changed); st2 not running it yet (the
   runner has not returned) or for now (a pause or resume under way) is tried
   again on the next pass.

The tasks carry the fields of results.TASK_FIELDS (name, state, times,
ids, state_info), ordered as the completed result orders them; their
``result``, ``input`` and ``published`` (large, and not in Mistral's task
list) come with the completed result, which replaces this one.
"""

import datetime
import logging

from st2mistral.core import results
from st2mistral.st2_side import clients
from st2mistral.st2_side.relay import job
from st2mistral.st2_side.relay import pauses

LOG = logging.getLogger(__name__)

OVERLAP_SECONDS = 30
EXECUTION_FIELDS = ('id', 'params', 'created_at', 'task_execution_id')
TASK_FIELDS = results.TASK_FIELDS
TIME_FORMAT = '%Y-%m-%d %H:%M:%S'
# st2 statuses after which the same tasks are written again on the next pass.
WAIT_STATUSES = frozenset({'requested', 'scheduled', 'delayed', 'pending', 'pausing', 'paused',
                           'resuming'})


def _before(mistral_time, seconds):
    """A Mistral time (``YYYY-MM-DD HH:MM:SS``) ``seconds`` earlier, same format."""
    moment = datetime.datetime.strptime(str(mistral_time)[:19], TIME_FORMAT)
    return (moment - datetime.timedelta(seconds=seconds)).strftime(TIME_FORMAT)


def progress_result(tasks):
    """The result st2 3.2's querier wrote for a running workflow (its ``extra`` and its
    tasks, without their result, input and published)."""
    rows = results.order_tasks([dict(task, next_tasks=[]) for task in tasks])
    return {'extra': {'state': 'RUNNING', 'state_info': None},
            'tasks': [{field: task.get(field) for field in results.TASK_FIELDS}
                      for task in rows]}


class Progress(job.Job):
    name = 'progress'

    def __init__(self, relay):
        super().__init__(relay)
        self._newest = None     # the latest task updated_at seen (Mistral's time)
        self._tasks = {}        # Mistral execution id -> {task id: task fields}
        self._unwritten = set()  # Mistral execution ids whose tasks st2 does not show yet
        self._running = set()   # Mistral execution ids running at the last pass
        self.mistral_calls = 0

    def interval(self):
        if self._relay.records is None:
            return None
        return self._every('progress_interval')

    def _call(self, fn, *args, **kwargs):
        self.mistral_calls += 1
        return self._relay.mistral_call(fn, *args, **kwargs)

    def _list(self, fn, **filters):
        return clients.list_all(self._call, fn, **filters)

    def run_once(self):
        """Write the tasks of every running workflow whose tasks changed; {st2 execution
        id: the status st2 showed, or the error}."""
        mistral = self._relay.mistral
        running = {}    # Mistral execution id -> (st2 execution id, created_at)
        for execution in self._list(mistral.executions.list, state='RUNNING',
                                    fields=EXECUTION_FIELDS):
            st2_id = pauses.st2_execution_id_of(execution)
            if st2_id and not getattr(execution, 'task_execution_id', None):
                running[execution.id] = (st2_id, str(execution.created_at))
        for gone in set(self._tasks) - set(running):
            del self._tasks[gone]
        self._unwritten &= set(running)
        if not running:
            self._running, self._newest = set(), None
            return {}

        oldest = min(created for _, created in running.values())
        first = self._newest is None
        # No running workflow has a task older than its own start.
        since = oldest if first else max(oldest, _before(self._newest, OVERLAP_SECONDS))
        for task in self._list(mistral.tasks.list, updated_at='gte:%s' % since,
                               fields=TASK_FIELDS):
            self._remember(task.to_dict(), running)
        for mistral_id, (_, created) in running.items():
            if not first and mistral_id not in self._running and \
                    created < since:
                # Running again (resumed) since the last pass: its earlier tasks are
                # older than ``since``.
                self._unwritten.add(mistral_id)
                for task in self._list(mistral.tasks.list, workflow_execution_id=mistral_id,
                                       fields=TASK_FIELDS):
                    self._remember(task.to_dict(), running)
        self._running = set(running)

        outcomes = {}
        for mistral_id in sorted(self._unwritten):
            st2_id = running[mistral_id][0]
            result = progress_result(self._tasks.get(mistral_id, {}).values())
            try:
                outcomes[st2_id] = self._relay.records.write_progress(st2_id, result)
            except Exception as e:
                LOG.error('[%s] Unable to write the running workflow\'s tasks into st2 (the '
                          'next pass retries): %s: %s', st2_id, type(e).__name__, e)
                outcomes[st2_id] = e
                continue
            # Not running in st2 yet (the runner has not returned) or for now (a pause
            # or resume in progress): the next pass tries again.
            if outcomes[st2_id] in WAIT_STATUSES:
                continue
            self._unwritten.discard(mistral_id)
        return outcomes

    def remembered(self):
        """How many running workflows' tasks the job keeps (it forgets finished ones)."""
        return len(self._tasks)

    def _remember(self, row, running):
        """Keep a task row of a running workflow; mark the workflow when it changed."""
        self._newest = max(self._newest or '', str(row.get('updated_at') or ''))
        mistral_id = row.get('workflow_execution_id')
        if mistral_id not in running:
            return
        tasks = self._tasks.setdefault(mistral_id, {})
        if tasks.get(row['id']) != row:
            tasks[row['id']] = row
            self._unwritten.add(mistral_id)
