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

"""st2common.util.action_db (stand-in): lookups in records a test fills."""

ACTIONS = {}        # ref -> object with .ref, .pack, .name, .parameters, .runner_type
RUNNER_TYPES = {}   # name -> object with .runner_parameters
LIVEACTIONS = {}    # id -> object with .id, .status, .result, .context, ...


def get_action_by_ref(ref):
    return ACTIONS.get(ref)


def get_runnertype_by_name(name):
    return RUNNER_TYPES.get(name)


def get_liveaction_by_id(liveaction_id):
    return LIVEACTIONS[liveaction_id]
