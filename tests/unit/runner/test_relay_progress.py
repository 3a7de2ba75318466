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

"""The relay's progress job against a Mistral stand-in that answers list calls with
fields and filters as Mistral 23 does: what it asks Mistral, what it writes to st2."""

import json

from oslo_config import cfg

from st2mistral.st2_side import config
from st2mistral.st2_side import mistral_api
from st2mistral.st2_side import relay_service
from st2mistral.st2_side.relay import progress

T0 = '2026-12-01 10:00:00'


def at(seconds):
    return '2026-12-01 10:%02d:%02d' % divmod(seconds, 60)


class Mistral:
    """executions.list and tasks.list of Mistral 23: state/updated_at filters, ``fields``
    (id always included), pages ordered by created_at, id with a marker."""

    def __init__(self):
        self.executions_rows = {}
        self.tasks_rows = {}
        self.calls = []
        outer = self

        class Executions:
            def list(self, marker='', limit=None, fields='', **filters):
                return outer._list('executions', outer.executions_rows, marker, limit, fields,
                                   filters)

        class Tasks:
            def list(self, workflow_execution_id=None, marker='', limit=None, fields=None,
                     **filters):
                if workflow_execution_id:
                    filters['workflow_execution_id'] = workflow_execution_id
                return outer._list('tasks', outer.tasks_rows, marker, limit, fields, filters)

        self.executions = Executions()
        self.tasks = Tasks()

    def _list(self, kind, rows, marker, limit, fields, filters):
        self.calls.append((kind, dict(filters), tuple(fields or ())))
        found = []
        for row in sorted(rows.values(), key=lambda r: (r['created_at'], r['id'])):
            if all(self._matches(row.get(k), v) for k, v in filters.items()):
                found.append(row)
        if marker:
            ids = [r['id'] for r in found]
            found = found[ids.index(marker) + 1:]
        found = found[:limit] if limit else found
        keep = set(fields or ()) | {'id'}
        return [mistral_api.Resource({k: v for k, v in r.items() if not fields or k in keep})
                for r in found]

    @staticmethod
    def _matches(value, wanted):
        if isinstance(wanted, str) and wanted.startswith('gte:'):
            return str(value) >= wanted[4:]
        return value == wanted

    def workflow(self, ex_id, st2_id, created=T0, state='RUNNING', parent_task=None):
        self.executions_rows[ex_id] = {
            'id': ex_id, 'state': state, 'created_at': created, 'updated_at': created,
            'task_execution_id': parent_task, 'workflow_name': 'p.wf',
            'params': json.dumps({'env': {'st2_execution_id': st2_id} if st2_id else {}})}

    def task(self, task_id, ex_id, name, state, created=T0, updated=None):
        self.tasks_rows[task_id] = {
            'id': task_id, 'name': name, 'workflow_execution_id': ex_id,
            'workflow_name': 'p.wf', 'created_at': created, 'updated_at': updated or created,
            'state': state, 'state_info': None, 'published': '{"big": "x"}',
            'runtime_context': '{}', 'type': 'ACTION'}


class Records:
    """St2Records.write_progress: what the relay writes into st2's record."""

    def __init__(self):
        self.status = {}
        self.written = []

    def write_progress(self, execution_id, result):
        self.written.append((execution_id, result))
        return self.status.get(execution_id, 'running')


def make(mistral, records):
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    relay = relay_service.Relay(conf, records=records, mistral_client=mistral,
                                st2_client=object())
    return relay.jobs['progress']


def names(result):
    return [(t['name'], t['state']) for t in result['tasks']]


def test_a_pass_writes_each_running_workflows_tasks_in_two_list_calls():
    mistral, records = Mistral(), Records()
    mistral.workflow('wf1', 'st2-1')
    mistral.workflow('wf2', 'st2-2', created=at(5))
    mistral.workflow('sub', 'st2-1', parent_task='t-x')      # a sub-workflow: not written
    mistral.workflow('direct', None)                          # not started by st2
    mistral.task('a1', 'wf1', 'a', 'SUCCESS', updated=at(1))
    mistral.task('b1', 'wf1', 'b', 'RUNNING', created=at(1))
    mistral.task('a2', 'wf2', 'a', 'RUNNING', created=at(5))
    mistral.task('s1', 'sub', 's', 'RUNNING', created=at(2))
    job = make(mistral, records)

    assert job.run_once() == {'st2-1': 'running', 'st2-2': 'running'}
    written = dict(records.written)
    assert written['st2-1'] == {
        'extra': {'state': 'RUNNING', 'state_info': None},
        'tasks': [{'id': 'a1', 'name': 'a', 'workflow_execution_id': 'wf1',
                   'workflow_name': 'p.wf', 'created_at': T0, 'updated_at': at(1),
                   'state': 'SUCCESS', 'state_info': None},
                  {'id': 'b1', 'name': 'b', 'workflow_execution_id': 'wf1',
                   'workflow_name': 'p.wf', 'created_at': at(1), 'updated_at': at(1),
                   'state': 'RUNNING', 'state_info': None}]}
    assert names(written['st2-2']) == [('a', 'RUNNING')]
    # One list of running executions, one of tasks from the oldest one's start.
    assert mistral.calls == [
        ('executions', {'state': 'RUNNING'}, progress.EXECUTION_FIELDS),
        ('tasks', {'updated_at': 'gte:' + T0}, progress.TASK_FIELDS)]


