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

"""The single-process Mistral of st2mistral.testing, plus what the benchmarks need.

    python -m benchmarks.mistral_child --config-file mistral.conf [...]

Before handing over to ``st2mistral.testing.mistral_single`` it

- makes the benchmark-only publishers ``st2_sync`` and ``noop``
  (benchmarks.publishers) loadable by Mistral's notifier, without any entry
  point of the product;
- writes timestamps (benchmarks.marks) when a transaction that made a
  workflow execution terminal commits, when Mistral's notifier starts
  handing a workflow event to the publishers, and at the steps of the st2
  publisher's path (event taken, update submitted, PUT started).

- on Mistral <= 20 (eventlet), when the benchmark asks, times who holds
  the hub (benchmarks.hub_watch).

Everything else is the real Mistral (23, or the release of
``--mistral-python``) and the real st2 publisher.
"""

import faulthandler
import os
import signal
import sys

from benchmarks import marks

TERMINAL = frozenset({'SUCCESS', 'ERROR', 'CANCELLED'})
_PENDING_KEY = 'st2mistral_bench_terminal'


def register_publishers():
    from mistral.notifiers import base

    from benchmarks import publishers

    original = base.get_notification_publisher
    instances = {}

    def get_notification_publisher(name):
        if name not in publishers.PUBLISHERS:
            return original(name)
        if name not in instances:   # created in the engine thread, like stevedore would
            instances[name] = publishers.PUBLISHERS[name]()
        return instances[name]

    # Patched on the module: Mistral's notifier looks it up there on each event,
    # and base.cleanup() (run when the API starts) only resets the caches.
    base.get_notification_publisher = get_notification_publisher


def record_commits(writer):
    """A ``commit`` mark once the transaction that made a workflow terminal commits."""
    from mistral.db.sqlalchemy import base as db_base
    from mistral.engine import workflows
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    original_set_state = workflows.Workflow.set_state

    def set_state(self, state, state_info=None):
        changed = original_set_state(self, state, state_info)
        session = db_base._get_thread_local_session()
        if changed and state in TERMINAL and session is not None:
            session.info.setdefault(_PENDING_KEY, []).append((self.wf_ex.id, state))
        return changed

    workflows.Workflow.set_state = set_state

    @event.listens_for(Session, 'after_commit')
    def after_commit(session):
        for ex_id, state in session.info.pop(_PENDING_KEY, ()):
            writer.write('commit', ex_id, state)

    @event.listens_for(Session, 'after_rollback')
    def after_rollback(session):
        session.info.pop(_PENDING_KEY, None)


def record_notifications(writer):
    from mistral.notifiers import default_notifier

    original_notify = default_notifier.DefaultNotifier.notify

    def notify(self, ex_id, data, event, timestamp, publishers):
        if event.startswith('WORKFLOW_'):
            writer.write('notify', ex_id, event)
        return original_notify(self, ex_id, data, event, timestamp, publishers)

    default_notifier.DefaultNotifier.notify = notify


def record_pipeline(writer):
    """Marks inside the st2 publisher's path, to break the status lag down.

    ``process``: the notifier thread takes the event; ``submit``: the update
    is handed to the sender; ``put``: the HTTP request to st2 starts.
    """
    from benchmarks import publishers
    from st2mistral.core import st2api
    from st2mistral.mistral_side.delivery import sender
    from st2mistral.mistral_side.notifiers import stackstorm_notifier

    original_process = stackstorm_notifier.process

    def process(item, *args, **kwargs):
        if item.event.startswith('WORKFLOW_'):
            writer.write('process', item.ex_id, item.event)
        return original_process(item, *args, **kwargs)

    stackstorm_notifier.process = process

    for cls in (sender.Sender, publishers.InlineSender):
        cls.submit = _marked_submit(writer, cls.submit)

    original_update = st2api.St2Client.update_execution

    def update_execution(self, api_url, execution_id, status, *args, **kwargs):
        writer.write('put', execution_id, status)
        return original_update(self, api_url, execution_id, status, *args, **kwargs)

    st2api.St2Client.update_execution = update_execution


def _marked_submit(writer, original):
    def submit(self, item):
        writer.write('submit', item.ex_id, item.status)
        return original(self, item)
    return submit


def main():
    from st2mistral.testing import mistral_single

    # What Mistral's own launcher runs on, before Mistral's services exist:
    # eventlet's monkey-patching up to 20, oslo.service's threads after.
    mode = mistral_single.use_mistrals_concurrency()
    if mode == 'eventlet':
        from benchmarks import hub_watch
        hub_watch.install_if_asked()

    writer = marks.MarkWriter(os.environ[marks.ENV_VAR])
    # `kill -USR2 <pid>` dumps every thread's stack next to the marks (diagnosis).
    stacks = open(os.environ[marks.ENV_VAR] + '.stacks', 'a')
    faulthandler.register(signal.SIGUSR2, file=stacks, all_threads=True)
    register_publishers()
    record_commits(writer)
    record_notifications(writer)
    record_pipeline(writer)
    mistral_single.main(sys.argv[1:])


if __name__ == '__main__':
    main()
