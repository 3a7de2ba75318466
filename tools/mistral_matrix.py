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

"""Install the Mistral side into each Mistral release's virtualenv on every
Python that release supports, and prove that it loads there.

    python tools/mistral_matrix.py                 # every pair below
    python tools/mistral_matrix.py m21-py311 m23   # some: a pair, or a release

(``tools/test.sh -e mistralpins [-- PAIR...]`` runs it with pyenv's Pythons on
PATH.) For each (release, Python) pair, in a fresh virtualenv under
.tox/mistralpins/<pair>/ (log: <pair>.log beside it):

1. ``pip install -c <series pins> mistral==X`` (plus ``setuptools<81``:
   mistral-lib up to 3.3 imports pkg_resources), as a site of that series
   builds it;
2. ``tools/st2_pins.py <series pins> -- -c <series pins> <wheel>[mistral]``:
   this project's wheel (built once) with its ``mistral`` extra; fails when pip
   changed any package Mistral had;
3. the smoke check (``--smoke``, run by that venv's interpreter): every entry
   point st2mistral declares for Mistral (the ``st2`` notification publisher,
   ``st2.action``, the ``st2`` auth handler, the expression functions) loads
   through stevedore, as Mistral loads them, and is what Mistral expects (a
   publisher, a mistral-lib action, an auth handler, callables); Mistral's own
   YAQL evaluator then runs two of the functions.

Prints one line per pair (release, series, Python, result, seconds, what was
measured or why it failed) and exits non-zero when any pair FAILed. The pairs
are each release's Python classifiers; where Mistral itself does not install
under its series' pins (SERIES_LIMITS, step 1) the result is LIMIT.
"""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PINS = ROOT / 'tests' / 'mistral-pins'
# name: (Mistral release, OpenStack series, the Pythons its classifiers name)
RELEASES = {
    'm18': ('18.1.0', '2024.1', ('3.8', '3.9', '3.10', '3.11')),
    'm20': ('20.2.0', '2025.1', ('3.8', '3.9', '3.10', '3.11')),
    'm21': ('21.0.0', '2025.2', ('3.10', '3.11', '3.12', '3.13')),
    'm22': ('22.0.0', '2026.1', ('3.10', '3.11', '3.12', '3.13')),
    'm23': ('23.0.0', 'master', ('3.10', '3.11', '3.12', '3.13')),
}
# Pairs whose Mistral itself does not install under its series' pins on that
# Python (pip fails on Mistral's own dependencies, before st2mistral is
# involved; measured 2026-12-07), with the pin pip's resolver names. Reported as
# LIMIT, not a failure; such a pair that installs fails until it is taken out.
SERIES_LIMITS = {
    # keystonemiddleware 10.9.1: Requires-Python >=3.9 (2025.1's pins name no 3.8)
    'm20-py38': 'keystonemiddleware===10.9.1',
    # oslo.concurrency 7.6.1: Requires-Python >=3.11
    'm23-py310': 'oslo-concurrency===7.6.1',
}
# The namespaces Mistral loads st2mistral's plugins from (setup.cfg's entry points).
NAMESPACES = ('mistral.notification.publishers', 'mistral.actions', 'mistral.auth',
              'mistral.expression.functions')


def pairs():
    """[(pair name, release name, Python)] in the order of RELEASES."""
    return [('%s-py%s' % (name, python.replace('.', '')), name, python)
            for name, (_, _, pythons) in RELEASES.items() for python in pythons]


PROBE = 'import sys; print("%d.%d" % sys.version_info[:2], sys.prefix == sys.base_prefix)'


def find_python(version):
    """The first python<version> on PATH that runs, is that version and is no
    virtualenv's (pyenv's shims are on PATH too, and fail for a version that is
    not selected; tox puts its env's bin/ first)."""
    for folder in os.environ.get('PATH', '').split(os.pathsep):
        candidate = os.path.join(folder, 'python' + version)
        if not os.access(candidate, os.X_OK):
            continue
        check = subprocess.run([candidate, '-c', PROBE], capture_output=True, text=True)
        if check.returncode == 0 and check.stdout.split() == [version, 'True']:
            return candidate
    return None


