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

"""Figure 5, hub blocking: how long the st2 publisher holds eventlet's hub.

Only on Mistral <= 20 (eventlet; ``--mistral-python``). The Mistral child
records every greenlet slice and every spool write (benchmarks.hub_watch).
Each round runs ``count`` workflows at once without notify (the baseline),
then ``count`` with a no-op publisher (what Mistral's own notification work
costs the engine), then ``count`` with the st2 publisher (st2 answers at
once, so every update is spooled, sent and removed), and reads what the
child recorded during each phase.

Goal: the spool holds the hub for one write at a time: no slice holds more
than one spool write, so its longest hold is its longest single write
(sqlite3 never yields: a write holds the hub from start to end).
"""

import glob
import json
import os
import signal

from benchmarks import harness
from st2mistral.mistral_side.delivery import spool
from st2mistral.testing import waiting

# no notify (baseline), a no-op publisher (Mistral's own notification work), ours
PHASES = (None, 'noop', 'st2')


class HubProbe:
    """Asks the Mistral child for what it recorded (SIGUSR1) and reads it back."""

    def __init__(self, mistral, path):
        self.mistral = mistral
        self.path = path
        self.dumps = 0

    def take(self):
        self.dumps += 1
        target = '%s.%d.json' % (self.path, self.dumps)
        os.kill(self.mistral.pid, signal.SIGUSR1)
        waiting.wait_until(lambda: os.path.exists(target), timeout=10)
        with open(target) as f:
            return json.load(f)


def spool_empty(spool_dir):
    return not sum(spool.pending_entries(path)
                   for path in glob.glob(os.path.join(spool_dir, 'spool-*.sqlite')))


def run_phase(mistral, client, st2, publisher, count, spool_dir):
    started = [harness.start_workflow(client, st2, harness.WF3_NAME, publisher)
               for _ in range(count)]
    for ex_id, st2_id, _ in started:
        mistral.marks.wait('commit', ex_id, 'SUCCESS', timeout=120)
        if publisher == 'st2':
            mistral.marks.wait('put', st2_id, 'succeeded', timeout=60)
    if publisher == 'st2':
        # The PUTs have started; their replies and the spool's removes follow.
        waiting.wait_until(lambda: spool_empty(spool_dir), timeout=60)


def run(mistral, st2, probe, spool_dir, count, rounds, log=print):
    client = mistral.client()
    for kind in PHASES:                      # warm-up: caches, publisher start
        run_phase(mistral, client, st2, kind, 3, spool_dir)
    probe.take()                             # drop what the warm-up recorded
    phases = {str(kind): [] for kind in PHASES}
    for i in range(rounds):
        for kind in PHASES:
            log('  hub blocking round %d/%d, %s' % (i + 1, rounds, kind or 'no notify'))
            run_phase(mistral, client, st2, kind, count, spool_dir)
            phases[str(kind)].append(probe.take())
    return combine(phases, count, rounds)


def combine(phases, count, rounds):
    """The figures of every round, and the worst of them. Pure."""
    ours, none, noop = phases['st2'], phases['None'], phases.get('noop', [])
    return {
        'count': count, 'rounds': rounds, 'phases': phases,
        'max_writes_per_slice': max(p['max_writes_per_slice'] for p in ours),
        'slices_with_several_writes': sum(p['slices_with_several_writes'] for p in ours),
        'max_write_ms_per_slice': max(p['max_write_ms_per_slice'] for p in ours),
        'write_p50_ms': max(p['writes']['p50'] for p in ours),
        'write_max_ms': max(p['writes']['max'] for p in ours),
        'writes': sum(p['writes']['count'] for p in ours),
        'engine_max_ms': max(p['slices']['engine']['max'] for p in ours),
        'engine_p99_ms': max(p['slices']['engine']['p99'] for p in ours),
        'base_engine_max_ms': max(p['slices']['engine']['max'] for p in none),
        'base_engine_p99_ms': max(p['slices']['engine']['p99'] for p in none),
        'publisher_max_ms': max(p['slices'].get('publisher', {}).get('max', 0) for p in ours),
        'publisher_p99_ms': max(p['slices'].get('publisher', {}).get('p99', 0) for p in ours),
        # Hub time per workflow: what the engine and the publisher held the hub for.
        'per_workflow_ms': {
            'engine_none': _total(none, 'engine') / (count * rounds),
            'engine_noop': _total(noop, 'engine') / (count * rounds),
            'engine_st2': _total(ours, 'engine') / (count * rounds),
            'publisher_st2': _total(ours, 'publisher') / (count * rounds),
            # the processing thread (DB reads, the update) and the sender workers (HTTP)
            'processing_st2': _part(ours, 'processing') / (count * rounds),
            'sending_st2': _part(ours, 'sending') / (count * rounds)},
    }


def _total(phases, kind):
    return sum(p['slices'].get(kind, {}).get('total', 0) for p in phases)


def _part(phases, part):
    return sum(p.get('publisher_parts_ms', {}).get(part, 0) for p in phases)
