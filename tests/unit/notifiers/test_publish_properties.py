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

"""Property-based tests (hypothesis): whatever Mistral hands the st2 publisher,
nothing raises into Mistral, no event gets stuck, and the pure functions raise
only what they document.

Mistral's database is replaced by a small in-memory double (the functional
tests use the real one); the spool, the Sender and the st2 client are real,
aimed at a dead st2 (127.0.0.1:9, connection refused).
"""

import json
import logging
import math
import threading
import time
import uuid

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from oslo_config import cfg
import pytest
import requests

from st2mistral.core import contract
from st2mistral.core import results
from st2mistral.core import st2api
from st2mistral.mistral_side import targets
from st2mistral.mistral_side.delivery import sender as delivery
from st2mistral.mistral_side.notifiers import mistral_db
from st2mistral.mistral_side.notifiers import stackstorm_notifier as notifier
from st2mistral.testing.waiting import wait_until
from tests.unit.notifiers.fakes import FakeMistralDB
from tests.unit.notifiers.fakes import RecordingSender

DEAD_API_URL = 'http://127.0.0.1:9/api/v1'
MISTRAL_STATES = ['IDLE', 'RUNNING', 'SUCCESS', 'ERROR', 'CANCELLED', 'PAUSED']
ALL_EVENTS = sorted(notifier.WORKFLOW_EVENTS | notifier.TASK_EVENTS
                    | {'TASK_LAUNCHED', 'TASK_SKIPPED', 'TASK_RESUMED', 'TASK_RERUN'})
# Mistral passes these positionally: a notify entry key with one of these
# names makes Mistral's own call fail before the publisher is reached.
PUBLISH_PARAMETERS = {'self', 'ctx', 'ex_id', 'data', 'event', 'timestamp'}
PROCESSING_FAILED = ('could not be processed', 'could not be queued')
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# -- strategies ----------------------------------------------------------------

json_leaves = (st.none() | st.booleans() | st.integers() | st.text(max_size=12)
               | st.floats(allow_nan=False, allow_infinity=False))
