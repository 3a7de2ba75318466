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

"""The st2 side's one reader of st2's executions through st2's API.

``GET /executions/<id>`` (``get``) and ``GET /executions`` page by page
(``list``; ``children`` and ``active`` are two such lists), plus the status
update every st2 side writer sends (``update``, st2update.py) and the cancel
the relay's cancels job asks for (``cancel``). Used by the reconciler
(reconcile.py) and the relay's jobs (relay/). st2 3.2's querier
(st2_adapter.query) runs inside st2's results tracker, which holds no API
credentials: it reads st2 through st2's database, then runs the same
reconcile pass (``reconcile.check``).
"""

from st2mistral.core import contract
from st2mistral.core import st2update

# st2's default page size for non-admin users (st2api's ``max_page_size``).
ST2_PAGE = 100
RUNNER = 'mistral-v2'


class St2Executions:
    """st2's executions API for one st2 side client (``st2api.St2Client``) and its
    credentials."""

    def __init__(self, client, api_url, credentials):
        self.client = client
        self.api_url = api_url.rstrip('/')
        self.credentials = credentials

    def get(self, execution_id):
        """The execution's API document (``GET /executions/<id>``)."""
        return self.client.call('GET', contract.execution_url(self.api_url, execution_id),
                                self.credentials)

    def list(self, **filters):
        """Every execution st2 lists for ``filters``, in pages of ST2_PAGE."""
        found, offset = [], 0
        while True:
            params = dict(filters, limit=ST2_PAGE, offset=offset)
            page = self.client.call('GET', '%s/executions' % self.api_url, self.credentials,
                                    params=params) or []
            found.extend(page)
            if len(page) < ST2_PAGE:
                return found
            offset += ST2_PAGE

    def children(self, execution):
        """The st2 children of an execution document, without results (none listed
        when the document names no children)."""
        if not execution.get('children'):
            return []
        return self.list(parent=execution['id'], exclude_attributes='result')

    def active(self, statuses=contract.ST2_ACTIVE):
        """Every mistral-v2 execution with one of ``statuses``, without results."""
        found = []
        for status in statuses:
            found.extend(self.list(runner=RUNNER, status=status, exclude_attributes='result'))
        return found

    def cancel(self, execution_id):
        """Ask st2 to cancel an execution (``DELETE /executions/<id>``, what ``st2
        execution cancel`` sends); st2's answer."""
        return self.client.call('DELETE', contract.execution_url(self.api_url, execution_id),
                                self.credentials)

    def update(self, execution_id, status, result=None):
        """Set a status (and result) through ``PUT /executions/<id>``; the status st2
        then shows (st2update.update: a pause or cancel is confirmed by a second PUT)."""
        return st2update.update(lambda: st2update.put(
            self.client.call, self.api_url, execution_id, status, result, self.credentials),
            status)
