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

"""The Quick start demo: the st2 publisher on a real Mistral 23.

Starts the strict st2 API emulator and a single-process Mistral (SQLite,
in-process transport) with this plugin, runs a 3-task workflow with the env
and notify entry st2's mistral-v2 runner gives it, then prints the operator
trace from the Mistral log and the st2 execution record the emulator holds.
Exits non-zero if the trace or the st2 status is not what it must be.

    python -m st2mistral.testing.demo [--workdir DIR] [--keep]
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from st2mistral.core import contract
from st2mistral.testing import mistral_launcher
from st2mistral.testing import st2_emulator

WORKFLOW = """
version: '2.0'
demo.hello:
  input:
    - name: world
  output:
    greeting: <% $.greeting %>
  tasks:
    say_hello:
      action: std.echo output="hello <% $.name %>"
      publish:
        greeting: <% task().result %>
      on-success: [wait_a_bit]
    wait_a_bit:
      action: std.noop
      on-success: [done]
    done:
      action: std.noop
"""

TOKEN = 'demo-token'


def expected_trace(root_id):
    """The six trace forms of docs/contracts.rst, section 9.1, as (start, end) pairs."""
    forms = []
    for kind, event, verb in (('workflow', 'WORKFLOW_LAUNCHED', 'published to'),
                              ('task', 'TASK_SUCCEEDED', 'processed for'),
                              ('workflow', 'WORKFLOW_SUCCEEDED', 'published to')):
        for when in ('will be', 'is'):
            forms.append(('[%s] The %s event %s for ' % (root_id, kind, event),
                          ' %s %s st2.' % (when, verb)))
    return forms


def missing_trace(trace_lines, root_id):
    """Expected trace forms that no log line shows."""
    return [start + '...' + end for start, end in expected_trace(root_id)
            if not any(start in line and line.rstrip().endswith(end) for line in trace_lines)]


def run(workdir):
    with st2_emulator.St2Emulator(tokens=(TOKEN,)) as st2:
        st2_id = st2.add_execution(action='demo.hello', status='running')
        config = {'st2': {'api_url': st2.api_url, 'auth_url': st2.auth_url}}
        print('st2 API emulator: %s' % st2.api_url)
        print('starting a single-process Mistral 23 (SQLite, in-process transport) ...')
        with mistral_launcher.MistralServer(workdir, config=config) as mistral:
            print('Mistral API: %s   log: %s' % (mistral.api_url, mistral.log_path))
            client = mistral.client()
            client.workflows.create(WORKFLOW)
            started = time.monotonic()
            execution = client.executions.create(
                'demo.hello', workflow_input={'name': 'st2'},
                env=contract.build_env(st2_id, st2.api_url, auth_token=TOKEN),
                notify=[contract.ST2_NOTIFY_ENTRY])
            final = mistral.wait_for_execution(execution.id)
            mistral_done = time.monotonic()
            st2.wait_for_status(st2_id, 'succeeded', timeout=30)
            st2_done = time.monotonic()

            print('\nMistral execution %s: %s in %.3f s; st2 execution %s succeeded '
                  '%.3f s later.\n' % (execution.id, final.state, mistral_done - started,
                                        st2_id, st2_done - mistral_done))
            # The operator's procedure (docs/operator-guide.rst, "Tracing an execution").
            print('$ grep stackstorm_notifier %s | grep %s' % (mistral.log_path, execution.id))
            time.sleep(0.2)   # let the last trace line reach the log file
            trace = [line for line in mistral.log_lines('stackstorm_notifier')
                     if execution.id in line]
            for line in trace:
                print(line)
            print('\nst2 execution record held by the emulator:')
            print(json.dumps(st2.execution(st2_id), indent=2, sort_keys=True, default=str))

            missing = missing_trace(trace, execution.id)
            if final.state != 'SUCCESS' or missing:
                print('\nDEMO FAILED: state %s, missing trace lines: %s' % (final.state, missing))
                return 1
    print('\nDemo OK: six trace lines shown and st2 holds the succeeded execution.')
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--workdir', help='where Mistral keeps its DB, config and log')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix='st2mistral-demo-')
    os.makedirs(workdir, exist_ok=True)
    try:
        return run(workdir)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
