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

import logging
import threading

from oslo_config import cfg

from st2mistral.st2_side import config
from st2mistral.st2_side import relay_service
from st2mistral.st2_side.relay import pauses
from st2mistral.testing.waiting import wait_until

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
    svc.jobs['children'].on_execution_update({'id': 'a', 'status': 'running', 'result': {},
                             'liveaction': {'callback': CALLBACK}})
    svc.jobs['children'].on_execution_update({'id': 'b', 'status': 'succeeded', 'result': {},
                             'liveaction': {'callback': {}}})
    svc.jobs['children'].on_execution_update({'id': 'c', 'status': 'succeeded', 'result': {'x': 1},
                             'liveaction': {'callback': CALLBACK}})
    assert mistral.action_executions.updates == [('ae-1', 'SUCCESS', {'x': 1})]
    assert st2.calls == []


def test_an_event_without_the_result_is_completed_from_the_api(tmp_path):
    full = {'id': 'c', 'status': 'failed', 'result': {'stderr': 'e'},
            'liveaction': {'callback': CALLBACK}}
    svc, mistral, st2 = make(tmp_path, {'c': full})
    svc.jobs['children'].on_execution_update({'id': 'c', 'status': 'failed',
                                              'liveaction': {'callback': CALLBACK}})
    assert st2.calls == [('GET', 'http://127.0.0.1:9101/v1/executions/c')]
    assert mistral.action_executions.updates == [('ae-1', 'ERROR', {'stderr': 'e'})]


def test_the_st2_execution_id_is_read_from_the_mistral_env():
    class Ex:
        params = '{"env": {"st2_execution_id": "5f00"}, "notify": []}'

    class NoEnv:
        params = '{"notify": []}'

    assert pauses.st2_execution_id_of(Ex()) == '5f00'
    assert pauses.st2_execution_id_of(NoEnv()) is None
    assert pauses.st2_execution_id_of(object()) is None


def test_a_missing_config_file_is_one_clear_line(capsys):
    assert relay_service.main(['--config-file', '/nonexistent/st2.conf']) == 2
    err = capsys.readouterr().err
    assert err.startswith('st2mistral-relay: ') and 'Traceback' not in err
    assert '/nonexistent/st2.conf' in err and '--config-file /etc/st2/st2.conf' in err


def test_a_failing_job_is_logged_once_and_its_recovery_once(tmp_path, caplog,
                                                             monkeypatch):
    svc, _, _ = make(tmp_path)
    runs = []
    done = threading.Event()

    def run_once():
        runs.append(1)
        if len(runs) >= 5:
            svc._stopping.set()
            done.set()
        elif len(runs) < 4:
            raise ConnectionError('Mistral is down')

    monkeypatch.setattr(svc.jobs['pauses'], 'run_once', run_once)
    caplog.set_level(logging.INFO)
    svc._every(0, svc.jobs['pauses'])
    assert done.is_set() and len(runs) == 5
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "The relay's pauses job failed" in errors[0]
    assert 'ConnectionError: Mistral is down' in errors[0]
    assert [m for m in caplog.messages if 'works again' in m] == [
        "The relay's pauses job works again."]


class Job:
    """A job as relay/__init__.py describes one, recording its passes."""

    continuous = False
    in_once = True

    def __init__(self, relay):
        self.relay = relay
        self.passes = 0

    def interval(self):
        return 0.01

    def run_once(self):
        self.passes += 1
        return {}


class Off(Job):
    name = 'off'

    def interval(self):
        return None


class Twice(Job):
    name = 'twice'


class NotOnce(Job):
    name = 'not-once'
    in_once = False


def test_the_relay_runs_each_job_of_its_list_in_a_thread_named_after_it(tmp_path,
                                                                        monkeypatch):
    monkeypatch.setattr(relay_service, 'JOBS', (Off, Twice, NotOnce))
    svc, _, _ = make(tmp_path)
    assert list(svc.jobs) == ['off', 'twice', 'not-once']
    assert all(job.relay is svc for job in svc.jobs.values())
    before = set(threading.enumerate())
    svc.start()
    try:
        wait_until(lambda: svc.jobs['twice'].passes >= 2 and svc.jobs['not-once'].passes >= 2,
                   timeout=10)
        names = {t.name for t in set(threading.enumerate()) - before}
        assert {'st2mistral-twice', 'st2mistral-not-once'} <= names
        assert 'st2mistral-off' not in names
    finally:
        svc.stop()
    assert svc.jobs['off'].passes == 0


def test_once_runs_the_jobs_marked_for_it(tmp_path, monkeypatch):
    monkeypatch.setattr(relay_service, 'JOBS', (Off, Twice, NotOnce))
    svc, _, _ = make(tmp_path)
    assert svc.run_once() is True
    assert [job.passes for job in svc.jobs.values()] == [1, 1, 0]
