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

import datetime

import pytest

from st2mistral.core import results


def _task(name, **kw):
    task = {'id': 'id-' + name, 'name': name, 'workflow_execution_id': 'wf1',
            'workflow_name': 'wb.main', 'created_at': datetime.datetime(2026, 1, 2, 3, 4, 5),
            'updated_at': '2026-01-02 03:04:06', 'state': 'SUCCESS', 'state_info': None,
            'published': {'x': 1}, 'result': 'r'}
    task.update(kw)
    return task


@pytest.mark.parametrize('state,status', [
    ('RUNNING', 'running'), ('SUCCESS', 'succeeded'), ('ERROR', 'failed'),
    ('CANCELLED', 'canceled'), ('PAUSED', 'paused')])
def test_status_map(state, status):
    assert results.st2_status(state) == status


def test_unknown_state_has_no_status():
    assert results.st2_status('IDLE') is None
    with pytest.raises(ValueError, match='IDLE'):
        results.build_update(results.Snapshot(state='IDLE'))


def test_running_carries_status_only():
    update = results.build_update(results.Snapshot(state='RUNNING', output={'a': 1}))
    assert update == results.Update('running', None)


def test_completed_carries_output_extra_and_tasks():
    snap = results.Snapshot(state='ERROR', state_info='task1 failed', output={'a': 1},
                            tasks=[_task('t1', result='{"k": [1, 2]}', published='{"p": 1}'),
                                   _task('t2', input={'i': 1})])
    update = results.build_update(snap)
    assert update.status == 'failed'
    assert update.result['a'] == 1
    assert update.result['extra'] == {'state': 'ERROR', 'state_info': 'task1 failed'}
    t1, t2 = update.result['tasks']
    assert t1 == {'id': 'id-t1', 'name': 't1', 'workflow_execution_id': 'wf1',
                  'workflow_name': 'wb.main', 'created_at': '2026-01-02 03:04:05',
                  'updated_at': '2026-01-02 03:04:06', 'state': 'SUCCESS',
                  'state_info': None, 'input': None, 'published': {'p': 1},
                  'result': {'k': [1, 2]}}
    assert t2['input'] == {'i': 1}
    assert t2['result'] == 'r'


def test_output_is_not_mutated_and_non_dict_output_is_wrapped():
    output = {'a': 1}
    results.build_update(results.Snapshot(state='SUCCESS', output=output))
    assert output == {'a': 1}
    update = results.build_update(results.Snapshot(state='SUCCESS', output='plain text'))
    assert update.result['output'] == 'plain text'
    assert results.build_update(results.Snapshot(state='SUCCESS')).result['tasks'] == []


def test_decode_json_only_objects_and_arrays():
    assert results.decode_json('{"a": 1}') == {'a': 1}
    assert results.decode_json(' [1]') == [1]
    assert results.decode_json('{not json') == '{not json'
    assert results.decode_json('123') == '123'
    assert results.decode_json(5) == 5


def test_task_result_like_mistral():
    action = [{'output': {'result': 'x'}, 'index': None}]
    assert results.task_result('ACTION', action, with_items=False) == 'x'
    items = [{'output': {'result': 2}, 'index': 1}, {'output': {'result': 1}, 'index': 0}]
    assert results.task_result('ACTION', items, with_items=True) == [1, 2]
    assert results.task_result('ACTION', [], with_items=True) == []
    assert results.task_result('ACTION', [], with_items=False) is None
    sub = [{'output': {'o': 1}, 'index': None}]
    assert results.task_result('WORKFLOW', sub, with_items=False) == {'o': 1}


def test_fit_keeps_small_results_untouched():
    result = {'a': 1, 'tasks': []}
    assert results.fit(result, 1000) is result


def test_fit_cuts_the_biggest_values_first_and_marks_it():
    big = {'o': 'x' * 5000, 'small': 1, 'extra': {'state': 'SUCCESS', 'state_info': None},
           'tasks': [{'id': 't1', 'name': 'n', 'state': 'SUCCESS', 'result': 'y' * 20000,
                      'published': {'p': 1}, 'input': None}]}
    cut = results.fit(big, 8000)
    size = len(results.json.dumps(cut, separators=(',', ':')))
    assert size <= 8000
    assert cut['tasks'][0]['result'].startswith('<truncated by st2mistral: ')
    assert cut['o'] == 'x' * 5000 and cut['small'] == 1       # fits once the task result goes
    assert cut['tasks'][0]['published'] == {'p': 1}
    assert cut[results.TRUNCATED_KEY]['original_bytes'] > 25000
    assert cut[results.TRUNCATED_KEY]['fields'] == 1
    assert big['tasks'][0]['result'] == 'y' * 20000            # the input is not mutated


def test_fit_with_too_many_tasks_keeps_names_and_states():
    many = {'extra': {}, 'tasks': [{'id': str(i), 'name': 'task-%d' % i, 'state': 'SUCCESS',
                                    'state_info': 'z' * 50} for i in range(200)]}
    cut = results.fit(many, 5000)
    assert set(cut['tasks'][0]) == {'id', 'name', 'state'}


@pytest.mark.parametrize('state, task_states, status', [
    ('CANCELLED', ['SUCCESS', 'RUNNING'], 'canceling'),   # an st2 child still works
    ('CANCELLED', ['SUCCESS', 'CANCELLED'], 'canceled'),
    ('CANCELLED', ['WAITING', 'RUNNING_DELAYED'], 'canceled'),   # they never run now
    ('CANCELLED', [], 'canceled'),
    ('SUCCESS', ['RUNNING'], 'succeeded'),
    ('PAUSED', ['RUNNING'], 'paused'),
    ('IDLE', [], None),
])
def test_held_status(state, task_states, status):
    tasks = [{'name': 't%d' % i, 'state': s} for i, s in enumerate(task_states)]
    assert results.held_status(state, tasks) == status
