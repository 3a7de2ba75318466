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

"""The ``st2`` notification publisher for Mistral 23.

Enable it in mistral.conf (``[notifier] notify = [{"type": "st2"}]``) or per
execution (``notify=[{"type": "st2"}]``). It turns workflow events of ROOT
workflow executions into st2 execution updates.

``publish()`` only hands the event to a background thread and returns: with
``[notifier] type = local`` Mistral's engine waits for publishers, so a slow
st2 must cost the engine nothing. The thread reads Mistral's DB, builds the
update (results.build_update) and queues it for delivery.sender.

Operators trace an execution with
``grep stackstorm_notifier mistral-server.log | grep <root execution id>``;
delivery/trace.py writes those lines, each starting with ``[<root execution id>]``,
under this module's logger name.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time

from mistral.notifiers import base
from mistral.notifiers import notification_events as events
from mistral.workflow import states
from oslo_config import cfg
from oslo_log import log as logging

from st2mistral.core import bounded
from st2mistral.core import opts
from st2mistral.core import results
from st2mistral.core import retry
from st2mistral.core import singleton
from st2mistral.core import st2api
from st2mistral.mistral_side import params_log
from st2mistral.mistral_side import targets
from st2mistral.mistral_side.delivery import outgoing
from st2mistral.mistral_side.delivery import sender as delivery
from st2mistral.mistral_side.delivery import spool as spool_mod
from st2mistral.mistral_side.delivery import trace
from st2mistral.mistral_side.notifiers import config_check
from st2mistral.mistral_side.notifiers import mistral_db

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

WORKFLOW_EVENTS = frozenset(events.WORKFLOWS)
# A task reaching one of these may be what paused or cancelled its workflow.
TASK_EVENTS = frozenset({events.TASK_SUCCEEDED, events.TASK_FAILED, events.TASK_CANCELLED,
                         events.TASK_PAUSED})


@dataclasses.dataclass(frozen=True)
class Event:
    ex_id: str
    data: dict
    event: str
    notify_kwargs: dict


class St2Publisher(base.NotificationPublisher):
    """One per process: Mistral loads it through ``process_publisher``."""

    def __init__(self, sender=None, sleep=time.sleep):
        self._events = queue.SimpleQueue()      # (spool event id or None, Event)
        self._sender = sender
        self._spool = None
        self._started = False                   # spool, sender and thread are up
        self._thread = None
        self._start_lock = threading.Lock()
        self._db_context = mistral_db.admin_context()
        self._full = False                      # log "full" once per episode
        self._sleep = sleep                     # tests wait for nothing
        self._cache = WorkflowCache()           # used by the processing thread only
        self._last_call = threading.local()     # see _is_repeat
        self._blocked = False                   # a config mistake: keep, send nothing
        self._config_failures = set()           # texts logged by _keep_for_config

    def check_config(self):
        """Check mistral.conf's [st2] group now (config_check); one ERROR line when it
        has mistakes. A blocking one keeps every event spooled and sends nothing."""
        found = config_check.problems(CONF)
        config_check.report(found, LOG)
        self._blocked = any(p.blocking for p in found)
        return found

    def publish(self, ctx, ex_id, data, event, timestamp, **kwargs):
        # Never raise into Mistral: it would log and forget the event anyway.
        try:
            if event not in WORKFLOW_EVENTS and event not in TASK_EVENTS:
                return
            if self._is_repeat(ex_id, data, event, kwargs):
                return
            self._ensure_started()
            item = Event(ex_id, dict(data or {}), event, dict(kwargs))
            event_id = self._accept(item)
            if not self._blocked:       # blocked: spooled for the process after the fix
                self._events.put((event_id, item))
        except spool_mod.SpoolFull as e:
            self._report_full(item, e)
        except Exception:
            LOG.exception('The event %s for %s could not be queued for st2.', event, ex_id)

    def _is_repeat(self, ex_id, data, event, kwargs):
        """Whether Mistral hands us the same event again for a second st2 entry.

        With both a global ``[notifier] notify`` entry and a per-execution one
        (st2's runner sends one), Mistral calls publish() once per entry, in
        a row, with the very same ``data`` object. The first call counts.
        """
        key = (ex_id, event, repr(sorted(kwargs.items())))
        last = getattr(self._last_call, 'value', None)
        self._last_call.value = (data, key)
        return last is not None and last[0] is data and last[1] == key

    def _accept(self, item):
        """Make the event durable (spool) or count it (memory); its spool id."""
        if self._spool is not None:
            # vars(), not asdict(): no deep copy of the event in the engine's thread.
            event_id = self._add_making_room(vars(item))
        else:
            limit = CONF[opts.GROUP].spool_max_count
            if self._events.qsize() >= limit:
                raise spool_mod.SpoolFull('%d events are waiting in memory ([st2] '
                                          'spool_max_count)' % limit)
            event_id = None
        if self._full:
            self._full = False
            LOG.warning('The st2 delivery queue accepts events again.')
        return event_id

    def _add_making_room(self, fields):
        """Spool the event; when the spool is full, give up updates st2 does not know
        (Sender.make_room) rather than refuse it."""
        while True:
            try:
                return self._spool.add_event(fields)
            except spool_mod.SpoolFull:
                if self._sender is None or not self._sender.make_room():
                    raise

    def _report_full(self, item, error):
        if not self._full:
            self._full = True
            LOG.error('The event %s for %s is dropped: %s. st2 is probably unreachable; '
                      'for executions st2 still shows running once it is back, %s Further '
                      'drops are not logged until the queue has room again.', item.event,
                      item.ex_id, error, trace.reconcile_hint('<st2 execution id>'))

    # -- background processing --------------------------------------------

    def start_adopting(self):
        """At process start (mistral_side/startup.py): start on a spool slot a stopped
        process left entries in, replaying it; False (nothing started) when there is
        none or the publisher runs already."""
        return self._ensure_started(adopt_only=True)

    def _ensure_started(self, adopt_only=False):
        if self._started:
            return False
        with self._start_lock:
            if self._started:
                return False
            spool = open_spool(adopt_only=True) if adopt_only else open_spool()
            if spool is NOTHING_TO_ADOPT:
                return False
            try:
                self._spool = spool
                if self._blocked:
                    # Events are accepted into the spool; nothing is processed or sent
                    # until the configuration is fixed and Mistral restarted.
                    return
                if self._sender is None:
                    self._sender = delivery.Sender(store=self._spool)
                self._sender.start()
                self._replay_events()
            finally:
                # Even after a failure: later events must not open another slot.
                if not self._blocked:
                    self._thread = threading.Thread(target=self._process_forever,
                                                    name='st2-notifier', daemon=True)
                    self._thread.start()
                self._started = True
            return True

    def _replay_events(self):
        if self._spool is None:
            return
        for event_id, fields in self._spool.events():
            try:
                self._events.put((event_id, Event(**fields)))
            except TypeError:
                LOG.error('Spooled event %s of %s is unreadable and is dropped.',
                          event_id, self._spool.path)
                self._spool.remove_event(event_id)

    def _process_forever(self):
        mistral_db.use_context(self._db_context)
        db_waits = retry.MISTRAL_DB.attempts(sleep=self._sleep)
        while True:
            event_id, item = self._events.get()
            let_others_run()    # this event's spool writes must not follow the last one's
            try:
                process(item, self._sender, self._cache)
                db_waits.reset()
            except mistral_db.TRANSIENT_ERRORS as e:
                # Mistral's DB is away: keep the event and try it again later
                # (after the events queued meanwhile).
                delay = db_waits.failed()
                LOG.warning('The event %s for %s will be processed for st2 again in %.1f s: '
                            "Mistral's database is not available (%s).", item.event,
                            item.ex_id, delay, type(e).__name__)
                db_waits.wait(delay)
                self._events.put((event_id, item))
                continue
            except spool_mod.SpoolFull as e:
                self._report_full(item, e)
            except cfg.Error as e:
                # mistral.conf is wrong: keep the event for the process that runs
                # after the fix (the spool replays it), not lose it.
                self._keep_for_config(item, e)
                continue
            except Exception as e:
                LOG.error('The event %s for %s could not be processed for st2: %s: %s',
                          item.event, item.ex_id, type(e).__name__, e)
            if event_id is not None:
                let_others_run()    # nor follow the update's (Sender.submit -> Spool.put)
                self._spool.remove_event(event_id)


    def _keep_for_config(self, item, error):
        text = '%s: %s' % (type(error).__name__, str(error).split('\n')[0])
        if text not in self._config_failures:
            self._config_failures.add(text)
            kept = ('it stays in the spool and is sent once [st2] is fixed and Mistral '
                    'restarted' if self._spool is not None else
                    'it is lost, as [st2] state_dir gives no spool')
            LOG.error('The event %s for %s cannot be processed for st2 as mistral.conf is '
                      'configured (%s): %s. Further events failing the same way are not '
                      'logged.', item.event, item.ex_id, text, kept)


def let_others_run():
    """Let Mistral's other threads run before the next spool write.

    Under eventlet (Mistral <= 20) this thread is a greenthread of the engine's
    one OS thread, and sqlite3 never yields: without a switch the processing
    thread's spool writes would hold the engine's hub back to back (measured:
    up to 3 in a row, benchmarks figure 5). time.sleep(0) yields to the hub
    (eventlet patches it); with real threads it only offers the GIL.
    """
    time.sleep(0)


@singleton.process_wide
def process_publisher():
    """The ``st2`` entry point: this process's one St2Publisher, its configuration
    checked (St2Publisher.check_config).

    Mistral caches a publisher per process, but without a lock: threads that
    race on the first event each load the entry point. Separate publishers
    would each take a spool slot and order the updates of one execution apart.
    """
    params_log.warn_once()
    publisher = St2Publisher()
    publisher.check_config()
    return publisher


NOTHING_TO_ADOPT = object()


def open_spool(adopt_only=False):
    """The durable spool of this process, or None (memory only) with the reason logged.

    ``adopt_only``: only a slot a stopped process left entries in, else NOTHING_TO_ADOPT.
    """
    group = CONF[opts.GROUP]
    if not group.state_dir:
        if adopt_only:
            return NOTHING_TO_ADOPT
        LOG.warning('[st2] state_dir is empty: st2 updates are kept in memory only and '
                    'are lost if this Mistral process dies before st2 takes them.')
        return None
    try:
        spool = spool_mod.Spool(group.state_dir, group.spool_max_count,
                                group.spool_max_bytes).open(adopt_only=adopt_only)
    except spool_mod.NothingToAdopt:
        return NOTHING_TO_ADOPT
    except (OSError, spool_mod.sqlite3.Error) as e:
        if adopt_only:
            return NOTHING_TO_ADOPT     # the first event reports it
        LOG.error('Cannot open the st2 delivery spool in %s (%s): st2 updates are kept '
                  'in memory only. Create the directory, writable by the Mistral user, '
                  'or set [st2] state_dir.', group.state_dir, e)
        return None
    count, size = spool.usage()
    if adopt_only:
        LOG.info('Adopting at start the st2 delivery spool %s that a stopped process left.',
                 spool.path)
    LOG.info('st2 delivery spool %s: %d entries (%d bytes) to replay.', spool.path, count, size)
    return spool


class WorkflowCache:
    """Workflow executions as last read from Mistral's DB, to save reads.

    Every workflow event of an execution drops its entry (its state changed),
    so an entry says what the DB said after the execution's latest event. A
    task event of a workflow known to be RUNNING (or ended: SETTLED_FOR_TASKS)
    then needs no read: only a paused or cancelled workflow makes a task event
    do anything. With
    ``[notifier] type = remote`` events may arrive out of order; a task event
    overtaking its workflow's PAUSED event then skips one re-send of paused,
    which the PAUSED event itself makes.
    """

    def __init__(self, size=10000):
        self._entries = bounded.BoundedDict(size)

    def get(self, wf_ex_id):
        return self._entries.get(wf_ex_id)

    def put(self, wf):
        self._entries.put(wf.id, wf)

    def pop(self, wf_ex_id):
        return self._entries.pop(wf_ex_id, None)


def process(item, sender, cache=None):
    cache = cache if cache is not None else WorkflowCache(size=0)
    if item.event in WORKFLOW_EVENTS:
        on_workflow_event(item, sender, cache)
    else:
        on_task_event(item, sender, cache)


def on_workflow_event(item, sender, cache):
    known = cache.pop(item.ex_id)
    root_id = item.data.get('root_execution_id') or item.ex_id
    if root_id != item.ex_id:
        trace.subworkflow_not_published(root_id, item.event, item.ex_id)
        return
    final = item.data.get('state') in results.COMPLETED_STATES
    # A final event needs only the env (unchanged since the last read); a
    # non-final one needs the current state too.
    wf = known if final and known is not None else mistral_db.workflow_info(item.ex_id)
    if wf is None:
        trace.workflow_gone(root_id, item.event, item.ex_id)
        return
    if not final:
        cache.put(wf)
    state = item.data.get('state') or wf.state
    if state not in results.COMPLETED_STATES and state != wf.state:
        # Events can be processed late or, with [notifier] type = remote, out
        # of order: a non-final state the workflow has left is stale, and
        # sending it could move st2 backwards. The newer state's event counts.
        trace.stale_event(root_id, item.event, item.ex_id, wf.state)
        return
    publish_workflow(wf, item.event, state, item.data.get('state_info'), item.notify_kwargs,
                     sender)


def publish_workflow(wf, event, state, state_info, notify_kwargs, sender, root_id=None):
    """Queue the st2 update for a workflow in ``state``; True if queued."""
    root_id = root_id or wf.root_id
    if wf.root_execution_id:
        trace.subworkflow_not_published(root_id, event, wf.id)
        return False
    try:
        target = targets.resolve(notify_kwargs, wf.env, CONF[opts.GROUP].api_url)
        if target is not None:
            st2api.check_destination(target.api_url)
    except (targets.InvalidSt2Context, st2api.DestinationNotAllowed) as e:
        trace.invalid_target(root_id, event, wf.id, e)
        return False
    if target is None:
        trace.no_st2_context(root_id, event, wf.id)
        return False
    status = results.st2_status(state)
    if status is None:
        trace.no_st2_status(root_id, event, wf.id, state)
        return False

    result = None
    if state in results.STATES_WITH_RESULT:
        snapshot = mistral_db.load_snapshot(wf.id)
        if snapshot is not None:
            snapshot.state, snapshot.state_info = state, state_info
            if results.held_status(state, snapshot.tasks) != status:
                # Cancelled in Mistral, a task (an st2 child) still running: st2 shows
                # canceling; the task's completion event publishes canceled.
                status = results.held_status(state, snapshot.tasks)
                LOG.info('[%s] %s is cancelled but a task still runs: st2 execution %s is '
                         'kept %s until it ends.', root_id, wf.id, target.execution_id,
                         status)
            result = results.result_for_st2(snapshot, CONF[opts.GROUP].max_result_size)
            if result and results.ERROR_KEY in result:
                trace.result_without_output(root_id, wf.id, target.execution_id,
                                            result[results.ERROR_KEY])
            if result and results.TRUNCATED_KEY in result:
                trace.result_truncated(root_id, wf.id, target.execution_id,
                                       result[results.TRUNCATED_KEY]['original_bytes'],
                                       result[results.TRUNCATED_KEY]['max_bytes'])

    trace.will_be_published(root_id, event, wf.id)
    return sender.submit(outgoing.Outgoing(
        target=target, status=status, result=result, root_id=root_id, event=event,
        ex_id=wf.id))


# A workflow known in one of these states needs no read for a task event: only a
# paused or cancelled workflow makes a task event do anything, and SUCCESS and
# ERROR are left only by a rerun, whose workflow event drops the cache entry.
SETTLED_FOR_TASKS = frozenset({states.RUNNING, states.SUCCESS, states.ERROR})


def on_task_event(item, sender, cache):
    wf_ex_id = item.data.get('workflow_execution_id')
    wf = cache.get(wf_ex_id) if isinstance(wf_ex_id, str) else None
    if wf is None or wf.state not in SETTLED_FOR_TASKS:
        wf = mistral_db.workflow_info(wf_ex_id) if wf_ex_id else None
        if wf is None:
            trace.task_workflow_missing(item.event, item.ex_id, wf_ex_id)
            return
        cache.put(wf)
    root_id = wf.root_id
    trace.task_will_be_processed(root_id, item.event, item.ex_id)

    if wf.state == states.CANCELLED:
        _trigger(root_id, item, events.WORKFLOW_CANCELLED, wf, sender)
    elif wf.state == states.PAUSED:
        _trigger(root_id, item, events.WORKFLOW_PAUSED, wf, sender)
        _cascade_pause(root_id, item, wf, sender)

    trace.task_processed(root_id, item.event, item.ex_id)


def _trigger(root_id, item, wf_event, wf, sender):
    trace.task_triggers(root_id, item.event, item.ex_id, wf_event, wf.id)
    publish_workflow(wf, wf_event, wf.state, wf.state_info, item.notify_kwargs, sender,
                     root_id=wf.root_id)


def _cascade_pause(root_id, item, wf, sender):
    """Publish PAUSED for paused ancestors: workbook parents, then st2 parents."""
    current = wf
    while current.parent_task_execution_id:
        parent_id = mistral_db.task_workflow_execution_id(current.parent_task_execution_id)
        parent = mistral_db.workflow_info(parent_id) if parent_id else None
        if parent is None or parent.state != states.PAUSED:
            break
        _trigger(root_id, item, events.WORKFLOW_PAUSED, parent, sender)
        current = parent

    # ``current`` is now the root of this Mistral execution; follow the st2
    # context to Mistral workflows that started it through an st2 action.
    seen = {current.id}
    parent_id = targets.parent_workflow_execution_id(current.env)
    # The env is the workflow author's JSON: an id may be any JSON value.
    while isinstance(parent_id, str) and parent_id not in seen:
        seen.add(parent_id)
        parent = mistral_db.workflow_info(parent_id)
        if parent is None or parent.state != states.PAUSED:
            break
        _trigger(root_id, item, events.WORKFLOW_PAUSED, parent, sender)
        parent_id = targets.parent_workflow_execution_id(parent.env)
