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

"""No workflow author can starve the others (issue 18 item 5), on a real Mistral 23.

The attack: the spool's bounds are shared by every workflow of a process. An
author with a valid st2 token starts 30 workflows whose env names st2
executions that do not exist: st2 answers 404 and each update would be kept for
[st2] unknown_execution_grace (300 s), filling a spool of 20 entries. Another
author's workflow then finishes: its update must still reach st2, and the
flood's updates are the ones given up.
"""

import pytest

from st2mistral.core import contract
from st2mistral.testing import mistral_launcher
from tests.functional.conftest import TOKEN
from tests.functional.conftest import unique
from tests.functional.faults.conftest import fault_config
from tests.functional.faults.conftest import notifier_lines
from tests.functional.faults.conftest import start_execution
from tests.functional.faults.conftest import wait_lines
from tests.functional.faults.conftest import wait_mistral_states
from tests.functional.notifiers.test_stackstorm_notifier import simple_wf

FLOOD = 30
SPOOL_MAX_COUNT = 20


@pytest.fixture
def mistral(st2_emulator, tmp_path):
    server = mistral_launcher.MistralServer(
        str(tmp_path / 'flood'), config=fault_config(
            st2_emulator, spool_max_count=SPOOL_MAX_COUNT, unknown_execution_grace=300))
    with server:
        yield server


def test_a_flood_of_unknown_st2_executions_does_not_starve_another_author(mistral, st2):
    client = mistral.client()
    name = unique('flood')
    client.workflows.create(simple_wf(name, tasks=1))
    unknown = ['%024x' % (0xdead0000 + i) for i in range(FLOOD)]   # not in st2
    flood = [client.executions.create(
        name, env=contract.build_env(st2_id, st2.api_url, auth_token=TOKEN),
        notify=[contract.ST2_NOTIFY_ENTRY]).id for st2_id in unknown]
    wait_mistral_states(client, flood)
    # The flood has reached st2 (404s) and filled the spool.
    st2.wait_for(lambda s: len({r.path for r in s.requests if r.method == 'PUT'
                                and r.status == 404}) >= SPOOL_MAX_COUNT // 2, timeout=20)

    victim_ex, victim_st2 = start_execution(client, st2, name)
    wait_mistral_states(client, [victim_ex])
    st2.wait_for_status(victim_st2, 'succeeded', timeout=20)
    assert [h['status'] for h in st2.execution(victim_st2)['history']] == [
        'running', 'succeeded']
    assert not notifier_lines(mistral, victim_ex, 'dropped')
    # What made room: the flood's updates, given up with the reason.
    assert wait_lines(mistral, 'st2 does not know')