def test_a_pass_without_changes_writes_nothing_and_a_change_writes_one_workflow():
    mistral, records = Mistral(), Records()
    for n in (1, 2):
        mistral.workflow('wf%d' % n, 'st2-%d' % n)
        mistral.task('t%d' % n, 'wf%d' % n, 'a', 'RUNNING', updated=at(40))
    job = make(mistral, records)
    job.run_once()
    records.written.clear()
    del mistral.calls[:]

    assert job.run_once() == {}
    assert records.written == []
    # The tasks list starts OVERLAP_SECONDS before the newest change seen.
    assert mistral.calls[1] == ('tasks', {'updated_at': 'gte:' + at(10)},
                                progress.TASK_FIELDS)

    mistral.task('t2', 'wf2', 'a', 'SUCCESS', updated=at(50))
    mistral.task('u2', 'wf2', 'b', 'RUNNING', created=at(50))
    assert job.run_once() == {'st2-2': 'running'}
    assert names(records.written[0][1]) == [('a', 'SUCCESS'), ('b', 'RUNNING')]


def test_st2_not_running_yet_is_written_again_on_the_next_pass():
    mistral, records = Mistral(), Records()
    mistral.workflow('wf1', 'st2-1')
    mistral.task('t1', 'wf1', 'a', 'RUNNING')
    records.status['st2-1'] = 'scheduled'     # the runner has not returned yet
    job = make(mistral, records)
    assert job.run_once() == {'st2-1': 'scheduled'}
    del records.status['st2-1']
    assert job.run_once() == {'st2-1': 'running'}
    assert job.run_once() == {}
    assert len(records.written) == 2


def test_a_workflow_resumed_while_the_relay_ran_has_its_earlier_tasks_read():
    mistral, records = Mistral(), Records()
    mistral.workflow('wf1', 'st2-1', created=at(100))
    mistral.task('t1', 'wf1', 'a', 'RUNNING', created=at(100), updated=at(200))
    mistral.workflow('old', 'st2-2', state='PAUSED')
    mistral.task('o1', 'old', 'a', 'SUCCESS', updated=at(1))
    job = make(mistral, records)
    job.run_once()
    mistral.executions_rows['old']['state'] = 'RUNNING'
    mistral.task('o2', 'old', 'b', 'RUNNING', created=at(201))
    del mistral.calls[:]
    assert job.run_once() == {'st2-2': 'running'}
    assert names(records.written[-1][1]) == [('a', 'SUCCESS'), ('b', 'RUNNING')]
    assert mistral.calls[-1] == ('tasks', {'workflow_execution_id': 'old'},
                                 progress.TASK_FIELDS)


def test_a_workflow_no_longer_running_is_forgotten():
    mistral, records = Mistral(), Records()
    mistral.workflow('wf1', 'st2-1')
    mistral.task('t1', 'wf1', 'a', 'RUNNING')
    job = make(mistral, records)
    job.run_once()
    mistral.executions_rows['wf1']['state'] = 'SUCCESS'
    assert job.run_once() == {}
    assert job.remembered() == 0


def test_a_thousand_running_workflows_cost_a_few_list_calls():
    mistral, records = Mistral(), Records()
    for n in range(1000):
        mistral.workflow('wf%04d' % n, 'st2-%d' % n)
        for name in ('a', 'b', 'c'):
            mistral.task('%s%04d' % (name, n), 'wf%04d' % n, name, 'RUNNING')
    job = make(mistral, records)
    assert len(job.run_once()) == 1000
    # 1000 executions: 2 pages (the second empty); 3000 tasks: 4 pages.
    assert len(mistral.calls) == 6
    del mistral.calls[:]
    assert job.run_once() == {}
    assert len(mistral.calls) <= 20
