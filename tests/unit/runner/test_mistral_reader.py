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

"""MistralReader reads an execution and its tasks in separate calls: a reading
that straddles a state change (a resume between the two) must not be used."""

import types

from oslo_config import cfg
import pytest

from st2mistral.st2_side import config
from st2mistral.st2_side import mistral_api
from st2mistral.st2_side import reconcile


def execution(state, updated_at):
    return mistral_api.Resource({
        'id': 'wf1', 'state': state, 'updated_at': updated_at, 'state_info': None,
        'workflow_name': 'p.wf', 'created_at': '2026-12-01 10:00:00', 'output': '{}'})


def task(name, state):
    return mistral_api.Resource({
        'id': 't-' + name, 'name': name, 'state': state, 'type': 'ACTION',
        'workflow_execution_id': 'wf1', 'runtime_context': '{}', 'published': '{}'})


class Mistral:
    """Answers executions.get from a script; tasks show the workflow resumed."""

    def __init__(self, executions, tasks):
        self.reads = list(executions)
        self.executions = types.SimpleNamespace(get=self._get, list=lambda **kw: [])
        self.tasks = types.SimpleNamespace(list=lambda **kw: list(tasks))
        self.action_executions = types.SimpleNamespace(list=lambda **kw: [])

    def _get(self, ex_id):
        return self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]


def reader(client):
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], project='st2mistral-test')
    return reconcile.MistralReader(client, conf, sleep=lambda s: None)


def test_a_resume_between_the_execution_and_its_tasks_is_read_again():
    # PAUSED when read, RUNNING (resumed) by the time its tasks are listed: the
    # next task already runs. Taken together that would say "paused with a task
    # running" (st2: pausing) about a workflow that runs.
    client = Mistral([execution('PAUSED', 't1'), execution('RUNNING', 't2')],
                     [task('slow', 'SUCCESS'), task('after', 'RUNNING')])
    reading = reader(client).read('wf1')
    assert (reading.state, reading.updated_at) == ('RUNNING', 't2')
    assert reading.snapshot is None and not reading.tasks_active


def test_a_steady_paused_execution_costs_one_more_call_and_keeps_its_snapshot():
    client = Mistral([execution('PAUSED', 't1')], [task('slow', 'RUNNING')])
    reading = reader(client).read('wf1')
    assert (reading.state, reading.tasks_active) == ('PAUSED', True)
    assert [t['name'] for t in reading.snapshot.tasks] == ['slow']
    # executions.get, tasks.list, action_executions.list, executions.get again
    assert reading.calls == 4


def test_an_execution_that_changes_on_every_try_is_left_for_the_next_check():
    client = Mistral([execution('PAUSED', 't%d' % n) for n in range(1, 9)],
                     [task('slow', 'RUNNING')])
    with pytest.raises(reconcile.ExecutionChanging, match='wf1'):
        reader(client).read('wf1')
