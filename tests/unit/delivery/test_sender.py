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

import logging
import threading

import pytest

from st2mistral.core import st2api
from st2mistral.mistral_side import targets
from st2mistral.mistral_side.delivery import sender as delivery
from st2mistral.testing import waiting

API = 'http://st2.test/api/v1'


def _item(status, execution_id='e1', event='WORKFLOW_SUCCEEDED', token='tok'):
    return delivery.Outgoing(
        target=targets.Target(execution_id=execution_id, api_url=API, token=token),
        status=status, result={'r': status}, root_id='root-1', event=event, ex_id='root-1')


@pytest.fixture
def make_sender(conf):
    senders = []

    def make(**kw):
        s = delivery.Sender(client=st2api.St2Client(conf=conf), conf=conf,
                            workers=kw.pop('workers', 2), **kw)
        senders.append(s)
        return s
    yield make
    for s in senders:
        s.stop()


def _statuses(requests_mock):
    return [r.json()['status'] for r in requests_mock.request_history]


def test_delivers_and_logs_trace(make_sender, requests_mock, caplog):
    caplog.set_level(logging.INFO)
    requests_mock.put(API + '/executions/e1', json={})
    sender = make_sender().start()
    assert sender.submit(_item('succeeded'))
    assert sender.flush(5)
    assert _statuses(requests_mock) == ['succeeded']
    assert ('[root-1] The workflow event WORKFLOW_SUCCEEDED for root-1 is published to st2.'
            in caplog.messages)
    assert 'tok' not in caplog.text


def test_waiting_update_is_superseded_and_regression_dropped(make_sender, requests_mock,
                                                            caplog):
    caplog.set_level(logging.INFO)
    requests_mock.put(API + '/executions/e1', json={})
    sender = make_sender()                   # not started: everything waits
    assert sender.submit(_item('running', event='WORKFLOW_LAUNCHED'))
    assert sender.submit(_item('succeeded'))
    assert not sender.submit(_item('running', event='WORKFLOW_RESUMED'))
    sender.start()
    assert sender.flush(5)
    assert _statuses(requests_mock) == ['succeeded']
    assert any('WORKFLOW_LAUNCHED for root-1 is superseded by WORKFLOW_SUCCEEDED' in m
               for m in caplog.messages)
    # A late update after st2 accepted a completed status is dropped too.
    assert not sender.submit(_item('running', event='WORKFLOW_LAUNCHED'))
    assert sender.flush(5)
    assert _statuses(requests_mock) == ['succeeded']


def test_one_request_in_flight_per_execution_keeps_order(make_sender, requests_mock):
    release = threading.Event()
    seen = []

    def slow(request, context):
        seen.append(request.json()['status'])
        release.wait(5)
        return {}
    requests_mock.put(API + '/executions/e1', json=slow)
    sender = make_sender(workers=4).start()
    sender.submit(_item('running', event='WORKFLOW_LAUNCHED'))
    waiting.wait_until(lambda: seen, timeout=5, message='the first PUT')
    sender.submit(_item('paused', event='WORKFLOW_PAUSED'))
    sender.submit(_item('running', event='WORKFLOW_RESUMED'))
    sender.submit(_item('succeeded'))
    release.set()
    assert sender.flush(5)
    assert seen == ['running', 'succeeded']


def test_5xx_retried_until_st2_recovers(make_sender, requests_mock):
    requests_mock.put(API + '/executions/e1', [{'status_code': 500, 'json': {}},
                                                {'status_code': 503, 'json': {}},
                                                {'status_code': 200, 'json': {}}])
    sender = make_sender().start()
    sender.submit(_item('succeeded'))
    assert sender.flush(5)
    assert _statuses(requests_mock) == ['succeeded'] * 3


def test_already_completed_counts_as_done(make_sender, requests_mock, caplog):
    caplog.set_level(logging.INFO)
    requests_mock.put(API + '/executions/e1', status_code=400,
                      json={'faultstring': 'Execution is already in completed state.'})
    sender = make_sender().start()
    sender.submit(_item('succeeded'))
    assert sender.flush(5)
    assert requests_mock.call_count == 1
    assert any('is already completed' in m for m in caplog.messages)
    assert not sender.submit(_item('running'))


def test_unknown_execution_retried_for_grace_then_given_up(make_sender, conf, requests_mock,
                                                          caplog):
    conf.set_override('unknown_execution_grace', 0.0, group='st2')
    requests_mock.put(API + '/executions/e1', status_code=404, json={'faultstring': 'nope'})
    sender = make_sender().start()
    sender.submit(_item('failed', event='WORKFLOW_FAILED'))
    assert sender.flush(5)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert 'HTTP 404' in errors[0].getMessage()
    assert ('run "st2-track-result e1 --config-dir /etc/st2" on an st2 host'
            in errors[0].getMessage())


def test_expired_update_given_up_with_one_error_line(make_sender, conf, requests_mock, caplog):
    conf.set_override('delivery_expire_after', 1.0, group='st2')
    clock = [1000.0]
    requests_mock.put(API + '/executions/e1', status_code=503, json={})
    sender = make_sender(clock=lambda: clock[0])
    item = _item('succeeded')
    item.accepted_at = 0.0                                   # long ago
    sender.submit(item)
    sender.start()
    assert sender.flush(5)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and 'HTTP 503' in errors[0]


def test_executions_are_independent(make_sender, requests_mock):
    requests_mock.put(API + '/executions/bad', status_code=500, json={})
    requests_mock.put(API + '/executions/good', json={})
    sender = make_sender(workers=1).start()
    sender.submit(_item('succeeded', execution_id='bad'))
    sender.submit(_item('succeeded', execution_id='good'))
    waiting.wait_until(
        lambda: any(r.path.endswith('/good') for r in requests_mock.request_history),
        timeout=5, message='the PUT of the execution st2 takes')


