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

"""Figure 2, status lag: from SUCCESS in Mistral's DB to st2 receiving ``succeeded``.

The 3-task workflow runs ``count`` times with the st2 publisher (st2 answers
at once), one after the other: the next starts as soon as the previous
one's SUCCESS is committed, so delivery overlaps the next workflow as it
would on a busy Mistral. Every fifth run uses the benchmark's synchronous
publisher instead, as the inline baseline.

Per workflow, on one clock (CLOCK_MONOTONIC, see benchmarks.marks):

- commit: the transaction setting SUCCESS is committed (Mistral child);
- notify: Mistral's notifier starts handing WORKFLOW_SUCCEEDED to the
  publishers (commit -> notify is Mistral's own hand-off);
- received: the emulator has read the ``PUT {"status": "succeeded"}``.

Ours = notify -> received (publish(), the notifier thread, the spool, the
sender and the HTTP request), total = commit -> received; STAGES splits
ours further with the marks the Mistral child writes inside the publisher.
"""

from benchmarks import harness
from benchmarks import stats

SYNC_EVERY = 5

# stage: (from mark, to mark); see benchmarks.marks for the marks.
STAGES = {
    'total': ('commit', 'received'),
    'handoff': ('commit', 'notify'),      # Mistral's own hand-off
    'ours': ('notify', 'received'),       # everything after it
    'queue': ('notify', 'process'),       # publish() -> the notifier thread takes it
    'build': ('process', 'submit'),       # DB reads, snapshot, update
    'wait': ('submit', 'put'),            # sender queue (and spool write)
    'http': ('put', 'received'),          # st2 client -> st2 has read the request
}


def run(mistral, st2, count, log=print):
    client = mistral.client()
    st2.set_delay(0)
    harness.start_workflow(client, st2, harness.WF3_NAME, 'st2')   # warm-up
    runs = []
    total = count + count // (SYNC_EVERY - 1)
    for i in range(total):
        kind = 'st2_sync' if i % SYNC_EVERY == SYNC_EVERY - 1 else 'st2'
        ex_id, st2_id, _ = harness.start_workflow(client, st2, harness.WF3_NAME, kind)
        mistral.marks.wait('commit', ex_id, 'SUCCESS', timeout=60)
        runs.append((kind, ex_id, st2_id))
        if (i + 1) % 50 == 0:
            log('  status lag: %d/%d workflows' % (i + 1, total))

    stages = ('total', 'handoff', 'ours', 'queue', 'build', 'wait', 'http')
    lags = {kind: {stage: [] for stage in stages} for kind in ('st2', 'st2_sync')}
    for kind, ex_id, st2_id in runs:
        received = harness.wait_until(
            lambda st2_id=st2_id: harness.succeeded_put_at(st2, st2_id),
            timeout=60, what='PUT succeeded for %s' % st2_id)
        at = {
            'commit': mistral.marks.get('commit', ex_id, 'SUCCESS'),
            'notify': mistral.marks.wait('notify', ex_id, 'WORKFLOW_SUCCEEDED'),
            'process': mistral.marks.wait('process', ex_id, 'WORKFLOW_SUCCEEDED'),
            'submit': mistral.marks.wait('submit', ex_id, 'succeeded'),
            'put': mistral.marks.wait('put', st2_id, 'succeeded'),
            'received': received,
        }
        for stage, (start, end) in STAGES.items():
            lags[kind][stage].append(at[end] - at[start])

    def summary(values):
        return {'p50': stats.percentile(values, 50) * 1000,
                'p99': stats.percentile(values, 99) * 1000,
                'max': max(values) * 1000}

    return {'count': len(lags['st2']['total']), 'sync_count': len(lags['st2_sync']['total']),
            **{'%s_%s' % (kind, stage): summary(values)
               for kind, parts in lags.items() for stage, values in parts.items()}}
