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

"""The results table and the goal verdicts. Pure: numbers in, text out.

The table is an reStructuredText grid table, readable in a terminal and
pasted as is into docs/benchmarks.rst.
"""

import dataclasses

ROW_TITLES = ('1. engine drag', '2. status lag', '3. throughput', '4. completion cost',
              '5. hub blocking')
HEADER = ('Figure', 'st2mistral', 'Baseline (same run)', 'Goal', 'Met')


@dataclasses.dataclass
class Row:
    figure: list
    ours: list
    baseline: list
    goal: list
    met: bool | None           # None: not measured

    def cells(self):
        met = {True: 'yes', False: 'NO', None: 'n/a'}[self.met]
        return [self.figure, self.ours, self.baseline, self.goal, [met]]


def not_run(index, reason='not run'):
    return Row([ROW_TITLES[index]], [reason], [''], [''], None)


def drag_row(d):
    """Under eventlet (``drag_hub`` present) the verdict is on the hub time the
    publisher took (benchmarks.engine_drag): the wall times spread by more than
    the goal there, the no-op publisher's drag shows by how much."""
    measured = d.get('drag_hub', d['drag_st2'])
    ours = ['%.3fx' % d['drag_st2'], '%.3f s vs %.3f s' % (d['wall_st2'], d['wall_none'])]
    if 'drag_hub' in d:
        ours += ['hub time taken', '(eventlet): %.3fx' % d['drag_hub'],
                 '%.1f ms of a run' % d['hub_ms']['mean']]
    return Row(
        [ROW_TITLES[0], 'wall time with the', 'publisher / without;', 'st2 answers in %d ms'
         % (d['st2_delay'] * 1000), 'median of %d' % d['rounds']],
        ours,
        ['sync publisher: %.2fx' % d['drag_sync'], '%.3f s' % d['wall_sync'],
         'no-op publisher: %.3fx' % d['drag_noop'], '(Mistral\'s own notify)'],
        ['<= 1.05x'], measured <= 1.05)


def lag_row(d):
    ours, total = d['st2_ours'], d['st2_total']
    handoff, sync = d['st2_handoff'], d['st2_sync_total']
    met = ours['p50'] <= 10 and ours['p99'] <= 50
    return Row(
        [ROW_TITLES[1], 'SUCCESS committed ->', 'st2 receives', '"succeeded"',
         '(%d workflows)' % d['count']],
        ['beyond hand-off:', 'p50 %.1f ms' % ours['p50'], 'p99 %.1f ms' % ours['p99'],
         'total from commit:', 'p50 %.1f / p99 %.1f ms' % (total['p50'], total['p99'])],
        ['Mistral hand-off', '(commit -> notifier):', 'p50 %.1f / p99 %.1f ms' % (
            handoff['p50'], handoff['p99']),
         'sync publisher total', '(%d workflows):' % d['sync_count'],
         'p50 %.1f / p99 %.1f ms' % (sync['p50'], sync['p99'])],
        ['beyond hand-off:', 'p50 <= 10 ms', 'p99 <= 50 ms'], met)


def throughput_row(d):
    webhook = max(d['webhook'], d['webhook_1'])
    met = d['sender'] >= 1000 and d['sender'] >= 2 * webhook
    spool = 'spool on' if d['spool'] else 'no spool'
    return Row(
        [ROW_TITLES[2], 'updates/s, one', 'process, loopback', 'HTTP server',
         '(%d x %d updates)' % (d['rounds'], d['count'])],
        ['%.0f/s (%s,' % (d['sender'], spool), '%d workers)' % d['workers'],
         '= %.2fx webhook' % (d['sender'] / webhook),
         'memory only: %.0f/s' % d['sender_memory'],
         'to st2 emulator:', '%.0f/s' % d['sender_emulator']],
        ['webhook publisher:', '%.0f/s (%d threads)' % (d['webhook'], d['workers']),
         '%.0f/s (1 thread)' % d['webhook_1']],
        ['>= 1,000/s and', '>= 2x webhook'], met)


def cost_row(d):
    sizes = sorted(d)
    largest = sizes[-1]
    ours_at = {size: d[size]['st2mistral'] for size in sizes}
    orm_at = {size: d[size]['orm'] for size in sizes}
    linear = growth_ok(sizes, {size: ours_at[size]['ms'] for size in sizes})
    met = (largest >= 1000 and ours_at[largest]['reads'] <= 3
           and ours_at[largest]['ms'] <= 200 and linear)
    return Row(
        [ROW_TITLES[3], 'DB reads and ms to', 'build the completed', 'update'],
        ['%d tasks: %d reads, %.1f ms' % (s, ours_at[s]['reads'], ours_at[s]['ms'])
         for s in sizes] + ['growth: %s' % ('linear' if linear else 'NOT linear')],
        ['Mistral ORM/data_flow:'] + ['%d tasks: %d reads, %.1f ms' % (
            s, orm_at[s]['reads'], orm_at[s]['ms']) for s in sizes] + [
            'same update: %s' % ('yes' if all(d[s]['same_update'] for s in sizes) else 'NO')],
        ['<= 3 reads and', '<= 200 ms at 1,000', 'tasks, linear'] + (
            [] if largest >= 1000 else ['(1,000 not run)']), met)


