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

"""``st2mistral-relay``: the st2 side service for st2 3.4 to 3.9.

st2 3.4+ calls no runner callback module and runs no results tracker, so
without this service the result of an st2 action started by a Mistral task
never reaches Mistral and ``st2-track-result`` has no effect. ``Relay`` does
four jobs, each in its own thread:

1. children: follows st2's execution stream and, for every st2 execution that
   reports to Mistral (``callback.source == mistral_v2``) and is completed or
   paused, sends its result to Mistral (child_results.py);
2. tracked: every ``[resultstracker] query_interval`` seconds, reads the rows
   st2's own ``st2-track-result`` writes (st2's ActionExecutionStateDB, query
   module ``mistral_v2``; a row's ``execution_id`` is the LIVEACTION id),
   reconciles each execution with Mistral (reconcile.py), relays its finished
   children and deletes the row once st2 shows the execution completed;
3. sweep: every ``[mistral] reconcile_interval`` seconds (0: off), reconciles
   every non-completed mistral-v2 execution st2 lists, so a status that push
   missed is healed without an operator;
4. pauses: every ``[mistral] pause_check_interval`` seconds (0: off), lists
   Mistral's PAUSED executions (one call) and reflects a pause or resume in
   st2, which st2 3.3+ refuses to take from the publisher;
5. cancels: every ``[mistral] cancel_check_interval`` seconds (0: off), cancels
   the mistral-v2 children of st2's canceling executions (cancel_cascade.py),
   which st2 3.3+ does not.

Several relays may run at once (an st2 HA pair): every job is idempotent, st2
refuses a second completion and Mistral a second child result.

Run it with the same st2.conf as st2:

    st2mistral-relay --config-file /etc/st2/st2.conf

In-process (tests, a host that already set up st2common): ``Relay(conf,
records).start()`` ... ``stop()``, or ``run(stop_event)``.
"""

import concurrent.futures
import logging
import sys
import threading
import time

from oslo_config import cfg

from st2mistral.core import contract
from st2mistral.core import results
from st2mistral.st2_side import cancel_cascade
from st2mistral.st2_side import child_results
from st2mistral.st2_side import clients
from st2mistral.st2_side import config
from st2mistral.st2_side import reconcile
from st2mistral.st2_side import stream as stream_mod

LOG = logging.getLogger(__name__)

ST2_GIVE_UP_AFTER = 30.0
RUNNER = 'mistral-v2'
# st2 statuses of a mistral-v2 execution whose Mistral workflow has started.
ACTIVE_STATUSES = ('running', 'pausing', 'paused', 'canceling', 'resuming')

CLI_OPTS = [
    cfg.BoolOpt('once', default=False,
                help='Reconcile the tracked executions and every active mistral-v2 '
                     'execution once, then exit (no stream).'),
    cfg.BoolOpt('no-stream', default=False,
                help='Do not follow the st2 stream (child results then reach Mistral '
                     'only through reconciliation).'),
]


def st2_execution_id_of(mistral_execution):
    """The st2 execution id in a Mistral execution's env (set by the runner), or None."""
    params = results.decode_json(getattr(mistral_execution, 'params', None)) or {}
    env = params.get('env') if isinstance(params, dict) else None
    return contract.env_execution_id(env)


