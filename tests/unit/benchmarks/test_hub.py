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

"""Figure 5's bookkeeping (who held the hub, writes per slice) and its verdict."""

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import hub_block
from benchmarks import hub_watch
from benchmarks import report

HUB, PUBLISHER, ENGINE = object(), object(), object()


def _watch():
    watch = hub_watch.HubWatch('/nonexistent')
    watch._hub = HUB
    watch.publisher_greenlets[PUBLISHER] = 'processing'
    return watch


def test_slices_are_filed_under_who_ran_them_with_the_writes_they_held():
    watch = _watch()
    put = watch._timed_write(lambda: 'done', 'put')
    write = watch._timed_write(lambda: 'done', 'remove_event')

    assert put() == 'done'
    assert write() == 'done'
    watch._on_switch('switch', (PUBLISHER, HUB))    # two writes in the publisher's slice
    watch._on_switch('switch', (HUB, ENGINE))
    write()
    watch._on_switch('throw', (ENGINE, HUB))        # one in an engine slice
    watch._on_switch('other', (HUB, ENGINE))        # not a switch: ignored

    recording = watch.recording
    assert [len(recording.slices[k]) for k in hub_watch.KINDS] == [1, 1, 1]
    assert len(recording.writes) == 3
    assert [(n, kind) for _, n, _, kind in recording.slices_with_writes] == [
        (2, 'publisher'), (1, 'engine')]
    summary = hub_watch.summarize(recording)
    assert summary['several_writes'] == [
        {'kind': 'publisher', 'writes': ['put', 'remove_event'], 'slices': 1}]
    assert list(summary['publisher_parts_ms']) == ['processing']


def test_a_write_that_raises_is_still_counted():
    watch = _watch()

    def failing():
        raise ValueError('full')

    with pytest.raises(ValueError):
        watch._timed_write(failing)()
    assert len(watch.recording.writes) == 1 and watch._slice_writes == 1


def test_summary_counts_slices_holding_several_writes():
    recording = hub_watch.Recording()
    recording.slices['engine'] = [0.001, 0.003]
    recording.writes = [0.0001, 0.0002, 0.0004]
    recording.slices_with_writes = [(0.001, 1, 0.0001, 'engine'),
                                    (0.003, 2, 0.0006, 'publisher')]

    summary = hub_watch.summarize(recording)

    assert summary['max_writes_per_slice'] == 2
    assert summary['slices_with_several_writes'] == 1
    assert summary['max_write_ms_per_slice'] == pytest.approx(0.6)
    assert summary['writes']['count'] == 3
    assert summary['writes']['max'] == pytest.approx(0.4)
    assert summary['slices']['engine']['max'] == pytest.approx(3.0)
    assert summary['slices']['engine']['total'] == pytest.approx(4.0)
    assert 'publisher' not in summary['slices']        # no slice of its own recorded
    assert summary['longest_slices_with_writes'][0]['kind'] == 'publisher'


def test_summary_of_nothing_recorded():
    summary = hub_watch.summarize(hub_watch.Recording())
    assert summary['max_writes_per_slice'] == 0 and 'writes' not in summary


def _phase(max_writes, several=0, engine_max=2.0, publisher=True):
    slices = {'engine': {'p50': 0.1, 'p99': 1.0, 'max': engine_max, 'count': 9,
                         'total': 100.0}}
    if publisher:
        slices['publisher'] = {'p50': 0.1, 'p99': 0.5, 'max': 0.8, 'count': 9, 'total': 10.0}
    return {'slices': slices, 'writes': {'p50': 0.05, 'p99': 0.1, 'max': 0.3, 'count': 10},
            'max_writes_per_slice': max_writes, 'slices_with_several_writes': several,
            'max_write_ms_per_slice': 0.3 * max_writes,
            'publisher_parts_ms': {'processing': 6.0, 'sending': 4.0} if publisher else {},
            'longest_slices_with_writes': [
                {'slice_ms': 1.0, 'writes': max_writes, 'write_ms': 0.3, 'kind': 'engine'}]}


def test_rounds_combine_to_the_worst_and_the_verdict_follows_the_goal():
    phases = {'None': [_phase(0, engine_max=5.0, publisher=False)] * 2,
              'noop': [_phase(0, publisher=False)],
              'st2': [_phase(1), _phase(2, several=3, engine_max=4.0)]}

    combined = hub_block.combine(phases, count=50, rounds=2)

    assert combined['max_writes_per_slice'] == 2
    assert combined['slices_with_several_writes'] == 3
    assert combined['writes'] == 20
    assert combined['base_engine_max_ms'] == 5.0 and combined['engine_max_ms'] == 4.0
    assert combined['per_workflow_ms'] == pytest.approx({
        'engine_none': 2.0, 'engine_noop': 1.0, 'engine_st2': 2.0, 'publisher_st2': 0.2,
        'processing_st2': 0.12,
        'sending_st2': 0.08})
    assert report.hub_row(combined).met is False
    phases['st2'][1]['several_writes'] = [
        {'kind': 'publisher', 'writes': ['put', 'remove_event'], 'slices': 3}]
    assert '  3 publisher slice(s) held put + remove_event' in report.hub_details(combined)
    one = hub_block.combine({'None': phases['None'], 'st2': [_phase(1)] * 2}, 50, 2)
    assert report.hub_row(one).met is True
    assert len(report.hub_details(one)) == 3
    assert report.hub_details(one)[0] == (
        'hub time per workflow: engine 2.0 ms without notify, 0.0 with a no-op publisher; '
        'with st2 engine 2.0 + publisher 0.2 ms = 1.10x (publisher: processing 0.1, '
        'sending 0.1 ms)')
    assert '1 write 0.30 ms' in report.hub_details(one)[1]


def test_hub_is_chosen_by_name_only_and_reported_after_the_four():
    args = bench_main.parse_args(['--only', 'drag,hub', '--mistral-python', '/x/python'])
    assert args.only == ['drag', 'hub'] and args.mistral_python == '/x/python'
    assert 'hub' not in bench_main.parse_args([]).only
    rows = bench_main.build_rows({'hub': hub_block.combine(
        {'None': [_phase(0, publisher=False)], 'st2': [_phase(1)]}, 5, 1)})
    assert [row.figure[0] for row in rows] == list(report.ROW_TITLES)
    assert [row.met for row in rows] == [None, None, None, None, True]
