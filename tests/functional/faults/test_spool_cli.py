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

"""st2mistral-spool on the spool of a running real Mistral 23 while st2 is down:
it shows what waits, with tries and the last error, without stopping Mistral,
refuses to write to the live slot, and shows nothing once st2 took the updates."""

import json
import os
import subprocess
import sys

import pytest

from st2mistral.testing import mistral_launcher
from st2mistral.testing.waiting import wait_until
from tests.functional.conftest import TOKEN
from tests.functional.conftest import unique
from tests.functional.faults.conftest import fault_config
from tests.functional.faults.conftest import start_execution
from tests.functional.faults.conftest import wait_mistral_states
from tests.functional.notifiers.test_stackstorm_notifier import simple_wf


@pytest.fixture
def mistral(st2_emulator, tmp_path):
    server = mistral_launcher.MistralServer(str(tmp_path / 'cli'),
                                            config=fault_config(st2_emulator))
    with server:
        yield server


def spool(mistral, *args):
    proc = subprocess.run(
        [sys.executable, '-m', 'st2mistral.mistral_side.spool_cli', '--state-dir',
         os.path.join(mistral.workdir, 'st2-spool')] + list(args),
        capture_output=True, text=True, timeout=30)
    assert TOKEN not in proc.stdout + proc.stderr
    return proc


def waiting(mistral):
    return {u['st2_execution_id']: u for u in
            json.loads(spool(mistral, '--json', 'list').stdout)['updates']}


def test_the_live_spool_of_a_running_mistral(mistral, st2):
    client = mistral.client()
    name = unique('cli')
    client.workflows.create(simple_wf(name, tasks=1))
    st2.go_down()
    expected = dict(start_execution(client, st2, name) for _ in range(3))
    wait_mistral_states(client, expected)
    st2_ids = set(expected.values())
    rows = wait_until(lambda: (lambda r: r if set(r) == st2_ids and all(
        u['tries'] >= 1 for u in r.values()) else None)(waiting(mistral)),
        timeout=20, interval=0.2, message='three updates tried at least once')
    for row in rows.values():
        assert (row['state'], row['status'], row['live']) == ('waiting', 'succeeded', True)
        assert 'could not be made' in row['last_error'] or 'HTTP' in row['last_error']
    refused = spool(mistral, 'drop', next(iter(st2_ids)))
    assert refused.returncode == 2 and 'live Mistral process' in refused.stderr
    assert mistral.is_running()

    st2.come_up()
    st2.wait_for(lambda s: all(s.execution(i)['status'] == 'succeeded' for i in st2_ids),
                 timeout=20)
    wait_until(lambda: not waiting(mistral), timeout=10, interval=0.2,
               message='nothing waits once st2 took the updates')
    assert 'Nothing waits' in spool(mistral, 'list').stdout