class Relay:
    """The four jobs of ``st2mistral-relay``, wired from a parsed st2.conf.

    ``records``: st2's own database through st2_adapter.St2Records (st2-track-result's
    rows, and writing pause/resume); without it the tracked job is off and pauses are
    sent through the API (which st2 3.3+ refuses).
    """

    def __init__(self, conf, records=None, mistral_client=None, st2_client=None, sleep=None):
        self.conf = conf
        group = conf[config.MISTRAL]
        self.records = records
        self.api_url = config.public_api_url(conf)
        self.credentials = clients.st2_credentials(conf)
        # A pass runs again soon: a call gives up quickly rather than hold a worker.
        self.st2 = st2_client or clients.st2(conf, api_url=self.api_url,
                                             give_up_after=ST2_GIVE_UP_AFTER)
        self.mistral = mistral_client or clients.mistral(conf)
        self._sleep = sleep
        self.children = child_results.ChildResults(self.mistral, conf, sleep=sleep)
        self.reconciler = reconcile.Reconciler(
            reconcile.MistralReader(self.mistral, conf, sleep=sleep), self.st2, self.api_url,
            self.credentials, children=self.children, records=records,
            jitter=group.jitter_interval, max_result_size=group.max_result_size)
        self.stream = stream_mod.StreamFollower(
            group.st2_stream_url, self.credentials.headers(), self.on_execution_update,
            verify=False if group.st2_insecure else (group.st2_cacert or True),
            connect_timeout=group.connect_timeout)
        self.cancels = cancel_cascade.CancelCascade(self.st2, self.api_url, self.credentials)
        # Mistral execution id -> (updated_at reflected in st2, st2 execution completed?)
        self._paused_seen = {}
        self._stopping = threading.Event()
        self._threads = []
        self._pool = None

    # -- 1. children ---------------------------------------------------------------

    def on_execution_update(self, execution):
        """A stream event: relay it if it is a finished child of a Mistral task."""
        if execution.get('status') not in child_results.CALLBACK_STATUSES:
            return
        if child_results.callback_of(execution) is None:
            return
        if 'result' not in execution:  # the stream may leave large fields out
            execution = self.reconciler.get(execution['id'])
        self.children.deliver_execution(execution)

    # -- 2. st2-track-result's rows ------------------------------------------------

    def poll_tracked(self):
        """Reconcile every execution st2-track-result tracks; {liveaction id: outcome}."""
        if self.records is None:
            return {}
        outcomes = {}
        for liveaction_id in self.records.tracked():
            execution_id = self.records.execution_id(liveaction_id)
            if execution_id is None:
                LOG.info('[liveaction %s] st2 has no execution for this tracked liveaction; '
                         'deleting its result tracker entry.', liveaction_id)
                self.records.untrack(liveaction_id)
                continue
            outcome = self._poll(execution_id)
            outcomes[liveaction_id] = outcome
            if isinstance(outcome, reconcile.PollOutcome) and outcome.completed:
                LOG.info('[%s] The execution is completed in st2 (%s); deleting its result '
                         'tracker entry.', execution_id, outcome.status or outcome.message)
                self.records.untrack(liveaction_id)
        return outcomes

    # -- 3. the sweep --------------------------------------------------------------

    def active_executions(self, statuses=ACTIVE_STATUSES):
        """Every mistral-v2 execution st2 lists with one of ``statuses`` (no results)."""
        found = []
        for status in statuses:
            offset = 0
            while True:
                page = self.st2.call(
                    'GET', '%s/executions' % self.api_url, self.credentials,
                    params={'runner': RUNNER, 'status': status, 'limit': reconcile.ST2_PAGE,
                            'offset': offset, 'exclude_attributes': 'result'}) or []
                found.extend(page)
                if len(page) < reconcile.ST2_PAGE:
                    break
                offset += reconcile.ST2_PAGE
        return found

    def sweep(self):
        """Reconcile every active mistral-v2 execution once; {execution id: outcome}."""
        started, calls = time.monotonic(), self.reconciler.mistral_calls
        executions = self.active_executions()
        polled = self._map(lambda ex: (ex['id'], self._poll(ex['id'], ex)), executions)
        outcomes = dict(polled)
        changed = [i for i, o in outcomes.items()
                   if isinstance(o, reconcile.PollOutcome) and o.message != 'no change']
        LOG.info('Reconciled %d active mistral-v2 executions with Mistral in %.1f s (%d '
                 'Mistral calls); %d updated.', len(outcomes), time.monotonic() - started,
                 self.reconciler.mistral_calls - calls, len(changed))
        return outcomes

    # -- 4. pauses and resumes -----------------------------------------------------

    def check_pauses(self):
        """Reflect pauses and resumes made in Mistral; {st2 execution id: outcome}."""
        paused = {}
        for execution in clients.list_all(self._mistral_call, self.mistral.executions.list,
                                          state='PAUSED'):
            if not getattr(execution, 'task_execution_id', None):   # sub-workflows follow
                paused[execution.id] = execution
        st2_paused = {execution['id']: execution
                      for execution in self.active_executions(('paused', 'pausing'))}
        outcomes = {}
        for mistral_id, execution in paused.items():
            st2_id = st2_execution_id_of(execution)
            if not st2_id or self._settled(mistral_id, execution.updated_at, st2_id,
                                           st2_paused):
                continue
            outcome = self._poll(st2_id, st2_paused.get(st2_id))
            outcomes[st2_id] = outcome
            if not isinstance(outcome, reconcile.PollOutcome):
                continue
            if outcome.completed and outcome.status == 'canceled' and \
                    not self._cancel_in_mistral(st2_id, mistral_id):
                continue   # the next check tries again
            # "pausing" (st2 children or tasks still active) is looked at again.
            if outcome.completed or outcome.status == 'paused':
                self._paused_seen[mistral_id] = (execution.updated_at, outcome.completed)
        for mistral_id in set(self._paused_seen) - set(paused):
            del self._paused_seen[mistral_id]
        # Paused in st2 but no longer in Mistral: resumed (or finished) there.
        for st2_id, execution in st2_paused.items():
            if reconcile.mistral_execution_id(execution) not in paused:
                outcomes[st2_id] = self._poll(st2_id, execution)
        return outcomes

    def _settled(self, mistral_id, updated_at, st2_id, st2_paused):
        """Whether a PAUSED Mistral execution is already reflected: same Mistral state,
        and st2 still shows it paused (or it was found completed)."""
        seen = self._paused_seen.get(mistral_id)
        if seen is None or seen[0] != updated_at:
            return False
        return seen[1] or st2_id in st2_paused

    def _cancel_in_mistral(self, st2_id, mistral_id):
        """st2 cancels a paused execution at once, without calling the runner
        (request_cancellation: only a running one becomes canceling; st2actions/worker.py
        dispatches canceling only, @ v3.9.0), so Mistral would stay PAUSED for ever."""
        LOG.info('[%s] st2 canceled the execution while Mistral held it paused, without '
                 'calling the runner: cancelling Mistral execution %s.', st2_id, mistral_id)
        try:
            self._mistral_call(self.mistral.executions.update, mistral_id, 'CANCELLED')
        except Exception as e:
            LOG.error('[%s] Unable to cancel Mistral execution %s (the next check retries): '
                      '%s: %s', st2_id, mistral_id, type(e).__name__, e)
            return False
        return True

    # -- 5. cancels st2 does not pass on ----------------------------------------------

    def check_cancels(self):
        """Cancel the mistral-v2 children of canceling executions; their ids."""
        return self.cancels.check()

    def _mistral_call(self, fn, *args, **kwargs):
        return clients.call_mistral(self.conf, self._sleep, fn, *args, **kwargs)

    # -- running -------------------------------------------------------------------

    def _poll(self, execution_id, execution=None):
        if self._stopping.is_set():
            return None   # stopping: the rest of a long pass is skipped
        try:
            return self.reconciler.poll(execution_id, execution)
        except Exception as e:
            LOG.error('[%s] Reconciling the execution with Mistral failed this time (next '
                      'pass retries): %s: %s', execution_id, type(e).__name__, e)
            return e

    def _map(self, fn, items):
        if self._pool is None:
            return [fn(item) for item in items]
        return list(self._pool.map(fn, items))

    def _every(self, interval, job):
        """Run ``job`` now and then every ``interval`` seconds until stop().

        A failure is logged once (again only when it changes), and the recovery once:
        a Mistral or st2 that is down must not fill the log every second.
        """
        failing = None
        while not self._stopping.is_set():
            try:
                job()
            except Exception as e:
                text = '%s: %s' % (type(e).__name__, e)
                if text != failing:
                    LOG.error('The relay\'s %s failed (it runs again every %s s; logged '
                              'again only if the error changes): %s', job.__name__,
                              interval, text)
                failing = text
            else:
                if failing is not None:
                    LOG.info('The relay\'s %s works again.', job.__name__)
                failing = None
            if self._stopping.wait(interval):
                return

    def start(self, follow_stream=True):
        """Start the jobs in background threads; returns self."""
        self._stopping.clear()
        group = self.conf[config.MISTRAL]
        tracker = self.conf[config.RESULTSTRACKER]
        self._pool = concurrent.futures.ThreadPoolExecutor(tracker.thread_pool_size)
        jobs = []
        if follow_stream:
            jobs.append(('st2-stream', self.stream.run))
        if self.records is not None:
            jobs.append(('st2mistral-tracked',
                         lambda: self._every(tracker.query_interval, self.poll_tracked)))
        if group.reconcile_interval > 0:
            jobs.append(('st2mistral-sweep',
                         lambda: self._every(group.reconcile_interval, self.sweep)))
        if group.pause_check_interval > 0:
            jobs.append(('st2mistral-pauses',
                         lambda: self._every(group.pause_check_interval, self.check_pauses)))
        if group.cancel_check_interval > 0:
            jobs.append(('st2mistral-cancels',
                         lambda: self._every(group.cancel_check_interval, self.check_cancels)))
        for name, target in jobs:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout=5.0):
        self._stopping.set()
        self.stream.stop()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def run(self, stop_event=None, follow_stream=True):
        """Run until ``stop_event`` is set (or stop() is called from another thread)."""
        self.start(follow_stream=follow_stream)
        try:
            (stop_event or self._stopping).wait()
        finally:
            self.stop()

    def run_once(self):
        """Every job once, without the stream; True when nothing failed."""
        outcomes = list(self.poll_tracked().values()) + list(self.sweep().values())
        return not any(isinstance(o, Exception) for o in outcomes)


