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

"""tests/st2_suite/st2suite_plugin.py: what counts as passed, failed, excepted.

Each test runs pytest in a subprocess on a small unittest-style file (st2's
suite is unittest TestCases) with the plugin and an exceptions file.
"""

import collections
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

PLUGIN_DIR = pathlib.Path(__file__).resolve().parents[1] / 'st2_suite'

SUITE = '''
import unittest


class T(unittest.TestCase):
    def test_ok(self):
        pass

    def test_broken(self):
        self.assertEqual(1, 2)
'''


def run_plugin(tmp_path, exceptions, *extra, suite=SUITE, tag='v3.9.0'):
    (tmp_path / 'test_one.py').write_text(textwrap.dedent(suite))
    (tmp_path / 'exceptions.yaml').write_text(textwrap.dedent(exceptions))
    (tmp_path / 'pytest.ini').write_text('[pytest]\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PLUGIN_DIR), str(tmp_path)]))
    proc = subprocess.run(
        [sys.executable, '-m', 'pytest', '-c', str(tmp_path / 'pytest.ini'),
         '--rootdir', str(tmp_path), '-p', 'st2suite_plugin', '-p', 'no:cacheprovider',
         '--st2suite-exceptions', str(tmp_path / 'exceptions.yaml'), '--st2suite-tag', tag,
         '--st2suite-summary', str(tmp_path / 'summary.json'), str(tmp_path / 'test_one.py')]
        + list(extra), capture_output=True, text=True, cwd=str(tmp_path), env=env)
    summary_path = tmp_path / 'summary.json'
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return proc, summary


BROKEN_EXCEPTED = '''
exceptions:
  - test: test_one.py::T::test_broken
    tags: [v3.9.0]
    kind: mistral23
    reason: Mistral 23 says two.
'''


def test_a_listed_failure_is_excepted_and_the_run_passes(tmp_path):
    proc, summary = run_plugin(tmp_path, BROKEN_EXCEPTED)
    assert proc.returncode == 0, proc.stdout
    assert summary['files'] == {'test_one.py': {'passed': 1, 'excepted': 1}}
    assert summary['tests'] == {'test_one.py::T::test_ok': 'passed',
                                'test_one.py::T::test_broken': 'excepted'}
    # what it failed with, to compare with the entry's reason
    assert summary['errors'] == {'test_one.py::T::test_broken': 'AssertionError: 1 != 2'}
    assert 'excepted: test_one.py::T::test_broken: AssertionError: 1 != 2' in proc.stdout
    # the per-file line on the terminal: passed, failed, excepted, unexpected-pass, skipped
    assert any(line.split()[:7] == ['test_one.py', '1', '0', '1', '0', '0', '0']
               for line in proc.stdout.splitlines()), proc.stdout


def test_an_exception_of_another_tag_does_not_apply(tmp_path):
    proc, summary = run_plugin(tmp_path, BROKEN_EXCEPTED, tag='v3.2.0')
    assert proc.returncode == 1
    assert summary['tests']['test_one.py::T::test_broken'] == 'failed'
    assert 'FAILED: test_one.py::T::test_broken' in proc.stdout


def test_an_unlisted_failure_fails_the_run(tmp_path):
    proc, summary = run_plugin(tmp_path, 'exceptions: []\n')
    assert proc.returncode == 1
    assert summary['files'] == {'test_one.py': {'passed': 1, 'failed': 1}}


def test_a_listed_test_that_passes_fails_the_run(tmp_path):
    proc, summary = run_plugin(tmp_path, '''
        exceptions:
          - test: test_one.py::T::test_ok
            tags: [v3.9.0]
            kind: python3
            reason: thought broken
          - test: test_one.py::T::test_broken
            tags: [v3.9.0]
            kind: python3
            reason: broken
        ''')
    assert proc.returncode == 1
    assert summary['tests'] == {'test_one.py::T::test_ok': 'unexpected-pass',
                                'test_one.py::T::test_broken': 'excepted'}
    assert 'UNEXPECTED-PASS: test_one.py::T::test_ok' in proc.stdout


def test_a_stale_entry_stops_the_run(tmp_path):
    proc, _ = run_plugin(tmp_path, '''
        exceptions:
          - test: test_one.py::T::test_gone
            tags: [v3.9.0]
            kind: python3
            reason: was here
        ''')
    assert proc.returncode == 4  # pytest's usage error
    assert 'test_one.py::T::test_gone' in proc.stderr


@pytest.mark.parametrize('entry, complaint', [
    ('{test: test_one.py::T::test_broken, tags: [v3.9.0], kind: python3}', 'no reason'),
    ('{test: test_one.py::T::test_broken, tags: [v3.9.0], kind: flaky, reason: x}',
     "kind 'flaky'"),
    ('{test: test_one.py::T::test_broken, tags: [v3.9.0], kind: st2-refuses, reason: x}',
     'names st2_source'),
])
def test_an_entry_must_say_why(tmp_path, entry, complaint):
    proc, _ = run_plugin(tmp_path, 'exceptions:\n  - %s\n' % entry)
    assert proc.returncode == 4
    assert complaint in proc.stderr


def test_the_waits_of_st2s_suite_are_shortened_in_retrying(tmp_path):
    """st2's base.py decorates its waits with retrying.retry(wait_fixed=3000,
    stop_max_delay=900000); the plugin lowers both in retrying.Retrying."""
    (tmp_path / 'retrying.py').write_text(textwrap.dedent('''
        SEEN = []

        class Retrying(object):
            def __init__(self, *args, **kwargs):
                SEEN.append(kwargs)
        '''))
    suite = '''
        import unittest

        import retrying


        class T(unittest.TestCase):
            def test_ok(self):
                retrying.Retrying(wait_fixed=3000, stop_max_delay=900000, other=1)
                assert retrying.SEEN == [
                    {'wait_fixed': 500, 'stop_max_delay': 120000, 'other': 1}], retrying.SEEN
        '''
    proc, summary = run_plugin(tmp_path, 'exceptions: []\n', '--st2suite-poll', '0.5',
                               '--st2suite-max-wait', '120', suite=suite)
    assert proc.returncode == 0, proc.stdout
    assert summary['tests'] == {'test_one.py::T::test_ok': 'passed'}


# -- tests/st2_suite/exceptions.yaml itself ----------------------------------------------

EXCEPTIONS = PLUGIN_DIR / 'exceptions.yaml'
SUITE_TARBALL = 'mistral-tests-st2-v3.2.0.tar.gz'


def load(tag):
    sys.path.insert(0, str(PLUGIN_DIR))
    try:
        import st2suite_plugin
    finally:
        sys.path.remove(str(PLUGIN_DIR))
    return st2suite_plugin.load_exceptions(str(EXCEPTIONS), tag)


def st2_src():
    value = os.environ.get('ST2MISTRAL_ST2_SRC', '').strip()
    if not value:
        pytest.skip('ST2MISTRAL_ST2_SRC is not set: st2 source checks skipped')
    return pathlib.Path(value).expanduser()


def suite_tests():
    """'<file>::<class>::<method>' of every test in st2's suite, inherited ones too."""
    import ast
    import tarfile

    found = set()
    with tarfile.open(st2_src() / SUITE_TARBALL) as tar:
        for member in tar.getmembers():
            name = os.path.basename(member.name)
            if '/integration/mistral/test_' not in member.name or not name.endswith('.py'):
                continue
            tree = ast.parse(tar.extractfile(member).read())
            classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

            for cls in classes.values():
                found |= {'%s::%s::%s' % (name, cls.name, m) for m in _methods(cls, classes)}
    return found


def _methods(cls, classes):
    import ast

    own = {f.name for f in cls.body
           if isinstance(f, ast.FunctionDef) and f.name.startswith('test')}
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id in classes:
            own |= _methods(classes[base.id], classes)
    return own


@pytest.mark.parametrize('tag', ['v3.9.0', 'v3.5.0', 'v3.2.0'])
def test_every_exception_says_why(tag):
    entries = load(tag)  # raises on an entry without kind, reason or source
    assert entries
    for name, entry in entries.items():
        assert name.count('::') == 2, name
        if entry['kind'] == 'race':
            assert entry.get('strict') is False, '%s: a race is not strict' % name
            assert 'v3.2.0' in load_all_tags(name), '%s: a race shows on the baseline' % name
        if entry['kind'] in ('mistral23', 'python3', 'race'):
            assert entry.get('shown'), '%s: a %s entry shows the difference' % (
                name, entry['kind'])
        if entry['kind'] == 'open':
            assert entry.get('issue'), name


def load_all_tags(test):
    import yaml

    entries = yaml.safe_load(EXCEPTIONS.read_text())['exceptions']
    return {tag for entry in entries if entry['test'] == test for tag in entry['tags']}


def test_the_exceptions_name_tests_of_st2s_suite():
    tests = suite_tests()
    assert len(tests) == 91  # st2 v3.2.0's suite: 91 tests in 8 files
    for tag in ('v3.9.0', 'v3.2.0'):
        assert set(load(tag)) <= tests, set(load(tag)) - tests


def test_each_st2_refusal_cites_st2s_source():
    """Each st2_source 'path:line @tag' (one per st2 3.3+ tag the entry names) holds
    st2_says within 6 lines of st2-<tag>.tar.gz."""
    import tarfile

    src = st2_src()
    checked = collections.Counter()
    for entry in load('v3.9.0').values():
        if entry['kind'] != 'st2-refuses':
            continue
        sources = entry['st2_source']
        sources = [sources] if isinstance(sources, str) else sources
        cited = {}
        for source in sources:
            where, tag = source.split(' @')
            cited[tag.split()[0]] = where
        assert sorted(cited) == sorted(t for t in entry['tags'] if t != 'v3.2.0'), entry['test']
        for tag, where in cited.items():
            path, line = where.rsplit(':', 1)
            with tarfile.open(src / ('st2-%s.tar.gz' % tag)) as tar:
                text = tar.extractfile('st2-%s/%s' % (tag, path)).read().decode()
            window = '\n'.join(text.splitlines()[int(line) - 1:int(line) + 6])
            assert entry['st2_says'] in window, (entry['test'], source, window)
            checked[tag] += 1
    assert checked == {'v3.9.0': 14, 'v3.5.0': 14}


def test_an_entry_s_max_wait_caps_the_waits_of_that_test_only(tmp_path):
    (tmp_path / 'retrying.py').write_text(textwrap.dedent('''
        import json
        import os

        class Retrying(object):
            def __init__(self, *args, **kwargs):
                with open(os.environ['SEEN_FILE'], 'a') as f:
                    f.write(json.dumps(kwargs['stop_max_delay']) + '\\n')
        '''))
    suite = '''
        import unittest

        import retrying


        class T(unittest.TestCase):
            def test_a_waits_for_a_state_st2_never_reaches(self):
                retrying.Retrying(wait_fixed=3000, stop_max_delay=900000)
                self.fail('never reached')

            def test_b_waits(self):
                retrying.Retrying(wait_fixed=3000, stop_max_delay=900000)
        '''
    os.environ['SEEN_FILE'] = str(tmp_path / 'seen.txt')
    try:
        proc, summary = run_plugin(tmp_path, '''
            exceptions:
              - test: test_one.py::T::test_a_waits_for_a_state_st2_never_reaches
                tags: [v3.9.0]
                max_wait: 5
                kind: python3
                reason: never reached
                shown: here
            ''', '--st2suite-max-wait', '120', suite=suite)
    finally:
        del os.environ['SEEN_FILE']
    assert proc.returncode == 0, proc.stdout
    assert summary['tests'] == {
        'test_one.py::T::test_a_waits_for_a_state_st2_never_reaches': 'excepted',
        'test_one.py::T::test_b_waits': 'passed'}
    assert (tmp_path / 'seen.txt').read_text().split() == ['5000', '120000']


def test_a_non_strict_entry_may_pass_without_failing_the_run(tmp_path):
    proc, summary = run_plugin(tmp_path, '''
        exceptions:
          - test: test_one.py::T::test_ok
            tags: [v3.9.0]
            strict: false
            kind: open
            issue: a race
            reason: sometimes fails
          - test: test_one.py::T::test_broken
            tags: [v3.9.0]
            strict: false
            kind: open
            issue: a race
            reason: sometimes fails
        ''')
    assert proc.returncode == 0, proc.stdout
    assert summary['tests'] == {'test_one.py::T::test_ok': 'flaky-pass',
                                'test_one.py::T::test_broken': 'excepted'}


def test_a_test_running_an_action_the_pack_lacks_is_unavailable_not_failed(tmp_path):
    """st2-v3.2.0.tar.gz lacks examples' actions/workflows/tests/: the tests that run
    those actions are skipped as unavailable, with the fix in the reason."""
    suite = '''
        import unittest


        class T(unittest.TestCase):
            def test_present(self):
                run('examples.mistral-basic')

            def test_absent(self):
                run('examples.mistral-test-cancel')
                self.fail('would fail: the action is not registered')


        def run(ref):
            return ref
        '''
    (tmp_path / 'unavailable.json').write_text(json.dumps(
        {'refs': ['examples.mistral-test-cancel'], 'why': 'set ST2MISTRAL_ST2_EXAMPLES'}))
    proc, summary = run_plugin(tmp_path, BROKEN_EXCEPTED.replace('test_broken', 'test_absent'),
                               '--st2suite-unavailable', str(tmp_path / 'unavailable.json'),
                               '-rs', suite=suite)
    assert proc.returncode == 0, proc.stdout
    assert summary['tests'] == {'test_one.py::T::test_present': 'passed',
                                'test_one.py::T::test_absent': 'unavailable'}
    assert summary['files'] == {'test_one.py': {'passed': 1, 'unavailable': 1}}
    assert ('unavailable: runs examples.mistral-test-cancel; set ST2MISTRAL_ST2_EXAMPLES'
            in proc.stdout), proc.stdout


def test_a_test_sharing_a_host_path_waits_for_another_tags_run_of_it(tmp_path, monkeypatch):
    import fcntl
    import threading
    import types

    sys.path.insert(0, str(PLUGIN_DIR))
    try:
        import st2suite_plugin as plugin
    finally:
        sys.path.remove(str(PLUGIN_DIR))
    lock_path = str(tmp_path / 'done.lock')
    key = 'test_examples.py::ExamplesTest::test_handle_retry'
    monkeypatch.setitem(plugin.HOST_PATH_LOCKS, key, lock_path)
    item = types.SimpleNamespace(nodeid='integration/mistral/' + key)
    ran = threading.Event()

    def run_the_test():
        hook = plugin.Tally.pytest_runtest_call(None, item)
        next(hook)                  # pytest runs the test here
        ran.set()
        next(hook, None)

    with open(lock_path, 'a') as other_tags_run:
        fcntl.flock(other_tags_run, fcntl.LOCK_EX)
        thread = threading.Thread(target=run_the_test)
        thread.start()
        assert not ran.wait(0.3)    # held back while the other run holds the lock
        fcntl.flock(other_tags_run, fcntl.LOCK_UN)
    assert ran.wait(5)
    thread.join(5)
