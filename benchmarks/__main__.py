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

"""Run the benchmarks and print one table.

    python -m benchmarks [--quick] [--only drag,lag,throughput,cost,hub] [--json FILE]
                         [--workdir DIR] [--keep] [--mistral-python PYTHON]

By default the four figures of Mistral 23 run. ``--mistral-python`` runs
Mistral with another interpreter (that of a virtualenv holding another
Mistral release, e.g. .tox/mistral20/bin/python); on Mistral <= 20 (eventlet)
``--only hub`` adds figure 5, how long the publisher holds eventlet's hub.

Progress goes to stderr, the table to stdout. See benchmarks/__init__.py for
what each figure measures; docs/benchmarks.rst holds the latest table.
"""

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time

from benchmarks import completion_cost
from benchmarks import engine_drag
from benchmarks import harness
from benchmarks import hub_block
from benchmarks import hub_watch
from benchmarks import report
from benchmarks import status_lag
from benchmarks import throughput
from st2mistral.testing import mistral_launcher

FIGURES = ('drag', 'lag', 'throughput', 'cost', 'hub')
DEFAULT = ('drag', 'lag', 'throughput', 'cost')
# The last Mistral release on eventlet (figure 5 needs it).
LAST_EVENTLET_MISTRAL = 20

FULL = {'drag_rounds': 40, 'lag_count': 200, 'tp_count': 3000, 'tp_rounds': 3,
        'cost_sizes': completion_cost.SIZES, 'cost_repeat': 7, 'hub_count': 50,
        'hub_rounds': 2}
QUICK = {'drag_rounds': 2, 'lag_count': 12, 'tp_count': 300, 'tp_rounds': 1,
         'cost_sizes': (10, 100), 'cost_repeat': 3, 'hub_count': 5, 'hub_rounds': 1}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m benchmarks', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true',
                        help='a small run (about 30 s) for smoke tests')
    parser.add_argument('--only', default=','.join(DEFAULT),
                        help='comma-separated subset of: %s (default: %s; hub: Mistral <= 20 '
                        'only)' % (', '.join(FIGURES), ','.join(DEFAULT)))
    parser.add_argument('--json', metavar='FILE', help='also write the raw numbers here')
    parser.add_argument('--workdir', help='keep servers\' files here (default: a temp dir)')
    parser.add_argument('--keep', action='store_true', help='do not delete the workdir')
    parser.add_argument('--mistral-python', metavar='PYTHON',
                        default=os.environ.get(mistral_launcher.MISTRAL_PYTHON_ENV),
                        help='the interpreter of a virtualenv with the Mistral to run (default: '
                        '$%s, else this one), e.g. .tox/mistral20/bin/python'
                        % mistral_launcher.MISTRAL_PYTHON_ENV)
    args = parser.parse_args(argv)
    if args.mistral_python:         # Mistral runs in its own directory
        args.mistral_python = os.path.abspath(args.mistral_python)
    args.only = [name.strip() for name in args.only.split(',') if name.strip()]
    unknown = set(args.only) - set(FIGURES)
    if unknown:
        parser.error('unknown figure(s): %s' % ', '.join(sorted(unknown)))
    return args


def log(message):
    print(message, file=sys.stderr, flush=True)


def setup_logging(workdir):
    # INFO to a file, as Mistral runs: the operator trace lines cost what they cost.
    handler = logging.FileHandler(os.path.join(workdir, 'benchmark.log'))
    handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s %(message)s'))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def run_with_mistral(args, params, workdir, numbers, loads, major):
    """Figures 1, 2 and the workflows of 4 on one real Mistral; 4 is measured after stop."""
    from st2mistral.testing.st2_emulator import St2Emulator

    with St2Emulator(tokens=(harness.TOKEN,)) as st2:
        # Fresh directories: a reused --workdir must not bring back old state.
        mistral = harness.BenchMistral(
            tempfile.mkdtemp(prefix='mistral-', dir=workdir), python=args.mistral_python,
            config=harness.mistral_config(st2, tempfile.mkdtemp(prefix='spool-', dir=workdir)))
        executions = None
        hub_probe = None
        if 'drag' in args.only and major <= LAST_EVENTLET_MISTRAL:
            # Figure 1 also measures the hub time the publisher takes (engine_drag).
            hub_probe = hub_block.HubProbe(mistral, os.path.join(mistral.workdir, 'hub'))
            mistral.env = dict(mistral.env, **{hub_watch.ENV_VAR: hub_probe.path})
        log('starting Mistral %d (single process%s) ...' % (
            major, ', with the hub watch' if hub_probe else ''))
        mistral.start()
        try:
            client = mistral.client()
            client.workflows.create(harness.WF3)
            client.workflows.create(harness.LOOP)
            # Status lag first, on a fresh server (see docs/benchmarks.rst).
            if 'lag' in args.only:
                log('2. status lag')
                numbers['lag'] = status_lag.run(mistral, st2, params['lag_count'], log)
                loads['lag'] = os.getloadavg()[0]
            if 'drag' in args.only:
                log('1. engine drag')
                numbers['drag'] = engine_drag.run(mistral, st2, params['drag_rounds'], log,
                                                  hub_probe=hub_probe)
                loads['drag'] = os.getloadavg()[0]
            if 'cost' in args.only:
                log('4. completion cost: running the workflows')
                executions = completion_cost.prepare(mistral, params['cost_sizes'], log)
        finally:
            mistral.stop()
    if executions:
        log('4. completion cost: measuring')
        numbers['cost'] = completion_cost.run(mistral.conf_path, executions,
                                              params['cost_repeat'], python=args.mistral_python)
        loads['cost'] = os.getloadavg()[0]


