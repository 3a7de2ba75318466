"""What st2's own ``st2-track-result`` stores (the rows the relay reads, issue 8 point 2).

st2 keeps them in its database (ActionExecutionStateDB): there is no API for them,
so this is checked on real st2 only; the emulator has no database to compare.
"""

import pytest

from st2mistral.testing.real_st2 import settings

if settings.source() is None:
    pytest.skip(settings.SKIP_REASON, allow_module_level=True)

CONTEXT = {'user': 'st2admin', 'mistral': {'execution_id': 'mistral-wf-1'}}


@pytest.fixture
def real(real_backend):
    return real_backend


def rows_of(real, liveaction_id):
    return [row for row in real.st2.control('state_rows')
            if row['execution_id'] == liveaction_id]


def test_track_result_stores_one_row_keyed_by_the_liveaction_and_delete_removes_it(real):
    ex_id, lv_id = real.new_execution(context=CONTEXT)
    added = real.st2.control('track_result', execution_id=ex_id)
    assert added['exit_code'] == 0, added['log']
    rows = rows_of(real, lv_id)
    # query_context is the liveaction's context (st2 added the pack when creating it).
    assert [(r['query_module'], r['query_context']) for r in rows] == [
        ('mistral_v2', dict(CONTEXT, pack='st2mistral_tests'))]

    again = real.st2.control('track_result', execution_id=ex_id)
    assert any('already has a result tracker entry' in line for line in again['log'])
    assert len(rows_of(real, lv_id)) == 1

    deleted = real.st2.control('track_result', execution_id=ex_id, delete=True)
    assert deleted['exit_code'] == 0, deleted['log']
    assert rows_of(real, lv_id) == []


def test_track_result_ignores_a_completed_execution(real):
    ex_id, lv_id = real.new_execution(context=CONTEXT, status='succeeded')
    out = real.st2.control('track_result', execution_id=ex_id)
    assert any('already in a completed state' in line for line in out['log'])
    assert rows_of(real, lv_id) == []


def test_track_result_refuses_other_runners(real):
    ex_id, lv_id = real.new_execution(action='st2mistral_tests.echo', context=CONTEXT)
    out = real.st2.control('track_result', execution_id=ex_id)
    assert any('only supported for Mistral workflows' in line for line in out['log'])
    assert rows_of(real, lv_id) == []
