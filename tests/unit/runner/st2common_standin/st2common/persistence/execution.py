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

"""st2common.persistence.execution (stand-in)."""

import types

import st2common

EXECUTIONS = {}     # id -> object with .id, .status, .runner, .liveaction, .children
UPDATES = []        # ActionExecution.update calls: (execution id, kwargs, publish)


def _from_backend(id, liveaction__id):
    """An execution of the bound st2 emulator, in ActionExecutionDB's shape."""
    if st2common.BACKEND is None:
        return None
    found = st2common.BACKEND.db_execution(execution_id=id, liveaction_id=liveaction__id)
    if found is None:
        return None
    return types.SimpleNamespace(
        id=found['id'], status=found['status'], runner={'name': found['runner']},
        liveaction={'id': found['liveaction_id']}, children=found['children'],
        result=found['result'], context=found['context'])


class ActionExecution:
    @staticmethod
    def get(id=None, liveaction__id=None, raise_exception=False):
        if id is not None:
            found = EXECUTIONS.get(id)
        else:
            found = next((e for e in EXECUTIONS.values()
                          if e.liveaction['id'] == liveaction__id), None)
        if found is None:
            found = _from_backend(id, liveaction__id)
        if found is None and raise_exception:
            raise KeyError(id or liveaction__id)
        return found

    @staticmethod
    def update(model_object, publish=True, dispatch_trigger=True, **kwargs):
        """st2's Access.update (st2common/st2common/persistence/base.py @ v3.9.0) for the
        ``set__result`` St2Records.write_progress sends: bound to the st2 emulator it
        writes there (``db_update_execution_result``), else onto the in-memory record."""
        UPDATES.append((model_object.id, dict(kwargs), publish))
        unknown = set(kwargs) - {'set__result'}
        if unknown:
            raise TypeError('stand-in ActionExecution.update: unexpected %s' % sorted(unknown))
        if model_object.id not in EXECUTIONS and st2common.BACKEND is not None:
            st2common.BACKEND.db_update_execution_result(model_object.id,
                                                         kwargs['set__result'])
        else:
            model_object.result = kwargs['set__result']
        return ActionExecution.get(id=model_object.id)
