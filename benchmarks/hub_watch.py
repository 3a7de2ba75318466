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

"""Who holds the eventlet hub, and for how long: the Mistral child's side of figure 5.

Under eventlet (Mistral <= 20) every "thread" is a greenlet of one OS thread:
while one runs, no other does, until it switches (a green socket wait, a
green sleep, a green lock). A *slice* is the run of one greenlet between two
switches; greenlet.settrace sees every switch, so each slice is timed
(perf_counter) and filed under who ran it:

- ``hub``: eventlet's hub (its poll for ready sockets and timers);
- ``publisher``: the st2 publisher's processing thread and sender workers;
- ``engine``: every other greenlet (Mistral's engine, API, executor...),
  including the publish() calls Mistral's notifier makes in them.

The spool's writes (delivery.spool: add_event, put, remove, remove_event,
give_up; sqlite3 never yields, so a write holds the hub from start to end)
are timed too and counted per slice: a slice holding two writes held the hub
for two writes in a row.

``kill -USR1 <pid>`` writes what was recorded since the previous signal to
``<ENV_VAR's path>.<n>.json`` (n = 1, 2, ...) and starts afresh; the
benchmark (benchmarks.hub_block) reads it. Pure parts: :func:`summarize`.
"""

import collections
import json
import os
import signal
import time

from benchmarks import stats

ENV_VAR = 'ST2MISTRAL_BENCH_HUB'
# A path: cProfile the publisher's greenlets only (switched on and off with them).
PROFILE_VAR = 'ST2MISTRAL_BENCH_HUB_PROFILE'
KINDS = ('hub', 'publisher', 'engine')
SPOOL_WRITES = ('add_event', 'put', 'remove', 'remove_event', 'give_up')
LONGEST_KEPT = 5


class Recording:
    """Slices and spool writes since the last dump."""

    def __init__(self):
        self.slices = {kind: [] for kind in KINDS}    # seconds
        self.writes = []                              # seconds, one per spool write
        self.slices_with_writes = []                  # (slice s, writes, write s, kind)
        self.several = collections.Counter()          # (kind, write names) -> slices
        self.publisher_parts = collections.Counter()  # 'processing'/'sending' -> seconds
        # (time.monotonic() start, seconds): when the publisher held the hub, and
        # when publish() spooled an event in the engine's greenlet (figure 1).
        self.publisher_spans = []
        self.publish_spans = []


def summarize(recording):
    """JSON-able figures of a Recording (milliseconds). Pure."""
    out = {'slices': {}}
    for kind, values in recording.slices.items():
        if values:
            out['slices'][kind] = dict(_spread(values), count=len(values))
    if recording.writes:
        out['writes'] = dict(_spread(recording.writes), count=len(recording.writes))
    with_writes = recording.slices_with_writes
    out['max_writes_per_slice'] = max((n for _, n, _, _ in with_writes), default=0)
    out['slices_with_several_writes'] = sum(1 for _, n, _, _ in with_writes if n > 1)
    out['max_write_ms_per_slice'] = max((w for _, _, w, _ in with_writes), default=0) * 1000
    out['publisher_parts_ms'] = {part: seconds * 1000
                                 for part, seconds in recording.publisher_parts.items()}
    out['publisher_spans'] = [[round(t, 6), round(s, 6)] for t, s in recording.publisher_spans]
    out['publish_spans'] = [[round(t, 6), round(s, 6)] for t, s in recording.publish_spans]
    out['several_writes'] = [{'kind': kind, 'writes': list(names), 'slices': n}
                             for (kind, names), n in recording.several.most_common(LONGEST_KEPT)]
    out['longest_slices_with_writes'] = [
        {'slice_ms': s * 1000, 'writes': n, 'write_ms': w * 1000, 'kind': kind}
        for s, n, w, kind in sorted(with_writes, reverse=True)[:LONGEST_KEPT]]
    return out


def _spread(seconds):
    return {'p50': stats.median(seconds) * 1000, 'p99': stats.percentile(seconds, 99) * 1000,
            'max': max(seconds) * 1000, 'total': sum(seconds) * 1000}


