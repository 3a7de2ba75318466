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

"""The relay's pauses job: pauses and resumes made in Mistral, reflected in st2.

Every ``[mistral] pause_check_interval`` seconds (0: off) it lists Mistral's
PAUSED executions (one call per 1000) and st2's paused/pausing mistral-v2
executions, and reconciles those whose state differs: st2 3.3+ takes neither
a pause nor a resume from the publisher. When st2 canceled an execution that
Mistral holds paused (st2 does so without calling the runner), it cancels
the workflow in Mistral.
"""

import logging

from st2mistral.core import contract
from st2mistral.core import results
from st2mistral.st2_side import clients
from st2mistral.st2_side import reconcile
from st2mistral.st2_side.relay import job

LOG = logging.getLogger(__name__)


def st2_execution_id_of(mistral_execution):
    """The st2 execution id in a Mistral execution's env (set by the runner), or None."""
    params = results.decode_json(getattr(mistral_execution, 'params', None)) or {}
    env = params.get('env') if isinstance(params, dict) else None
    return contract.env_execution_id(env)


class Pauses(job.Job):
    name = 'pauses'

    def __init__(self, relay):
        super().__init__(relay)
        # Mistral execution id -> (updated_at reflected in st2, st2 execution completed?)
        self._paused_seen = {}

    def interval(self):
        return self._every('pause_check_interval')

    def run_once(self):
        """Reflect pauses and resumes made in Mistral; {st2 execution id: outcome}."""
        relay = self._relay
        paused = {}
        for execution in clients.list_all(relay.mistral_call, relay.mistral.executions.list,
                                          state='PAUSED'):
            if not getattr(execution, 'task_execution_id', None):   # sub-workflows follow
                paused[execution.id] = execution
        st2_paused = {execution['id']: execution
                      for execution in relay.executions.active(('paused', 'pausing'))}
        outcomes = {}
        for mistral_id, execution in paused.items():
            st2_id = st2_execution_id_of(execution)
            if not st2_id or self._settled(mistral_id, execution.updated_at, st2_id,
                                           st2_paused):
                continue
            outcome = relay.poll(st2_id, st2_paused.get(st2_id))
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
                outcomes[st2_id] = relay.poll(st2_id, execution)
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
            self._relay.mistral_call(self._relay.mistral.executions.update, mistral_id,
                                     'CANCELLED')
        except Exception as e:
            LOG.error('[%s] Unable to cancel Mistral execution %s (the next check retries): '
                      '%s: %s', st2_id, mistral_id, type(e).__name__, e)
            return False
        return True
