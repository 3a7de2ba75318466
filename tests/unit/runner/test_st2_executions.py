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

"""The st2 side's one reader of st2's executions: the requests it makes, page by page."""

from st2mistral.core import st2api
from st2mistral.st2_side import st2_executions

API = 'http://st2/v1/'
CREDENTIALS = st2api.Credentials(api_key='k')


class St2:
    """st2's executions list: ``limit``/``offset`` pages over the executions that match."""

    def __init__(self, executions):
        self.executions = executions
        self.requests = []

    def call(self, method, url, credentials, json_body=None, params=None):
        assert credentials is CREDENTIALS
        self.requests.append((method, url, dict(params or {}), json_body))
        if url.endswith('/executions') and method == 'GET':
            found = [e for e in self.executions
                     if all(e.get(k) == v for k, v in params.items()
                            if k in ('runner', 'status', 'parent'))]
            return found[params['offset']:params['offset'] + params['limit']]
        return {'id': url.rsplit('/', 1)[-1], 'status': (json_body or {}).get('status')}


def test_a_list_reads_every_page_of_100():
    st2 = St2([{'id': str(n), 'runner': 'mistral-v2', 'status': 'running'}
               for n in range(250)])
    found = st2_executions.St2Executions(st2, API, CREDENTIALS).active(('running', 'paused'))
    assert [e['id'] for e in found] == [str(n) for n in range(250)]
    assert [(r[1], r[2]) for r in st2.requests] == [
        ('http://st2/v1/executions', {'runner': 'mistral-v2', 'status': status,
                                      'exclude_attributes': 'result', 'limit': 100,
                                      'offset': offset})
        for status, offset in (('running', 0), ('running', 100), ('running', 200),
                               ('paused', 0))]


def test_children_are_listed_only_for_an_execution_that_names_some():
    st2 = St2([{'id': 'c1', 'parent': 'p'}, {'id': 'c2', 'parent': 'p'}])
    reader = st2_executions.St2Executions(st2, API, CREDENTIALS)
    assert reader.children({'id': 'p', 'children': []}) == []
    assert st2.requests == []
    assert [c['id'] for c in reader.children({'id': 'p', 'children': ['c1', 'c2']})] == [
        'c1', 'c2']
    assert st2.requests[0][2] == {'parent': 'p', 'exclude_attributes': 'result',
                                  'limit': 100, 'offset': 0}


def test_get_and_update_name_the_execution():
    st2 = St2([])
    reader = st2_executions.St2Executions(st2, API, CREDENTIALS)
    assert reader.get('e1') == {'id': 'e1', 'status': None}
    assert reader.update('e1', 'succeeded', {'x': 1}) == 'succeeded'
    assert [r[:2] for r in st2.requests] == [('GET', 'http://st2/v1/executions/e1'),
                                             ('PUT', 'http://st2/v1/executions/e1')]
    assert st2.requests[1][3] == {'status': 'succeeded', 'result': {'x': 1}}