def build_wheel(out):
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--quiet', '--no-deps', '-w', str(out),
                    str(ROOT)], check=True)
    [wheel] = out.glob('st2mistral-*.whl')
    return wheel


def why(output):
    """The line(s) of a failed step's output that say why it failed."""
    lines = [line.strip() for line in output.splitlines()
             if line.strip() and not line.startswith('WARNING: ')]
    if 'The conflict is caused by:' in output:  # pip's resolver: which pins clash, and why
        cause = output.split('The conflict is caused by:', 1)[1].split('To fix this', 1)[0]
        cause = cause.replace('Additionally, some packages in these conflicts have no matching'
                              ' distributions available for your environment:',
                              'none of these for this Python:')
        return 'pip: ' + '; '.join(line.strip() for line in cause.splitlines() if line.strip())
    if 'pins CHANGED' in output:
        at = next(i for i, line in enumerate(lines) if line.startswith('pins CHANGED'))
        return 'pins CHANGED: ' + ', '.join(lines[at + 1:])
    errors = [line for line in lines if line.startswith(('ERROR: ', 'smoke FAILED'))]
    return (errors or lines or ['no output'])[-1]


def verdict(pair, failed_step, detail):
    """(result, detail) of one pair; result OK, LIMIT (a SERIES_LIMITS pair whose
    Mistral did not install, for the recorded reason) or FAIL."""
    limit = SERIES_LIMITS.get(pair)
    if failed_step is None:
        if limit:
            return 'FAIL', 'installs now: take %s out of SERIES_LIMITS; %s' % (pair, detail)
        return 'OK', detail
    if limit and failed_step == 'mistral' and limit in detail:
        return 'LIMIT', 'Mistral does not install here: %s' % detail
    return 'FAIL', '%s failed: %s' % (failed_step, detail)


