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

"""End to end on StackStorm's own code: real st2 (one process) + real Mistral 23.

st2's API, scheduler and action runner run the project's ``mistral-v2`` runner,
which starts the workflow on the single-process Mistral; the Mistral side's
publisher reports back to st2's API. Skipped with one line without
``ST2MISTRAL_ST2_SRC``.
"""


import contextlib

import pytest
import requests

from st2mistral.testing import mistral_launcher
from st2mistral.testing.real_st2 import build
from st2mistral.testing.real_st2 import launcher
from st2mistral.testing.real_st2 import settings
from st2mistral.testing.waiting import wait_until
from tests.contract.conftest import PACK

# Every tag to run that the st2 side runs on (ST2MISTRAL_ST2_TAGS: v3.9.0 by default, v3.5.0
# and v3.9.0 in tox realst2-38); one stack per tag, one after the other.
TAGS = settings.project_tags()
TIMEOUT = 60


class Stack:
    """The pair, and what tests do with them through st2's API."""

    def __init__(self, st2, mistral):
        self.st2 = st2
        self.mistral = mistral
        self.token = st2.control('create_token')
        self.relay_started = False

    @property
    def headers(self):
        return {'X-Auth-Token': self.token}

    def run(self, action, parameters=None):
        answer = requests.post(self.st2.api_url + '/executions', headers=self.headers,
                               json={'action': action, 'parameters': parameters or {}},
                               timeout=TIMEOUT)
        assert answer.status_code == 201, answer.text
        return answer.json()['id']

    def execution(self, execution_id):
        answer = requests.get(self.st2.api_url + '/executions/%s' % execution_id,
                              headers=self.headers, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait(self, execution_id, statuses, timeout=TIMEOUT):
        seen = {}

        def reached():
            seen.clear()
            seen.update(self.execution(execution_id))
            return dict(seen) if seen['status'] in statuses else None

        return wait_until(reached, timeout=timeout, interval=0.1,
                          message=lambda: 'st2 execution %s to reach %s; last %s %s; see %s' % (
                              execution_id, statuses, seen.get('status'), seen.get('result'),
                              self.st2.log_path))

    def run_to_end(self, action, status, tasks, state):
        """Run ``action`` to a completed status; assert st2's status, the task names and
        Mistral's state in ``extra``; return st2's execution."""
        done = self.wait(self.run(action), ('succeeded', 'failed'))
        assert done['status'] == status, done.get('result')
        assert task_names(done['result']) == tasks
        assert done['result']['extra']['state'] == state
        return done

    def run_workflow_with_a_child(self):
        """Run wf_child (one st2.action task) to its end; assert the st2 side of it and
        return (the workflow's st2 execution, its child's)."""
        ex_id = self.run('st2mistral_tests.wf_child')
        done = self.wait(ex_id, ('succeeded', 'failed'))
        assert done['status'] == 'succeeded', done.get('result')
        assert done['result']['said'].strip() == 'from-child'
        (child_id,) = done['children']
        child = self.execution(child_id)
        assert (child['action']['ref'], child['status']) == ('st2mistral_tests.echo', 'succeeded')
        assert child['parent'] == ex_id
        return done, child

    def run_st2kv_workflow(self, value='hello from st2kv'):
        """Run wf_st2kv (``cmd: "echo {{ st2kv.system.st2mistral_greeting }}"`` in an st2
        action task) with the key set through st2's API; assert st2 rendered it."""
        answer = requests.put(self.st2.api_url + '/keys/st2mistral_greeting',
                              headers=self.headers, timeout=TIMEOUT,
                              json={'name': 'st2mistral_greeting', 'value': value})
        assert answer.status_code == 200, answer.text
        done = self.wait(self.run('st2mistral_tests.wf_st2kv'), ('succeeded', 'failed'))
        assert done['status'] == 'succeeded', done.get('result')
        assert done['result']['said'].strip() == value
        (child_id,) = done['children']
        assert self.execution(child_id)['parameters'] == {'cmd': 'echo %s' % value}
        return done

    def mistral_id(self, execution_id, timeout=TIMEOUT):
        """The Mistral execution the runner started (from st2's execution context)."""
        def started():
            ex = self.execution(execution_id)
            mistral = (ex.get('context') or {}).get('mistral') or {}
            # A completed execution without one will never get one: fail now.
            assert mistral.get('execution_id') or ex['status'] not in (
                'failed', 'succeeded', 'canceled'), (
                'no Mistral execution in the context of %s: %s' % (execution_id, ex))
            return mistral.get('execution_id')

        return wait_until(started, timeout=timeout, interval=0.1,
                          message=lambda: 'a Mistral execution in the context of %s: %s' % (
                              execution_id, self.execution(execution_id)))

    def start_relay(self):
        """The st2 side's relay in st2's process (once per session), calling st2 with a key."""
        if not self.relay_started:
            key = self.st2.control('create_api_key')
            self.st2.control('start_relay', overrides={'mistral': {'st2_api_key': key}})
            self.relay_started = True

    def put_status(self, execution_id, status):
        """``st2 execution pause|resume``: ``PUT /executions/<id>`` with pausing/resuming."""
        answer = requests.put(self.st2.api_url + '/executions/%s' % execution_id,
                              headers=self.headers, json={'status': status}, timeout=TIMEOUT)
        return answer.status_code, answer.json()

    def cancel(self, execution_id):
        answer = requests.delete(self.st2.api_url + '/executions/%s' % execution_id,
                                 headers=self.headers, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        return answer.json()


def task_names(result):
    return sorted(task['name'] for task in result.get('tasks') or ())


@contextlib.contextmanager
def running_stack(workdir, venv, st2_extra=None, **st2_options):
    """Mistral 23 with this package's Mistral side, and real st2 (from ``venv``)
    whose ``[mistral]`` points at it; ``st2_extra`` adds st2.conf options."""
    port = launcher.free_port()
    base = 'http://127.0.0.1:%d' % port
    mistral_conf = {'st2': {'api_url': base + '/api/v1', 'auth_url': base + '/auth',
                            'retry_initial_delay': 0.05, 'retry_max_delay': 0.5}}
    with mistral_launcher.MistralServer(str(workdir / 'mistral'),
                                        config=mistral_conf) as mistral:
        # st2_stream_url: the relay follows st2's stream where st2 answers.
        st2_conf = {'mistral': {'v2_base_url': mistral.api_url, 'jitter_interval': 0,
                                'retry_exp_msec': 50, 'retry_exp_max_msec': 500,
                                'st2_stream_url': base + '/stream/v1'}}
        for group, values in (st2_extra or {}).items():
            st2_conf.setdefault(group, {}).update(values)
        st2 = launcher.RealSt2(workdir / 'st2', venv, port=port, config=st2_conf,
                               packs=[PACK], **st2_options)
        with st2:
            yield Stack(st2, mistral)


@pytest.fixture(scope='session', params=TAGS or [None],
                ids=lambda tag: 'real-%s' % tag if tag else 'real')
def stack(request, tmp_path_factory):
    src, tag = settings.source(), request.param
    if src is None:
        pytest.skip(settings.SKIP_REASON)
    if tag is None:
        pytest.skip('real st2: ST2MISTRAL_ST2_TAGS (%s) names no st2 3.5 or later'
                    % ','.join(settings.tags()))
    python = settings.python_for(tag)
    if python is None:
        pytest.skip('real st2 %s: no Python %s found' % (
            tag, ' or '.join(settings.PYTHONS.get(tag, ('3.11',)))))
    venv = build.build(src, tag, python)
    with running_stack(tmp_path_factory.mktemp('real-st2-e2e-%s' % tag), venv) as stack:
        yield stack