class HubWatch:
    """Installs the switch tracer and the spool timers; dumps on SIGUSR1."""

    def __init__(self, path):
        self.path = path
        self.recording = Recording()
        self.publisher_greenlets = {}       # greenlet -> 'processing' or 'sending'
        self._dumps = 0
        self._hub = None
        self._slice_started = time.perf_counter()
        self._to_monotonic = time.monotonic() - time.perf_counter()   # for the spans
        self._slice_writes = 0
        self._slice_write_time = 0.0
        self._slice_names = []
        self.profile_path = os.environ.get(PROFILE_VAR)
        self._profiler = None
        self._profiled_slices = 0

    def install(self):
        from eventlet import hubs
        import greenlet

        from st2mistral.mistral_side.delivery import sender
        from st2mistral.mistral_side.delivery import spool
        from st2mistral.mistral_side.notifiers import stackstorm_notifier

        self._hub = hubs.get_hub().greenlet
        for name in SPOOL_WRITES:
            setattr(spool.Spool, name, self._timed_write(getattr(spool.Spool, name), name))
        stackstorm_notifier.St2Publisher._process_forever = self._tagged(
            stackstorm_notifier.St2Publisher._process_forever, 'processing')
        sender.Sender._work = self._tagged(sender.Sender._work, 'sending')
        signal.signal(signal.SIGUSR1, self._on_dump)
        if self.profile_path:
            import cProfile
            self._profiler = cProfile.Profile()
        greenlet.settrace(self._on_switch)

    def _tagged(self, original, part):
        watch = self

        def run(*args, **kwargs):
            import greenlet
            watch.publisher_greenlets[greenlet.getcurrent()] = part
            return original(*args, **kwargs)
        return run

    def _timed_write(self, original, name='write'):
        watch = self

        def write(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                took = time.perf_counter() - started
                watch.recording.writes.append(took)
                if name == 'add_event':     # publish(), in the engine's greenlet
                    watch.recording.publish_spans.append((started + watch._to_monotonic, took))
                watch._slice_writes += 1
                watch._slice_write_time += took
                watch._slice_names.append(name)
        return write

    def _on_switch(self, event, args):
        if event not in ('switch', 'throw'):
            return
        now = time.perf_counter()
        took = now - self._slice_started
        origin = args[0]
        if origin is self._hub:
            kind = 'hub'
        elif origin in self.publisher_greenlets:
            kind = 'publisher'
            self.recording.publisher_parts[self.publisher_greenlets[origin]] += took
            self.recording.publisher_spans.append((self._slice_started + self._to_monotonic, took))
        else:
            kind = 'engine'
        recording = self.recording
        recording.slices[kind].append(took)
        if self._slice_writes:
            recording.slices_with_writes.append(
                (took, self._slice_writes, self._slice_write_time, kind))
            if self._slice_writes > 1:
                recording.several[(kind, tuple(self._slice_names))] += 1
        self._slice_writes = 0
        self._slice_write_time = 0.0
        self._slice_names = []
        if self._profiler is not None:
            self._profile_switch(origin, args[1])
        self._slice_started = time.perf_counter()

    def _profile_switch(self, origin, target):
        """Profile the publisher's greenlets only: on while one of them runs."""
        if origin in self.publisher_greenlets:
            self._profiler.disable()
            self._profiled_slices += 1
            if self._profiled_slices % 500 == 0:
                self._profiler.dump_stats(self.profile_path)
        if target in self.publisher_greenlets:
            self._profiler.enable()

    def _on_dump(self, _signum, _frame):
        recording, self.recording = self.recording, Recording()
        self._dumps += 1
        path = '%s.%d.json' % (self.path, self._dumps)
        with open(path + '.tmp', 'w') as f:
            json.dump(summarize(recording), f)
        os.rename(path + '.tmp', path)   # the reader never sees half a file


def install_if_asked():
    """Start watching (the process runs on eventlet) when the benchmark asked."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return None
    watch = HubWatch(path)
    watch.install()
    return watch
