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

"""st2's rules for ``POST /executions/<id>/re_run`` (pure): what a re-run request
becomes, or the 400 st2 answers. st2api/st2api/controllers/v1/actionexecutions.py,
``ActionExecutionReRunController.post``, @ v3.2.0 and @ v3.9.0."""

import copy

from st2mistral.testing.st2_emulator.rules import _ApiError

# @ v3.9.0 (lines 632-633) only orquesta takes ``tasks``; @ v3.2.0 mistral-v2 did too.
TASKS_RUNNERS_32 = frozenset({'mistral-v2', 'orquesta'})
TASKS_RUNNERS_33 = frozenset({'orquesta'})
TASKS_REFUSAL_32 = 'Task option is only supported for Orquesta and Mistral workflows.'
TASKS_REFUSAL_33 = 'Task option is only supported for Orquesta workflows.'
PARAMETERS_WITH_TASKS = ('Parameters override is not supported when re-running task(s) '
                         'for a workflow.')
RESET_NOT_IN_TASKS = 'List of tasks to reset does not match the tasks to rerun.'


def plan_rerun(execution_id, runner, parameters, body, no_merge, version):
    """``(parameters, context)`` of the new execution st2 schedules for a re-run of
    ``execution_id`` (whose runner and parameters are given), or _ApiError(400).

    Both releases: parameters and tasks/reset together are refused; ``reset`` must be a
    subset of ``tasks``; the old parameters are merged under the new ones unless
    ``no_merge``; the context is ``{'re-run': {'ref': <id>[, 'tasks', 'reset']}}``. st2
    answers a ValueError as 400 with its text (st2common/st2common/router.py).
    """
    if not isinstance(body, dict):
        raise _ApiError(400, "%r is not of type 'object'" % (body,))
    new = body.get('parameters') or {}
    tasks = body.get('tasks') or []
    reset = body.get('reset') or []
    if (tasks or reset) and new:
        raise _ApiError(400, PARAMETERS_WITH_TASKS)
    if not isinstance(new, dict) or not isinstance(tasks, list) or not isinstance(reset, list):
        raise _ApiError(400, 'parameters must be an object, tasks and reset lists')
    if set(reset) - set(tasks):
        raise _ApiError(400, RESET_NOT_IN_TASKS)
    old_rules = version < (3, 3, 0)
    if tasks and runner not in (TASKS_RUNNERS_32 if old_rules else TASKS_RUNNERS_33):
        raise _ApiError(400, TASKS_REFUSAL_32 if old_rules else TASKS_REFUSAL_33)
    merged = {} if no_merge else copy.deepcopy(parameters or {})
    merged.update(copy.deepcopy(new))
    rerun = {'ref': execution_id}
    if tasks:
        rerun['tasks'] = list(tasks)
    if reset:
        rerun['reset'] = list(reset)
    return merged, {'re-run': rerun}
