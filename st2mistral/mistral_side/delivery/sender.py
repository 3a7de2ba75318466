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

"""Background delivery of st2 updates: never blocks Mistral, keeps order.

``submit()`` only queues (microseconds): worker threads do the HTTP. Per st2
execution at most one request is in flight, a newer update supersedes one
still waiting (ordering.py decides, schedule.py keeps the queue) and a failed
try is tried again after the retry policy's wait (``retry.st2_updates``)
until st2 takes it, says the execution is already completed, or the update
expires. One try and its outcome: deliverer.py; the trace lines: trace.py.
"""

import threading
import time

from oslo_config import cfg

from st2mistral.core import bounded
from st2mistral.core import opts
from st2mistral.core import retry
from st2mistral.core import st2api
from st2mistral.mistral_side import binding
from st2mistral.mistral_side.delivery import deliverer as deliverer_mod
from st2mistral.mistral_side.delivery import ordering
from st2mistral.mistral_side.delivery import schedule as schedule_mod
from st2mistral.mistral_side.delivery import spool as spool_mod
from st2mistral.mistral_side.delivery import trace
from st2mistral.mistral_side.delivery.outgoing import Outgoing

CONF = cfg.CONF

Outcome = deliverer_mod.Outcome

# The last status st2 accepted, remembered for this many executions (ordering.py).
_DELIVERED_MEMORY = 10000


class Sender:
    """Delivers Outgoing updates with a small pool of worker threads."""

    def __init__(self, client=None, conf=CONF, workers=None, clock=time.time, store=None,
                 verifier=None):
        client = client or st2api.get_client()
        self._conf = conf
        self._clock = clock
        self._deliverer = deliverer_mod.Deliverer(
            client, verifier or binding.Verifier(client, conf), conf, clock)
        self._store = store
        self._lock = threading.Condition()
        self._schedule = schedule_mod.Schedule(clock)
        # key -> the last status st2 accepted
        self._delivered = bounded.BoundedDict(_DELIVERED_MEMORY)
        self._stopping = False
        self._threads = []
        self._workers = workers or self._group.delivery_workers
        if store is not None:
            with self._lock:
                for key, data in store.load():
                    try:
                        item = Outgoing.from_dict(data)
                    except (TypeError, KeyError):
                        trace.unreadable_spool_row(data)
                        store.discard(key)
                        continue
                    self._schedule.add(item)

    @property
    def _group(self):
        return self._conf[opts.GROUP]

    # -- public ------------------------------------------------------------

    def start(self):
        with self._lock:
            if self._threads:
                return self
            for i in range(self._workers):
                thread = threading.Thread(target=self._work, name='st2-sender-%d' % i,
                                          daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def submit(self, item):
        """Queue ``item``; returns False when it was dropped as a regression."""
        with self._lock:
            waiting = self._schedule.waiting(item.key)
            queued = waiting or self._schedule.in_flight(item.key)
            delivered = self._delivered.get(item.key)
            decision = ordering.decide(delivered, queued.status if queued else None,
                                       item.status)
            if decision is ordering.Decision.DROP_REGRESSION:
                trace.dropped_as_regression(item, delivered or queued.status)
                return False
            while self._store is None and waiting is None and (
                    len(self._schedule) >= self._group.spool_max_count):
                if not self._evict_unknown_locked():
                    raise spool_mod.SpoolFull('%d st2 updates are waiting in memory ([st2] '
                                              'spool_max_count)' % self._group.spool_max_count)
            if decision is ordering.Decision.SUPERSEDE and waiting is not None:
                trace.superseded(waiting, item.event)
            if self._store is not None:
                self._put_making_room(item)
            self._schedule.add(item)
            self._lock.notify()
            return True

    def make_room(self):
        """Give up the waiting update st2 has not known for the longest (HTTP 404, or
        no record naming its workflow, within [st2] unknown_execution_grace); True when
        one was given up. A full queue then refuses the updates nobody can receive,
        not the next workflow's: one author naming st2 executions that do not exist
        cannot starve the others (issue 18 item 5)."""
        with self._lock:
            return self._evict_unknown_locked()

    def _evict_unknown_locked(self):
        item = self._schedule.oldest_unknown()
        if item is None:
            return False
        self._schedule.drop(item)
        now = self._clock()
        unknown_for = now - item.unknown_since
        trace.evicted(item, unknown_for)
        if self._store is not None:
            self._store.give_up(item, 'evicted from the full queue: st2 did not know the '
                                'execution for %.0f s (after %d tries)' % (
                                    unknown_for, item.attempts), now)
        return True

    def _put_making_room(self, item):
        while True:
            try:
                self._store.put(item)
                return
            except spool_mod.SpoolFull:
                if not self._evict_unknown_locked():
                    raise

    def flush(self, timeout=10.0):
        """Wait until nothing is waiting or in flight; True when drained."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._schedule):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.05))
        return True

    def stop(self, timeout=5.0):
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    # -- a worker thread ---------------------------------------------------

    def _work(self):
        while True:
            with self._lock:
                item = None
                while not self._stopping:
                    item = self._schedule.take()
                    if item is not None:
                        break
                    next_retry = self._schedule.seconds_to_next_retry()
                    self._lock.wait(max(0.001, min(
                        1.0 if next_retry is None else next_retry, 1.0)))
                if self._stopping:
                    return
            outcome, st2_status = self._deliverer.deliver(item)
            with self._lock:
                self._settle(item, outcome, st2_status)
                self._lock.notify_all()

    def _settle(self, item, outcome, st2_status):
        """Act on a try's outcome: retry later, or remember what st2 holds and let
        the spool forget the update."""
        newer = self._schedule.finish(item)
        if outcome is Outcome.RETRY:
            if newer is None:
                delay = retry.st2_updates(self._group).delay(item.attempts)
                self._schedule.retry_later(item, delay)
                if self._store is not None:
                    self._store.put(item)       # its tries and last error, for st2mistral-spool
                return
            trace.superseded(item, newer.event)
        elif outcome is Outcome.GIVE_UP and self._store is not None:
            self._store.give_up(item, '%s (after %d tries)' % (
                item.last_error or 'given up', item.attempts), self._clock())
            return
        elif outcome is Outcome.DELIVERED:
            self._remember(item.key, st2_status)
        elif outcome in (Outcome.ALREADY_COMPLETED, Outcome.HELD_BY_RELAY):
            self._remember(item.key, 'succeeded')   # any completed status: nothing may follow
        if self._store is not None:
            self._store.remove(item)

    def _remember(self, key, status):
        self._delivered.put(key, status)
