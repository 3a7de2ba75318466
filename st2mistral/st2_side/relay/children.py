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

"""The relay's children job: st2 children's results to Mistral, from st2's stream.

Follows st2's execution stream (stream.py) and, for every st2 execution that
reports to Mistral (``callback.source == mistral_v2``) and is completed or
paused, sends its result to the Mistral task that started it
(child_results.py). What the stream misses (the relay was down) the
reconciliation of the parent relays (reconcile.py).
"""

from st2mistral.core import contract
from st2mistral.st2_side import child_results
from st2mistral.st2_side import config
from st2mistral.st2_side import stream as stream_mod
from st2mistral.st2_side.relay import job


class Children(job.Job):
    name = 'children'
    continuous = True

    def __init__(self, relay):
        super().__init__(relay)
        group = relay.conf[config.MISTRAL]
        self.stream = stream_mod.StreamFollower(
            group.st2_stream_url, relay.credentials.headers(), self.on_execution_update,
            verify=False if group.st2_insecure else (group.st2_cacert or True),
            connect_timeout=group.connect_timeout)

    def interval(self):
        return None

    def run(self):
        self.stream.run()

    def stop(self):
        self.stream.stop()

    def on_execution_update(self, execution):
        """A stream event: relay it if it is a finished child of a Mistral task."""
        if execution.get('status') not in contract.CALLBACK_STATUSES:
            return
        if child_results.callback_of(execution) is None:
            return
        if 'result' not in execution:  # the stream may leave large fields out
            execution = self._relay.executions.get(execution['id'])
        self._relay.children.deliver_execution(execution)