def run_pair(pair, name, python, wheel, work):
    """(failed step or None, detail) of one pair; its commands' output goes to
    work/<pair>.log."""
    release, series, _ = RELEASES[name]
    pins = PINS / ('upper-constraints-%s.txt' % series)
    interpreter = find_python(python)
    if interpreter is None:
        return 'python', 'no python%s on PATH' % python
    venv = work / pair
    shutil.rmtree(venv, ignore_errors=True)
    vpython = str(venv / 'bin' / 'python')
    steps = [
        ('venv', [interpreter, '-m', 'venv', str(venv)]),
        ('pip', [vpython, '-m', 'pip', 'install', '--quiet', '--upgrade', 'pip', 'setuptools<81']),
        ('mistral', [vpython, '-m', 'pip', 'install', '-c', str(pins),
                     'mistral==%s' % release]),
        ('pins', [vpython, str(ROOT / 'tools' / 'st2_pins.py'), str(pins), '--', '--quiet',
                  '-c', str(pins), '%s[mistral]' % wheel]),
        ('smoke', [vpython, str(ROOT / 'tools' / 'mistral_matrix.py'), '--smoke']),
    ]
    log_path = work / (pair + '.log')
    with open(log_path, 'w', encoding='utf-8') as log:
        for step, command in steps:
            log.write('$ %s\n' % ' '.join(command))
            log.flush()
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  cwd=str(work), text=True)
            log.write(done.stdout)
            if done.returncode != 0:
                return step, why(done.stdout)
    text = log_path.read_text(encoding='utf-8')
    python_line = re.search(r'^Python (\S+)$', text, re.M)
    pins_line = re.search(r'^pins unchanged: (\d+) pinned .* checked, (\d+) packages', text, re.M)
    added = re.search(r'^added: (.*)$', text, re.M)
    smoke_line = re.search(r'^smoke OK: .*(mistral-lib \S+),.*?: (.*)$', text, re.M)
    summary = ['Python %s, %s' % (python_line.group(1), smoke_line.group(1)),
               'pins unchanged (%s pinned, %s untouched)' % pins_line.groups(),
               'added %s' % added.group(1), 'smoke OK: %s' % smoke_line.group(2)]
    return None, '; '.join(summary)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('only', nargs='*', help='pairs (m21-py311) or releases (m21); default all')
    parser.add_argument('--smoke', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        return smoke()
    chosen = [p for p in pairs() if not args.only or p[0] in args.only or p[1] in args.only]
    unknown = set(args.only) - {p[0] for p in chosen} - {p[1] for p in chosen}
    if unknown:
        parser.error('unknown pair or release: %s (pairs: %s)'
                     % (', '.join(sorted(unknown)), ' '.join(p[0] for p in pairs())))
    work = ROOT / '.tox' / 'mistralpins'
    work.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(work / 'dist')
    print('wheel: %s; logs: %s/<pair>.log' % (wheel.name, work), flush=True)
    results = []
    for pair, name, python in chosen:
        release, series, _ = RELEASES[name]
        start = time.monotonic()
        result, detail = verdict(pair, *run_pair(pair, name, python, wheel, work))
        results.append(result)
        print('%-10s %-7s %-7s %-5s %-5s %4.0f s  %s' % (
            pair, release, series, python, result, time.monotonic() - start, detail), flush=True)
    failed = results.count('FAIL')
    print('%d pairs: %d OK, %d LIMIT (Mistral itself does not install), %d FAIL'
          % (len(results), results.count('OK'), results.count('LIMIT'), failed))
    return 1 if failed else 0


def smoke():
    """Run by a Mistral venv's interpreter: st2mistral's Mistral plugins load there."""
    from importlib import metadata

    from mistral import auth
    from mistral.notifiers import base as notifiers_base
    from mistral_lib import actions
    import stevedore

    ours = {}
    for entry_point in metadata.distribution('st2mistral').entry_points:
        if entry_point.group in NAMESPACES:
            ours.setdefault(entry_point.group, set()).add(entry_point.name)
    missing = [namespace for namespace in NAMESPACES if namespace not in ours]
    if missing:
        print('smoke FAILED: st2mistral declares no entry point in %s' % ', '.join(missing))
        return 1

    def failed(manager, entry_point, error):
        raise SystemExit('smoke FAILED: %s %s: %s: %s' % (
            manager.namespace, entry_point.name, type(error).__name__, error))

    loaded = {}
    for namespace in NAMESPACES:
        manager = stevedore.ExtensionManager(namespace, on_load_failure_callback=failed)
        plugins = {ext.name: ext.plugin for ext in manager
                   if ext.entry_point.value.startswith('st2mistral.')}
        if set(plugins) != ours[namespace]:
            print('smoke FAILED: %s loaded %s, st2mistral declares %s'
                  % (namespace, sorted(plugins), sorted(ours[namespace])))
            return 1
        loaded[namespace] = plugins

    from st2mistral.mistral_side.notifiers import stackstorm_notifier
    checks = [
        ('publisher', issubclass(stackstorm_notifier.St2Publisher,
                                 notifiers_base.NotificationPublisher)
         and loaded['mistral.notification.publishers']['st2']
         is stackstorm_notifier.process_publisher),
        ('st2.action', issubclass(loaded['mistral.actions']['st2.action'], actions.Action)),
        ('auth', issubclass(loaded['mistral.auth']['st2'], auth.AuthHandler)),
        ('functions', all(callable(f) for f in loaded['mistral.expression.functions'].values())),
    ]
    wrong = [name for name, ok in checks if not ok]
    if wrong:
        print('smoke FAILED: not what Mistral expects: %s' % ', '.join(wrong))
        return 1

    # Mistral's own YAQL evaluator, which finds the functions by their entry points.
    from mistral.expressions import yaql_expression
    evaluator = yaql_expression.InlineYAQLEvaluator
    results = [evaluator.evaluate('<% version_compare("1.2.3", "1.10.0") %>', {}),
               evaluator.evaluate('<% regex_replace("st2-mistral", "-", "") %>', {})]
    if results != [-1, 'st2mistral']:
        print('smoke FAILED: YAQL gave %r' % results)
        return 1
    where = stackstorm_notifier.__file__
    if not where.startswith(sys.prefix):
        print('smoke FAILED: st2mistral imported from %s, not from this venv' % where)
        return 1
    print('smoke OK: Python %s, mistral %s, mistral-lib %s, st2mistral %s: %s; YAQL %r' % (
        sys.version.split()[0], metadata.version('mistral'), metadata.version('mistral-lib'),
        metadata.version('st2mistral'),
        ', '.join('%s %d' % (ns, len(loaded[ns])) for ns in NAMESPACES), results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
