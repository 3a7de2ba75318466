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

"""The relay's cancels job: a canceling st2 execution's mistral-v2 children are cancelled.

st2 3.3+ passes a cancel on only to children whose runner is in
``WORKFLOW_RUNNER_TYPES`` (``action-chain``, ``orquesta``;
st2common/st2common/constants/action.py @ v3.9.0; st2 3.2 listed
``mistral-v2`` too): ``ActionChainRunner.cancel``
(contrib/runners/action_chain_runner/action_chain_runner/action_chain_runner.py,
lines 326-344 @ v3.9.0) and ``OrquestaRunner.cancel`` / ``task_cancelable``
(contrib/runners/orquesta_runner/orquesta_runner/orquesta_runner.py, lines
223-285 @ v3.9.0). The parent then stays ``canceling`` while its mistral-v2
child is active (``is_children_active``), and the Mistral workflow runs on.

Every ``[mistral] cancel_check_interval`` seconds (0: off) this job lists st2's
``canceling`` executions (any runner) and asks st2 to cancel each of their
mistral-v2 children that is still cancelable: ``DELETE /executions/<id>``,
what ``st2 execution cancel`` sends. st2 sets the child ``canceling`` (it has
a parent) and its action runner calls the mistral-v2 runner's ``cancel()``,
which cancels the Mistral workflow; the child, then the parent, end
``canceled`` as st2's own runners end. A child already ``canceling`` is left
alone, so several relays (an st2 HA pair) ask at most once each.

st2 API calls per pass: 1 per page of canceling executions, + 1 per canceling
execution that has children, + 1 per child cancelled.
"""

import logging

from st2mistral.core import contract
from st2mistral.st2_side import st2_executions
from st2mistral.st2_side.relay import job

LOG = logging.getLogger(__name__)



def runner_of(execution):
    runner = execution.get('runner')
    return runner.get('name') if isinstance(runner, dict) else None


def to_cancel(children):
    """The ids of the mistral-v2 children a canceling parent's cancel must reach."""
    return [child['id'] for child in children
            if runner_of(child) == st2_executions.RUNNER
            and child.get('status') in contract.ST2_CANCELABLE]


def cancel_children(executions):
    """One pass over ``executions`` (st2_executions.St2Executions); the ids cancelled."""
    cancelled = []
    for parent in executions.list(status='canceling', exclude_attributes='result'):
        for child_id in to_cancel(executions.children(parent)):
            LOG.info('[%s] The parent execution %s (%s) is canceling and st2 does not '
                     'pass a cancel on to a mistral-v2 child (st2 3.3+): cancelling it.',
                     child_id, parent['id'], runner_of(parent))
            executions.cancel(child_id)
            cancelled.append(child_id)
    return cancelled


class Cancels(job.Job):
    name = 'cancels'
    in_once = True

    def interval(self):
        return self._every('cancel_check_interval')

    def run_once(self):
        """Cancel the mistral-v2 children of every canceling execution; {id: 'canceling'}."""
        return {child_id: 'canceling' for child_id in cancel_children(self._relay.executions)}
