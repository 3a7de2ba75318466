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

"""What the relay service does with one st2 stream event (stand-ins for both clients)."""

from oslo_config import cfg

from st2mistral.runner import config
from st2mistral.runner import service

CALLBACK = {'source': 'mistral_v2', 'url': 'http://mistral:8989/v2/action_executions/ae-1'}


class St2:
    def __init__(self, docs):
        self.docs = docs
        self.calls = []

    def call(self, method, url, credentials, **kw):
        self.calls.append((method, url))
        return self.docs[url.rsplit('/', 1)[-1]]


class ActionExecutions:
    def __init__(self):
        self.updates = []

    def update(self, id, state=None, output=None):
        self.updates.append((id, state, output))


class Mistral:
    def __init__(self):
        self.action_executions = ActionExecutions()


def make(tmp_path, docs=None):
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('tracking_dir', str(tmp_path), group='mistral')
    mistral, st2 = Mistral(), St2(docs or {})
    return service.Service(conf, mistral_client=mistral, st2_client=st2), mistral, st2


def test_only_finished_children_of_mistral_tasks_are_relayed(tmp_path):
    svc, mistral, st2 = make(tmp_path)
    svc.on_execution_update({'id': 'a', 'status': 'running', 'result': {},
                             'liveaction': {'callback': CALLBACK}})
    svc.on_execution_update({'id': 'b', 'status': 'succeeded', 'result': {},
                             'liveaction': {'callback': {}}})
    svc.on_execution_update({'id': 'c', 'status': 'succeeded', 'result': {'x': 1},
                             'liveaction': {'callback': CALLBACK}})
    assert mistral.action_executions.updates == [('ae-1', 'SUCCESS', {'x': 1})]
    assert st2.calls == []


def test_an_event_without_the_result_is_completed_from_the_api(tmp_path):
    full = {'id': 'c', 'status': 'failed', 'result': {'stderr': 'e'},
            'liveaction': {'callback': CALLBACK}}
    svc, mistral, st2 = make(tmp_path, {'c': full})
    svc.on_execution_update({'id': 'c', 'status': 'failed', 'liveaction': {'callback': CALLBACK}})
    assert st2.calls == [('GET', 'http://127.0.0.1:9101/v1/executions/c')]
    assert mistral.action_executions.updates == [('ae-1', 'ERROR', {'stderr': 'e'})]
