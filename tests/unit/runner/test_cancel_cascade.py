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

"""The relay's cancel job: which children it cancels and the st2 calls it makes.
(On real st2 v3.9.0: tests/functional/real_st2/test_other_runner_parents.py.)"""

from st2mistral.st2_side import st2_executions
from st2mistral.st2_side.relay import cancels

API = 'http://st2/api/v1'


class FakeSt2:
    """st2's GET /executions filters (status, parent) and DELETE, recorded."""

    def __init__(self, executions):
        self.executions = executions
        self.calls = []

    def call(self, method, url, credentials, params=None, **unused):
        self.calls.append((method, url, dict(params or {})))
        if method == 'DELETE':
            return {'id': url.rsplit('/', 1)[1], 'status': 'canceling'}
        params = params or {}
        found = [ex for ex in self.executions
                 if all(ex.get(key) == params[key] for key in ('status', 'parent')
                        if key in params)]
        return found[params['offset']:params['offset'] + params['limit']]


def ex(id, runner, status, parent=None, children=()):
    return {'id': id, 'runner': {'name': runner}, 'status': status, 'parent': parent,
            'children': list(children)}


def deletes(st2):
    return [url.rsplit('/', 1)[1] for method, url, _ in st2.calls if method == 'DELETE']


def test_mistral_children_of_canceling_parents_are_cancelled_once_each():
    st2 = FakeSt2([
        ex('chain', 'action-chain', 'canceling', children=['m1', 'local1']),
        ex('m1', 'mistral-v2', 'running', parent='chain'),
        ex('local1', 'local-shell-cmd', 'running', parent='chain'),
        ex('orq', 'orquesta', 'canceling', children=['m2', 'm3', 'm4']),
        ex('m2', 'mistral-v2', 'paused', parent='orq'),
        ex('m3', 'mistral-v2', 'canceling', parent='orq'),   # asked already
        ex('m4', 'mistral-v2', 'succeeded', parent='orq'),
        ex('runningchain', 'action-chain', 'running', children=['m5']),
        ex('m5', 'mistral-v2', 'running', parent='runningchain'),
    ])
    executions = st2_executions.St2Executions(st2, API + '/', None)
    assert cancels.cancel_children(executions) == ['m1', 'm2']
    assert deletes(st2) == ['m1', 'm2']
    assert all(url == API + '/executions' or url.startswith(API + '/executions/')
               for _, url, _ in st2.calls)


def test_nothing_canceling_costs_one_call():
    st2 = FakeSt2([ex('m1', 'mistral-v2', 'running')])
    assert cancels.cancel_children(st2_executions.St2Executions(st2, API, None)) == []
    assert [(m, p.get('status')) for m, _, p in st2.calls] == [('GET', 'canceling')]


def test_pages_are_followed():
    parents = [ex('p%03d' % i, 'action-chain', 'canceling') for i in range(150)]
    st2 = FakeSt2(parents)
    cancels.cancel_children(st2_executions.St2Executions(st2, API, None))
    assert [p['offset'] for _, _, p in st2.calls] == [0, 100]
