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

"""The st2 querier's decision rules and the reconciliation (pure parts of reconcile.py)."""

import pytest

from st2mistral.core import results
from st2mistral.st2_side import reconcile as t


@pytest.mark.parametrize('st2_status, wf_state, active, expected', [
    # Plain completion: the Mistral state decides.
    ('running', 'SUCCESS', False, 'succeeded'),
    ('running', 'ERROR', False, 'failed'),
    ('running', 'CANCELLED', False, 'canceled'),
    ('running', 'PAUSED', False, 'paused'),
    ('running', 'RUNNING', False, 'running'),
    # Children still active keep the parent going.
    ('running', 'SUCCESS', True, 'running'),
    ('running', 'ERROR', True, 'running'),
    ('running', 'CANCELLED', True, 'canceling'),
    ('running', 'PAUSED', True, 'pausing'),
    # st2 asked for cancellation or pause.
    ('canceling', 'RUNNING', False, 'canceling'),
    ('canceling', 'CANCELLED', True, 'canceling'),
    ('canceling', 'CANCELLED', False, 'canceled'),
    ('canceled', 'SUCCESS', False, 'succeeded'),
    ('pausing', 'RUNNING', False, 'pausing'),
    ('pausing', 'PAUSED', True, 'pausing'),
    ('pausing', 'PAUSED', False, 'paused'),
    # st2 shows paused and Mistral runs: it was resumed in Mistral.
    ('paused', 'RUNNING', False, 'running'),
    ('paused', 'PAUSED', False, 'paused'),
    ('resuming', 'PAUSED', False, 'resuming'),
    ('resuming', 'RUNNING', False, 'running'),
])
def test_decide_status(st2_status, wf_state, active, expected):
    assert t.decide_status(st2_status, wf_state, active) == expected


def test_children_activity():
    assert t.st2_children_active('RUNNING', ['running'])
    assert t.st2_children_active('SUCCESS', ['scheduled'])
    assert not t.st2_children_active('SUCCESS', ['succeeded', 'paused', 'failed', 'pending'])
    # A duplicate child stuck in "requested" does not hold a finished workflow (#3871) ...
    assert not t.st2_children_active('SUCCESS', ['requested', 'succeeded'])
    # ... but still counts while the workflow runs.
    assert t.st2_children_active('RUNNING', ['requested'])


def test_reconcile_uses_the_publishers_result_function():
    snapshot = results.Snapshot(state='SUCCESS', output='{"a": 1}', tasks=[
        {'id': 't1', 'name': 'one', 'state': 'SUCCESS', 'published': '{"a": 1}',
         'result': {'stdout': 'x'}}])
    reading = t.Reading(state='SUCCESS', updated_at='now', snapshot=snapshot)
    status, result = t.reconcile(reading, 'running', ['succeeded'])
    assert status == 'succeeded'
    assert result == results.build_update(snapshot).result
    assert result['a'] == 1 and result['tasks'][0]['published'] == {'a': 1}

    running = t.Reading(state='RUNNING', updated_at='now')
    assert t.reconcile(running, 'running', []) == ('running', None)
    active = t.Reading(state='SUCCESS', updated_at='now', snapshot=snapshot, tasks_active=True)
    assert t.reconcile(active, 'running', [])[0] == 'running'
