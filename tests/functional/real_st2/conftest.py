"""End to end on StackStorm's own code: real st2 (one process) + real Mistral 23.

st2's API, scheduler and action runner run the project's ``mistral-v2`` runner,
which starts the workflow on the single-process Mistral; the Mistral side's
publisher reports back to st2's API. Skipped with one line without
``ST2MISTRAL_ST2_SRC``.
"""

import time

import pytest
import requests

from st2mistral.testing import mistral_launcher
from st2mistral.testing.real_st2 import build
from st2mistral.testing.real_st2 import launcher
from st2mistral.testing.real_st2 import settings
from tests.contract.conftest import PACK

TAG = 'v3.9.0'
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
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = self.execution(execution_id)
            if seen['status'] in statuses:
                return seen
            time.sleep(0.1)
        raise AssertionError('st2 execution %s never reached %s; last %s %s; see %s'
                             % (execution_id, statuses, seen['status'], seen.get('result'),
                                self.st2.log_path))

    def mistral_id(self, execution_id, timeout=TIMEOUT):
        """The Mistral execution the runner started (from st2's execution context)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ex = self.execution(execution_id)
            mistral = (ex.get('context') or {}).get('mistral') or {}
            if mistral.get('execution_id'):
                return mistral['execution_id']
            if ex['status'] in ('failed', 'succeeded', 'canceled'):
                break
            time.sleep(0.1)
        raise AssertionError('no Mistral execution in the context of %s: %s'
                             % (execution_id, self.execution(execution_id)))

    def start_relay(self):
        """The st2 side's relay in st2's process (once per session), calling st2 with a key."""
        if not self.relay_started:
            key = self.st2.control('create_api_key')
            self.st2.control('start_relay', overrides={'mistral': {'st2_api_key': key}})
            self.relay_started = True

    def cancel(self, execution_id):
        answer = requests.delete(self.st2.api_url + '/executions/%s' % execution_id,
                                 headers=self.headers, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope='session')
def stack(tmp_path_factory):
    src = settings.source()
    if src is None:
        pytest.skip(settings.SKIP_REASON)
    if TAG not in settings.tags():
        pytest.skip('real st2 %s: not in ST2MISTRAL_ST2_TAGS' % TAG)
    python = settings.python_for(TAG)
    venv = build.build(src, TAG, python)
    workdir = tmp_path_factory.mktemp('real-st2-e2e')
    port = launcher.free_port()
    base = 'http://127.0.0.1:%d' % port
    mistral_conf = {'st2': {'api_url': base + '/api/v1', 'auth_url': base + '/auth',
                            'retry_initial_delay': 0.05, 'retry_max_delay': 0.5}}
    with mistral_launcher.MistralServer(str(workdir / 'mistral'),
                                        config=mistral_conf) as mistral:
        st2_conf = {'mistral': {'v2_base_url': mistral.api_url, 'jitter_interval': 0,
                                'retry_exp_msec': 50, 'retry_exp_max_msec': 500,
                                'st2_stream_url': base + '/stream/v1'}}
        st2 = launcher.RealSt2(workdir / 'st2', venv, port=port, config=st2_conf,
                               packs=[PACK])
        with st2:
            yield Stack(st2, mistral)
