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

"""Which st2 update to send, per st2 execution. Pure: no I/O, no clock.

Only the newest state of an st2 execution matters, and st2 refuses any update
once an execution is completed. So:

- a newer update supersedes one still waiting to be sent (a completed one
  only by another completed one);
- nothing follows a completed status st2 accepted: a late ``running`` after
  ``succeeded`` (or a second ``succeeded``) is dropped, not sent.
"""

import enum

from st2mistral.core.contract import ST2_COMPLETED


class Decision(enum.Enum):
    SEND = 'send'                  # queue it, nothing was waiting
    SUPERSEDE = 'supersede'        # queue it, replacing the waiting one
    DROP_REGRESSION = 'regression'  # a completed status was already sent or queued


def decide(delivered_status, waiting_status, new_status):
    """Decide what to do with ``new_status`` for one st2 execution.

    ``delivered_status``: the last status st2 accepted (None if unknown);
    ``waiting_status``: the status queued and not yet sent (None if none).
    """
    if delivered_status in ST2_COMPLETED:
        return Decision.DROP_REGRESSION
    if waiting_status is None:
        return Decision.SEND
    if waiting_status in ST2_COMPLETED and new_status not in ST2_COMPLETED:
        return Decision.DROP_REGRESSION
    return Decision.SUPERSEDE

