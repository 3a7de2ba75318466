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

"""Mistral workflow snapshot -> st2 execution update. Pure: no I/O.

Push (the notifier, reading Mistral's DB) and pull (the results tracker,
reading Mistral's REST API) both fill a ``Snapshot`` and call
``build_update``, so the same Mistral state always gives the same st2 update.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math

# Mistral workflow state -> st2 liveaction status.
WORKFLOW_STATUS = {
    'RUNNING': 'running',
    'SUCCESS': 'succeeded',
    'ERROR': 'failed',
    'CANCELLED': 'canceled',
    'PAUSED': 'paused',
}


# Mistral workflow states nothing follows.
COMPLETED_STATES = frozenset({'SUCCESS', 'ERROR', 'CANCELLED'})

# Mistral states whose st2 update carries output, extra and tasks.
STATES_WITH_RESULT = frozenset({'SUCCESS', 'ERROR', 'CANCELLED', 'PAUSED'})

TASK_FIELDS = ('id', 'name', 'workflow_execution_id', 'workflow_name', 'created_at',
               'updated_at', 'state', 'state_info')


@dataclasses.dataclass
class Snapshot:
    """What the st2 update needs to know about one workflow execution.

    ``tasks`` are dicts with TASK_FIELDS plus ``published`` and ``result``
    (already computed from the task's action executions or sub-workflow,
    see ``task_result``) and optionally ``input``.
    """

    state: str
    state_info: str | None = None
    output: object = None
    tasks: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Update:
    status: str
    result: dict | None


def st2_status(mistral_state):
    """The st2 status for a Mistral workflow state, or None if st2 has none."""
    return WORKFLOW_STATUS.get(mistral_state)


def tasks_running(tasks):
    """Whether a task of a snapshot still runs an action or sub-workflow.

    Mistral 23 cancels a workflow at once and leaves its running tasks running
    (``workflow_handler.stop_workflow``): an st2 child may still be working.
    WAITING and RUNNING_DELAYED tasks of a cancelled workflow never run, so they
    do not count.
    """
    return any(task.get('state') == 'RUNNING' for task in tasks)


def held_status(mistral_state, tasks):
    """The st2 status for a Mistral state given its tasks: ``canceling`` while a
    cancelled workflow's task still runs, as st2's own runners answer while a
    child runs (st2 3.2's mistral_v2 runner ``cancel``, st2's test_wiring_cancel
    expects it); otherwise :func:`st2_status`."""
    if mistral_state == 'CANCELLED' and tasks_running(tasks):
        return 'canceling'
    return st2_status(mistral_state)


# Deepest JSON a string is decoded to. Deeper text stays a string: json.loads
# raises RecursionError near 1,000 levels, every later copy or dump of the value
# recurses too, and st2 3.2 stores results as MongoDB documents (100 levels at most).
MAX_DECODED_DEPTH = 64


def _deeper_than(value, limit):
    """Whether dicts/lists nest more than ``limit`` levels (iterative: any depth)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in (item.values() if isinstance(item, dict) else item):
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


def decode_json(value):
    """A string holding a JSON object or array becomes that object; else kept as is.

    Text that is not JSON, or nests deeper than MAX_DECODED_DEPTH, stays a string.
    """
    if isinstance(value, str) and value.lstrip()[:1] in ('{', '['):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return value
        return value if _deeper_than(decoded, MAX_DECODED_DEPTH) else decoded
    return value


