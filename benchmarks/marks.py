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

"""Timestamps the Mistral child writes and the benchmark reads back.

The child (benchmarks.mistral_child) appends one line per event to a file:

    <kind> <execution id> <detail> <monotonic seconds>

``time.monotonic()`` is CLOCK_MONOTONIC on Linux, one clock for every
process on the host, so a mark from the Mistral process compares directly
with the emulator's ``at`` and with the benchmark's own readings.

Kinds:

- ``commit``: a transaction that moved a workflow execution to a terminal
  state (detail) was committed to Mistral's database (SQLAlchemy
  ``after_commit``): from then on the state is visible to everyone.
- ``notify``: Mistral's notifier starts handing a workflow event (detail) to
  the publishers; commit -> notify is Mistral's own hand-off.
- ``process`` (workflow execution id, event), ``submit`` (workflow execution
  id, st2 status), ``put`` (st2 execution id, st2 status): the st2
  publisher's thread takes the event, hands the update to the sender, and
  the HTTP request to st2 starts.
"""

import collections
import os
import threading
import time

ENV_VAR = 'ST2MISTRAL_BENCH_MARKS'


class MarkWriter:
    """Thread-safe line writer (O_APPEND, one write per line)."""

    def __init__(self, path):
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._lock = threading.Lock()

    def write(self, kind, ex_id, detail, at=None):
        at = time.monotonic() if at is None else at
        line = '%s %s %s %.6f\n' % (kind, ex_id, detail, at)
        with self._lock:
            os.write(self._fd, line.encode('ascii'))


def parse(lines):
    """{(kind, ex_id, detail): first monotonic time} from mark lines."""
    found = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 4:
            continue
        key = tuple(parts[:3])
        found.setdefault(key, float(parts[3]))
    return found


class MarkReader:
    """Reads the marks file incrementally."""

    def __init__(self, path):
        self.path = path
        self._offset = 0
        self._marks = collections.OrderedDict()

    def refresh(self):
        try:
            with open(self.path, 'rb') as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return self._marks
        end = data.rfind(b'\n') + 1          # keep a half-written line for later
        self._offset += end
        for key, at in parse(data[:end].decode('ascii').splitlines()).items():
            self._marks.setdefault(key, at)
        return self._marks

    def get(self, kind, ex_id, detail):
        return self.refresh().get((kind, ex_id, detail))

    def wait(self, kind, ex_id, detail, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            at = self.get(kind, ex_id, detail)
            if at is not None:
                return at
            if time.monotonic() > deadline:
                raise TimeoutError('no %s mark for %s %s within %ss' % (
                    kind, ex_id, detail, timeout))
            time.sleep(0.005)
