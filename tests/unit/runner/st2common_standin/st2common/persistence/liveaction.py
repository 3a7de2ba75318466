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

"""st2common.persistence.liveaction (stand-in)."""

import types

import st2common
from st2common.util import action_db


class LiveAction:
    @staticmethod
    def get(id=None):
        return action_db.LIVEACTIONS.get(id)

    @staticmethod
    def get_by_id(value):
        found = action_db.LIVEACTIONS.get(value)
        if found is None and st2common.BACKEND is not None:
            execution = st2common.BACKEND.db_execution(liveaction_id=value)
            if execution is not None:
                found = types.SimpleNamespace(id=value, status=execution['status'],
                                              result=execution['result'],
                                              context=execution['context'])
        if found is None:
            raise KeyError(value)   # st2: StackStormDBObjectNotFoundError
        return found