def strict_json(value):
    """``value`` with NaN and infinities as the strings JSON lacks them for.

    Mistral stores them (a YAQL ``float("nan")``), but strict JSON, which
    requests sends, has no such numbers.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return 'NaN' if math.isnan(value) else ('Infinity' if value > 0 else '-Infinity')
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def _iso(value):
    return value.isoformat(sep=' ') if hasattr(value, 'isoformat') else value


def format_task(task):
    formatted = {field: _iso(task.get(field)) for field in TASK_FIELDS}
    for field in ('input', 'published', 'result'):
        formatted[field] = decode_json(task.get(field))
    return formatted


def task_result(task_type, executions, with_items):
    """A task's result the way Mistral computes it (data_flow.get_task_execution_result).

    ``executions``: the task's accepted action executions or sub-workflow
    executions as dicts with ``output`` and, for with-items, ``index``.
    An action's result is ``output['result']``; a sub-workflow's is its output.
    """
    ordered = sorted(executions, key=lambda ex: ex.get('index') or 0)
    if task_type == 'WORKFLOW':
        results = [ex.get('output') for ex in ordered]
    else:
        results = [(ex.get('output') or {}).get('result') for ex in ordered]
    if with_items:
        return results
    return results[0] if len(results) == 1 else (results or None)


def order_tasks(tasks):
    """Tasks in the order they ran, as far as Mistral's data tells.

    ``created_at`` has whole seconds, so tasks created within one second are
    ordered by their depth in the transitions (``next_tasks``), then by name.
    """
    successors = {}
    for task in tasks:
        for entry in task.get('next_tasks') or ():
            name = entry[0] if isinstance(entry, (list, tuple)) else entry
            successors.setdefault(task['name'], set()).add(name)
    targets = set().union(*successors.values()) if successors else set()
    depth = {task['name']: 0 for task in tasks if task['name'] not in targets}
    frontier = list(depth)
    while frontier:
        name = frontier.pop()
        for nxt in successors.get(name, ()):
            if nxt not in depth:
                depth[nxt] = depth[name] + 1
                frontier.append(nxt)
    return sorted(tasks, key=lambda t: (str(t.get('created_at')), depth.get(t['name'], 0),
                                        t['name']))


def build_update(snapshot):
    """The st2 update (status and result) for a workflow snapshot.

    RUNNING gives a status only, as st2 keeps the result it has. Paused and
    completed workflows carry the output, ``extra`` and every task.
    """
    status = st2_status(snapshot.state)
    if status is None:
        raise ValueError('Mistral state %r has no st2 status' % snapshot.state)
    if snapshot.state not in STATES_WITH_RESULT:
        return Update(status, None)

    output = decode_json(snapshot.output)
    result = dict(output) if isinstance(output, dict) else (
        {} if output is None else {'output': output})
    result['extra'] = {'state': snapshot.state, 'state_info': snapshot.state_info}
    result['tasks'] = [format_task(task) for task in snapshot.tasks]
    return Update(status, strict_json(result))


def result_for_st2(snapshot, max_bytes):
    """``fit(build_update(snapshot).result, max_bytes)`` (no cut when ``max_bytes``
    is 0 or None), and never an exception.

    Whatever Mistral holds, the status must still reach st2: if the result
    cannot be built (e.g. an output nested deeper than Python can recurse),
    st2 gets ``extra`` and the reason under ``st2mistral_error`` instead.
    """
    try:
        result = build_update(snapshot).result
        return fit(result, max_bytes) if max_bytes else result
    except Exception as e:  # noqa: BLE001 - any input: losing the update is worse
        return {'extra': {'state': snapshot.state, 'state_info': snapshot.state_info},
                'tasks': [],
                ERROR_KEY: 'st2mistral could not build the result (%s); see the Mistral '
                           'execution for the output and tasks' % type(e).__name__}


ERROR_KEY = 'st2mistral_error'
TRUNCATED_KEY = 'st2mistral_truncated'


def _size(value):
    return len(json.dumps(value, default=str, separators=(',', ':')))


def _marker(size):
    return '<truncated by st2mistral: %d bytes>' % size


def fit(result, max_bytes):
    """``result`` if its JSON fits ``max_bytes``; else a copy cut down to fit.

    Values bigger than the marker that replaces them are cut, largest first:
    task ``result``/``published``/``input`` and workflow output keys. If that
    is not enough (many small values), the whole output and then the task
    details go. What was cut is recorded under ``st2mistral_truncated``.
    """
    original = _size(result)
    if result is None or original <= max_bytes:
        return result
    cut = copy.deepcopy(result)
    cut[TRUNCATED_KEY] = {'original_bytes': original, 'max_bytes': max_bytes, 'fields': 0}
    holders = [(task, field) for task in cut.get('tasks', [])
               for field in ('result', 'published', 'input') if task.get(field) is not None]
    holders += [(cut, key) for key in cut if key not in ('extra', 'tasks', TRUNCATED_KEY)]
    sized = sorted(((_size(h[f]), h, f) for h, f in holders), key=lambda x: x[0],
                   reverse=True)
    current = _size(cut)
    for size, holder, field in sized:
        if current <= max_bytes or size <= len(_marker(size)) + 2:
            break
        holder[field] = _marker(size)
        cut[TRUNCATED_KEY]['fields'] += 1
        current -= size - _size(holder[field])
    if current > max_bytes:      # many small output values: the output goes whole
        output_keys = [k for k in cut if k not in ('extra', 'tasks', TRUNCATED_KEY)]
        if output_keys:
            size = _size({k: cut.pop(k) for k in output_keys})
            cut['output'] = _marker(size)
            cut[TRUNCATED_KEY]['fields'] += len(output_keys)
    if _size(cut) > max_bytes:   # too many tasks: keep names and states only
        cut['tasks'] = [{'id': t.get('id'), 'name': t.get('name'), 'state': t.get('state')}
                        for t in cut.get('tasks', [])]
    while _size(cut) > max_bytes and cut.get('tasks'):
        cut['tasks'] = cut['tasks'][:len(cut['tasks']) // 2]
        cut[TRUNCATED_KEY]['tasks_kept'] = len(cut['tasks'])
    return cut
