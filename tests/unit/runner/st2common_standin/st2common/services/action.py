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

"""st2common.services.action (stand-in): requests are recorded, activity is set."""

import st2common
from st2common.constants.action import LIVEACTION_COMPLETED_STATES

REQUESTS = []       # (operation, liveaction id, user)
PUBLISHED = []      # update_status calls: (liveaction id, status, publish)


def request_pause(liveaction, requester):
    REQUESTS.append(('pause', liveaction.id, requester))


def request_resume(liveaction, requester):
    REQUESTS.append(('resume', liveaction.id, requester))


def request_cancellation(liveaction, requester):
    REQUESTS.append(('cancel', liveaction.id, requester))


def is_children_active(liveaction_id):
    """st2's rule: a child neither completed nor paused is active."""
    from st2common.persistence.execution import ActionExecution

    execution = ActionExecution.get(liveaction__id=liveaction_id)
    inactive = set(LIVEACTION_COMPLETED_STATES) | {'paused'}
    return any(ActionExecution.get(id=child).status not in inactive
               for child in execution.children)


def update_status(liveaction, new_status, result=None, publish=True, set_result_size=False,
                  context=None):
    """st2's update_status (st2common/services/action.py @ v3.9.0): a no-op when the status
    is unchanged; else the status (and a truthy result) written to the liveaction and its
    execution, published. Bound to the st2 emulator it writes there."""
    if liveaction.status == new_status:
        return liveaction
    PUBLISHED.append((liveaction.id, new_status, publish))
    if st2common.BACKEND is not None:
        liveaction.status = st2common.BACKEND.db_update_status(liveaction.id, new_status,
                                                                result)
        return liveaction
    liveaction.status = new_status
    if result:
        liveaction.result = result
    return liveaction