REFUSED_PAUSE = ('Failed updating execution. Unable to pause liveaction "la1" because it is '
                 'not supported by the "mistral-v2" runner.')


def test_st2s_refusal_to_pause_mistral_v2_is_one_info_line(make_sender, requests_mock,
                                                            caplog):
    """st2 3.3+ (st2common/services/action.py request_pause @ v3.9.0): no ERROR, no advice."""
    caplog.set_level(logging.INFO)
    requests_mock.put(API + '/executions/e1', status_code=400,
                      json={'faultstring': REFUSED_PAUSE})
    sender = make_sender().start()
    sender.submit(_item('paused', event='WORKFLOW_PAUSED'))
    assert sender.flush(5)
    assert len(requests_mock.request_history) == 1      # not retried
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    (line,) = [m for m in caplog.messages if 'WORKFLOW_PAUSED' in m]
    assert ('st2 (3.3 and later) cannot hold a mistral-v2 execution paused through its API; '
            'the st2mistral relay service reflects it' in line)
    assert 'track-result' not in line


def test_a_cancel_after_a_refused_pause_is_left_to_the_relay_while_st2_shows_paused(
        make_sender, requests_mock, caplog):
    caplog.set_level(logging.INFO)
    requests_mock.put(API + '/executions/e1', status_code=400,
                      json={'faultstring': REFUSED_PAUSE})
    requests_mock.get(API + '/executions/e1', json={'id': 'e1', 'status': 'paused'})
    sender = make_sender().start()
    sender.submit(_item('paused', event='WORKFLOW_PAUSED'))
    assert sender.flush(5)
    sender.submit(_item('canceled', event='WORKFLOW_CANCELLED'))
    assert sender.flush(5)
    # Through the API st2 would cancel a paused execution with its own {message, user}.
    assert [r.method for r in requests_mock.request_history] == ['PUT', 'GET']
    assert any('is held paused by the st2mistral relay service, which completes it' in m
               for m in caplog.messages)


def test_a_cancel_after_a_refused_pause_is_sent_when_st2_shows_running(make_sender,
                                                                      requests_mock):
    """No relay reflected the pause: st2 still runs, so the publisher cancels it."""
    requests_mock.put(API + '/executions/e1', [
        {'status_code': 400, 'json': {'faultstring': REFUSED_PAUSE}},
        {'json': {'status': 'canceling'}}, {'json': {'status': 'canceled'}}])
    requests_mock.get(API + '/executions/e1', json={'id': 'e1', 'status': 'running'})
    sender = make_sender().start()
    sender.submit(_item('paused', event='WORKFLOW_PAUSED'))
    assert sender.flush(5)
    sender.submit(_item('canceled', event='WORKFLOW_CANCELLED'))
    assert sender.flush(5)
    assert [(r.method, (r.json() or {}).get('status') if r.method == 'PUT' else None)
            for r in requests_mock.request_history] == [
        ('PUT', 'paused'), ('GET', None), ('PUT', 'canceled'), ('PUT', 'canceled')]


@pytest.mark.parametrize('spooled', [False, True])
def test_a_flood_of_unknown_executions_gives_way_to_another_update(
        make_sender, requests_mock, conf, tmp_path, caplog, spooled):
    # issue 18 item 5: the queue's bounds are shared; updates st2 answers 404 for
    # are the ones given up when it is full, not the next workflow's.
    from st2mistral.mistral_side.delivery import spool as spool_mod
    conf.set_override('spool_max_count', 3, group='st2')
    conf.set_override('unknown_execution_grace', 300, group='st2')
    conf.set_override('retry_initial_delay', 60, group='st2')   # the flood waits
    conf.set_override('retry_max_delay', 60, group='st2')
    store = spool_mod.Spool(str(tmp_path / 's'), 3, 1 << 20).open() if spooled else None
    flood = ['flood%d' % i for i in range(3)]
    for execution_id in flood:
        requests_mock.put(API + '/executions/' + execution_id, status_code=404,
                          json={'faultstring': 'not found'})
    requests_mock.put(API + '/executions/victim', json={})
    sender = make_sender(store=store).start()
    for execution_id in flood:
        assert sender.submit(_item('succeeded', execution_id=execution_id))
    waiting.wait_until(lambda: len(requests_mock.request_history) >= 3, timeout=5,
                       message='the flood tried once')
    waiting.wait_until(lambda: all(sender._schedule.waiting((API, e)) for e in flood),
                       timeout=5, message='the flood waiting for its retry')
    assert sender.submit(_item('succeeded', execution_id='victim'))
    waiting.wait_until(lambda: 'victim' in requests_mock.request_history[-1].url, timeout=5,
                       message="the victim's update sent")
    evicted = [m for m in caplog.messages if 'st2 does not know' in m]
    # One of the flood (the one st2 has not known the longest: the workers' order).
    (gone,) = [e for e in flood if len(evicted) == 1 and 'execution %s:' % e in evicted[0]]
    if spooled:
        (row,) = store._db.execute('SELECT execution_id, reason FROM given_up').fetchall()
        assert row[0] == gone and row[1].startswith('evicted from the full queue')
        store.close()


def test_a_full_queue_of_updates_st2_knows_still_refuses(make_sender, requests_mock, conf):
    from st2mistral.mistral_side.delivery import spool as spool_mod
    conf.set_override('spool_max_count', 2, group='st2')
    sender = make_sender()                       # not started: nothing leaves the queue
    sender.submit(_item('succeeded', execution_id='a'))
    sender.submit(_item('succeeded', execution_id='b'))
    with pytest.raises(spool_mod.SpoolFull):
        sender.submit(_item('succeeded', execution_id='c'))
