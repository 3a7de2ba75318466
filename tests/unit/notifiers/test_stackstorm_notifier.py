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

"""The publisher's processing rules, on a fake Mistral DB and a recording sender."""

import logging
import threading

from oslo_config import cfg
import pytest
import sqlalchemy.exc

from st2mistral.core import results
from st2mistral.mistral_side.notifiers import mistral_db
from st2mistral.mistral_side.notifiers import stackstorm_notifier as notifier
from st2mistral.testing.waiting import wait_until
from tests.unit.notifiers.fakes import FakeMistralDB
from tests.unit.notifiers.fakes import RecordingSender

API = 'http://st2.test/api/v1'


@pytest.fixture
def db(monkeypatch):
    fake = FakeMistralDB()
    for name in ('workflow_info', 'load_snapshot', 'task_workflow_execution_id'):
        monkeypatch.setattr(mistral_db, name, getattr(fake, name))
    cfg.CONF.set_override('api_url', API, group='st2')
    yield fake
    cfg.CONF.clear_override('api_url', group='st2')


def _workflow(db, state, output=None, tasks=()):
    info = mistral_db.WorkflowInfo(id='wf1', name='wf', state=state, state_info=None,
                                   root_execution_id=None, parent_task_execution_id=None,
                                   env={'st2_execution_id': 'e1'})
    db.add(info, results.Snapshot(state=state, output=output or {}, tasks=list(tasks)))


def _event(event, state):
    return notifier.Event('wf1', {'id': 'wf1', 'state': state, 'root_execution_id': None},
                          event, {})


@pytest.mark.parametrize('event,state,db_state,sent', [
    ('WORKFLOW_LAUNCHED', 'RUNNING', 'RUNNING', ['running']),
    ('WORKFLOW_LAUNCHED', 'RUNNING', 'SUCCESS', []),      # stale: SUCCEEDED follows
    ('WORKFLOW_PAUSED', 'PAUSED', 'RUNNING', []),          # stale: RESUMED counts
    ('WORKFLOW_RESUMED', 'RUNNING', 'PAUSED', []),         # stale: PAUSED counts
    ('WORKFLOW_SUCCEEDED', 'SUCCESS', 'SUCCESS', ['succeeded']),
    ('WORKFLOW_FAILED', 'ERROR', 'SUCCESS', ['failed']),   # final events always go
])
def test_stale_non_final_events_are_not_published(db, caplog, event, state, db_state, sent):
    caplog.set_level(logging.INFO)
    _workflow(db, db_state)
    sender = RecordingSender()
    notifier.process(_event(event, state), sender)
    assert [item.status for item in sender.items] == sent
    if not sent:
        assert any('is not published to st2: the workflow is %s now' % db_state in m
                   for m in caplog.messages)


def test_oversized_result_is_cut_and_logged(db, caplog):
    caplog.set_level(logging.INFO)
    cfg.CONF.set_override('max_result_size', 2048, group='st2')
    try:
        _workflow(db, 'SUCCESS', output={'big': 'x' * 10000})
        sender = RecordingSender()
        notifier.process(_event('WORKFLOW_SUCCEEDED', 'SUCCESS'), sender)
    finally:
        cfg.CONF.clear_override('max_result_size', group='st2')
    (item,) = sender.items
    assert item.result[results.TRUNCATED_KEY]['original_bytes'] > 10000
    assert any('over [st2] max_result_size (2048)' in m for m in caplog.messages)


def test_event_kept_and_retried_while_mistral_db_is_away(db, monkeypatch, caplog):
    _workflow(db, 'SUCCESS')
    calls = []
    real = db.workflow_info

    def flaky(wf_ex_id):
        calls.append(wf_ex_id)
        if len(calls) == 1:
            raise sqlalchemy.exc.OperationalError('SELECT', {}, Exception('gone away'))
        return real(wf_ex_id)
    monkeypatch.setattr(mistral_db, 'workflow_info', flaky)
    monkeypatch.setattr(notifier, 'open_spool', lambda: None)
    sender = RecordingSender()
    waits = []
    publisher = notifier.St2Publisher(sender=sender, sleep=waits.append)
    publisher.publish(None, 'wf1', {'id': 'wf1', 'state': 'SUCCESS',
                                    'root_execution_id': None}, 'WORKFLOW_SUCCEEDED', None)
    wait_until(lambda: sender.items, timeout=5, interval=0.01, message='an update for wf1')
    assert [item.status for item in sender.items] == ['succeeded']
    assert len(calls) == 2 and waits == [1.0]
    assert any("Mistral's database is not available" in m for m in caplog.messages)


