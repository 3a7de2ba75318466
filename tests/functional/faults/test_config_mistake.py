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

"""A wrong [st2] api_url on a real Mistral 23 (issue 18 item 2): one ERROR at start,
before any workflow; the updates of workflows run meanwhile are kept, and st2 gets
them once mistral.conf is fixed and Mistral restarted (no new workflow needed)."""

import pytest

from st2mistral.testing import mistral_launcher
from tests.functional.conftest import unique
from tests.functional.faults.conftest import fault_config
from tests.functional.faults.conftest import history
from tests.functional.faults.conftest import notifier_lines
from tests.functional.faults.conftest import spool_rows
from tests.functional.faults.conftest import start_execution
from tests.functional.faults.conftest import wait_lines
from tests.functional.faults.conftest import wait_mistral_states
from tests.functional.faults.conftest import wait_spool_empty
from tests.functional.notifiers.test_stackstorm_notifier import simple_wf

MISTAKE = 'mistake(s) for the st2 publisher'


@pytest.fixture
def mistral(st2_emulator, tmp_path):
    config = fault_config(st2_emulator)
    config['st2']['api_url'] = st2_emulator.api_url.split('://', 1)[1]     # no scheme
    server = mistral_launcher.MistralServer(str(tmp_path / 'mistake'), config=config)
    with server:
        yield server


def test_a_wrong_api_url_is_reported_at_start_and_loses_nothing(mistral, st2, st2_emulator):
    (line,) = wait_lines(mistral, MISTAKE, timeout=10)        # no workflow has run yet
    assert 'ERROR' in line and '[st2] api_url' in line
    assert 'https://st2.example.com/api/v1' in line            # the fix, by example

    client = mistral.client()
    name = unique('mistake')
    client.workflows.create(simple_wf(name, tasks=1))
    expected = dict(start_execution(client, st2, name) for _ in range(3))
    wait_mistral_states(client, expected)
    st2_ids = list(expected.values())
    assert all(history(st2, i) == ['running'] for i in st2_ids)
    spooled = spool_rows(mistral)['events']
    assert set(expected) <= {e['ex_id'] for e in spooled}      # kept, not dropped
    assert not notifier_lines(mistral, 'could not be processed')

    mistral.kill()
    mistral.config['st2']['api_url'] = st2_emulator.api_url    # the fix
    mistral.start()                                            # no workflow after this
    st2.wait_for(lambda s: all(s.execution(i)['status'] == 'succeeded' for i in st2_ids),
                 timeout=10)
    for st2_id in st2_ids:
        assert history(st2, st2_id) == ['running', 'succeeded']
    wait_spool_empty(mistral)
    assert len(notifier_lines(mistral, MISTAKE)) == 1          # once, at the first start
