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

"""The relay's tracked job: the executions st2's ``st2-track-result`` tracks.

Every ``[resultstracker] query_interval`` seconds it reads the rows
``st2-track-result`` writes (st2's ActionExecutionStateDB, query module
``mistral_v2``; a row's ``execution_id`` is the LIVEACTION id), reconciles
each execution with Mistral (reconcile.py), which relays its finished
children, and deletes the row once st2 shows the execution completed. Off
without st2's records (st2_adapter.St2Records).
"""

import logging

from st2mistral.st2_side import config
from st2mistral.st2_side import reconcile
from st2mistral.st2_side.relay import job

LOG = logging.getLogger(__name__)


class Tracked(job.Job):
    name = 'tracked'
    in_once = True

    def interval(self):
        if self._relay.records is None:
            return None
        return self._relay.conf[config.RESULTSTRACKER].query_interval

    def run_once(self):
        """Reconcile every execution st2-track-result tracks; {liveaction id: outcome}."""
        records = self._relay.records
        if records is None:
            return {}
        outcomes = {}
        for liveaction_id in records.tracked():
            execution_id = records.execution_id(liveaction_id)
            if execution_id is None:
                LOG.info('[liveaction %s] st2 has no execution for this tracked liveaction; '
                         'deleting its result tracker entry.', liveaction_id)
                records.untrack(liveaction_id)
                continue
            outcome = self._relay.poll(execution_id)
            outcomes[liveaction_id] = outcome
            if isinstance(outcome, reconcile.PollOutcome) and outcome.completed:
                LOG.info('[%s] The execution is completed in st2 (%s); deleting its result '
                         'tracker entry.', execution_id, outcome.status or outcome.message)
                records.untrack(liveaction_id)
        return outcomes