def _counting(db, monkeypatch):
    reads = []

    def workflow_info(wf_ex_id):
        reads.append(wf_ex_id)
        return db.workflows.get(wf_ex_id)
    monkeypatch.setattr(mistral_db, 'workflow_info', workflow_info)
    return reads


def _task_event(event='TASK_SUCCEEDED'):
    return notifier.Event('task1', {'id': 'task1', 'workflow_execution_id': 'wf1'}, event, {})


def test_task_events_of_a_running_workflow_need_no_read(db, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    reads = _counting(db, monkeypatch)
    cache, sender = notifier.WorkflowCache(), RecordingSender()
    _workflow(db, 'RUNNING')
    notifier.process(_event('WORKFLOW_LAUNCHED', 'RUNNING'), sender, cache)
    for _ in range(3):
        notifier.process(_task_event(), sender, cache)
    _workflow(db, 'SUCCESS')
    notifier.process(_event('WORKFLOW_SUCCEEDED', 'SUCCESS'), sender, cache)
    assert reads == ['wf1']                      # LAUNCHED only; SUCCEEDED used the cache
    assert [i.status for i in sender.items] == ['running', 'succeeded']
    assert sum('[wf1] The task event TASK_SUCCEEDED for task1 is processed for st2.' == m
               for m in caplog.messages) == 3
    assert cache.get('wf1') is None              # a final event forgets the execution


def test_events_processed_after_the_workflow_ended_read_it_once(db, monkeypatch):
    # A backlog (st2 or Mistral's DB was away, or [notifier] type = remote):
    # the launch is processed after the end, is stale, and the task events of
    # a SUCCESS workflow need no further read.
    reads = _counting(db, monkeypatch)
    cache, sender = notifier.WorkflowCache(), RecordingSender()
    _workflow(db, 'SUCCESS')
    notifier.process(_event('WORKFLOW_LAUNCHED', 'RUNNING'), sender, cache)
    for _ in range(3):
        notifier.process(_task_event(), sender, cache)
    notifier.process(_event('WORKFLOW_SUCCEEDED', 'SUCCESS'), sender, cache)
    assert reads == ['wf1']
    assert [i.status for i in sender.items] == ['succeeded']


def test_a_cancelled_workflow_is_read_again_for_a_task_event(db, monkeypatch):
    reads = _counting(db, monkeypatch)
    cache, sender = notifier.WorkflowCache(), RecordingSender()
    _workflow(db, 'CANCELLED')
    cache.put(db.workflows['wf1'])
    notifier.process(_task_event(), sender, cache)
    assert reads == ['wf1']
    assert [i.status for i in sender.items] == ['canceled']


def test_paused_workflow_task_events_read_and_trigger(db, monkeypatch):
    reads = _counting(db, monkeypatch)
    cache, sender = notifier.WorkflowCache(), RecordingSender()
    _workflow(db, 'RUNNING')
    notifier.process(_event('WORKFLOW_LAUNCHED', 'RUNNING'), sender, cache)
    _workflow(db, 'PAUSED')
    notifier.process(_event('WORKFLOW_PAUSED', 'PAUSED'), sender, cache)
    notifier.process(_task_event(), sender, cache)   # a task ends while paused
    assert reads == ['wf1', 'wf1', 'wf1']
    assert [i.status for i in sender.items] == ['running', 'paused', 'paused']


def test_workflow_cache_is_bounded():
    cache = notifier.WorkflowCache(size=2)
    for name in ('a', 'b', 'c'):
        cache.put(mistral_db.WorkflowInfo(id=name, name=name, state='RUNNING', state_info=None,
                                          root_execution_id=None,
                                          parent_task_execution_id=None, env={}))
    assert [cache.get(n) is not None for n in ('a', 'b', 'c')] == [False, True, True]


def test_same_event_for_a_second_st2_entry_is_published_once(db, monkeypatch):
    # Global [notifier] notify plus the runner's per-execution entry: Mistral
    # calls publish() once per entry with the very same data object.
    monkeypatch.setattr(notifier, 'open_spool', lambda: None)
    _workflow(db, 'RUNNING')
    sender = RecordingSender()
    publisher = notifier.St2Publisher(sender=sender)
    launched = {'id': 'wf1', 'state': 'RUNNING', 'root_execution_id': None}
    for _ in range(2):                                   # two {"type": "st2"} entries
        publisher.publish(None, 'wf1', launched, 'WORKFLOW_LAUNCHED', None)
    publisher.publish(None, 'wf1', launched, 'WORKFLOW_LAUNCHED', None, api_url=API)
    _wait_for(lambda: len(sender.items) >= 2)
    _workflow(db, 'SUCCESS')
    succeeded = {'id': 'wf1', 'state': 'SUCCESS', 'root_execution_id': None}
    publisher.publish(None, 'wf1', succeeded, 'WORKFLOW_SUCCEEDED', None)
    # The entry with other arguments counts as another entry.
    assert [(i.event, i.status) for i in _flush(db, publisher, sender)] == [
        ('WORKFLOW_LAUNCHED', 'running'), ('WORKFLOW_LAUNCHED', 'running'),
        ('WORKFLOW_SUCCEEDED', 'succeeded')]


def _wait_for(condition, timeout=5.0):
    wait_until(condition, timeout=timeout, interval=0.01)


def _flush(db, publisher, sender):
    """The updates for everything published so far, once all of it is processed.

    The publisher processes events one at a time in the order published, so
    once a marker event published last reaches the sender, no update for an
    earlier event is still to come: no sleep needed to show nothing more arrives.
    """
    db.add(mistral_db.WorkflowInfo(id='marker', name='marker', state='SUCCESS',
                                   state_info=None, root_execution_id=None,
                                   parent_task_execution_id=None,
                                   env={'st2_execution_id': 'marker'}),
           results.Snapshot(state='SUCCESS', output={}, tasks=[]))
    publisher.publish(None, 'marker', {'id': 'marker', 'state': 'SUCCESS',
                                       'root_execution_id': None}, 'WORKFLOW_SUCCEEDED', None)
    wait_until(lambda: any(i.ex_id == 'marker' for i in sender.items), timeout=5,
               interval=0.01, message='the marker event to reach the sender')
    return [i for i in sender.items if i.ex_id != 'marker']


class _WriteLog:
    """A spool and a sender whose writes, and the publisher's yields, go to one log."""

    def __init__(self):
        self.entries = []
        self._ids = 0

    def _log(self, what):
        self.entries.append((threading.current_thread().name, what))

    # the spool's interface, as the publisher uses it
    path = 'fake-spool'

    def add_event(self, fields):
        self._log('add_event')
        self._ids += 1
        return self._ids

    def remove_event(self, event_id):
        self._log('remove_event')

    def events(self):
        return []

    def usage(self):
        return 0, 0


class _SpoolingSender(RecordingSender):
    """Like delivery.Sender with a store: submit() writes the update to the spool."""

    def __init__(self, log):
        super().__init__()
        self._write_log = log

    def submit(self, item):
        self._write_log._log('put')
        return super().submit(item)


def test_processing_thread_yields_between_spool_writes(db, monkeypatch):
    # Under eventlet the processing thread shares the engine's hub and sqlite3
    # never yields: two of its spool writes in a row would hold the hub for both.
    log = _WriteLog()
    monkeypatch.setattr(notifier, 'open_spool', lambda: log)
    monkeypatch.setattr(notifier, 'let_others_run', lambda: log._log('yield'), raising=False)
    sender = _SpoolingSender(log)
    publisher = notifier.St2Publisher(sender=sender)
    _workflow(db, 'SUCCESS')
    succeeded = {'id': 'wf1', 'state': 'SUCCESS', 'root_execution_id': None}
    publisher.publish(None, 'wf1', succeeded, 'WORKFLOW_SUCCEEDED', None)
    for task in ('t1', 't2'):      # nothing to send: only the spool's remove_event
        publisher.publish(None, task, {'id': task, 'workflow_execution_id': 'wf1'},
                          'TASK_SUCCEEDED', None)
    publisher.publish(None, 'wf1', dict(succeeded), 'WORKFLOW_SUCCEEDED', None)
    wait_until(lambda: sum(what == 'remove_event' for _, what in log.entries) == 4,
               timeout=5, interval=0.01, message='the 4 events to be processed')

    steps = [what for thread, what in log.entries if thread == 'st2-notifier']
    assert steps.count('put') == 2 and steps.count('remove_event') == 4
    # No two writes next to each other: a yield between any two.
    assert all('yield' in steps[i:i + 2] for i in range(len(steps) - 1)), steps
