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

"""st2mistral-spool reads a live spool, shows what waits and what was given up
(never a token), and writes only to a slot no live process holds unless forced."""

import json

import pytest

from st2mistral.core import st2api
from st2mistral.mistral_side import spool_cli
from st2mistral.mistral_side import targets
from st2mistral.mistral_side.delivery import sender as delivery
from st2mistral.mistral_side.delivery import spool as spool_mod

API = 'http://st2.test/api/v1'
TOKEN = 'secret-token-value'


def _item(execution_id, status='succeeded', **fields):
    return delivery.Outgoing(
        target=targets.Target(execution_id=execution_id, api_url=API, token=TOKEN),
        status=status, result={'out': execution_id}, root_id='wf-' + execution_id,
        event='WORKFLOW_SUCCEEDED', ex_id='wf-' + execution_id, **fields)


@pytest.fixture
def live(tmp_path):
    """A spool held by a 'running Mistral' (this test's open Spool holds the lock)."""
    spool = spool_mod.Spool(str(tmp_path / 'state'), 100, 1 << 22).open()
    spool.put(_item('e-wait', status='running', attempts=3,
                    last_error='HTTP 503: st2 is unavailable'))
    gone = _item('e-gone', attempts=7, last_error='HTTP 400: bad')
    spool.put(gone)
    spool.give_up(gone, 'HTTP 400: bad (after 7 tries)', gone.accepted_at + 5)
    spool.add_event({'ex_id': 'wf-x', 'event': 'WORKFLOW_LAUNCHED', 'data': {},
                     'notify_kwargs': {'token': TOKEN}})
    yield spool
    spool.close()


def _run(capsys, *argv):
    code = spool_cli.main(list(argv))
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    return code, out


def test_list_shows_waiting_and_given_up_while_mistral_runs(live, capsys):
    code, out = _run(capsys, '--state-dir', live.directory, '--json', 'list')
    assert code == 0
    listing = json.loads(out.out)
    rows = {u['st2_execution_id']: u for u in listing['updates']}
    assert rows['e-wait']['state'] == 'waiting' and rows['e-wait']['status'] == 'running'
    assert rows['e-wait']['tries'] == 3
    assert rows['e-wait']['last_error'] == 'HTTP 503: st2 is unavailable'
    assert rows['e-wait']['live'] is True and rows['e-wait']['age_seconds'] >= 0
    assert rows['e-gone']['state'] == 'given up'
    assert rows['e-gone']['reason'] == 'HTTP 400: bad (after 7 tries)'
    assert [e['event'] for e in listing['events']] == ['WORKFLOW_LAUNCHED']
    code, out = _run(capsys, '--state-dir', live.directory, 'list')
    assert 'e-wait' in out.out and 'HTTP 503' in out.out and 'given up' in out.out


def test_show_gives_the_result_and_masks_the_token(live, capsys):
    code, out = _run(capsys, '--state-dir', live.directory, '--json', 'show', 'e-wait')
    (row,) = json.loads(out.out)
    assert row['result'] == {'out': 'e-wait'} and row['has_token'] is True
    assert _run(capsys, '--state-dir', live.directory, 'show', 'nope')[0] == 2


def test_writes_are_refused_on_a_live_slot_unless_forced(live, capsys):
    code, out = _run(capsys, '--state-dir', live.directory, 'retry', 'e-gone')
    assert code == 2 and 'live Mistral process' in out.err and '--force' in out.err
    assert _run(capsys, '--state-dir', live.directory, 'drop', 'e-wait')[0] == 2
    assert len(live.load()) == 1                                  # nothing changed
    assert _run(capsys, '--state-dir', live.directory, 'retry', 'e-gone', '--force')[0] == 0


def test_retry_and_drop_on_a_stopped_slot_reach_the_next_process(live, capsys):
    directory = live.directory
    live.close()                                                  # Mistral stopped
    assert _run(capsys, '--state-dir', directory, 'retry', 'e-wait')[0] == 2   # not given up
    assert _run(capsys, '--state-dir', directory, 'retry', 'e-gone')[0] == 0
    assert _run(capsys, '--state-dir', directory, 'drop', 'e-wait')[0] == 0
    adopted = spool_mod.Spool(directory, 100, 1 << 22).open(adopt_only=True)
    try:
        (item,) = [delivery.Outgoing.from_dict(d) for _, d in adopted.load()]
        assert (item.target.execution_id, item.attempts, item.last_error) == ('e-gone', 0, None)
        assert item.target.token == TOKEN                         # still usable
    finally:
        adopted.close()


def test_the_sender_keeps_tries_last_error_and_gives_up_with_the_reason(
        conf, tmp_path, requests_mock):
    spool = spool_mod.Spool(str(tmp_path / 's'), 100, 1 << 22).open()
    requests_mock.put(API + '/executions/e-bad', status_code=400,
                      json={'faultstring': 'the status is not valid'})
    sender = delivery.Sender(client=st2api.St2Client(conf=conf), conf=conf, workers=1,
                             store=spool).start()
    try:
        sender.submit(_item('e-bad'))
        assert sender.flush(5)
    finally:
        sender.stop()
    listing = spool_cli.read(spool.directory)
    (row,) = listing['updates']
    assert row['state'] == 'given up' and row['tries'] == 1
    assert row['reason'].startswith('HTTP 400: ') and 'not valid' in row['reason']
    assert spool.usage()[0] == 0                  # given up rows are outside the bounds
    spool.close()


def test_another_user_than_the_owner_is_refused(live, capsys, monkeypatch):
    monkeypatch.setattr(spool_cli.os, 'geteuid', lambda: 12345)
    code, out = _run(capsys, '--state-dir', live.directory, 'list')
    assert code == 2 and 'sudo -u mistral' in out.err
