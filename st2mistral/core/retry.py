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

"""The one retry policy of st2mistral: every place that tries again waits by it.

Exponential backoff: after failed try 1 wait ``initial`` seconds, then twice as
long after each further failure, never longer than ``maximum``; ``jitter``
(0..1) shortens each wait by a random fraction up to that much, so processes
that failed together do not retry together; a caller gives up once
``give_up_after`` seconds have passed since its first try (None: never).

Who uses it, and with which settings:

- st2 API calls (``St2Client.call``): ``[st2] retry_initial_delay``,
  ``retry_max_delay``, ``retry_give_up_after``;
- the publisher's queued st2 updates: ``[st2] retry_initial_delay``,
  ``retry_max_delay`` (an update expires by ``delivery_expire_after`` instead);
- ``st2.action``: the same delays, giving up after
  ``[st2] action_retry_give_up_after``;
- the st2 side's Mistral calls: ``[mistral] retry_exp_msec``,
  ``retry_exp_max_msec``, ``retry_stop_max_msec`` (st2's own option names);
- fixed policies with no option: the publisher's wait for Mistral's database
  (:data:`MISTRAL_DB`) and the relay's st2 stream reconnect (with jitter).
"""

import random
import time

import tenacity

# With ``initial`` 0 the first retry is immediate and the next ones start from
# 0.1 s: a zero setting never turns into a busy loop.
_SMALLEST_STEP = 0.05


class Backoff:
    """Exponential backoff with a cap, optional jitter and a give-up time."""

    def __init__(self, initial, maximum, give_up_after=None, jitter=0.0):
        self.initial = float(initial)
        self.maximum = float(maximum)
        self.give_up_after = give_up_after
        self.jitter = float(jitter)

    def __repr__(self):
        return 'Backoff(initial=%r, maximum=%r, give_up_after=%r, jitter=%r)' % (
            self.initial, self.maximum, self.give_up_after, self.jitter)

    def delay(self, failures, rand=random.random):
        """Seconds to wait after ``failures`` failed tries in a row (1, 2, ...)."""
        if failures <= 1:
            step = self.initial
        else:
            # min(): 2 ** 1000 would overflow a float long after the cap applies.
            step = max(self.initial, _SMALLEST_STEP) * 2.0 ** min(failures - 1, 64)
        step = min(self.maximum, step)
        if self.jitter:
            step *= 1.0 - min(self.jitter, 1.0) * rand()
        return step

    def call(self, fn, *args, retry_if, sleep=time.sleep, on_retry=None, **kwargs):
        """Return ``fn(*args, **kwargs)``, tried again while ``retry_if(error)``
        holds and ``give_up_after`` has not passed; the last error is raised.

        ``on_retry(error)`` is called before each wait (for a log line).
        """
        options = {}
        if on_retry is not None:
            # The parameter must be named retry_state: tenacity 5-7 (st2 up to
            # 3.8 pins 6.3.1) call a hook with any other name the pre-5 way.
            options['before_sleep'] = lambda retry_state: on_retry(
                retry_state.outcome.exception())
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retry_if),
            wait=lambda retry_state: self.delay(retry_state.attempt_number),
            stop=(tenacity.stop_never if self.give_up_after is None
                  else tenacity.stop_after_delay(self.give_up_after)),
            sleep=sleep, reraise=True, **options)
        return retrying(fn, *args, **kwargs)


# Mistral's database is away (publisher): 1 s, 2 s, ... 30 s, until it is back.
MISTRAL_DB = Backoff(initial=1.0, maximum=30.0)
