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

"""Whether st2 vouches that an st2 execution belongs to a Mistral workflow.

The site's ``[st2] api_key`` is the Mistral side's own identity in st2: it may
act for a workflow only when st2 itself says the workflow is st2's. The proof
is the st2 execution's own record, read with the key: st2's mistral-v2 runner
returns ``{"mistral": {"execution_id": <root Mistral execution id>, ...}}``
as its context when it starts the workflow, and st2 stores that context on the
liveaction and the execution (``liveaction_db.context.update(context)`` in
st2common/st2common/util/action_db.py, copied to the execution by
st2common/st2common/services/executions.py ``update_execution``). A workflow
started directly in Mistral, with any env or notify entry, is named by no st2
execution, so the key never acts for it.

A verified binding is remembered per (st2 API URL, st2 execution id): one GET
per st2 execution and process, not one per update. So is a final refusal (st2
names another workflow), so a workflow pointed at someone else's execution
cannot make Mistral ask st2 again for each of its events.
"""

import threading

from oslo_config import cfg

from st2mistral.core import bounded
from st2mistral.core import contract
from st2mistral.core import opts
from st2mistral.core import singleton
from st2mistral.core import st2api

CONF = cfg.CONF

_CACHE_SIZE = 10000


class NotBound(Exception):
    """st2 does not (or not yet) say the st2 execution belongs to the workflow.

    ``final``: st2 names another workflow, so waiting cannot help. Otherwise
    the record names none yet: st2 stores the runner's context only once the
    runner has started the workflow, so the first events may come before it.
    The message is safe to log and to show: it holds no secret and no other
    workflow's id.
    """

    def __init__(self, message, final, repeated=False):
        super().__init__(message)
        self.final = final
        self.repeated = repeated     # st2 said so before: already reported


def check(record, st2_execution_id, root_id):
    """None when ``record`` (st2's execution JSON) names ``root_id``; else NotBound."""
    context = record.get('context') if isinstance(record, dict) else None
    named = contract.mistral_execution_id(context)
    if named is None:
        return NotBound('st2 execution %s names no Mistral workflow execution (yet) in its '
                        'context.mistral.execution_id' % st2_execution_id, final=False)
    if named != root_id:
        return NotBound('st2 execution %s belongs to another Mistral workflow execution, '
                        'not to %s' % (st2_execution_id, root_id), final=True)
    return None


class Verifier:
    """Asks st2 (with the API key) whether an st2 execution names a workflow. Thread safe."""

    def __init__(self, client=None, conf=CONF, size=_CACHE_SIZE):
        self._client = client
        self._conf = conf
        self._size = size
        self._verified = bounded.BoundedDict(self._size)   # (api_url, st2 id) -> root id
        self._refused = bounded.BoundedDict(self._size)    # (api_url, st2 id, root id) -> text
        self._lock = threading.Lock()

    def key_credentials(self):
        """The API key (or nothing, when none is configured: st2 without auth)."""
        return st2api.Credentials(api_key=self._conf[opts.GROUP].api_key)

    def verify(self, api_url, st2_execution_id, root_id):
        """Return when st2 says ``st2_execution_id`` is ``root_id``'s st2 execution.

        Raises NotBound, or St2Error when st2 could not be asked.
        """
        api_url = api_url.rstrip('/')
        key = (api_url, st2_execution_id)
        with self._lock:
            if self._verified.get(key) == root_id:
                return
            refused = self._refused.get(key + (root_id,))
        if refused is not None:
            raise NotBound(refused, final=True, repeated=True)
        client = self._client or st2api.get_client()
        record = client.send('GET', contract.execution_url(api_url, st2_execution_id),
                             self.key_credentials())
        problem = check(record, st2_execution_id, root_id)
        if problem is not None and problem.final:
            self._remember(self._refused, key + (root_id,), str(problem))
        if problem is not None:
            raise problem
        self._remember(self._verified, key, root_id)

    def _remember(self, entries, key, value):
        with self._lock:
            entries.put(key, value)


@singleton.process_wide
def get_verifier():
    """The process-wide verifier of st2.action (the publisher's Sender has its own)."""
    return Verifier()
