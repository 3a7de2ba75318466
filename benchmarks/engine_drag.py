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

"""Figure 1, engine drag: what the st2 publisher costs a workflow while st2 is slow.

Mistral runs with ``[notifier] type = local`` (its engine waits for
publishers) and st2 answers every request after 500 ms. The same 3-task
workflow runs without notify, with the st2 publisher, with the benchmark's
synchronous publisher (the same work and PUT done inline: the baseline) and
with a publisher that does nothing (what Mistral's own notification
machinery costs), one workflow at a time, the kinds interleaved in rotating
order.

Wall time = from just before ``executions.create`` (client side) to the
commit of the transaction that set the workflow to SUCCESS in Mistral's DB
(benchmarks.marks; both are CLOCK_MONOTONIC). Drag = median wall time with
a publisher / median wall time without notify.

Before the next workflow starts, the PUT ``succeeded`` of the previous one
must have started (benchmarks.marks), so no publisher's late work overlaps
another measurement (what follows is waiting for st2's answer).
"""

from benchmarks import harness
from benchmarks import stats

KINDS = (None, 'st2', 'st2_sync', 'noop')
SENDS = ('st2', 'st2_sync')   # the kinds that PUT to st2
ST2_DELAY = 0.5


def run_one(mistral, client, st2, publisher):
    ex_id, st2_id, started = harness.start_workflow(client, st2, harness.WF3_NAME, publisher)
    succeeded_at = mistral.marks.wait('commit', ex_id, 'SUCCESS', timeout=60)
    if publisher in SENDS:
        mistral.marks.wait('put', st2_id, 'succeeded', timeout=30)
    return succeeded_at - started


def run(mistral, st2, rounds, log=print):
    client = mistral.client()
    st2.set_delay(ST2_DELAY)
    try:
        for kind in KINDS:                       # warm-up: caches, publisher start
            run_one(mistral, client, st2, kind)
        walls = {kind: [] for kind in KINDS}
        for i in range(rounds):
            log('  engine drag round %d/%d' % (i + 1, rounds))
            shift = i % len(KINDS)
            for kind in KINDS[shift:] + KINDS[:shift]:
                walls[kind].append(run_one(mistral, client, st2, kind))
    finally:
        st2.set_delay(0)
    none, ours, sync, noop = (stats.median(walls[k]) for k in KINDS)
    return {'rounds': rounds, 'st2_delay': ST2_DELAY,
            'wall_none': none, 'wall_st2': ours, 'wall_sync': sync, 'wall_noop': noop,
            'drag_st2': ours / none, 'drag_sync': sync / none, 'drag_noop': noop / none,
            'walls': {str(kind): values for kind, values in walls.items()}}
