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

"""The pure helpers of the benchmarks: statistics, marks, the table, the loopback answers."""

import pytest

from benchmarks import engine_drag
from benchmarks import loopback
from benchmarks import marks
from benchmarks import report
from benchmarks import stats


def test_percentile_interpolates_between_closest_ranks():
    values = [5, 1, 4, 2, 3]
    assert stats.median(values) == 3
    assert stats.percentile(values, 0) == 1
    assert stats.percentile(values, 100) == 5
    assert stats.percentile([1, 2], 50) == 1.5
    assert stats.percentile(list(range(1, 101)), 99) == pytest.approx(99.01)


def test_percentile_refuses_nothing_and_out_of_range():
    with pytest.raises(ValueError):
        stats.median([])
    with pytest.raises(ValueError):
        stats.percentile([1], 101)


def test_marks_written_are_read_back_first_one_wins(tmp_path):
    path = str(tmp_path / 'marks.txt')
    writer = marks.MarkWriter(path)
    writer.write('commit', 'ex-1', 'SUCCESS', at=12.5)
    writer.write('commit', 'ex-1', 'SUCCESS', at=13.0)
    reader = marks.MarkReader(path)
    assert reader.get('commit', 'ex-1', 'SUCCESS') == 12.5
    assert reader.get('notify', 'ex-1', 'WORKFLOW_SUCCEEDED') is None
    writer.write('notify', 'ex-1', 'WORKFLOW_SUCCEEDED', at=14.0)
    assert reader.wait('notify', 'ex-1', 'WORKFLOW_SUCCEEDED', timeout=1) == 14.0


def test_mark_reader_keeps_a_half_written_line_for_later(tmp_path):
    path = tmp_path / 'marks.txt'
    path.write_text('commit ex-1 SUCCESS 1.0\nnotify ex-1 WORKFLOW_SUCC')
    reader = marks.MarkReader(str(path))
    assert list(reader.refresh()) == [('commit', 'ex-1', 'SUCCESS')]
    with open(path, 'a') as f:
        f.write('EEDED 2.0\n')
    assert reader.get('notify', 'ex-1', 'WORKFLOW_SUCCEEDED') == 2.0


def test_mark_wait_times_out(tmp_path):
    reader = marks.MarkReader(str(tmp_path / 'none.txt'))
    with pytest.raises(TimeoutError):
        reader.wait('commit', 'ex-1', 'SUCCESS', timeout=0.02)


def test_growth_is_linear_within_tolerance():
    assert report.growth_ok([10, 100, 1000], {10: 2.0, 100: 5.0, 1000: 40.0})
    assert report.growth_ok([10, 100], {10: 1.0, 100: 15.0})
    assert not report.growth_ok([10, 100, 1000], {10: 1.0, 100: 5.0, 1000: 80.0})


def test_grid_table_is_a_valid_rst_grid():
    text = report.grid_table([[['a'], ['bb', 'c'], [''], [''], ['yes']]])
    lines = text.splitlines()
    assert lines[0] == lines[-1] and set(lines[0]) == {'+', '-'}
    assert set(lines[2]) == {'+', '='}
    assert len({len(line) for line in lines}) == 1
    assert lines[3].startswith('| a ') and '| bb' in lines[3] and '| c ' in lines[4]


def _drag(st2):
    return {'drag_st2': st2, 'wall_st2': 0.1, 'wall_none': 0.1, 'drag_sync': 6.0,
            'wall_sync': 0.6, 'drag_noop': 1.0, 'st2_delay': 0.5, 'rounds': 3}


def test_verdicts_follow_the_goals():
    assert report.drag_row(_drag(1.05)).met is True
    assert report.drag_row(_drag(1.06)).met is False
    # Under eventlet the verdict is on the hub time the publisher took.
    eventlet = dict(_drag(1.09), drag_hub=1.02, hub_ms={'p50': 2.0, 'mean': 3.0, 'max': 9.0})
    assert report.drag_row(eventlet).met is True
    assert report.drag_row(dict(eventlet, drag_st2=1.0, drag_hub=1.06)).met is False

    throughput = {'sender': 2500.0, 'sender_memory': 3000.0, 'sender_emulator': 100.0,
                  'webhook': 1200.0, 'webhook_1': 1000.0, 'spool': True, 'workers': 8,
                  'rounds': 1, 'count': 10}
    assert report.throughput_row(throughput).met is True
    assert report.throughput_row(dict(throughput, webhook_1=1300.0)).met is False
    assert report.throughput_row(dict(throughput, sender=900.0, webhook=400.0)).met is False

    def cost(reads, ms_at_1000):
        point = {'reads': reads, 'ms': 0.0}
        return {size: {'st2mistral': dict(point, ms=ms), 'orm': dict(point, ms=ms),
                       'same_update': True}
                for size, ms in ((10, 2.0), (100, 5.0), (1000, ms_at_1000))}
    assert report.cost_row(cost(3, 40.0)).met is True
    assert report.cost_row(cost(4, 40.0)).met is False
    assert report.cost_row(cost(3, 201.0)).met is False
    assert report.not_run(2).met is None


def test_loopback_answers_what_the_publishers_need():
    assert loopback.answer('PUT', '/api/v1/executions/abc', b'{"status": "succeeded"}') == (
        200, {'id': 'abc', 'status': 'succeeded'})
    assert loopback.answer('PUT', '/api/v1/executions/abc', b'not json')[0] == 400
    assert loopback.answer('POST', '/hook', b'{}') == (200, {})
    assert loopback.answer('GET', '/api/v1/executions/abc', b'')[0] == 404


def test_hub_taken_counts_only_what_falls_inside_each_run():
    windows = [(10.0, 10.2), (20.0, 20.1)]
    spans = [(10.05, 0.01),      # inside the first run: 10 ms
             (10.195, 0.01),     # half inside: 5 ms
             (15.0, 1.0),        # between runs: the engine was idle
             (19.99, 0.02)]      # half inside the second run: 10 ms
    taken = engine_drag.hub_taken(windows, spans)
    assert taken['hub_ms']['max'] == pytest.approx(15.0)
    assert taken['hub_ms']['mean'] == pytest.approx(12.5)
    assert taken['hub_share'] == pytest.approx(0.025 / 0.3)
    assert taken['drag_hub'] == pytest.approx(1 + 0.025 / 0.3)
