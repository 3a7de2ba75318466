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

"""The relay's sweep job: every active mistral-v2 execution, reconciled.

Every ``[mistral] reconcile_interval`` seconds (0: off) it lists every
non-completed mistral-v2 execution in st2 (st2_executions.St2Executions.active)
and reconciles each with its Mistral execution (reconcile.py), so a status
that push missed is healed without an operator.
"""

import logging
import time

from st2mistral.st2_side import reconcile
from st2mistral.st2_side.relay import job

LOG = logging.getLogger(__name__)


class Sweep(job.Job):
    name = 'sweep'
    in_once = True

    def interval(self):
        return self._every('reconcile_interval')

    def run_once(self):
        """Reconcile every active mistral-v2 execution once; {execution id: outcome}."""
        relay = self._relay
        started, calls = time.monotonic(), relay.reconciler.mistral_calls
        executions = relay.executions.active()
        outcomes = dict(relay.map(lambda ex: (ex['id'], relay.poll(ex['id'], ex)), executions))
        changed = [i for i, o in outcomes.items()
                   if isinstance(o, reconcile.PollOutcome) and o.message != 'no change']
        LOG.info('Reconciled %d active mistral-v2 executions with Mistral in %.1f s (%d '
                 'Mistral calls); %d updated.', len(outcomes), time.monotonic() - started,
                 relay.reconciler.mistral_calls - calls, len(changed))
        return outcomes
