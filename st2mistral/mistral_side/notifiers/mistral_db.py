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

"""Reads from Mistral's own database, for the notifier (runs inside Mistral).

Every read selects only the columns it needs, so no deferred column is
lazily loaded row by row: a workflow snapshot costs 3 queries (4 when the
workflow has sub-workflow tasks), whatever its task count.
"""

from __future__ import annotations

import dataclasses

from mistral import context as mistral_context
from mistral.db.v2 import api as db_api
from mistral.lang.v2 import tasks as task_specs
from mistral_lib import utils as mistral_utils
from oslo_db import exception as db_exc
import sqlalchemy.exc

from st2mistral.core import results

# Errors that mean "Mistral's database is away for now", not "this data is bad".
TRANSIENT_ERRORS = (db_exc.DBConnectionError, db_exc.DBDeadlock,
                    sqlalchemy.exc.OperationalError)

_WORKFLOW_COLUMNS = ('id', 'name', 'state', 'state_info', 'root_execution_id',
                     'task_execution_id', 'params')
_TASK_COLUMNS = results.TASK_FIELDS + ('published', 'type', 'runtime_context', 'next_tasks')


@dataclasses.dataclass(frozen=True)
class WorkflowInfo:
    id: str
    name: str
    state: str
    state_info: str | None
    root_execution_id: str | None
    parent_task_execution_id: str | None
    env: dict

    @property
    def root_id(self):
        return self.root_execution_id or self.id


def admin_context():
    """A context that reads executions of every project, like the engine does.

    Create it in a thread that has a request context already (Mistral's, when
    it loads the publisher): oslo.context makes a new context the thread's
    log context only when the thread has none.
    """
    return mistral_context.MistralContext(is_admin=True)


def use_context(ctx):
    """Make ``ctx`` this thread's Mistral context, leaving the log context alone.

    ``set_ctx`` would also make it oslo.log's context and tag every trace
    line with a request id that is not the engine's, instead of ``[-]``.
    """
    mistral_utils.set_thread_local(mistral_context._CTX_THREAD_LOCAL_NAME, ctx)


def _row_dict(row, columns):
    # zip(strict=True) needs Python 3.10; Mistral 18 and 20 run on 3.8 too.
    if len(row) != len(columns):
        raise ValueError('Mistral returned %d columns, %d asked for' % (len(row), len(columns)))
    return dict(zip(columns, row))


def _by_id(query, ex_id, fields):
    """One row of ``fields``, or None, read across projects (``insecure``).

    Not ``load_*_execution``: before Mistral 22 those read by id only in the
    context's own project, even for an admin context (_get_db_object_by_id), so
    with st2 auth (one project per st2 user) the publisher found nothing.
    """
    rows = query(id=ex_id, insecure=True, fields=list(fields))
    return rows[0] if rows else None


def workflow_info(wf_ex_id):
    """One workflow execution's state, lineage and env; None when gone."""
    with db_api.transaction(read_only=True):
        row = _by_id(db_api.get_workflow_executions, wf_ex_id, _WORKFLOW_COLUMNS)
    if row is None:
        return None
    values = _row_dict(row, _WORKFLOW_COLUMNS)
    params = values.pop('params') or {}
    return WorkflowInfo(
        id=values['id'], name=values['name'], state=values['state'],
        state_info=values['state_info'], root_execution_id=values['root_execution_id'],
        parent_task_execution_id=values['task_execution_id'],
        env=params.get('env') or {})


def task_workflow_execution_id(task_ex_id):
    with db_api.transaction(read_only=True):
        row = _by_id(db_api.get_task_executions, task_ex_id, ['workflow_execution_id'])
    return row[0] if row is not None else None


def load_snapshot(wf_ex_id):
    """A results.Snapshot of one workflow execution, in a bounded number of reads."""
    with db_api.transaction(read_only=True):
        wf = _by_id(db_api.get_workflow_executions, wf_ex_id,
                    ['state', 'state_info', 'output'])
        if wf is None:
            return None
        task_rows = [_row_dict(r, _TASK_COLUMNS) for r in db_api.get_task_executions(
            workflow_execution_id=wf_ex_id, fields=list(_TASK_COLUMNS), insecure=True)]
        children = _task_children(task_rows)

    tasks = []
    for task in results.order_tasks(task_rows):
        task.pop('next_tasks')
        runtime = task.pop('runtime_context') or {}
        task_type = task.pop('type')
        task['result'] = results.task_result(
            task_type, children.get(task['id'], []), with_items='with_items' in runtime)
        tasks.append(task)
    return results.Snapshot(state=wf[0], state_info=wf[1], output=wf[2], tasks=tasks)


def _task_children(task_rows):
    """task id -> accepted action/sub-workflow executions as {output, index}."""
    by_type = {}
    for task in task_rows:
        by_type.setdefault(task['type'], []).append(task['id'])

    children = {}
    queries = ((task_specs.ACTION_TASK_TYPE, db_api.get_action_executions),
               (task_specs.WORKFLOW_TASK_TYPE, db_api.get_workflow_executions))
    for task_type, query in queries:
        ids = by_type.get(task_type)
        if not ids:
            continue
        rows = query(task_execution_id={'in': ids}, insecure=True,
                     fields=['task_execution_id', 'output', 'accepted', 'runtime_context'])
        for task_id, output, accepted, runtime in rows:
            if accepted:
                children.setdefault(task_id, []).append(
                    {'output': output, 'index': (runtime or {}).get('index')})
    return children
