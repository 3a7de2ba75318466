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

"""Background delivery of st2 updates: never blocks Mistral, keeps order.

``submit()`` only queues (microseconds): worker threads do the HTTP. Per st2
execution at most one request is in flight, a newer update supersedes one
still waiting (see ordering.py) and a failed try is retried by the retry
policy (retry.py) until st2 takes it, says the execution is already completed, or the update
expires.

Credentials: the workflow's own st2 token. The site's ``[st2] api_key`` is
used only when there is no token or st2 refuses it (HTTP 401), and only for an
st2 execution whose record names this workflow (:mod:`st2mistral.mistral_side.binding`);
otherwise nothing is sent and one ERROR line says why.
"""

import collections
import dataclasses
import heapq
import itertools
import threading
import time

from oslo_config import cfg
from oslo_log import log as logging

from st2mistral.core import contract
from st2mistral.core import opts
from st2mistral.core import results
from st2mistral.core import retry
from st2mistral.core import st2api
from st2mistral.core import st2update
from st2mistral.mistral_side import binding
from st2mistral.mistral_side import targets
from st2mistral.mistral_side.delivery import ordering
from st2mistral.mistral_side.delivery import spool as spool_mod

CONF = cfg.CONF

# The operator trace (docs/contracts.rst, section 9.1) comes from the notifier's logger.
TRACE = logging.getLogger('st2mistral.mistral_side.notifiers.stackstorm_notifier')

# _update's answer when the relay, not this publisher, completes the execution.
_HELD_BY_RELAY = object()
# Unique across restarts too, so a replayed spool row never clashes with a new one.
_seq = itertools.count(time.time_ns())


def reconcile_hint(execution_id):
    """What the operator runs on an st2 host to reconcile one execution."""
    return ('run "st2-track-result %s --config-dir /etc/st2" on an st2 host to reconcile '
            'it (on st2 3.4+ the st2mistral relay service acts on it; it also reconciles '
            'every active mistral-v2 execution every [mistral] reconcile_interval '
            'seconds).' % execution_id)


@dataclasses.dataclass
class Outgoing:
    """One st2 update waiting for delivery, with what the trace needs."""

    target: object            # targets.Target
    status: str
    result: dict | None
    root_id: str               # root Mistral workflow execution id (trace prefix)
    event: str                 # the Mistral event that produced it
    ex_id: str                 # the Mistral execution the event was about
    accepted_at: float = dataclasses.field(default_factory=time.time)
    seq: int = dataclasses.field(default_factory=lambda: next(_seq))
    attempts: int = 0
    first_404_at: float | None = None
    due: float | None = None            # when a retry is scheduled

    @property
    def key(self):
        return (self.target.api_url, self.target.execution_id)

    def to_dict(self):
        # Shallow on purpose: asdict() would deep-copy the result just to dump it.
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != 'due'}
        data['target'] = dataclasses.asdict(self.target)
        return data

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        data['target'] = targets.Target(**data['target'])
        return cls(**data)