def hub_row(d):
    """Figure 5: the spool holds eventlet's hub for one write at a time."""
    met = d['max_writes_per_slice'] <= 1
    return Row(
        [ROW_TITLES[4], 'spool writes per', 'greenlet slice', '(the hub held without',
         'a switch); %d rounds' % d['rounds'], 'x %d workflows' % d['count']],
        ['most writes in one', 'slice: %d (%d slices' % (
            d['max_writes_per_slice'], d['slices_with_several_writes']),
         'with more than one)', 'spool time in one', 'slice: max %.2f ms' % d[
             'max_write_ms_per_slice'],
         'publisher slices:', 'p99 %.2f / max %.1f ms' % (
             d['publisher_p99_ms'], d['publisher_max_ms'])],
        ['one spool write:', 'p50 %.2f / max %.2f ms' % (d['write_p50_ms'], d['write_max_ms']),
         'engine slices,', 'no notify / st2:', 'p99 %.1f / %.1f ms' % (
             d['base_engine_p99_ms'], d['engine_p99_ms']),
         'max %.1f / %.1f ms' % (d['base_engine_max_ms'], d['engine_max_ms'])],
        ['<= 1 write per', 'slice: the spool', 'holds the hub for', 'one write at most'], met)


def hub_details(d):
    """The longest slices that held spool writes, per round of figure 5."""
    per = d['per_workflow_ms']
    out = ['hub time per workflow: engine %.1f ms without notify, %.1f with a no-op '
           'publisher; with st2 engine %.1f + publisher %.1f ms = %.2fx (publisher: '
           'processing %.1f, sending %.1f ms)' % (
               per['engine_none'], per.get('engine_noop', 0), per['engine_st2'],
               per['publisher_st2'],
               (per['engine_st2'] + per['publisher_st2']) / per['engine_none'],
               per.get('processing_st2', 0), per.get('sending_st2', 0))]
    for i, phase in enumerate(d['phases']['st2']):
        longest = ', '.join('%.2f ms (%s, %d write%s %.2f ms)' % (
            s['slice_ms'], s['kind'], s['writes'], '' if s['writes'] == 1 else 's',
            s['write_ms']) for s in phase['longest_slices_with_writes'][:3])
        out.append('hub round %d: %d spool writes; longest slices holding writes: %s' % (
            i + 1, phase['writes']['count'], longest or 'none'))
        for several in phase.get('several_writes', ()):
            out.append('  %d %s slice(s) held %s' % (several['slices'], several['kind'],
                                                    ' + '.join(several['writes'])))
    return out


def growth_ok(sizes, ms, tolerance=1.5):
    """Linear or better: from each size to the next, time grows at most
    ``tolerance`` times faster than the task count."""
    return all(ms[b] / ms[a] <= tolerance * b / a for a, b in zip(sizes, sizes[1:], strict=False))


def grid_table(rows):
    """An RST grid table of HEADER and ``rows`` (lists of cells, each a list of lines)."""
    all_rows = [[[h] for h in HEADER]] + rows
    widths = [max(len(line) for row in all_rows for line in row[col])
              for col in range(len(HEADER))]

    def rule(char):
        return '+' + '+'.join(char * (w + 2) for w in widths) + '+'

    def lines(row):
        height = max(len(cell) for cell in row)
        for i in range(height):
            yield '| ' + ' | '.join((cell[i] if i < len(cell) else '').ljust(w)
                                    for cell, w in zip(row, widths, strict=True)) + ' |'

    out = [rule('-')]
    out += lines(all_rows[0])
    out.append(rule('='))
    for row in all_rows[1:]:
        out += lines(row)
        out.append(rule('-'))
    return '\n'.join(out)


def render(rows):
    return grid_table([row.cells() for row in rows])


def lag_breakdown(d):
    """One line per publisher: p50/p99 ms of each stage of the status lag."""
    out = []
    for kind, name in (('st2', 'st2 publisher'), ('st2_sync', 'sync publisher')):
        parts = ['%s %.1f/%.1f' % (stage, d['%s_%s' % (kind, stage)]['p50'],
                                   d['%s_%s' % (kind, stage)]['p99'])
                 for stage in ('handoff', 'queue', 'build', 'wait', 'http')]
        out.append('status lag stages, %s (p50/p99 ms): %s' % (name, ', '.join(parts)))
    return out
