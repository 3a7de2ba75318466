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

"""The launchers know which Mistral release they start (issue 16)."""

import os
import subprocess
import sys

from st2mistral.testing import mistral_launcher


def test_a_stock_mistral_before_23_is_ready_without_a_periodic_server():
    before = mistral_launcher.started_markers(22)
    assert 'Periodic server started.' not in before
    assert 'Engine server started.' in before and 'Notification server started.' in before
    assert 'Periodic server started.' in mistral_launcher.started_markers(23)


def test_the_major_version_is_asked_of_the_interpreter_that_runs_mistral():
    # The interpreter the launchers start Mistral with: ST2MISTRAL_MISTRAL_PYTHON (the st2
    # side's envs point it at py311's, which has no Mistral of its own), else this one (the
    # tox env's Mistral: 23 in py311, 18 in mistral18...).
    python = os.environ.get(mistral_launcher.MISTRAL_PYTHON_ENV) or sys.executable
    expected = subprocess.run(
        [python, '-c', 'from importlib import metadata; print(metadata.version("mistral"))'],
        capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    assert mistral_launcher.mistral_major(python) == int(expected.split('.')[0])
