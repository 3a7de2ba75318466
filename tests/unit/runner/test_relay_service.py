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

from st2mistral.st2_side import config
from st2mistral.st2_side import relay_service

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
    mistral, st2 = Mistral(), St2(docs or {})
    return relay_service.Relay(conf, mistral_client=mistral, st2_client=st2), mistral, st2


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


def test_the_st2_execution_id_is_read_from_the_mistral_env():
    class Ex:
        params = '{"env": {"st2_execution_id": "5f00"}, "notify": []}'

    class NoEnv:
        params = '{"notify": []}'

    assert relay_service.st2_execution_id_of(Ex()) == '5f00'
    assert relay_service.st2_execution_id_of(NoEnv()) is None
    assert relay_service.st2_execution_id_of(object()) is None


def test_a_missing_config_file_is_one_clear_line(capsys):
    assert relay_service.main(['--config-file', '/nonexistent/st2.conf']) == 2
    err = capsys.readouterr().err
    assert err.startswith('st2mistral-relay: ') and 'Traceback' not in err
    assert '/nonexistent/st2.conf' in err and '--config-file /etc/st2/st2.conf' in err


def test_a_failing_job_is_logged_once_and_its_recovery_once(tmp_path, caplog):
    import logging
    import threading

    svc, _, _ = make(tmp_path)
    runs = []
    done = threading.Event()

    def check_pauses():
        runs.append(1)
        if len(runs) >= 5:
            svc._stopping.set()
            done.set()
        elif len(runs) < 4:
            raise ConnectionError('Mistral is down')

    caplog.set_level(logging.INFO)
    svc._every(0, check_pauses)
    assert done.is_set() and len(runs) == 5
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and 'check_pauses failed' in errors[0]
    assert 'ConnectionError: Mistral is down' in errors[0]
    assert [m for m in caplog.messages if 'works again' in m] == [
        "The relay's check_pauses works again."]
