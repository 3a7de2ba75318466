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

"""The sender's schedule (delivery/schedule.py) on a fake clock: no threads, no HTTP."""

from st2mistral.mistral_side import targets
from st2mistral.mistral_side.delivery import schedule as schedule_mod
from st2mistral.mistral_side.delivery.outgoing import Outgoing


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def _item(status, execution_id='e1'):
    return Outgoing(target=targets.Target(execution_id=execution_id, api_url='http://st2',
                                          token='t'),
                    status=status, result=None, root_id='r', event='E-' + status, ex_id='r')


def test_updates_are_sent_in_turn_one_in_flight_per_execution():
    schedule = schedule_mod.Schedule(Clock())
    first, other = _item('running'), _item('running', execution_id='e2')
    schedule.add(first)
    schedule.add(other)
    assert schedule.take() is first
    newer = _item('succeeded')
    schedule.add(newer)                      # e1 is in flight: newer waits for it
    assert schedule.take() is other
    assert schedule.take() is None
    assert len(schedule) == 3
    assert schedule.finish(first) is newer   # now ready
    assert schedule.take() is newer


def test_a_newer_update_replaces_the_waiting_one():
    schedule = schedule_mod.Schedule(Clock())
    schedule.add(_item('running'))
    latest = _item('succeeded')
    schedule.add(latest)
    assert schedule.waiting(latest.key) is latest
    assert schedule.take() is latest
    assert schedule.take() is None and len(schedule) == 1


def test_a_retry_is_taken_only_once_due():
    clock = Clock()
    schedule = schedule_mod.Schedule(clock)
    item = _item('succeeded')
    schedule.add(item)
    assert schedule.take() is item
    assert schedule.finish(item) is None
    schedule.retry_later(item, 5.0)
    assert item.due == 1005.0 and schedule.seconds_to_next_retry() == 5.0
    clock.now = 1004.9
    assert schedule.take() is None
    clock.now = 1005.0
    assert schedule.take() is item and item.due is None
    assert schedule.seconds_to_next_retry() is None


def test_an_update_replacing_a_failing_one_keeps_its_backoff():
    clock = Clock()
    schedule = schedule_mod.Schedule(clock)
    failing = _item('running')
    schedule.add(failing)
    schedule.take()
    failing.attempts = 3
    schedule.finish(failing)
    schedule.retry_later(failing, 8.0)
    newer = _item('succeeded')
    schedule.add(newer)
    assert (newer.due, newer.attempts) == (1008.0, 3)
    assert schedule.take() is None           # st2 is failing: no hammering
    clock.now = 1008.0
    assert schedule.take() is newer
    assert schedule.take() is None           # the replaced retry's heap entry is stale


def test_the_oldest_unknown_waiting_update_is_the_one_to_drop():
    schedule = schedule_mod.Schedule(Clock())
    known, young, old, busy = (_item('running', e) for e in ('k', 'young', 'old', 'busy'))
    young.unknown_since, old.unknown_since, busy.unknown_since = 20.0, 10.0, 1.0
    for item in (busy, known, young, old):
        schedule.add(item)
    assert schedule.take() is busy          # in flight: not a candidate
    assert schedule.oldest_unknown() is old
    schedule.drop(old)
    assert schedule.oldest_unknown() is young and schedule.waiting(old.key) is None
    taken = [schedule.take() for _ in range(3)]
    assert taken == [known, young, None]    # the dropped one is never sent