class Sender:
    """Delivers Outgoing updates with a small pool of worker threads."""

    def __init__(self, client=None, conf=CONF, workers=None, clock=time.time, store=None,
                 verifier=None):
        self._client = client or st2api.get_client()
        self._conf = conf
        self._verifier = verifier or binding.Verifier(self._client, conf)
        self._clock = clock
        self._store = store
        self._lock = threading.Condition()
        self._waiting = {}                       # key -> Outgoing not yet sent
        self._in_flight = {}                     # key -> Outgoing being sent now
        self._ready = collections.deque()        # keys due now
        self._later = []                         # heap of (due, seq, key) retries
        self._delivered = collections.OrderedDict()  # key -> last status st2 accepted
        # Executions whose pause st2's API refused (st2 3.3+): the relay holds them.
        self._pause_refused = collections.OrderedDict()
        self._stopping = False
        self._threads = []
        self._workers = workers or self._group.delivery_workers
        if store is not None:
            with self._lock:
                for key, data in store.load():
                    try:
                        item = Outgoing.from_dict(data)
                    except (TypeError, KeyError):
                        TRACE.error('A spooled st2 update is unreadable and is dropped: '
                                    'st2 execution %s.', (data.get('target') or {}).get(
                                        'execution_id', 'unknown'))
                        store.discard(key)
                        continue
                    self._enqueue_locked(item)

    @property
    def _group(self):
        return self._conf[opts.GROUP]

    # -- public ------------------------------------------------------------

    def start(self):
        with self._lock:
            if self._threads:
                return self
            for i in range(self._workers):
                thread = threading.Thread(target=self._run, name='st2-sender-%d' % i,
                                          daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def submit(self, item):
        """Queue ``item``; returns False when it was dropped as a regression."""
        with self._lock:
            waiting = self._waiting.get(item.key)
            queued = waiting or self._in_flight.get(item.key)
            decision = ordering.decide(self._delivered.get(item.key),
                                       queued.status if queued else None, item.status)
            if decision is ordering.Decision.DROP_REGRESSION:
                TRACE.info('[%s] The workflow event %s for %s is not published to st2: '
                           'st2 execution %s is already %s, and st2 keeps completed '
                           'executions as they are.', item.root_id, item.event, item.ex_id,
                           item.target.execution_id,
                           self._delivered.get(item.key) or queued.status)
                return False
            if self._store is None and waiting is None and (
                    len(self._waiting) + len(self._in_flight) >= self._group.spool_max_count):
                raise spool_mod.SpoolFull('%d st2 updates are waiting in memory ([st2] '
                                          'spool_max_count)' % self._group.spool_max_count)
            if decision is ordering.Decision.SUPERSEDE and waiting is not None:
                TRACE.info('[%s] The workflow event %s for %s is superseded by %s and will '
                           'not be published separately.', waiting.root_id, waiting.event,
                           waiting.ex_id, item.event)
            if self._store is not None:
                self._store.put(item)
            self._enqueue_locked(item)
            return True

    def flush(self, timeout=10.0):
        """Wait until nothing is waiting or in flight; True when drained."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._waiting or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.05))
        return True

    def stop(self, timeout=5.0):
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    # -- internals ---------------------------------------------------------

    def _enqueue_locked(self, item):
        key = item.key
        replaced = self._waiting.get(key)
        self._waiting[key] = item
        if replaced is not None and replaced.due is not None:
            # st2 is failing for this execution: the newer update keeps the backoff.
            item.due, item.attempts = replaced.due, replaced.attempts
            heapq.heappush(self._later, (item.due, item.seq, key))
        elif replaced is None and key not in self._in_flight:
            self._ready.append(key)
        self._lock.notify()

    def _next_key_locked(self):
        now = self._clock()
        while self._later and self._later[0][0] <= now:
            _, seq, key = heapq.heappop(self._later)
            item = self._waiting.get(key)
            if item is not None and item.seq == seq and key not in self._in_flight:
                self._ready.append(key)
        while self._ready:
            key = self._ready.popleft()
            if key in self._waiting and key not in self._in_flight:
                return key
        return None

    def _run(self):
        while True:
            with self._lock:
                key = None
                while not self._stopping:
                    key = self._next_key_locked()
                    if key is not None:
                        break
                    wait = self._later[0][0] - self._clock() if self._later else 1.0
                    self._lock.wait(max(0.001, min(wait, 1.0)))
                if self._stopping:
                    return
                item = self._waiting.pop(key)
                item.due = None
                self._in_flight[key] = item
            outcome, st2_status = self._deliver(item)
            with self._lock:
                del self._in_flight[key]
                self._finish_locked(item, outcome, st2_status)
                self._lock.notify_all()

    def _deliver(self, item):
        """Send once (twice for a pause or cancel, see below).

        Returns ('done', st2 status) or (failure outcome, None).
        """
        item.attempts += 1
        failure = None
        try:
            status = self._update(item)
            if status is _HELD_BY_RELAY:
                return 'relay', None
        except Exception as e:
            failure = e
        # Logged outside the except block: oslo.log appends the exception being
        # handled to ERROR lines, and some texts quote a header value (the token).
        if isinstance(failure, binding.NotBound):
            return self._classify_not_bound(item, failure), None
        if isinstance(failure, st2api.St2Error):
            return self._classify_failure(item, failure), None
        if failure is not None:
            # Not an st2 answer: the request could not even be built (a result
            # holding NaN, a token with a line break...). Trying again would
            # fail the same way; letting it escape would kill this worker and
            # leave the execution in flight for ever.
            TRACE.error('[%s] The workflow event %s for %s could not be published to st2 '
                        'execution %s: the request could not be made (%s). %s',
                        item.root_id, item.event, item.ex_id, item.target.execution_id,
                        type(failure).__name__, reconcile_hint(item.target.execution_id))
            return 'give_up', None
        TRACE.info('[%s] The workflow event %s for %s is published to st2.',
                   item.root_id, item.event, item.ex_id)
        if status == st2update.REQUESTED.get(item.status):
            TRACE.info('[%s] st2 keeps execution %s %s while its children are active.',
                       item.root_id, item.target.execution_id, status)
        return 'done', status

    def _update(self, item):
        """PUT with the workflow's token, or with the key for a workflow st2 vouches for."""
        token = item.target.token
        if token:
            try:
                return self._put_twice(item, st2api.Credentials(token=token))
            except st2api.St2Error as e:
                if e.status_code != 401:
                    raise
            TRACE.info('[%s] st2 refused the token of %s for st2 execution %s (HTTP 401); the '
                       'API key is used if st2 says that execution is this workflow\'s.',
                       item.root_id, item.ex_id, item.target.execution_id)
        self._verifier.verify(item.target.api_url, item.target.execution_id, item.root_id)
        return self._put_twice(item, self._verifier.key_credentials())

    def _put_twice(self, item, credentials):
        if item.status in results.ST2_COMPLETED and self._held_by_relay(item, credentials):
            return _HELD_BY_RELAY
        return st2update.update(lambda: self._client.update_execution(
            item.target.api_url, item.target.execution_id, item.status, item.result,
            credentials), item.status)

    def _held_by_relay(self, item, credentials):
        """Whether st2 shows paused an execution whose pause its API refused: the relay
        set it through st2's update_status and completes it the same way, with the
        workflow's result (through the API, st2 would cancel a paused execution at once
        with its own {message, user} result)."""
        if item.key not in self._pause_refused:
            return False
        answer = self._client.send('GET', contract.execution_url(
            item.target.api_url, item.target.execution_id), credentials)
        if (answer or {}).get('status') not in ('paused', 'pausing'):
            return False
        TRACE.info('[%s] The workflow event %s for %s is not published to st2: st2 '
                   'execution %s is held %s by the st2mistral relay service, which '
                   'completes it.', item.root_id, item.event, item.ex_id,
                   item.target.execution_id, answer.get('status'))
        return True

    def _classify_failure(self, item, error):
        refusal = st2update.refusal(error)
        if refusal == st2update.ALREADY_COMPLETED:
            TRACE.info('[%s] The workflow event %s for %s is not published to st2: st2 '
                       'execution %s is already completed.', item.root_id, item.event,
                       item.ex_id, item.target.execution_id)
            return 'completed'
        if refusal == st2update.RUNNER_REFUSED:
            TRACE.info('[%s] The workflow event %s for %s is not published to st2: st2 '
                       '(3.3 and later) cannot hold a mistral-v2 execution %s through its '
                       'API; the st2mistral relay service reflects it in st2 execution %s.',
                       item.root_id, item.event, item.ex_id, item.status,
                       item.target.execution_id)
            with self._lock:
                self._pause_refused[item.key] = True
                while len(self._pause_refused) > 10000:
                    self._pause_refused.popitem(last=False)
            return 'refused'
        now = self._clock()
        expired = now - item.accepted_at > self._group.delivery_expire_after
        if error.status_code == 404:
            item.first_404_at = item.first_404_at or now
            retry = now - item.first_404_at < self._group.unknown_execution_grace
        else:
            retry = error.retryable
        if retry and not expired:
            TRACE.warning('[%s] The workflow event %s for %s is not yet published to st2 '
                          '(try %d): %s. Will retry.', item.root_id, item.event, item.ex_id,
                          item.attempts, error)
            return 'retry'
        TRACE.error('[%s] The workflow event %s for %s could not be published to st2 '
                    'execution %s (HTTP %s): %s. When st2 is reachable again: %s',
                    item.root_id, item.event, item.ex_id, item.target.execution_id,
                    error.status_code or 'none', error, reconcile_hint(item.target.execution_id))
        return 'give_up'

    def _classify_not_bound(self, item, error):
        """No token st2 accepts, and st2 does not (yet) say the execution is this workflow's."""
        now = self._clock()
        if not error.final:
            # st2 stores the runner's context once the runner has started the
            # workflow: the first events can come before it. Wait as for a 404.
            if item.first_404_at is None:
                item.first_404_at = now
            if now - item.first_404_at < self._group.unknown_execution_grace:
                TRACE.warning('[%s] The workflow event %s for %s is not yet published to st2 '
                              '(try %d): %s. Will retry.', item.root_id, item.event, item.ex_id,
                              item.attempts, error)
                return 'retry'
        if error.repeated:
            TRACE.info('[%s] The workflow event %s for %s is not published to st2 execution %s '
                       'either: %s.', item.root_id, item.event, item.ex_id,
                       item.target.execution_id, error)
            return 'give_up'
        TRACE.error('[%s] The workflow event %s for %s is not published to st2 execution %s: '
                    'the workflow has no st2 token st2 accepts, and %s. The API key ([st2] '
                    'api_key) acts only for a workflow whose st2 execution names it; see '
                    '"Security" in the st2mistral README.', item.root_id, item.event,
                    item.ex_id, item.target.execution_id, error)
        return 'give_up'

    def _finish_locked(self, item, outcome, st2_status):
        key = item.key
        if outcome == 'retry':
            if key in self._waiting:      # a newer update arrived meanwhile
                newer = self._waiting[key]
                TRACE.info('[%s] The workflow event %s for %s is superseded by %s and will '
                           'not be published separately.', item.root_id, item.event,
                           item.ex_id, newer.event)
                self._forget(item)
                self._ready.append(key)
                return
            delay = retry.Backoff(self._group.retry_initial_delay,
                                  self._group.retry_max_delay).delay(item.attempts)
            item.due = self._clock() + delay
            self._waiting[key] = item
            heapq.heappush(self._later, (item.due, item.seq, key))
            return
        if outcome == 'done':
            self._remember(key, st2_status)
        elif outcome in ('completed', 'relay'):
            self._remember(key, 'succeeded')   # any completed status: nothing may follow
        self._forget(item)
        if key in self._waiting:
            self._ready.append(key)

    def _remember(self, key, status):
        self._delivered[key] = status
        self._delivered.move_to_end(key)
        while len(self._delivered) > 10000:
            self._delivered.popitem(last=False)

    def _forget(self, item):
        if self._store is not None:
            self._store.remove(item)
