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

"""st2common.services.queries (stand-in, st2common/services/queries.py @ v3.9.0):
what ``st2-track-result`` calls to add and remove a result tracker row."""

from st2common.persistence import executionstate


def setup_query(liveaction_id, runnertype_db, query_context):
    if not getattr(runnertype_db, 'query_module', None):
        raise Exception('The runner "%s" does not have a query module.' % runnertype_db.name)
    executionstate.ActionExecutionState.add_or_update(executionstate.new_row(
        liveaction_id, runnertype_db.query_module, query_context))


def remove_query(liveaction_id):
    rows = executionstate.ActionExecutionState.query(execution_id=liveaction_id)
    if not rows:
        return False
    executionstate.ActionExecutionState.delete(rows[0], publish=False, dispatch_trigger=False)
    return True
