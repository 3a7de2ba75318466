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

Under eventlet (Mistral <= 20) the wall times of one kind spread by more than
the goal's 5 % (the no-op publisher's drag, which does nothing, shows how
much), so the Mistral child also runs the hub watch (benchmarks.hub_watch)
and the figure adds what the st2 publisher took from the engine directly:
while the publisher's greenthreads hold the hub, or publish() spools an
event, the engine's greenthreads cannot run. ``hub_share`` = the sum, over
the st2 workflows, of that time inside the workflow's own wall time (start to
SUCCESS commit), over the sum of their wall times; ``drag_hub`` = 1 +
``hub_share``.
"""

from benchmarks import harness
from benchmarks import stats

KINDS = (None, 'st2', 'st2_sync', 'noop')
SENDS = ('st2', 'st2_sync')   # the kinds that PUT to st2
ST2_DELAY = 0.5


def run_one(mistral, client, st2, publisher):
    """(start, SUCCESS commit) of one workflow, both time.monotonic()."""
    ex_id, st2_id, started = harness.start_workflow(client, st2, harness.WF3_NAME, publisher)
    succeeded_at = mistral.marks.wait('commit', ex_id, 'SUCCESS', timeout=60)
    if publisher in SENDS:
        mistral.marks.wait('put', st2_id, 'succeeded', timeout=30)
    return started, succeeded_at


def run(mistral, st2, rounds, log=print, hub_probe=None):
    """``hub_probe`` (benchmarks.hub_block.HubProbe): the child runs the hub watch."""
    client = mistral.client()
    st2.set_delay(ST2_DELAY)
    try:
        for kind in KINDS:                       # warm-up: caches, publisher start
            run_one(mistral, client, st2, kind)
        if hub_probe is not None:
            hub_probe.take()                     # the watch starts afresh
        windows = {kind: [] for kind in KINDS}
        for i in range(rounds):
            log('  engine drag round %d/%d' % (i + 1, rounds))
            shift = i % len(KINDS)
            for kind in KINDS[shift:] + KINDS[:shift]:
                windows[kind].append(run_one(mistral, client, st2, kind))
        watched = hub_probe.take() if hub_probe is not None else None
    finally:
        st2.set_delay(0)
    walls = {kind: [end - start for start, end in windows[kind]] for kind in KINDS}
    none, ours, sync, noop = (stats.median(walls[k]) for k in KINDS)
    out = {'rounds': rounds, 'st2_delay': ST2_DELAY,
           'wall_none': none, 'wall_st2': ours, 'wall_sync': sync, 'wall_noop': noop,
           'drag_st2': ours / none, 'drag_sync': sync / none, 'drag_noop': noop / none,
           'walls': {str(kind): values for kind, values in walls.items()}}
    if watched is not None:
        out.update(hub_taken(windows['st2'],
                             watched['publisher_spans'] + watched['publish_spans']))
    return out


def hub_taken(windows, spans):
    """What the publisher took from the engine inside the workflows' runs. Pure.

    ``windows``: (start, end) per workflow; ``spans``: (start, seconds) when
    the publisher held the hub. Overlaps are cut to the window.
    """
    inside = [sum(max(0.0, min(end, at + took) - max(start, at)) for at, took in spans)
              for start, end in windows]
    share = sum(inside) / sum(end - start for start, end in windows)
    return {'hub_share': share, 'drag_hub': 1 + share,
            'hub_ms': {'p50': stats.median(inside) * 1000,
                       'mean': sum(inside) / len(inside) * 1000,
                       'max': max(inside) * 1000}}
