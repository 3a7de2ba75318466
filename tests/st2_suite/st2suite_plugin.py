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

"""pytest plugin for st2's own Mistral suite (loaded with ``-p st2suite_plugin``).

Runs INSIDE the suite's venv (st2 3.2: Python 3.6; st2 3.9: Python 3.8) with
pytest 7.0.1, so: Python 3.6 syntax, no import of this project.

- ``--st2suite-exceptions FILE --st2suite-tag TAG``: each test the file lists for
  TAG gets a strict ``xfail`` with the listed reason. An excepted test that
  fails counts as ``excepted``; one that passes fails the run (strict XPASS); a
  listed test that does not exist in a collected file fails the run too (a stale
  entry).
- ``--st2suite-poll SECONDS`` / ``--st2suite-max-wait SECONDS``: st2's suite waits
  with ``retrying`` (``wait_fixed=3000``, ``stop_max_delay=900000``: a poll every
  3 s, up to 15 minutes per wait, st2tests/integration/mistral/base.py). These
  lower both, in ``retrying.Retrying`` (the test files are not touched): a state
  that is never reached fails after the max wait instead of 15 minutes. Unset:
  st2's own values. An entry's ``max_wait`` (seconds) caps the waits of that
  excepted test (one that waits for a state st2 never reaches).
- ``--st2suite-unavailable FILE``: JSON ``{"refs": [action refs], "why": text}``,
  the examples actions whose definitions are not in the examples pack given
  (st2-v3.2.0.tar.gz of shared/st2-src lacks ``actions/workflows/tests/``). A
  test whose source names one of them is skipped before it runs and counted
  ``unavailable``: not a pass, not a failure; run.py says how to run them.
- At the end: passed / failed / excepted (and skipped, unavailable) per file on
  the terminal, and with ``--st2suite-summary FILE`` as JSON.
"""

import collections
import fcntl
import inspect
import json
import os
import re

import pytest

OUTCOMES = ('passed', 'failed', 'excepted', 'unexpected-pass', 'skipped', 'flaky-pass',
            'unavailable')
# How st2's tests name the examples actions they run ('examples.mistral-basic').
ACTION_REF = re.compile(r'examples\.[A-Za-z0-9_-]+')
KINDS = ('st2-refuses', 'mistral23', 'python3', 'open', 'race')


# Tests whose example workflow uses a fixed path on the host, and the lock file that
# keeps two tags' runs of them apart: mistral-handle-retry removes, waits for and
# creates /tmp/done (contrib/examples/actions/workflows/mistral-handle-retry.yaml
# @ v3.2.0), so a run of another tag at the same time undid it (failed once on
# v3.5.0 and v3.2.0 together, 2026-12-07).
HOST_PATH_LOCKS = {
    'test_examples.py::ExamplesTest::test_handle_retry':
        '/tmp/st2mistral-st2suite-tmp-done.lock',     # beside /tmp/done: one for every tag
}


def pytest_addoption(parser):
    group = parser.getgroup('st2suite', "st2's own Mistral integration suite")
    group.addoption('--st2suite-exceptions', help='YAML file of expected failures')
    group.addoption('--st2suite-tag', help='the st2 tag under test (selects the exceptions)')
    group.addoption('--st2suite-summary', help='write the per-file counts here as JSON')
    group.addoption('--st2suite-poll', type=float, default=None,
                    help="seconds between two polls of st2's waits (st2's own: 3)")
    group.addoption('--st2suite-max-wait', type=float, default=None,
                    help="longest wait for one state, in seconds (st2's own: 900)")
    group.addoption('--st2suite-unavailable',
                    help='JSON {"refs": [...], "why": ...}: actions the pack lacks')


def test_key(nodeid):
    """'integration/mistral/test_errors.py::Cls::test_x' -> 'test_errors.py::Cls::test_x'."""
    path, _, rest = nodeid.partition('::')
    return os.path.basename(path) + '::' + rest


