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

"""The root workflow execution a sub-workflow really belongs to (runs inside Mistral).

Mistral 23 starts a sub-workflow WITHOUT its parent's env: ``WorkflowAction.schedule``
(mistral/engine/actions.py) passes only ``root_execution_id``,
``task_execution_id``, ``index``, ``namespace`` and ``notify``. So the
``st2.action`` of a workbook's sub-workflow gets no ``st2_context`` and reads
its root's (st2 put it there when it started the root).

Those two ids are columns that ``_create_execution``
(mistral/engine/workflows.py) copies from the request's params, and Mistral's
API takes params from any user: a lineage is a claim, not a fact. It counts
only when every step holds in rows the engine wrote, from the workflow up to
its root:

- the workflow names a task (``task_execution_id``), the task exists and is a
  ``WORKFLOW`` task (one that starts sub-workflows);
- the task's workflow execution exists and belongs to the same root (it is
  the root, or names the same ``root_execution_id``);
- the workflow, the task and the task's workflow are in ONE Mistral project.
  Mistral's project is the isolation between users (one per st2 user with
  ``auth_type = st2``); an execution someone creates through the API is in
  their project, so a claim on another project's root fails here. Within one
  project the env is readable through Mistral's API anyway
  (``GET /v2/executions/<id>``), so nothing is given away there.

With ``auth_type = st2`` the API also refuses such params outright
(st2mistral.auth.server), so only the engine creates a lineage.
"""

import dataclasses

WORKFLOW_TASK_TYPE = 'WORKFLOW'
# Mistral nests sub-workflows without a limit; a longer chain is a loop or a forgery.
MAX_DEPTH = 100

_WORKFLOW_FIELDS = ('id', 'root_execution_id', 'task_execution_id', 'project_id', 'params')
_TASK_FIELDS = ('id', 'workflow_execution_id', 'type', 'project_id')


class Untrusted(Exception):
    """The claimed lineage does not hold; the message says which step failed."""


@dataclasses.dataclass(frozen=True)
class Workflow:
    id: str
    root_execution_id: str
    task_execution_id: str
    project_id: str
    env: dict = dataclasses.field(default_factory=dict, repr=False)


@dataclasses.dataclass(frozen=True)
class Task:
    id: str
    workflow_execution_id: str
    type: str
    project_id: str


def trusted_root(wf_ex_id, workflow_of, task_of, max_depth=MAX_DEPTH):
    """The root ``Workflow`` of ``wf_ex_id`` once every step holds; Untrusted otherwise.

    ``workflow_of(id)`` / ``task_of(id)`` return a Workflow / Task, or None
    when Mistral has no such execution. A root is its own root.
    """
    current = workflow_of(wf_ex_id)
    if current is None:
        raise Untrusted('workflow execution %s is not in Mistral' % wf_ex_id)
    root_id = current.root_execution_id
    if not root_id:
        return current
    for _ in range(max_depth):
        if not current.task_execution_id:
            raise Untrusted('workflow execution %s names root %s but no parent task'
                            % (current.id, root_id))
        task = task_of(current.task_execution_id)
        if task is None:
            raise Untrusted('the parent task %s of workflow execution %s is not in Mistral'
                            % (current.task_execution_id, current.id))
        if task.type != WORKFLOW_TASK_TYPE:
            raise Untrusted('the parent task %s of workflow execution %s runs an action, '
                            'not a sub-workflow' % (task.id, current.id))
        parent = workflow_of(task.workflow_execution_id)
        if parent is None:
            raise Untrusted('the workflow execution of task %s is not in Mistral' % task.id)
        if (parent.root_execution_id or parent.id) != root_id:
            raise Untrusted('task %s belongs to root %s, not to root %s that workflow '
                            'execution %s names' % (task.id, parent.root_execution_id
                                                    or parent.id, root_id, current.id))
        if not current.project_id == task.project_id == parent.project_id:
            raise Untrusted('workflow execution %s is in another Mistral project than its '
                            'parent task %s' % (current.id, task.id))
        if parent.id == root_id:
            return parent
        current = parent
    raise Untrusted('workflow execution %s is nested deeper than %d levels'
                    % (wf_ex_id, max_depth))


# ------------------------------------------------------------------ Mistral's DB


def _workflow_of(wf_ex_id):
    from mistral.db.v2 import api as db_api

    rows = db_api.get_workflow_executions(id=wf_ex_id, insecure=True,
                                          fields=list(_WORKFLOW_FIELDS))
    if not rows:
        return None
    values = dict(zip(_WORKFLOW_FIELDS, rows[0], strict=True))
    params = values.pop('params') or {}
    env = params.get('env') if isinstance(params, dict) else None
    return Workflow(env=env if isinstance(env, dict) else {}, **values)


def _task_of(task_ex_id):
    from mistral.db.v2 import api as db_api

    rows = db_api.get_task_executions(id=task_ex_id, insecure=True, fields=list(_TASK_FIELDS))
    if not rows:
        return None
    return Task(**dict(zip(_TASK_FIELDS, rows[0], strict=True)))


def root_of(wf_ex_id):
    """The trusted root ``Workflow`` of ``wf_ex_id`` from Mistral's DB; Untrusted otherwise.

    Reads every project's rows (``insecure``): the project check is ours.
    """
    from mistral.db.v2 import api as db_api

    with db_api.transaction(read_only=True):
        return trusted_root(wf_ex_id, _workflow_of, _task_of)
