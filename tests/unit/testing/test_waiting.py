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


import pytest

from st2mistral.testing import waiting


class FakeTime:
    """A clock that advances only when the code under test sleeps."""

    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_first_truthy_value_of_the_predicate():
    fake = FakeTime()
    answers = iter([None, 0, [], 'ready'])
    assert waiting.wait_until(lambda: next(answers), timeout=10, interval=0.5,
                              clock=fake.clock, sleep=fake.sleep) == 'ready'
    assert fake.sleeps == [0.5, 0.5, 0.5]


def test_timeout_raises_with_the_message_and_never_returns_quietly():
    fake = FakeTime()
    calls = []
    with pytest.raises(waiting.WaitTimeout,
                       match=r'Timed out after 1\.0 s waiting for: the relay to connect'):
        waiting.wait_until(lambda: calls.append(1), timeout=1, interval=0.25,
                           message='the relay to connect', clock=fake.clock, sleep=fake.sleep)
    # Checked at 0, 0.25, 0.5, 0.75 and 1.0 s, then once more after the deadline.
    assert len(calls) == 6


def test_callable_message_is_built_only_on_timeout_with_the_latest_state():
    fake = FakeTime()
    state = {'left': 3, 'messages': 0}

    def describe():
        state['messages'] += 1
        return 'still tracked: %d' % state['left']

    def predicate():
        state['left'] -= 1
        return False

    with pytest.raises(AssertionError, match='still tracked: -'):
        waiting.wait_until(predicate, timeout=0.1, interval=0.05, message=describe,
                           clock=fake.clock, sleep=fake.sleep)
    assert state['messages'] == 1

    answers = iter([False, True])
    waiting.wait_until(lambda: next(answers), message=describe, clock=fake.clock,
                       sleep=fake.sleep)
    assert state['messages'] == 1


def test_a_late_success_after_an_overslept_deadline_counts():
    fake = FakeTime()
    answers = iter([False, False, 'late'])

    def oversleep(seconds):
        fake.now += 60

    assert waiting.wait_until(lambda: next(answers), timeout=1, clock=fake.clock,
                              sleep=oversleep) == 'late'


def test_predicate_errors_propagate_at_once():
    fake = FakeTime()

    def broken():
        raise KeyError('no such task')

    with pytest.raises(KeyError):
        waiting.wait_until(broken, clock=fake.clock, sleep=fake.sleep)
    assert fake.sleeps == []


def test_without_a_message_the_predicate_name_is_shown():
    fake = FakeTime()

    def relay_connected():
        return False

    with pytest.raises(waiting.WaitTimeout, match='relay_connected'):
        waiting.wait_until(relay_connected, timeout=0, clock=fake.clock, sleep=fake.sleep)