def load_exceptions(path, tag):
    """``{test key: entry}`` of the entries whose ``tags`` name ``tag``; checks each entry."""
    import yaml

    with open(path) as f:
        data = yaml.safe_load(f) or {}
    selected = {}
    problems = []
    for entry in data.get('exceptions') or ():
        name = entry.get('test', '?')
        for field in ('test', 'tags', 'kind', 'reason'):
            if not entry.get(field):
                problems.append('%s: no %s' % (name, field))
        if entry.get('kind') not in KINDS:
            problems.append('%s: kind %r is not one of %s' % (name, entry.get('kind'), KINDS))
        if not isinstance(entry.get('max_wait', 0), (int, float)):
            problems.append('%s: max_wait is a number of seconds' % name)
        if entry.get('kind') == 'st2-refuses' and not entry.get('st2_source'):
            problems.append('%s: an st2-refuses entry names st2_source (file:line @tag)' % name)
        if tag in (entry.get('tags') or ()):
            if name in selected:
                problems.append('%s: listed twice for %s' % (name, tag))
            selected[name] = entry
    if problems:
        raise pytest.UsageError('%s:\n  %s' % (path, '\n  '.join(problems)))
    return selected


# The longest wait (s) for the running test: --st2suite-max-wait, or its entry's max_wait.
WAIT = {'poll': None, 'max': None, 'test': None}


def patch_retrying():
    try:
        import retrying
    except ImportError:  # nothing waits with it (st2's base.py imports it)
        return

    original = retrying.Retrying.__init__

    def __init__(self, *args, **kwargs):
        poll = WAIT['poll']
        longest = WAIT['test'] if WAIT['test'] is not None else WAIT['max']
        if poll is not None and 'wait_fixed' in kwargs:
            kwargs['wait_fixed'] = min(kwargs['wait_fixed'], int(poll * 1000))
        if longest is not None and 'stop_max_delay' in kwargs:
            kwargs['stop_max_delay'] = min(kwargs['stop_max_delay'], int(longest * 1000))
        original(self, *args, **kwargs)

    retrying.Retrying.__init__ = __init__


