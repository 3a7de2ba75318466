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

"""Cost of one reconciliation pass, and of one progress pass, of the relay service over N
running workflows.

    python -m benchmarks.relay_sweep [--count 1000] [--workdir DIR]

A real Mistral 23 (single process) runs N workflows waiting in an
``std.async_noop`` task (no notify entry: nothing pushes); the st2 emulator
(as st2 3.9) holds their N running ``mistral-v2`` executions.

The sweep: ``st2mistral-relay --once`` (the st2common stand-in of the tests on
its path) reconciles them all, twice: with N executions and with none (the
process's start-up cost). Printed: the relay's CPU time (user+system) and wall
time for both runs, the st2 API calls and the Mistral API calls of the pass
(from the relay's log line), per execution.

The progress job (st2_side/relay/progress.py), in this process with the
st2common stand-in bound to the emulator (its writes are st2's records): a
first pass (every workflow's tasks written into st2) and a second one (nothing
changed), each with its Mistral API calls, its CPU time (this thread's, which
includes the stand-in's writes into the emulator) and that CPU as a share of
one core at a 5 s interval. Goal (issue 17 item 7): at most 20 Mistral calls
and under 5 % of a core per pass at 1,000 workflows.
"""

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

from st2mistral.st2_side import clients
from st2mistral.st2_side import config
from st2mistral.st2_side import relay_service
from st2mistral.testing import mistral_launcher
from st2mistral.testing import st2_emulator

API_KEY = 'bench-key'
WORKFLOW = "version: '2.0'\nbench.wait:\n  tasks:\n    w: {action: std.async_noop}\n"
STANDIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       'tests', 'unit', 'runner', 'st2common_standin')
RELAY = os.path.join(os.path.dirname(sys.executable), 'st2mistral-relay')
LOG_LINE = re.compile(r'Reconciled (\d+) active mistral-v2 executions with Mistral in '
                      r'([\d.]+) s \((\d+) Mistral calls\)')


def conf_file(path, mistral, st2):
    with open(path, 'w') as f:
        f.write('[mistral]\nv2_base_url = %s\nst2_api_key = %s\nst2_stream_url = %s\n'
                'jitter_interval = 0\n[auth]\napi_url = %s\n'
                % (mistral.api_url, API_KEY, st2.stream_url, st2.base_url + '/api'))
    return path


def start_workflows(mistral, st2, count):
    conf = config.load([], prog='bench')
    conf.set_override('v2_base_url', mistral.api_url, group='mistral')
    client = clients.mistral(conf)
    client.workflows.create(WORKFLOW)
    for i in range(count):
        st2_id = st2_emulator.new_object_id()
        ex = client.executions.create('bench.wait', env={'st2_execution_id': st2_id})
        st2.add_execution(execution_id=st2_id, action='bench.wait', context={
            'user': 'st2admin', 'mistral': {'execution_id': ex.id,
                                            'workflow_name': 'bench.wait'}})
        if (i + 1) % 100 == 0:
            print('  %d workflows started' % (i + 1), file=sys.stderr)


def run_relay_once(conf_path):
    """(cpu seconds, wall seconds, relay log) of one ``st2mistral-relay --once``."""
    # The stand-in first; then the caller's path (a work tree run with PYTHONPATH=$PWD).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (STANDIN, os.environ.get('PYTHONPATH')) if p))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run([RELAY, '--config-file', conf_path, '--once', '--no-stream'],
                          env=env, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError('st2mistral-relay --once failed:\n%s' % done.stderr[-3000:])
    return cpu, wall, done.stderr


PROGRESS_INTERVAL = 5.0
PROGRESS_MAX_CALLS = 20
PROGRESS_MAX_SHARE = 0.05


def progress_passes(conf_path, st2, passes=2):
    """[(Mistral calls, CPU seconds, writes)] of ``passes`` progress passes in this thread."""
    sys.path.insert(0, STANDIN)
    import st2common

    from st2mistral.st2_side import st2_adapter

    conf = config.load(['--config-file', conf_path], prog='bench')
    st2common.bind(st2)
    try:
        relay = relay_service.Relay(conf, records=st2_adapter.St2Records())
        job = relay.jobs['progress']
        figures = []
        for _ in range(passes):
            calls, cpu = job.mistral_calls, time.thread_time()
            written = job.run_once()
            figures.append((job.mistral_calls - calls, time.thread_time() - cpu,
                            sum(1 for status in written.values() if status == 'running')))
        return figures
    finally:
        st2common.bind(None)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m benchmarks.relay_sweep')
    parser.add_argument('--count', type=int, default=1000)
    parser.add_argument('--workdir')
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix='relay_sweep_')
    with st2_emulator.St2Emulator(api_keys=(API_KEY,), callback_attempts=0,
                                  version='3.9') as st2, \
            mistral_launcher.MistralServer(workdir) as mistral:
        conf_path = conf_file(os.path.join(workdir, 'st2.conf'), mistral, st2)
        empty_cpu, empty_wall, _ = run_relay_once(conf_path)
        print('starting %d workflows...' % args.count, file=sys.stderr)
        start_workflows(mistral, st2, args.count)
        requests_before = len(st2.requests)
        cpu, wall, log = run_relay_once(conf_path)
        st2_calls = len(st2.requests) - requests_before
        match = LOG_LINE.search(log)
        listed, pass_seconds, mistral_calls = (int(match.group(1)), float(match.group(2)),
                                               int(match.group(3)))
        progress = progress_passes(conf_path, st2)
    print('relay --once, no executions:  CPU %.2f s, wall %.2f s (start-up)'
          % (empty_cpu, empty_wall))
    print('relay --once, %d running:    CPU %.2f s, wall %.2f s; the pass itself %.2f s'
          % (listed, cpu, wall, pass_seconds))
    print('CPU of the pass: %.2f s (%.2f ms per execution)'
          % (cpu - empty_cpu, (cpu - empty_cpu) * 1000.0 / max(listed, 1)))
    print('API calls of the pass: st2 %d (%.3f per execution), Mistral %d (%.3f per '
          'execution)' % (st2_calls, st2_calls / max(listed, 1), mistral_calls,
                          mistral_calls / max(listed, 1)))
    met = True
    for label, (calls, cpu, written) in zip(('first (all written)', 'second (no change)'),
                                            progress, strict=True):
        share = cpu / PROGRESS_INTERVAL
        met = met and calls <= PROGRESS_MAX_CALLS and share < PROGRESS_MAX_SHARE
        print('progress pass, %s: %d Mistral calls, %d st2 executions written, CPU %.3f s '
              '(%.2f %% of a core at a %.0f s interval)' % (label, calls, written, cpu,
                                                          share * 100, PROGRESS_INTERVAL))
    print('progress goal (<= %d Mistral calls, < %.0f %% of a core per pass): %s'
          % (PROGRESS_MAX_CALLS, PROGRESS_MAX_SHARE * 100, 'met' if met else 'NOT MET'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