json_values = st.recursive(
    json_leaves, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
# What no Mistral would send: still must not raise into it.
garbage = (json_values | st.binary(max_size=8) | st.sets(st.integers(), max_size=3)
           | st.tuples(st.integers()) | st.datetimes() | st.builds(object)
           | st.lists(st.lists(st.integers(), max_size=2), max_size=2))
ids = st.uuids().map(str)
st2_ids = st.from_regex(r'[0-9a-f]{24}', fullmatch=True)
texts_or_none = st.none() | st.text(max_size=20)


def _st2_context():
    return st.fixed_dictionaries({}, optional={
        'api_url': st.sampled_from([DEAD_API_URL, 'https://elsewhere.example/v1']) | json_values,
        'auth_token': st.text(max_size=12) | json_values,
        'parent': json_values | st.fixed_dictionaries({'mistral': st.fixed_dictionaries(
            {'workflow_execution_id': ids | json_values})}),
    })


# The env a workflow author or st2 may put into an execution: st2's keys (valid,
# odd or missing) among anything else.
envs = st.one_of(
    json_values,
    st.dictionaries(st.text(max_size=8), json_values, max_size=3).flatmap(
        lambda extra: st.fixed_dictionaries({}, optional={
            'st2_execution_id': st2_ids | st.text(max_size=30) | json_values,
            'st2_action_api_url': st.sampled_from([DEAD_API_URL, 'ftp://x/y']) | json_values,
            '__actions': st.fixed_dictionaries({'st2.action': st.fixed_dictionaries(
                {'st2_context': _st2_context()})}) | json_values,
        }).map(lambda env: {**extra, **env})))

notify_kwargs = st.dictionaries(
    st.text(max_size=10).filter(lambda k: k not in PUBLISH_PARAMETERS),
    json_values, max_size=3) | st.fixed_dictionaries({}, optional={
        'st2_execution_id': st2_ids | json_values, 'api_url': st.just(DEAD_API_URL)})


def _task_rows(wf_id):
    return st.lists(st.fixed_dictionaries({
        'id': ids, 'name': st.text(min_size=1, max_size=8), 'workflow_execution_id': st.just(wf_id),
        'workflow_name': st.text(max_size=8), 'created_at': st.datetimes().map(str) | st.none(),
        'updated_at': st.datetimes() | st.none(), 'state': st.sampled_from(MISTRAL_STATES),
        'state_info': texts_or_none, 'published': json_values | json_values.map(json.dumps),
        'result': json_values | json_values.map(json.dumps) | st.text(max_size=10),
    }, optional={'input': json_values}), max_size=4)


# Always st2's context, parent included: where the pause cascade looks. The
# parent id may be any JSON value (lists included) since the env is the user's.
parent_ids = ids | st.lists(ids, min_size=1, max_size=2) | json_values
st2_envs = st.fixed_dictionaries({
    'st2_execution_id': st2_ids | json_values,
    '__actions': st.fixed_dictionaries({'st2.action': st.fixed_dictionaries({
        'st2_context': st.fixed_dictionaries({'parent': st.fixed_dictionaries({
            'mistral': st.fixed_dictionaries({'workflow_execution_id': parent_ids})})})})}),
}, optional={'st2_action_api_url': st.just(DEAD_API_URL)})


@st.composite
def workflows(draw, env=envs, states=None):
    """A root workflow execution as the fake DB holds it, with its snapshot."""
    wf_id = draw(ids)
    state = draw(st.sampled_from(MISTRAL_STATES) if states is None else states)
    info = mistral_db.WorkflowInfo(
        id=wf_id, name=draw(st.text(max_size=10)), state=state, state_info=draw(texts_or_none),
        root_execution_id=draw(st.none() | ids), parent_task_execution_id=draw(st.none() | ids),
        env=draw(env))
    snapshot = results.Snapshot(
        state=state, state_info=info.state_info,
        output=draw(json_values | json_values.map(json.dumps) | st.text(max_size=10)),
        tasks=draw(_task_rows(wf_id)))
    return info, snapshot


@st.composite
def mistral_events(draw, wf):
    """An event as Mistral 23 sends it (the measured data keys) about ``wf``."""
    event = draw(st.sampled_from(ALL_EVENTS))
    common = {'name': draw(st.text(max_size=8)), 'workflow_name': wf.name,
              'state': draw(st.sampled_from(MISTRAL_STATES) | texts_or_none),
              'state_info': draw(texts_or_none), 'project_id': '<default-project>',
              'created_at': '2026-01-01 00:00:00', 'updated_at': None, 'event': event}
    if event.startswith('WORKFLOW_'):
        ex_id = wf.id
        data = dict(common, id=wf.id, workflow_id=draw(ids), workflow_namespace='',
                    task_execution_id=wf.parent_task_execution_id,
                    root_execution_id=draw(st.sampled_from([wf.root_execution_id, None])))
    else:
        ex_id = draw(ids)
        data = dict(common, id=ex_id, workflow_execution_id=draw(st.sampled_from(
            [wf.id, None, 'gone'])), type=draw(st.sampled_from(['ACTION', 'WORKFLOW'])))
    return ex_id, data, event, draw(notify_kwargs)


# -- doubles and fixtures ------------------------------------------------------

class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append((record.levelno, record.getMessage()))


@pytest.fixture(scope='module')
def fake_db():
    db = FakeMistralDB()
    with pytest.MonkeyPatch.context() as patch:
        for name in ('workflow_info', 'load_snapshot', 'task_workflow_execution_id'):
            patch.setattr(mistral_db, name, getattr(db, name))
        yield db


@pytest.fixture(scope='module')
def dead_st2_conf(tmp_path_factory):
    """[st2] of the global CONF (the publisher's): a dead st2, a temporary spool."""
    overrides = {'state_dir': str(tmp_path_factory.mktemp('spool')), 'api_url': DEAD_API_URL,
                 'auth_url': 'http://127.0.0.1:9/auth/v1', 'connect_timeout': 0.5,
                 'retry_initial_delay': 600, 'retry_max_delay': 600}
    for name, value in overrides.items():
        cfg.CONF.set_override(name, value, group='st2')
    yield cfg.CONF
    for name in overrides:
        cfg.CONF.clear_override(name, group='st2')


@pytest.fixture(scope='module')
def records():
    handler = Records()
    logger = logging.getLogger('st2mistral')
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def _new_publisher(sender=None):
    publisher = notifier.St2Publisher(sender=sender)
    publisher._ensure_started()
    return publisher


def _close(publisher):
    if publisher._sender is not None and hasattr(publisher._sender, 'stop'):
        publisher._sender.stop(timeout=1)
    if publisher._spool is not None:
        publisher._spool.close()


@pytest.fixture(scope='module')
def recording_publisher(fake_db, dead_st2_conf):
    publisher = _new_publisher(RecordingSender())
    yield publisher
    _close(publisher)


@pytest.fixture(scope='module')
def real_publisher(fake_db, dead_st2_conf):
    """Production wiring: the publisher builds its own Sender on its own spool."""
    publisher = _new_publisher()
    yield publisher
    _close(publisher)


def _wait_processed(publisher, timeout=5.0):
    """Until every accepted event left the queue and the spool's events table."""
    wait_until(lambda: not (publisher._events.qsize() or publisher._spool.events()),
               timeout=timeout, interval=0.002, message='events stuck in the publisher')


def _failures(records):
    return [m for level, m in records.messages
            if any(text in m for text in PROCESSING_FAILED)]


# -- publish() ----------------------------------------------------------------

@SETTINGS
@given(ex_id=garbage, data=garbage | st.dictionaries(st.text(max_size=8), garbage, max_size=4),
       event=st.sampled_from(ALL_EVENTS) | garbage, timestamp=garbage,
       kwargs=st.dictionaries(st.text(max_size=8).filter(lambda k: k not in PUBLISH_PARAMETERS),
                              garbage, max_size=3))
def test_publish_never_raises_into_mistral_and_never_wedges(recording_publisher, fake_db,
                                                            ex_id, data, event, timestamp,
                                                            kwargs):
    publisher = recording_publisher
    started = time.monotonic()
    assert publisher.publish(object(), ex_id, data, event, timestamp, **kwargs) is None
    assert time.monotonic() - started < 0.5          # the engine is never held up
    _wait_processed(publisher)

    # The processor is still alive and working: a well-formed event goes through.
    info = mistral_db.WorkflowInfo(id='wf-probe', name='probe', state='RUNNING',
                                   state_info=None, root_execution_id=None,
                                   parent_task_execution_id=None,
                                   env={'st2_execution_id': 'probe', 'st2_action_api_url':
                                        DEAD_API_URL})
    fake_db.add(info, results.Snapshot(state='RUNNING'))
    before = len(publisher._sender.items)
    publisher.publish(None, 'wf-probe', {'id': 'wf-probe', 'state': 'RUNNING',
                                         'root_execution_id': None},
                      'WORKFLOW_LAUNCHED', '2026-01-01T00:00:00')
    _wait_processed(publisher)
    assert [i.target.execution_id for i in publisher._sender.items[before:]] == ['probe']
    assert publisher._thread.is_alive()


@SETTINGS
@given(data=st.data())
def test_mistral_shaped_events_are_processed_without_error(recording_publisher, fake_db,
                                                          records, data):
    """Events with Mistral's measured data keys and any env: every one is
    processed (updates or a documented 'not published' line), none fails."""
    info, snapshot = data.draw(workflows())
    fake_db.add(info, snapshot)
    events = data.draw(st.lists(mistral_events(info), min_size=1, max_size=4))
    records.messages.clear()
    sender = recording_publisher._sender
    before = len(sender.items)
    for ex_id, event_data, event, kwargs in events:
        recording_publisher.publish(None, ex_id, event_data, event, '2026-01-01T00:00:00',
                                    **kwargs)
    _wait_processed(recording_publisher)
    assert _failures(records) == []
    for item in sender.items[before:]:
        # canceling: a cancelled workflow whose task still runs (results.held_status)
        assert item.status in set(results.WORKFLOW_STATUS.values()) | {'canceling'}
        assert item.target.api_url == DEAD_API_URL      # no other destination is reached
        assert item.result is None or isinstance(item.result, dict)


@SETTINGS
@given(data=st.data())
def test_processing_functions_raise_nothing_for_mistral_shaped_events(fake_db, dead_st2_conf,
                                                                     data):
    info, snapshot = data.draw(workflows() | workflows(
        env=st2_envs, states=st.sampled_from(['PAUSED', 'CANCELLED', 'RUNNING'])))
    paused_parent = data.draw(st.booleans())
    if paused_parent:   # make the pause cascade walk to an st2 parent workflow
        parent_id = targets.parent_workflow_execution_id(info.env)
        if isinstance(parent_id, str):
            parent, parent_snapshot = data.draw(workflows())
            fake_db.add(mistral_db.WorkflowInfo(
                id=parent_id, name=parent.name, state='PAUSED', state_info=None,
                root_execution_id=None, parent_task_execution_id=None, env=parent.env),
                parent_snapshot)
    fake_db.add(info, snapshot)
    sender = RecordingSender()
    for ex_id, event_data, event, kwargs in data.draw(
            st.lists(mistral_events(info), min_size=1, max_size=3)):
        if event not in notifier.WORKFLOW_EVENTS | notifier.TASK_EVENTS:
            continue                                   # publish() drops them unseen
        notifier.process(notifier.Event(ex_id, event_data, event, kwargs), sender)
    for item in sender.items:
        assert item.status in set(results.WORKFLOW_STATUS.values()) | {'canceling'}


@pytest.mark.parametrize('parent_id', [['wf-1'], {'id': 'wf-1'}, 7, True])
def test_pause_cascade_ignores_a_parent_id_that_is_not_a_string(fake_db, dead_st2_conf,
                                                                parent_id):
    """Found by the property above: a JSON list as parent id made the task
    event of a paused workflow fail (unhashable) instead of publishing."""
    env = {'st2_execution_id': 'abc', 'st2_action_api_url': DEAD_API_URL, '__actions': {
        'st2.action': {'st2_context': {'parent': {'mistral': {
            'workflow_execution_id': parent_id}}}}}}
    info = mistral_db.WorkflowInfo(id='wf-paused', name='p', state='PAUSED', state_info=None,
                                   root_execution_id=None, parent_task_execution_id=None,
                                   env=env)
    fake_db.add(info, results.Snapshot(state='PAUSED'))
    sender = RecordingSender()
    notifier.process(notifier.Event('task-1', {'workflow_execution_id': 'wf-paused'},
                                    'TASK_SUCCEEDED', {}), sender)
    assert [(i.target.execution_id, i.status) for i in sender.items] == [('abc', 'paused')]


@SETTINGS
@given(data=st.data())
def test_real_sender_on_a_dead_st2_keeps_every_update_and_never_raises(real_publisher, fake_db,
                                                                      records, data):
    info, snapshot = data.draw(workflows())
    st2_id = uuid.uuid4().hex[:24]          # the Sender remembers ids across examples
    # A sendable target (a token st2 could have issued): the point here is the
    # Sender's bookkeeping, unsendable requests are covered below.
    extra = {k: v for k, v in (info.env if isinstance(info.env, dict) else {}).items()
             if k != '__actions'}
    # A fresh execution id as well: the publisher caches what it read per execution.
    info = mistral_db.WorkflowInfo(**{**info.__dict__, 'id': str(uuid.uuid4()),
                                      'root_execution_id': None, 'env': {
        **extra, 'st2_execution_id': st2_id, 'st2_action_api_url': DEAD_API_URL}})
    fake_db.add(info, snapshot)
    records.messages.clear()
    states = data.draw(st.lists(st.sampled_from(MISTRAL_STATES), min_size=1, max_size=4))
    for state in states:
        real_publisher.publish(None, info.id, {'id': info.id, 'state': state,
                                               'root_execution_id': None},
                               'WORKFLOW_LAUNCHED', '2026-01-01T00:00:00')
    _wait_processed(real_publisher)
    assert _failures(records) == []
    spooled = [u for _, u in real_publisher._spool.load()
               if u['target']['execution_id'] == st2_id]
    # ordering.py's rule: the newest update replaces a waiting one, except that
    # nothing but another completed status replaces a completed one.
    # A non-final event whose state the workflow (fake DB) is not in is stale: skipped.
    current = [st for st in states if st in results.COMPLETED_STATES or st == info.state]
    newest = None
    # results.held_status: a cancelled workflow with a running task shows canceling.
    for status in filter(None, (results.held_status(state, snapshot.tasks) for state in current)):
        if newest not in contract.ST2_COMPLETED or status in contract.ST2_COMPLETED:
            newest = status
    assert [u['status'] for u in spooled] == ([newest] if newest else [])


# -- the pure functions ----------------------------------------------------------

snapshots = st.builds(
    results.Snapshot, state=st.sampled_from(MISTRAL_STATES) | st.text(max_size=8),
    state_info=texts_or_none,
    output=json_values | json_values.map(json.dumps) | st.text(max_size=10),
    tasks=_task_rows('wf'))


@SETTINGS
@given(snapshot=snapshots)
def test_build_update_raises_only_value_error_for_states_st2_lacks(snapshot):
    if snapshot.state not in results.WORKFLOW_STATUS:
        with pytest.raises(ValueError):
            results.build_update(snapshot)
        return
    update = results.build_update(snapshot)
    assert update.status == results.WORKFLOW_STATUS[snapshot.state]
    if snapshot.state in results.STATES_WITH_RESULT:
        assert update.result['extra'] == {'state': snapshot.state,
                                          'state_info': snapshot.state_info}
        assert [t['name'] for t in update.result['tasks']] == [t['name'] for t in
                                                                snapshot.tasks]
        json.dumps(update.result, allow_nan=False)       # plain JSON for st2
    else:
        assert update.result is None


results_to_fit = snapshots.filter(lambda s: s.state in results.STATES_WITH_RESULT).map(
    lambda s: results.build_update(s).result)


def _size(value):
    return len(json.dumps(value, separators=(',', ':')))


@SETTINGS
@given(result=results_to_fit, max_bytes=st.integers(1024, 4096))
def test_fit_never_raises_and_marks_what_it_cuts(result, max_bytes):
    fitted = results.fit(result, max_bytes)
    if _size(result) <= max_bytes:
        assert fitted is result
    else:
        assert fitted[results.TRUNCATED_KEY]['max_bytes'] == max_bytes
        assert fitted['extra'] == result['extra']


@SETTINGS
@given(result=results_to_fit, max_bytes=st.integers(1024, 4096),
       many_keys=st.integers(0, 600))
def test_fit_never_makes_a_result_bigger(result, max_bytes, many_keys):
    result.update({'host%04d' % i: 'ok' for i in range(many_keys)})
    fitted = results.fit(result, max_bytes)
    assert _size(fitted) <= max(_size(result), max_bytes)


@SETTINGS
@given(value=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_updates_are_strict_json_even_for_non_finite_floats(value):
    update = results.build_update(results.Snapshot(state='SUCCESS', output={'x': value}))
    sent = json.loads(json.dumps(update.result, allow_nan=False))   # raises on NaN/Infinity
    assert sent['x'] == ('NaN' if math.isnan(value) else
                         'Infinity' if value > 0 else '-Infinity')


@SETTINGS
@given(kwargs=notify_kwargs, env=envs | garbage)
def test_resolve_returns_a_usable_target_none_or_invalid_st2_context(kwargs, env):
    try:
        target = targets.resolve(kwargs, env, DEAD_API_URL)
    except targets.InvalidSt2Context:
        return
    if target is not None:
        assert isinstance(target.execution_id, str) and '/' not in target.execution_id
        assert target.api_url.startswith(('http://', 'https://'))
        assert target.token is None or isinstance(target.token, str)


# -- the Sender ------------------------------------------------------------------

failures = st.sampled_from([
    st2api.St2Error('refused', retryable=True),
    st2api.St2Error('st2 answered 500', status_code=500, retryable=True),
    st2api.St2Error('st2 answered 400', status_code=400),
    st2api.St2Error('Execution is already in completed state.', status_code=400),
    st2api.St2Error('st2 answered 404', status_code=404),
    requests.exceptions.InvalidJSONError('Out of range float values are not JSON compliant'),
    requests.exceptions.InvalidHeader('Invalid return character in header value'),
    ValueError('boom'), KeyError('status'), TypeError('nope'), RuntimeError('bug'),
])


class FlakyClient:
    """Fails each execution's first request with the planned exception."""

    def __init__(self, plan):
        self.plan = dict(plan)
        self.lock = threading.Lock()

    def default_credentials(self, token=None):
        return st2api.Credentials(token=token)

    def update_execution(self, api_url, execution_id, status, result, credentials):
        with self.lock:
            failure = self.plan.pop(execution_id, None)
        if failure is not None:
            raise failure
        return {'status': status}


@SETTINGS
@given(plan=st.dictionaries(st2_ids, failures, min_size=1, max_size=6))
def test_no_client_failure_kills_a_sender_thread(conf, plan):
    conf.set_override('unknown_execution_grace', 0, group='st2')
    sender = delivery.Sender(client=FlakyClient(plan), conf=conf, workers=2).start()
    try:
        for execution_id in plan:
            sender.submit(delivery.Outgoing(
                target=targets.Target(execution_id=execution_id, api_url=DEAD_API_URL,
                                      token='t'),
                status='succeeded', result={'r': 1}, root_id='root', event='WORKFLOW_SUCCEEDED',
                ex_id='root'))
        assert sender.flush(5), 'an update is stuck in flight'
        assert all(thread.is_alive() for thread in sender._threads)
        # ...and they still deliver.
        probe = delivery.Outgoing(
            target=targets.Target(execution_id='probe', api_url=DEAD_API_URL, token='t'),
            status='running', result=None, root_id='root', event='WORKFLOW_LAUNCHED',
            ex_id='root')
        assert sender.submit(probe) and sender.flush(5)
        assert sender._delivered[probe.key] == 'running'
    finally:
        sender.stop(timeout=1)
