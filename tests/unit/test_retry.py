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

"""The one retry policy and the one retry loop (st2mistral/core/retry.py)."""

import pytest

from st2mistral.core import retry


def test_waits_double_from_initial_and_stop_at_the_maximum():
    policy = retry.Backoff(initial=1.0, maximum=5.0)
    assert [policy.delay(n) for n in range(1, 7)] == [1, 2, 4, 5, 5, 5]


def test_a_zero_initial_wait_retries_at_once_then_from_a_tenth_of_a_second():
    policy = retry.Backoff(initial=0.0, maximum=1.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0, 0.1, 0.2, 0.4, 0.8]
    assert retry.Backoff(initial=0.0, maximum=0.0).delay(9) == 0


def test_a_huge_failure_count_stays_at_the_maximum():
    assert retry.Backoff(initial=1.0, maximum=60.0).delay(10_000) == 60.0


def test_jitter_only_shortens_a_wait():
    policy = retry.Backoff(initial=4.0, maximum=4.0, jitter=0.5)
    assert policy.delay(1, rand=lambda: 0.0) == 4.0
    assert policy.delay(1, rand=lambda: 1.0) == 2.0
    assert policy.delay(1, rand=lambda: 0.5) == 3.0


def test_the_mistral_db_wait_is_one_to_thirty_seconds():
    assert [retry.MISTRAL_DB.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


class Flaky:
    def __init__(self, failures, error=ConnectionError):
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self, value, suffix=''):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error('try %d' % self.calls)
        return value + suffix


def test_call_waits_by_the_policy_and_returns_the_answer():
    slept, retried = [], []
    fn = Flaky(3)
    answer = retry.Backoff(initial=1.0, maximum=3.0).call(
        fn, 'ok', suffix='!', retry_if=lambda e: isinstance(e, ConnectionError),
        sleep=slept.append, on_retry=lambda e: retried.append(str(e)))
    assert answer == 'ok!' and fn.calls == 4
    assert slept == [1.0, 2.0, 3.0]
    assert retried == ['try 1', 'try 2', 'try 3']


def test_call_raises_an_error_it_must_not_retry_at_once():
    slept = []
    fn = Flaky(5, error=ValueError)
    with pytest.raises(ValueError, match='try 1'):
        retry.Backoff(1.0, 1.0).call(fn, 'x', retry_if=lambda e: isinstance(e, ConnectionError),
                                     sleep=slept.append)
    assert fn.calls == 1 and slept == []


def test_call_gives_up_with_the_last_error_once_the_time_has_passed():
    fn = Flaky(5)
    with pytest.raises(ConnectionError, match='try 1'):
        retry.Backoff(1.0, 1.0, give_up_after=0.0).call(fn, 'x', retry_if=lambda e: True,
                                                        sleep=lambda s: None)
    assert fn.calls == 1


# -- the one loop ------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now, self.sleeps = 100.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def failing(times, reason='busy', then='done', at_once=False):
    calls = []

    def try_once():
        calls.append(1)
        if len(calls) <= times:
            raise retry.TryAgain(reason, at_once=at_once)
        return then
    return try_once, calls


def test_run_waits_by_the_policy_between_failed_tries():
    clock = FakeClock()
    waits = []
    try_once, calls = failing(3)
    attempts = retry.Backoff(1.0, 3.0).attempts(clock=clock, sleep=clock.sleep)
    assert attempts.run(try_once, on_wait=lambda reason, delay: waits.append((reason, delay))) \
        == 'done'
    assert len(calls) == 4 and clock.sleeps == [1.0, 2.0, 3.0]
    assert waits == [('busy', 1.0), ('busy', 2.0), ('busy', 3.0)]


def test_no_wait_runs_past_the_deadline_and_the_job_then_gives_up():
    clock = FakeClock()
    try_once, calls = failing(100, reason='st2 is away')
    attempts = retry.Backoff(1.0, 4.0).attempts(clock=clock, sleep=clock.sleep,
                                                deadline=clock.now + 10.0)
    with pytest.raises(retry.GaveUp) as gave_up:
        attempts.run(try_once)
    assert clock.sleeps == [1.0, 2.0, 4.0, 3.0]       # the last wait ends at the deadline
    assert len(calls) == 5 and gave_up.value.reason == 'st2 is away'


def test_give_up_after_counts_from_the_first_try_and_does_not_shorten_a_wait():
    clock = FakeClock()
    try_once, calls = failing(100)
    attempts = retry.Backoff(4.0, 4.0, give_up_after=6.0).attempts(clock=clock,
                                                                   sleep=clock.sleep)
    with pytest.raises(retry.GaveUp):
        attempts.run(try_once)
    assert clock.sleeps == [4.0, 4.0] and len(calls) == 3


def test_tries_bound_the_job_and_at_once_policies_wait_nothing():
    slept = []
    try_once, calls = failing(100)
    with pytest.raises(retry.GaveUp):
        retry.at_once(tries=3).attempts(sleep=slept.append).run(try_once)
    assert len(calls) == 3 and slept == [0.0, 0.0]


def test_a_try_again_at_once_neither_waits_nor_counts_a_failure():
    clock = FakeClock()
    try_once, calls = failing(2, at_once=True)
    attempts = retry.Backoff(1.0, 1.0, tries=1).attempts(clock=clock, sleep=clock.sleep)
    assert attempts.run(try_once) == 'done'
    assert len(calls) == 3 and clock.sleeps == [] and attempts.failures == 0


def test_other_errors_end_the_job_at_once():
    def try_once():
        raise ValueError('no')
    with pytest.raises(ValueError):
        retry.Backoff(1.0, 1.0).attempts(sleep=pytest.fail).run(try_once)


def test_a_sleep_that_says_stop_ends_run_with_none():
    try_once, calls = failing(100)
    assert retry.Backoff(1.0, 1.0).attempts(sleep=lambda s: True).run(try_once) is None
    assert len(calls) == 1


def test_reset_makes_the_next_failure_a_first_one():
    attempts = retry.Backoff(1.0, 8.0).attempts(clock=FakeClock())
    assert [attempts.failed() for _ in range(3)] == [1.0, 2.0, 4.0]
    attempts.reset()
    assert attempts.failed() == 1.0


# -- what is transient ---------------------------------------------------------


@pytest.mark.parametrize('status, idempotent, transient', [
    (None, True, True), (None, False, True),
    (429, True, True), (429, False, True),
    (500, True, True), (500, False, False),       # st2 may have acted on a POST
    (501, True, True), (501, False, False),
    (502, False, True), (503, False, True), (504, False, True),
    (400, True, False), (404, True, False), (401, False, False), (409, False, False),
])
def test_one_transient_rule_narrower_for_a_request_that_must_not_run_twice(
        status, idempotent, transient):
    assert retry.is_transient(status, idempotent=idempotent) is transient


def test_no_product_module_but_retry_builds_a_policy_or_imports_tenacity():
    """The policies live in retry.py (its docstring lists them); tenacity is gone."""
    import ast
    import pathlib

    import st2mistral
    root = pathlib.Path(st2mistral.__file__).parent
    offenders = []
    for path in sorted(root.rglob('*.py')):
        relative = path.relative_to(root).as_posix()
        if relative.startswith('testing/') or relative == 'core/retry.py':
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in ('Backoff', 'Attempts')) or (
                    isinstance(node, (ast.Import, ast.ImportFrom)) and 'tenacity' in (
                        getattr(node, 'module', None) or '',
                        *(alias.name for alias in node.names))):
                offenders.append('%s:%d' % (relative, node.lineno))
    assert offenders == []
