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

"""The one retry policy and the one retry loop of st2mistral.

Every place that tries something again after a failure that may pass waits
and loops here; no other module computes a wait or loops on failures by
itself. (Sending a request once more with the API key after st2 refused a
token, in st2api.py and the publisher's deliverer, is a second credential,
not a retry: it never waits.)

The policy (:class:`Backoff`): after failed try 1 wait ``initial`` seconds,
then twice as long after each further failure, never longer than
``maximum``; ``jitter`` (0..1) shortens each wait by a random fraction up to
that much, so processes that failed together do not retry together. It gives
up after ``tries`` tries, or once ``give_up_after`` seconds have passed since
the first try (None: never).

The loop (:class:`Attempts`, one per job, with an injectable clock and
sleep): :meth:`Attempts.run` calls ``try_once()`` until it returns; a try
that fails raises :class:`TryAgain` (at once, or after the policy's wait).
A ``deadline`` (a time of the clock) ends the job too, and no wait runs past
it. :meth:`Backoff.call` is that loop for one function and a ``retry_if``
test of its exceptions. A caller that queues its own tries takes the waits
from here: the publisher's sender (:meth:`Backoff.delay` of an update's try
count) and the notifier's event queue (:meth:`Attempts.failed` and
:meth:`Attempts.wait`; an event put back waits behind the newer ones).

What is transient: :func:`is_transient`, the one rule for an HTTP answer
of st2, with idempotency as its parameter.

Who uses it, and with which settings (the functions below build each policy):

- st2 API calls (``St2Client.call``): ``[st2] retry_initial_delay``,
  ``retry_max_delay``, ``retry_give_up_after`` (:func:`st2_calls`);
- the publisher's queued st2 updates: ``[st2] retry_initial_delay``,
  ``retry_max_delay``, an update expiring by ``delivery_expire_after``
  instead (:func:`st2_updates`);
- ``st2.action``: the same delays, until ``[st2] action_retry_give_up_after``
  has passed (:func:`st2_action`, with a deadline);
- the st2 side's Mistral calls: ``[mistral] retry_exp_msec``,
  ``retry_exp_max_msec``, ``retry_stop_max_msec`` (st2's own option names,
  :func:`mistral_calls`);
- fixed policies with no option: the publisher's wait for Mistral's database
  (:data:`MISTRAL_DB`), the start-up replay's wait for Mistral to parse its
  configuration (:data:`MISTRAL_CONFIG`, mistral_side/startup.py), the
  relay's st2 stream reconnect (with jitter, :func:`stream_reconnect`) and
  immediate re-tries (:func:`at_once`: the runner re-sending a definition
  Mistral 23 failed to parse, the reader re-reading an execution that changed
  while it was read).
"""

import random
import time

# With ``initial`` 0 the first retry is immediate and the next ones start from
# 0.1 s: a zero setting never turns into a busy loop.
_SMALLEST_STEP = 0.05


def is_transient(status_code, idempotent=True):
    """Whether an answer of st2 with HTTP ``status_code`` (None: no answer came)
    says that the same request may succeed later.

    A request st2 may safely receive twice (``idempotent``): 429 or any 5xx.
    One that must not run twice (``st2.action``'s ``POST /executions``): only
    429, 502, 503 and 504; after a 500 st2 may have acted, so it is no
    passing failure to try again.
    """
    if status_code is None:
        return True
    if idempotent:
        return status_code == 429 or status_code >= 500
    return status_code in (429, 502, 503, 504)


class TryAgain(Exception):
    """Raised by the ``try_once`` of :meth:`Attempts.run`: this try failed.

    ``reason``: what failed (handed to ``on_wait``; :class:`GaveUp` carries
    the last one). ``at_once``: try again now, without counting a failure
    (the try learned something that changes the next one).
    """

    def __init__(self, reason=None, at_once=False):
        super().__init__(reason)
        self.reason = reason
        self.at_once = at_once


