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

"""Benchmark-only notification publishers, the baselines of engine drag and status lag.

- ``st2_sync`` (SyncSt2Publisher): the st2 publisher's work done INLINE.
  ``publish()`` runs the product's own event processing
  (``stackstorm_notifier.process``: DB reads, snapshot, update) and sends the
  PUT to st2 before it returns, the way a naive publisher (and the historic
  st2mistral one) did. With ``[notifier] type = local`` Mistral's engine
  waits for it.
- ``noop`` (NoopPublisher): returns at once; what is left is the cost of
  Mistral's own notification machinery (an event dict and a post-commit
  thread per event), which no publisher can avoid.

They are made loadable in the Mistral child by benchmarks.mistral_child,
never through the product's entry points.
"""

from mistral.notifiers import base
from oslo_log import log as logging

from st2mistral.core import st2api
from st2mistral.mistral_side.notifiers import stackstorm_notifier

LOG = logging.getLogger(__name__)


class InlineSender:
    """Stands in for delivery.Sender: one PUT per update, now, in this thread."""

    def __init__(self, client=None):
        self._client = client or st2api.get_client()

    def submit(self, item):
        target = item.target
        try:
            self._client.update_execution(target.api_url, target.execution_id, item.status,
                                          item.result,
                                          self._client.default_credentials(target.token))
        except st2api.St2Error as e:
            LOG.error('[%s] sync publisher: %s', item.root_id, e)
            return False
        return True


class SyncSt2Publisher(base.NotificationPublisher):

    def __init__(self, sender=None):
        self._sender = sender or InlineSender()

    def publish(self, ctx, ex_id, data, event, timestamp, **kwargs):
        if (event not in stackstorm_notifier.WORKFLOW_EVENTS
                and event not in stackstorm_notifier.TASK_EVENTS):
            return
        item = stackstorm_notifier.Event(ex_id, dict(data or {}), event, dict(kwargs))
        stackstorm_notifier.process(item, self._sender)


class NoopPublisher(base.NotificationPublisher):

    def publish(self, ctx, ex_id, data, event, timestamp, **kwargs):
        return None


PUBLISHERS = {'st2_sync': SyncSt2Publisher, 'noop': NoopPublisher}
