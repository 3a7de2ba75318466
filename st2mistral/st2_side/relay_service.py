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
never reaches Mistral and ``st2-track-result`` has no effect. ``Relay`` runs
the jobs of ``JOBS``, each in its own thread; each job is one file of relay/
(its docstring says what it does and when):

- relay/children.py: st2's execution stream -> finished children to Mistral;
- relay/tracked.py: the executions ``st2-track-result`` tracks;
- relay/sweep.py: every active mistral-v2 execution, reconciled;
- relay/pauses.py: pauses and resumes made in Mistral, reflected in st2;
- relay/progress.py: a running workflow's tasks, written into its st2 execution;
- relay/cancels.py: the mistral-v2 children of canceling executions, cancelled
  (st2 3.3+ does not pass a cancel on to them).

Several relays may run at once (an st2 HA pair): every job is idempotent,
st2 refuses a second completion and Mistral a second child result.

Run it with the same st2.conf as st2:

    st2mistral-relay --config-file /etc/st2/st2.conf

In-process (tests, a host that already set up st2common): ``Relay(conf,
records).start()`` ... ``stop()``, or ``run(stop_event)``.
"""

import concurrent.futures
import logging
import sys
import threading

from oslo_config import cfg

from st2mistral.core import cfgcompat
from st2mistral.st2_side import child_results
from st2mistral.st2_side import clients
from st2mistral.st2_side import config
from st2mistral.st2_side import reconcile
from st2mistral.st2_side import st2_executions
from st2mistral.st2_side.relay import cancels
from st2mistral.st2_side.relay import children
from st2mistral.st2_side.relay import pauses
from st2mistral.st2_side.relay import progress
from st2mistral.st2_side.relay import sweep
from st2mistral.st2_side.relay import tracked

LOG = logging.getLogger(__name__)

ST2_GIVE_UP_AFTER = 30.0

# The relay's jobs, one line each (relay/__init__.py says what a job offers).
JOBS = (
    children.Children,
    tracked.Tracked,
    sweep.Sweep,
    pauses.Pauses,
    progress.Progress,
    cancels.Cancels,
)

CLI_OPTS = [
    cfgcompat.FlagOpt('once', default=False,
                help='Reconcile the tracked executions and every active mistral-v2 '
                     'execution once, then exit (no stream).'),
    cfgcompat.FlagOpt('no-stream', default=False,
                help='Do not follow the st2 stream (child results then reach Mistral '
                     'only through reconciliation).'),
]


def thread_name(job):
    return 'st2mistral-%s' % job.name


class Relay:
    """The jobs of ``st2mistral-relay`` (``jobs``: name -> job), wired from a parsed
    st2.conf, and what they share: the clients, st2's records, the reconciler.

    ``records``: st2's own database through st2_adapter.St2Records (st2-track-result's
    rows, and writing pause/resume); without it the tracked job is off and pauses are
    sent through the API (which st2 3.3+ refuses).
    """

    def __init__(self, conf, records=None, mistral_client=None, st2_client=None, sleep=None):
        self.conf = conf
        group = conf[config.MISTRAL]
        self.records = records
        self.credentials = clients.st2_credentials(conf)
        api_url = config.public_api_url(conf)
        # A pass runs again soon: a call gives up quickly rather than hold a worker.
        self.executions = st2_executions.St2Executions(
            st2_client or clients.st2(conf, api_url=api_url, give_up_after=ST2_GIVE_UP_AFTER),
            api_url, self.credentials)
        self.mistral = mistral_client or clients.mistral(conf)
        self._sleep = sleep
        self.children = child_results.ChildResults(self.mistral, conf, sleep=sleep)
        self.reconciler = reconcile.Reconciler(
            reconcile.MistralReader(self.mistral, conf, sleep=sleep), self.executions,
            children=self.children, records=records, jitter=group.jitter_interval,
            max_result_size=group.max_result_size)
        self.jobs = {job.name: job for job in (job_class(self) for job_class in JOBS)}
        self._stopping = threading.Event()
        self._threads = []
        self._pool = None

    # -- what the jobs share -------------------------------------------------------

    def poll(self, execution_id, execution=None):
        """One reconciliation (reconcile.Reconciler.poll); its PollOutcome, the error
        (logged; the next pass retries) or None while the relay stops."""
        if self._stopping.is_set():
            return None   # stopping: the rest of a long pass is skipped
        try:
            return self.reconciler.poll(execution_id, execution)
        except Exception as e:
            LOG.error('[%s] Reconciling the execution with Mistral failed this time (next '
                      'pass retries): %s: %s', execution_id, type(e).__name__, e)
            return e

    def map(self, fn, items):
        """``[fn(item) ...]`` on the relay's thread pool once started."""
        if self._pool is None:
            return [fn(item) for item in items]
        return list(self._pool.map(fn, items))

    def mistral_call(self, fn, *args, **kwargs):
        return clients.call_mistral(self.conf, self._sleep, fn, *args, **kwargs)

    # -- running -------------------------------------------------------------------

    def _every(self, interval, job):
        """Run ``job.run_once()`` now and then every ``interval`` seconds until stop().

        A failure is logged once (again only when it changes), and the recovery once:
        a Mistral or st2 that is down must not fill the log every second.
        """
        failing = None
        while not self._stopping.is_set():
            try:
                job.run_once()
            except Exception as e:
                text = '%s: %s' % (type(e).__name__, e)
                if text != failing:
                    LOG.error('The relay\'s %s job failed (it runs again every %s s; logged '
                              'again only if the error changes): %s', job.name, interval,
                              text)
                failing = text
            else:
                if failing is not None:
                    LOG.info('The relay\'s %s job works again.', job.name)
                failing = None
            if self._stopping.wait(interval):
                return

    def start(self, follow_stream=True):
        """Start the jobs that are on in background threads; returns self."""
        self._stopping.clear()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self.conf[config.RESULTSTRACKER].thread_pool_size)
        for job in self.jobs.values():
            if job.continuous:
                target = job.run if follow_stream else None
            else:
                interval = job.interval()
                target = None if interval is None else (
                    lambda interval=interval, job=job: self._every(interval, job))
            if target is not None:
                thread = threading.Thread(target=target, name=thread_name(job), daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self, timeout=5.0):
        self._stopping.set()
        for job in self.jobs.values():
            if job.continuous:
                job.stop()
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
        """One pass of each job ``--once`` runs (``in_once``: the tracked rows and the
        sweep; not the stream, not the pause check), in JOBS order; True when nothing
        failed."""
        outcomes = []
        for job in self.jobs.values():
            if job.in_once:
                outcomes.extend(job.run_once().values())
        return not any(isinstance(o, Exception) for o in outcomes)


