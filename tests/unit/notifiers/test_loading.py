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

"""How Mistral 23 loads the ``st2`` publisher (docs/contracts.rst section 2.1)."""

import threading
import time

from mistral.notifiers import base

from st2mistral.mistral_side.notifiers import stackstorm_notifier as notifier


def test_threads_racing_on_mistrals_first_event_get_one_publisher(monkeypatch):
    # Mistral's cache of publishers (mistral_side/notifiers/base.py, get_notification_publisher)
    # is not locked: threads asking for 'st2' at once each load the entry point.
    # Two publishers in one process would take two spool slots and order one
    # execution's updates apart. A slow constructor makes the race certain.
    made = []
    real_init = notifier.St2Publisher.__init__

    def slow_init(self, *args, **kwargs):
        made.append(self)
        time.sleep(0.2)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(notifier.St2Publisher, '__init__', slow_init)
    start = threading.Barrier(8)
    got = []

    def first_event():
        start.wait()
        got.append(base.get_notification_publisher('st2'))

    base.cleanup()
    try:
        threads = [threading.Thread(target=first_event) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        base.cleanup()
    assert len(got) == 8 and isinstance(got[0], notifier.St2Publisher)
    assert len({id(publisher) for publisher in got}) == 1, '%d publishers' % len(made)
    assert len(made) <= 1        # 0: an earlier test of this process made it
    assert base.get_notification_publisher('st2') is got[0]
