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

"""The real single-process Mistral 23 and the strict st2 emulator, set up for benchmarks."""

import os
import time

from benchmarks import marks
from st2mistral.core import contract
from st2mistral.testing import mistral_launcher

TOKEN = 'st2-token'

# The workflow of engine drag and status lag: three tasks in a row, each a
# real action, with published data and an output (a small, typical st2 result).
WF3_NAME = 'bench.wf3'
WF3 = """
version: '2.0'
bench.wf3:
  output:
    greeting: <% $.greeting %>
  tasks:
    first:
      action: std.echo output="hello"
      publish:
        greeting: <% task().result %>
      on-success: [second]
    second:
      action: std.echo output=<% $.greeting %>
      on-success: [third]
    third:
      action: std.noop
"""

# The workflow of completion cost: ``n`` task executions (one per loop turn).
# Mistral 23 needs about 0.1 s per task to accept a workflow definition, so a
# definition with 1,000 distinct tasks would take minutes before it runs; the
# loop gives the same rows (task, action execution, published data) per task.
LOOP_NAME = 'bench.loop'
LOOP = """
version: '2.0'
bench.loop:
  input: [n]
  vars: {i: 1}
  output:
    turns: <% $.i %>
  tasks:
    start:
      action: std.noop
      on-success:
        - step: <% $.n > 1 %>
    step:
      action: std.echo output="turn <% $.i %>"
      publish:
        i: <% $.i + 1 %>
        last: <% task().result %>
      on-success:
        - step: <% $.i < $.n %>
"""


class BenchMistral(mistral_launcher.MistralServer):
    """MistralServer running benchmarks.mistral_child (marks + the sync publisher)."""

    def __init__(self, workdir, **kwargs):
        super().__init__(workdir, **kwargs)
        self.marks_path = os.path.join(self.workdir, 'marks.txt')
        self.env = dict(self.env, **{marks.ENV_VAR: self.marks_path})
        self.marks = marks.MarkReader(self.marks_path)

    def _command(self):
        return [self.python, '-m', 'benchmarks.mistral_child',
                '--config-file', self.conf_path,
                '--fake-poll-interval', str(self.fake_poll_interval)]

    def _child_env(self):
        env = super()._child_env()
        # The child imports ``benchmarks`` from the project tree.
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env['PYTHONPATH'] = os.pathsep.join(p for p in (root, env.get('PYTHONPATH')) if p)
        return env


def mistral_config(st2, state_dir):
    """mistral.conf additions: where st2 is, and the spool directory."""
    return {'st2': {'api_url': st2.api_url, 'auth_url': st2.auth_url,
                    'state_dir': state_dir,
                    'retry_initial_delay': 0.05, 'retry_max_delay': 1.0}}


def start_workflow(client, st2, workflow, publisher, workflow_input=None):
    """Start ``workflow`` as st2's mistral-v2 runner would; (ex id, st2 id, t0).

    ``publisher``: 'st2', 'st2_sync' or None (no notify entry at all).
    ``t0`` is time.monotonic() just before ``executions.create``.
    """
    st2_id = st2.add_execution()
    params = {'env': contract.build_env(st2_id, st2.api_url, auth_token=TOKEN)}
    if publisher:
        params['notify'] = [{'type': publisher}]
    t0 = time.monotonic()
    execution = client.executions.create(workflow, workflow_input=workflow_input or {},
                                         **params)
    return execution.id, st2_id, t0


def succeeded_put_at(st2, st2_id):
    """When the emulator received the PUT ``succeeded`` for ``st2_id`` (monotonic), or None."""
    path = '/api/v1/executions/%s' % st2_id
    for request in st2.requests_for('PUT', path):
        if request.path == path and isinstance(request.body, dict) \
                and request.body.get('status') == 'succeeded':
            return request.at
    return None


def wait_until(predicate, timeout, what, interval=0.005):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError('%s not seen within %ss' % (what, timeout))
        time.sleep(interval)
