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

"""``python -m benchmarks --quick`` runs end to end and prints the four figures.

A real Mistral 23, the st2 emulator and the loopback server: about 30 s.
The numbers are not judged against the goals here (a loaded CI machine
would make that flaky), only checks that cannot depend on load.
"""

import json
import os
import subprocess
import sys

from benchmarks import report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_quick_run_prints_the_four_figures(tmp_path):
    raw = tmp_path / 'numbers.json'
    done = subprocess.run(
        [sys.executable, '-m', 'benchmarks', '--quick', '--json', str(raw),
         '--workdir', str(tmp_path / 'work')],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]

    table = done.stdout
    for title in report.ROW_TITLES[:4]:
        row = [line for line in table.splitlines() if line.startswith('| %s ' % title)]
        assert len(row) == 1, (title, table)
        assert 'not run' not in row[0], table
    # Figure 5 (hub blocking) runs by name only, on Mistral <= 20.
    assert '| %s ' % report.ROW_TITLES[4] not in table
    assert 'python -m benchmarks --quick:' in table

    numbers = json.loads(raw.read_text())['numbers']
    assert set(numbers) == {'drag', 'lag', 'throughput', 'cost'}
    # The inline publisher waits for st2's 500 ms answer; the st2 publisher must not.
    assert numbers['drag']['wall_sync'] > numbers['drag']['wall_st2'] + 0.3
    assert numbers['lag']['count'] == 12
    assert 0 < numbers['lag']['st2_ours']['p50'] < numbers['lag']['st2_total']['p99'] + 1
    assert numbers['throughput']['sender'] > 0 and numbers['throughput']['webhook'] > 0
    for size, measured in numbers['cost'].items():
        assert measured['st2mistral']['tasks'] == int(size)
        # A bounded number of reads, whatever the size; Mistral's ORM reads per task.
        assert measured['st2mistral']['reads'] <= 3
        assert measured['orm']['reads'] > int(size)
