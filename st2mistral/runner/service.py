"""``st2mistral-relay``: the st2 side service for st2 3.4 to 3.9.

st2 3.4+ calls no runner callback module and runs no results tracker, so
without this service the result of an st2 action started by a Mistral task
never reaches Mistral and ``st2-track-result`` has no effect. It does two jobs:

1. relay: follows st2's execution stream and, for every st2 execution that
   reports to Mistral (``callback.source == mistral_v2``) and is completed or
   paused, sends its result to Mistral (relay.py);
2. tracking: every ``[resultstracker] query_interval`` seconds, reconciles each
   execution recorded by ``st2mistral-track-result`` with its Mistral
   execution (tracker.py), relays its finished children (what the stream may
   have missed while this service was down) and forgets it once completed.

Run one instance, with the same st2.conf as st2:

    st2mistral-relay --config-file /etc/st2/st2.conf
"""

import concurrent.futures
import logging
import sys
import threading
import time

from oslo_config import cfg

from st2mistral.runner import clients
from st2mistral.runner import config
from st2mistral.runner import relay as relay_mod
from st2mistral.runner import stream as stream_mod
from st2mistral.runner import tracker as tracker_mod
from st2mistral.runner import tracking

LOG = logging.getLogger(__name__)

ST2_GIVE_UP_AFTER = 30.0

CLI_OPTS = [
    cfg.BoolOpt('once', default=False,
                help='Reconcile the tracked executions once and exit (no stream).'),
    cfg.BoolOpt('no-stream', default=False,
                help='Do not follow the st2 stream; only reconcile tracked executions.'),
]


class Service:
    """The relay and the tracking loop, wired from a parsed st2.conf."""

    def __init__(self, conf, mistral_client=None, st2_client=None, sleep=None):
        self.conf = conf
        group = conf[config.MISTRAL]
        self.api_url = config.public_api_url(conf)
        self.credentials = clients.st2_credentials(conf)
        # A poll runs again soon: a call gives up quickly rather than hold a worker.
        self.st2 = st2_client or clients.st2(conf, api_url=self.api_url,
                                             give_up_after=ST2_GIVE_UP_AFTER)
        mistral = mistral_client or clients.mistral(conf)
        self.relay = relay_mod.Relay(mistral, conf, sleep=sleep)
        self.tracker = tracker_mod.Tracker(
            tracker_mod.MistralReader(mistral, conf, sleep=sleep), self.st2, self.api_url,
            self.credentials, relay=self.relay, jitter=group.jitter_interval,
            max_result_size=group.max_result_size)
        self.store = tracking.TrackingStore(group.tracking_dir)
        self.stream = stream_mod.StreamFollower(
            group.st2_stream_url, self.credentials.headers(), self.on_execution_update,
            verify=False if group.st2_insecure else (group.st2_cacert or True),
            connect_timeout=group.connect_timeout)
        self._stopping = threading.Event()

    # -- relay ---------------------------------------------------------------------

    def on_execution_update(self, execution):
        """A stream event: relay it if it is a finished child of a Mistral task."""
        if execution.get('status') not in relay_mod.CALLBACK_STATUSES:
            return
        if relay_mod.callback_of(execution) is None:
            return
        if 'result' not in execution:  # the stream may leave large fields out
            execution = self.st2.call('GET', '%s/executions/%s' % (
                self.api_url, execution['id']), self.credentials)
        self.relay.deliver_execution(execution)

    # -- tracking ------------------------------------------------------------------

    def poll_tracked(self, pool=None):
        """Reconcile every tracked execution once; returns {id: PollOutcome or error}."""
        ids = self.store.ids()
        outcomes = {}

        def poll(execution_id):
            try:
                outcome = self.tracker.poll(execution_id)
            except Exception as e:
                LOG.error('[%s] Results tracking failed this time: %s: %s', execution_id,
                          type(e).__name__, e)
                return e
            if outcome.done:
                LOG.info('[%s] Results tracking is done (%s); removing its entry.',
                         execution_id, outcome.status or outcome.message)
                self.store.remove(execution_id)
            return outcome

        if pool is None:
            for execution_id in ids:
                outcomes[execution_id] = poll(execution_id)
        else:
            for execution_id, outcome in zip(ids, pool.map(poll, ids)):
                outcomes[execution_id] = outcome
        return outcomes

    def run(self, follow_stream=True):
        group = self.conf[config.RESULTSTRACKER]
        stream_thread = None
        if follow_stream:
            stream_thread = threading.Thread(target=self.stream.run, name='st2-stream',
                                             daemon=True)
            stream_thread.start()
        with concurrent.futures.ThreadPoolExecutor(group.thread_pool_size) as pool:
            while not self._stopping.is_set():
                started = time.monotonic()
                self.poll_tracked(pool)
                wait = group.query_interval - (time.monotonic() - started)
                self._stopping.wait(max(wait, group.empty_q_sleep_time, 0.0))
        self.stream.stop()
        if stream_thread is not None:
            stream_thread.join(timeout=5)

    def stop(self):
        self._stopping.set()
        self.stream.stop()


def main(argv=None):
    conf = config.load(sys.argv[1:] if argv is None else argv, prog='st2mistral-relay',
                       description=__doc__.split('\n\n')[0], cli_opts=CLI_OPTS,
                       with_logging=True)
    config.setup_logging(conf)
    service = Service(conf)
    if conf.once:
        outcomes = service.poll_tracked()
        failed = [i for i, o in outcomes.items() if isinstance(o, Exception)]
        return 1 if failed else 0
    try:
        service.run(follow_stream=not conf.no_stream)
    except KeyboardInterrupt:
        service.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
