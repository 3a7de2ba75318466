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

"""Which st2 update is sent next. No I/O and no threads: the sender holds the lock.

Per st2 execution (an update's ``key``) at most one update is in flight and
one waits: a newer one replaces it. A waiting update is ready at once, or,
when its last try failed, once its retry is due by ``clock``.
"""

import collections
import heapq


class Schedule:
    """The waiting, ready, delayed and in-flight st2 updates."""

    def __init__(self, clock):
        self._clock = clock
        self._waiting = {}                       # key -> Outgoing not yet sent
        self._in_flight = {}                     # key -> Outgoing being sent now
        self._ready = collections.deque()        # keys due now
        self._later = []                         # heap of (due, seq, key) retries

    def __len__(self):
        """Updates waiting or in flight."""
        return len(self._waiting) + len(self._in_flight)

    def waiting(self, key):
        return self._waiting.get(key)

    def in_flight(self, key):
        return self._in_flight.get(key)

    def add(self, item):
        """Let ``item`` wait, replacing the update waiting for its execution."""
        key = item.key
        replaced = self._waiting.get(key)
        self._waiting[key] = item
        if replaced is not None and replaced.due is not None:
            # st2 is failing for this execution: the newer update keeps the backoff.
            item.due, item.attempts = replaced.due, replaced.attempts
            heapq.heappush(self._later, (item.due, item.seq, key))
        elif replaced is None and key not in self._in_flight:
            self._ready.append(key)

    def take(self):
        """The next update to send, now in flight; None when none is due."""
        now = self._clock()
        while self._later and self._later[0][0] <= now:
            _, seq, key = heapq.heappop(self._later)
            item = self._waiting.get(key)
            if item is not None and item.seq == seq and key not in self._in_flight:
                self._ready.append(key)
        while self._ready:
            key = self._ready.popleft()
            if key in self._waiting and key not in self._in_flight:
                item = self._waiting.pop(key)
                item.due = None
                self._in_flight[key] = item
                return item
        return None

    def seconds_to_next_retry(self):
        """Seconds until the earliest retry is due (0 or less: due); None if none."""
        return self._later[0][0] - self._clock() if self._later else None

    def finish(self, item):
        """``item`` is no longer in flight; the newer update waiting for its
        execution (then ready to send), or None."""
        key = item.key
        del self._in_flight[key]
        newer = self._waiting.get(key)
        if newer is not None:
            self._ready.append(key)
        return newer

    def retry_later(self, item, delay):
        """Let a finished ``item`` wait again, due ``delay`` seconds from now
        (only when :meth:`finish` found no newer update)."""
        item.due = self._clock() + delay
        self._waiting[item.key] = item
        heapq.heappush(self._later, (item.due, item.seq, item.key))

    def oldest_unknown(self):
        """The waiting (not in-flight) update st2 has not known for the longest (its
        ``unknown_since`` earliest), or None. Linear: only used when the queue is full."""
        unknown = [item for item in self._waiting.values() if item.unknown_since is not None]
        return min(unknown, key=lambda item: item.unknown_since) if unknown else None

    def drop(self, item):
        """Forget the waiting ``item`` (its heap and ready entries go stale)."""
        if self._waiting.get(item.key) is item:
            del self._waiting[item.key]
