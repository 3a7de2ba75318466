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

"""The one way tests, demos and benchmarks wait for something to become true.

A hand-written ``while ...: assert time.monotonic() < deadline`` loop is easy
to get subtly wrong (a check after the deadline that is never made, a loop that
returns quietly on timeout and lets the test pass). ``wait_until`` polls a
predicate and either returns its first truthy value or raises ``WaitTimeout``
naming what was awaited; it never returns on a timeout.
"""

import time


class WaitTimeout(AssertionError):
    """What was awaited did not happen in time (an AssertionError, so pytest
    reports it as a failed expectation, not as an error in the test's code)."""


def wait_until(predicate, timeout=10.0, interval=0.05, message=None,
               clock=time.monotonic, sleep=time.sleep):
    """Call ``predicate()`` until it returns a truthy value, and return that value.

    ``message`` says what was awaited; it may be a callable, called only on
    timeout, so it can show the latest state (``lambda: 'still tracked: %s' %
    store.ids()``). Exceptions from the predicate propagate at once: a broken
    check must not look like a slow one. The predicate is always called at
    least once, and once more after the deadline, so a slow machine that
    overslept still gets its answer.
    """
    deadline = clock() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if clock() >= deadline:
            value = predicate()
            if value:
                return value
            text = message() if callable(message) else message
            raise WaitTimeout('Timed out after %.1f s waiting for: %s' % (
                timeout, text or getattr(predicate, '__name__', 'a condition')))
        sleep(interval)