def start_in_process(conf):
    """Start the relay in a process that has set st2common up already (read st2.conf,
    connected to st2's database), such as one hosting st2's own services; returns the
    running Relay (``stop()`` ends it)."""
    from st2mistral.st2_side import st2_adapter  # st2common: only in st2's venv

    config.register_opts(conf)
    return Relay(conf, records=st2_adapter.St2Records()).start()


def check(conf, follow_stream=True):
    """Refuse (ERROR lines, False) an st2.conf the relay cannot work with; otherwise
    log the endpoints it will use at INFO and return True."""
    found = config.problems(conf, follow_stream=follow_stream)
    for line in found:
        LOG.error('st2mistral-relay cannot start: %s.', line)
    if found:
        print('st2mistral-relay: st2.conf has %d mistake(s), see the ERROR lines; fix '
              'them and start again.' % len(found), file=sys.stderr)
        return False
    mistral, api, stream = config.endpoints(conf)
    default = ('' if conf[config.MISTRAL].v2_base_url != config.MISTRAL_DEFAULT_URL else
               ' (the default: set [mistral] v2_base_url if Mistral is elsewhere)')
    LOG.info('st2mistral-relay uses Mistral %s%s, the st2 API %s and the st2 stream %s%s.',
             mistral, default, api, stream,
             '' if follow_stream else ' (not followed: --once or --no-stream)')
    if not conf[config.MISTRAL].st2_api_key:
        LOG.warning('[mistral] st2_api_key is empty: st2 refuses the relay unless its auth '
                    'is off; create a key with "st2 apikey create" and set it.')
    return True


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
    if not check(conf, follow_stream=not (conf.once or conf.no_stream)):
        return 2
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