def start_in_process(conf):
    """Start the relay in a process that has set st2common up already (read st2.conf,
    connected to st2's database), such as one hosting st2's own services; returns the
    running Relay (``stop()`` ends it)."""
    from st2mistral.st2_side import st2_adapter  # st2common: only in st2's venv

    config.register_opts(conf)
    return Relay(conf, records=st2_adapter.St2Records()).start()


def _fail(message):
    print('st2mistral-relay: %s' % message, file=sys.stderr)
    return 2


def main(argv=None):
    try:
        conf = config.load(sys.argv[1:] if argv is None else argv, prog='st2mistral-relay',
                           description=__doc__.split('\n\n')[0], cli_opts=CLI_OPTS,
                           with_logging=True)
    except cfg.Error as e:
        return _fail('%s. Give st2\'s configuration: --config-file /etc/st2/st2.conf.' % e)
    config.setup_logging(conf)
    try:
        from st2mistral.st2_side import st2_adapter  # st2common: only in st2's venv
    except ImportError as e:
        return _fail('st2common cannot be imported (%s): run st2mistral-relay from st2\'s '
                     'virtualenv (/opt/stackstorm/st2/bin/st2mistral-relay).' % e)
    records = st2_adapter.connect(config.config_args(conf))
    relay = Relay(conf, records=records)
    if conf.once:
        return 0 if relay.run_once() else 1
    try:
        relay.run(follow_stream=not conf.no_stream)
    except KeyboardInterrupt:
        relay.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