class GaveUp(Exception):
    """:meth:`Attempts.run` gave up; ``reason`` is the last failure's."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Backoff:
    """Exponential backoff with a cap, optional jitter and when to give up."""

    def __init__(self, initial, maximum, give_up_after=None, jitter=0.0, tries=None):
        self.initial = float(initial)
        self.maximum = float(maximum)
        self.give_up_after = give_up_after
        self.jitter = float(jitter)
        self.tries = tries

    def __repr__(self):
        return ('Backoff(initial=%r, maximum=%r, give_up_after=%r, jitter=%r, tries=%r)' % (
            self.initial, self.maximum, self.give_up_after, self.jitter, self.tries))

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

    def attempts(self, clock=time.monotonic, sleep=time.sleep, deadline=None):
        """The tries of one job by this policy (see :class:`Attempts`)."""
        return Attempts(self, clock=clock, sleep=sleep, deadline=deadline)

    def call(self, fn, *args, retry_if, clock=time.monotonic, sleep=time.sleep,
             on_retry=None, **kwargs):
        """Return ``fn(*args, **kwargs)``, tried again while ``retry_if(error)``
        holds and the policy does not give up; the last error is raised.

        ``on_retry(error)`` is called before each wait (for a log line).
        """
        def try_once():
            try:
                return fn(*args, **kwargs)
            except Exception as e:
                if not retry_if(e):
                    raise
                raise TryAgain(e) from None

        def on_wait(error, delay):
            if on_retry is not None:
                on_retry(error)

        try:
            return self.attempts(clock=clock, sleep=sleep).run(try_once, on_wait=on_wait)
        except GaveUp as gave_up:
            error = gave_up.reason
        # Raised here, outside the handler: the caller sees fn's own error.
        raise error


class Attempts:
    """The tries of one job: failures in a row, the waits between them, giving up.

    ``clock`` (seconds, monotonic) and ``sleep`` are injectable; a ``sleep``
    that returns True (``threading.Event.wait``) says "stop": :meth:`run`
    then returns None. ``deadline``: a time of ``clock`` after which the job
    gives up; no wait runs past it.
    """

    def __init__(self, policy, clock=time.monotonic, sleep=time.sleep, deadline=None):
        self.policy = policy
        self.deadline = deadline
        self.failures = 0
        self._clock = clock
        self._sleep = sleep
        self._started = clock()

    def reset(self):
        """The job went well: the next failure is a first failure again."""
        self.failures = 0
        self._started = self._clock()

    def failed(self):
        """Count a failed try; the seconds to wait before the next, None to give up."""
        now = self._clock()
        self.failures += 1
        policy = self.policy
        if ((policy.tries is not None and self.failures >= policy.tries)
                or (policy.give_up_after is not None
                    and now - self._started >= policy.give_up_after)
                or (self.deadline is not None and now >= self.deadline)):
            return None
        delay = policy.delay(self.failures)
        if self.deadline is not None:
            delay = min(delay, self.deadline - now)
        return delay

    def wait(self, delay):
        """Sleep ``delay`` seconds; False when the sleep says stop."""
        return not self._sleep(delay)

    def run(self, try_once, on_wait=None):
        """The retry loop: ``try_once()``'s answer, once it gives one.

        A try that fails raises :class:`TryAgain`; anything else it raises
        ends the job. ``on_wait(reason, delay)`` is called before each wait
        (for a log line). Raises :class:`GaveUp` when the policy or the
        deadline ends the job; returns None when a sleep says stop.
        """
        while True:
            try:
                return try_once()
            except TryAgain as again:
                if again.at_once:
                    continue
                reason = again.reason
            delay = self.failed()
            if delay is None:
                raise GaveUp(reason)
            if on_wait is not None:
                on_wait(reason, delay)
            if not self.wait(delay):
                return None


# -- the policies ------------------------------------------------------------


def st2_calls(group):
    """St2Client.call's, from the ``[st2]`` options ``group``."""
    return Backoff(group.retry_initial_delay, group.retry_max_delay,
                   give_up_after=group.retry_give_up_after)


def st2_updates(group):
    """The publisher's queued st2 updates' (they expire by ``delivery_expire_after``)."""
    return Backoff(group.retry_initial_delay, group.retry_max_delay)


def st2_action(group):
    """``st2.action``'s; its caller sets the deadline from ``action_retry_give_up_after``."""
    return Backoff(group.retry_initial_delay, group.retry_max_delay)


def mistral_calls(group):
    """The st2 side's Mistral calls', from the ``[mistral]`` options ``group`` (ms)."""
    return Backoff(group.retry_exp_msec / 1000.0, group.retry_exp_max_msec / 1000.0,
                   give_up_after=group.retry_stop_max_msec / 1000.0)


def stream_reconnect(maximum):
    """The relay's st2 stream: jitter, so the relays of an st2 HA pair, cut off
    together, do not reconnect in step."""
    return Backoff(initial=0.5, maximum=maximum, jitter=0.5)


def at_once(tries):
    """``tries`` tries in all, with no wait: for a failure the next try rarely repeats."""
    return Backoff(0.0, 0.0, tries=tries)


# Mistral's database is away (publisher): 1 s, 2 s, ... 30 s, until it is back.
MISTRAL_DB = Backoff(initial=1.0, maximum=30.0)

# Mistral has not parsed its configuration yet (the start-up replay): look again every
# 0.2 s; a process that has not after 10 minutes is no Mistral service.
MISTRAL_CONFIG = Backoff(initial=0.2, maximum=0.2, give_up_after=600.0)
