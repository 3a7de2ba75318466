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

"""A MINIMAL STAND-IN for st2common, for tests only. It is not st2.

st2 (st2common) cannot be installed here: it needs MongoDB. This package has
only the names st2mistral.st2_side.st2_adapter imports, with the behaviour
docs/contracts.rst, section 8 describes (read from st2 v3.2.0 and v3.9.0):

- ``runners.base``: ActionRunner / AsyncActionRunner / PollingAsyncActionRunner
  with the attributes st2's runner container sets before calling the runner;
- ``models.api.action.RunnerTypeAPI``: the runner type schema st2 3.9 validates
  registered runners against (additionalProperties false);
- ``query.base.Querier`` and ``callback.base.AsyncActionExecutionCallbackHandler``:
  the st2 <= 3.3 base classes of query and callback modules;
- ``util.action_db``, ``persistence``, ``services.action``: in-memory records
  a test fills, and the service calls the runner makes, recorded;
- for the relay service (st2_adapter.St2Records): ``persistence.executionstate``
  and ``services.queries`` (the rows ``st2-track-result`` writes), ``config``
  and ``service_setup`` (recorded), st2's ``update_status``, and for the progress
  job ``persistence.execution.ActionExecution.update`` and ``services.coordination``.

``bind(emulator)`` makes the stand-in's st2 database the st2 emulator's
(st2mistral.testing.st2_emulator ``db_*`` methods): executions and liveactions
not in the in-memory records are read there, and ``update_status`` and
``ActionExecution.update`` write there, so a test sees one st2 through the API
and through st2common.
"""

BACKEND = None


def bind(backend):
    """Use ``backend`` (an St2Emulator, or None) as st2's database."""
    global BACKEND
    BACKEND = backend
