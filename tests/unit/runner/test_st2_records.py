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

"""st2_adapter's access to st2's own records (the relay's), on the st2common STAND-IN
bound to the st2 emulator (tests/unit/runner/st2common_standin, each behaviour naming the
st2 file it follows)."""

import types

import pytest
import requests

from st2mistral.testing import st2_emulator
from tests.unit.runner import standin

RUNNER_TYPE = types.SimpleNamespace(name='mistral-v2', query_module='mistral_v2')


@pytest.fixture
def st2():
    st2common = standin.install()
    from st2common.persistence import executionstate
    from st2common.services import action as action_service

    with st2_emulator.St2Emulator(version='3.9') as emulator:
        st2common.bind(emulator)
        try:
            yield emulator
        finally:
            st2common.bind(None)
            executionstate.ROWS.clear()
            action_service.PUBLISHED.clear()


@pytest.fixture
def records(st2):
    from st2mistral.st2_side import st2_adapter

    return st2_adapter.St2Records()


def test_rows_of_st2_track_result_are_read_by_liveaction_and_deleted(st2, records):
    from st2common.services import queries

    ex_id = st2.add_execution()
    liveaction_id = st2.execution(ex_id)['liveaction_id']
    queries.setup_query(liveaction_id, RUNNER_TYPE, {'mistral': {'execution_id': 'm'}})
    queries.setup_query('other', types.SimpleNamespace(name='x', query_module='orquesta'), {})
    assert records.tracked() == [liveaction_id]
    assert records.execution_id(liveaction_id) == ex_id
    assert records.execution_id('unknown') is None
    assert records.untrack(liveaction_id) is True
    assert records.tracked() == [] and records.untrack(liveaction_id) is False


def test_set_status_is_st2s_update_status_and_leaves_completed_executions(st2, records):
    from st2common.services import action as action_service

    ex_id = st2.add_execution()
    assert records.set_status(ex_id, 'pausing') == 'pausing'
    assert records.set_status(ex_id, 'paused', {'extra': {'state': 'PAUSED'}}) == 'paused'
    assert st2.execution(ex_id)['result'] == {'extra': {'state': 'PAUSED'}}
    liveaction_id = st2.execution(ex_id)['liveaction_id']
    # pausing is not dispatched to st2's action runner (it would call pause() again).
    assert action_service.PUBLISHED == [(liveaction_id, 'pausing', False),
                                        (liveaction_id, 'paused', True)]
    done = st2.add_execution(status='succeeded')
    assert records.set_status(done, 'paused') == 'succeeded'
    assert st2.execution(done)['status'] == 'succeeded'


def test_progress_is_written_under_st2s_lock_only_while_running(st2, records):
    """The result of a running execution, which st2's API drops (update_status)."""
    from st2common.persistence import execution as persistence
    from st2common.services import coordination

    ex_id = st2.add_execution()
    liveaction_id = st2.execution(ex_id)['liveaction_id']
    progress = {'extra': {'state': 'RUNNING', 'state_info': None},
                'tasks': [{'name': 't1', 'state': 'RUNNING'}]}
    put = requests.put(st2.api_url + '/executions/%s' % ex_id, timeout=10,
                       headers={'St2-Api-Key': 'st2-key'},
                       json={'status': 'running', 'result': progress})
    assert put.status_code == 200 and st2.execution(ex_id)['result'] == {}

    assert records.write_progress(ex_id, progress) == 'running'
    assert st2.execution(ex_id)['result'] == progress
    assert [h['status'] for h in st2.execution(ex_id)['history']] == ['running']
    assert coordination.TAKEN[-1] == liveaction_id.encode()
    assert persistence.UPDATES[-1] == (ex_id, {'set__result': progress}, True)

    st2.db_update_status(liveaction_id, 'succeeded', {'done': 1})
    assert records.write_progress(ex_id, progress) == 'succeeded'
    assert st2.execution(ex_id)['result'] == {'done': 1}
    assert records.write_progress(st2_emulator.new_object_id(), progress) is None


def test_connect_sets_st2common_up_as_st2s_services_do(st2):
    from st2common import config as st2_config
    from st2common import service_setup

    from st2mistral.st2_side import st2_adapter

    st2_config.PARSED.clear()
    before = len(service_setup.DB_SETUPS)
    assert isinstance(st2_adapter.connect(['--config-file', '/etc/st2/st2.conf']),
                      st2_adapter.St2Records)
    assert st2_config.PARSED == [['--config-file', '/etc/st2/st2.conf']]
    assert len(service_setup.DB_SETUPS) == before + 1
