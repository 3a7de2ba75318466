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

from st2common.constants.action import LIVEACTION_COMPLETED_STATES

REQUESTS = []       # (operation, liveaction id, user)


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