def run_hub(args, params, workdir, numbers, loads):
    """Figure 5 on a Mistral of its own: the switch tracer slows every greenlet down."""
    from st2mistral.testing.st2_emulator import St2Emulator

    with St2Emulator(tokens=(harness.TOKEN,)) as st2:
        spool_dir = tempfile.mkdtemp(prefix='spool-', dir=workdir)
        mistral = harness.BenchMistral(
            tempfile.mkdtemp(prefix='mistral-hub-', dir=workdir), python=args.mistral_python,
            config=harness.mistral_config(st2, spool_dir))
        probe = hub_block.HubProbe(mistral, os.path.join(mistral.workdir, 'hub'))
        mistral.env = dict(mistral.env, **{hub_watch.ENV_VAR: probe.path})
        log('starting Mistral with the hub watch ...')
        mistral.start()
        try:
            mistral.client().workflows.create(harness.WF3)
            numbers['hub'] = hub_block.run(mistral, st2, probe, spool_dir, params['hub_count'],
                                           params['hub_rounds'], log)
        finally:
            mistral.stop()
    loads['hub'] = os.getloadavg()[0]


def build_rows(numbers):
    builders = (('drag', report.drag_row), ('lag', report.lag_row),
                ('throughput', report.throughput_row), ('cost', report.cost_row),
                ('hub', report.hub_row))
    return [builder(numbers[name]) if name in numbers else report.not_run(i)
            for i, (name, builder) in enumerate(builders)
            if name in numbers or name in DEFAULT]


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    params = QUICK if args.quick else FULL
    workdir = args.workdir or tempfile.mkdtemp(prefix='st2mistral-bench-')
    os.makedirs(workdir, exist_ok=True)
    setup_logging(workdir)
    started = time.monotonic()
    major = mistral_launcher.mistral_major(args.mistral_python)
    if 'hub' in args.only and major > LAST_EVENTLET_MISTRAL:
        log('figure 5 (hub) needs Mistral <= %d (eventlet); this is Mistral %d: skipped '
            '(--mistral-python)' % (LAST_EVENTLET_MISTRAL, major))
        args.only.remove('hub')
    loads = {'start': os.getloadavg()[0]}   # 1-minute load average after each step
    numbers = {}
    try:
        if {'drag', 'lag', 'cost'} & set(args.only):
            run_with_mistral(args, params, workdir, numbers, loads, major)
        if 'hub' in args.only:
            log('5. hub blocking')
            run_hub(args, params, workdir, numbers, loads)
        if 'throughput' in args.only:
            log('3. throughput')
            numbers['throughput'] = throughput.run(params['tp_count'], params['tp_rounds'],
                                                   workdir, log)
            loads['throughput'] = os.getloadavg()[0]
    finally:
        if not (args.keep or args.workdir):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log('files kept in %s' % workdir)

    elapsed = time.monotonic() - started
    command = 'python -m benchmarks' + (' --quick' if args.quick else '') + (
        '' if tuple(args.only) == DEFAULT else ' --only ' + ','.join(args.only)) + (
        ' --mistral-python ' + args.mistral_python if args.mistral_python else '')
    print(report.render(build_rows(numbers)))
    if 'lag' in numbers:
        print('\n'.join(report.lag_breakdown(numbers['lag'])))
    # Other work on the host skews every figure: show how busy it was.
    if 'hub' in numbers:
        print('\n'.join(report.hub_details(numbers['hub'])))
    print('%s: %.0f s on %s, %d CPUs, Python %s, Mistral %d' % (
        command, elapsed, platform.machine(), os.cpu_count(), platform.python_version(),
        major))
    print('1-minute load average: %s' % ', '.join(
        '%s %.2f' % (name, value) for name, value in loads.items()))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'command': command, 'seconds': elapsed, 'load_average': loads,
                       'numbers': numbers}, f, indent=2, default=str)
    return 0


if __name__ == '__main__':
    sys.exit(main())