class Tally(object):
    def __init__(self, config):
        self.config = config
        self.exceptions = {}
        self.outcome = {}   # test key -> outcome
        self.seconds = collections.Counter()  # file -> seconds spent in its tests
        self.crash = {}     # test key -> the error it failed with (excepted, failed)
        self.files = []
        self.unavailable = set()  # test keys skipped: an action they run is not registered

    # -- collection

    def pytest_collection_modifyitems(self, session, config, items):
        path = config.getoption('st2suite_exceptions')
        if path:
            self.exceptions = load_exceptions(path, config.getoption('st2suite_tag'))
        missing, why = load_unavailable(config.getoption('st2suite_unavailable'))
        collected = set()
        for item in items:
            key = test_key(item.nodeid)
            collected.add(key)
            name = key.split('::')[0]
            if name not in self.files:
                self.files.append(name)
            lacking = sorted(missing.intersection(actions_run_by(item)))
            if lacking:
                self.unavailable.add(key)
                item.add_marker(pytest.mark.skip(
                    reason='unavailable: runs %s; %s' % (', '.join(lacking), why)))
                continue
            entry = self.exceptions.get(key)
            if entry is not None:
                item.add_marker(pytest.mark.xfail(
                    reason='[%s] %s' % (entry['kind'], ' '.join(entry['reason'].split())),
                    strict=entry.get('strict', True)))
        stale = [key for key in self.exceptions
                 if key.split('::')[0] in self.files and key not in collected]
        if stale:
            raise pytest.UsageError('exceptions name tests that do not exist: %s'
                                    % ', '.join(sorted(stale)))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        # One at a time on the host: the suites of several tags run at once (run.py
        # --tags), and these tests' example workflows share a fixed host path.
        path = HOST_PATH_LOCKS.get(test_key(item.nodeid))
        if path is None:
            yield
            return
        with open(path, 'a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def pytest_runtest_setup(self, item):
        # An excepted test known to wait for a state st2 never reaches (max_wait in its
        # entry) gives up sooner; fixed, it reaches the state at once and passes (strict).
        entry = self.exceptions.get(test_key(item.nodeid)) or {}
        WAIT['test'] = entry.get('max_wait')

    # -- outcomes

    def pytest_runtest_logreport(self, report):
        key = test_key(report.nodeid)
        self.seconds[key.split('::')[0]] += report.duration
        if report.when == 'call' or report.failed or report.skipped:
            if report.failed:
                text = str(report.longrepr)
                outcome = 'unexpected-pass' if 'XPASS(strict)' in text else 'failed'
            elif report.skipped and key in self.unavailable:
                outcome = 'unavailable'
            elif report.skipped:
                outcome = 'excepted' if hasattr(report, 'wasxfail') else 'skipped'
            elif hasattr(report, 'wasxfail'):
                outcome = 'flaky-pass'  # a non-strict entry ('strict: false') that passed
            else:
                outcome = 'passed'
            # The first bad phase wins (a teardown error after a pass is a failure).
            if self.outcome.get(key) in (None, 'passed'):
                self.outcome[key] = outcome
                if outcome in ('excepted', 'failed'):
                    self.crash[key] = crash_message(report)

    def counts(self):
        per_file = collections.OrderedDict((name, collections.Counter()) for name in self.files)
        for key, outcome in self.outcome.items():
            per_file.setdefault(key.split('::')[0], collections.Counter())[outcome] += 1
        return per_file

    def pytest_terminal_summary(self, terminalreporter):
        per_file = self.counts()
        write = terminalreporter.write_line
        tag = self.config.getoption('st2suite_tag') or '?'
        write('')
        write("st2's own Mistral suite on st2 %s: per file" % tag)
        header = '%-30s %7s %7s %9s %16s %8s %11s %12s %8s' % (
            'file', 'passed', 'failed', 'excepted', 'unexpected-pass', 'skipped', 'flaky-pass',
            'unavailable', 'seconds')
        write(header)
        total = collections.Counter()
        line = '%-30s %7d %7d %9d %16d %8d %11d %12d %8.0f'
        for name, counter in per_file.items():
            total.update(counter)
            write(line % ((name,) + tuple(counter[o] for o in OUTCOMES) + (self.seconds[name],)))
        write(line % (('total',) + tuple(total[o] for o in OUTCOMES)
                      + (sum(self.seconds.values()),)))
        for key, outcome in sorted(self.outcome.items()):
            if outcome in ('failed', 'unexpected-pass'):
                write('%s: %s' % (outcome.upper(), key))
        # What each excepted test failed with, to compare with its entry's reason.
        for key, outcome in sorted(self.outcome.items()):
            if outcome == 'excepted':
                write('excepted: %s: %s' % (key, self.crash.get(key, '?')))
        summary = self.config.getoption('st2suite_summary')
        if summary:
            with open(summary, 'w') as f:
                json.dump({'tag': tag,
                           'files': {name: dict(counter) for name, counter in per_file.items()},
                           'seconds': {name: round(self.seconds[name], 1) for name in per_file},
                           'tests': self.outcome, 'errors': self.crash},
                          f, indent=1, sort_keys=True)


def load_unavailable(path):
    """The action refs the registered pack lacks, and why (``--st2suite-unavailable``)."""
    if not path:
        return frozenset(), ''
    with open(path) as f:
        data = json.load(f)
    return frozenset(data.get('refs') or ()), data.get('why') or 'not registered'


def actions_run_by(item):
    """The examples actions a test of st2's suite names in its own source."""
    try:
        source = inspect.getsource(item.function)
    except (AttributeError, OSError, TypeError):
        return set()
    return set(ACTION_REF.findall(source))


def crash_message(report):
    """The last line of the error a test failed with, shortened."""
    crash = getattr(report.longrepr, 'reprcrash', None)
    text = crash.message if crash is not None else str(report.longrepr)
    text = ' '.join(text.split())
    return text[:300]


def pytest_configure(config):
    WAIT['poll'] = config.getoption('st2suite_poll')
    WAIT['max'] = config.getoption('st2suite_max_wait')
    patch_retrying()
    config.pluginmanager.register(Tally(config), 'st2suite-tally')
