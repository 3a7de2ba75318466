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

"""st2common.persistence.executionstate (stand-in): st2's ActionExecutionStateDB
rows (st2common/models/db/executionstate.py @ v3.9.0: ``execution_id`` is the
liveaction id and unique, ``query_module`` the runner type's, ``query_context``
the liveaction's context)."""

import types

ROWS = []


class NotUniqueError(Exception):
    """mongoengine's answer to a second row for the same execution_id."""


def _matches(row, filters):
    for key, wanted in filters.items():
        field, _, operator = key.partition('__')
        value = getattr(row, field)
        if operator == 'in':
            if value not in wanted:
                return False
        elif str(value) != str(wanted):
            return False
    return True


class ActionExecutionState:
    @staticmethod
    def query(**filters):
        return [row for row in ROWS if _matches(row, filters)]

    @staticmethod
    def add_or_update(row):
        if any(str(r.execution_id) == str(row.execution_id) for r in ROWS if r is not row):
            raise NotUniqueError('Tried to save duplicate unique keys (execution_id)')
        if row not in ROWS:
            ROWS.append(row)
        return row

    @staticmethod
    def delete(row, publish=True, dispatch_trigger=True):
        ROWS.remove(row)


def new_row(execution_id, query_module, query_context):
    return types.SimpleNamespace(execution_id=execution_id, query_module=query_module,
                                 query_context=query_context)
