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

"""The one retry policy (st2mistral/core/retry.py)."""

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
