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

"""One contract suite, two backends: the st2 emulator and StackStorm's own code.

Every test in tests/contract/ takes the ``backend`` fixture and runs once per
backend and st2 tag: ``emulator-v3.9.0``, ``emulator-v3.2.0`` (the emulator set
to that version) and ``real-<tag>`` for each tag to run (``ST2MISTRAL_ST2_TAGS``,
by default ``real-v3.9.0`` and ``real-v3.2.0``; tox realst2-38 runs
``real-v3.5.0`` and ``real-v3.9.0``: st2's own api, stream, auth, scheduler and
action runner from ``ST2MISTRAL_ST2_SRC``; none when it is not set). A test
asserts exactly what st2 answers, so any difference between the emulator and st2
fails it.
"""

import http.server
import json
import pathlib
import subprocess
import threading

import pytest
import requests

from st2mistral.testing import st2_emulator
from st2mistral.testing.real_st2 import build
from st2mistral.testing.real_st2 import launcher
from st2mistral.testing.real_st2 import settings
from st2mistral.testing.waiting import wait_until

PACK = pathlib.Path(__file__).with_name('st2mistral_tests')
WORKFLOW_ACTION = 'st2mistral_tests.wf_sleep'  # a mistral-v2 action
CHILD_ACTION = 'st2mistral_tests.echo'  # a local-shell-cmd action
# The versions the emulator is checked at; real st2 at every tag to run (ST2MISTRAL_ST2_TAGS,
# by default v3.9.0 and v3.2.0; tox realst2-38: v3.5.0 and v3.9.0).
TAGS = ('v3.9.0', 'v3.2.0')
# Real st2 only where its source is set (else one line in the header and the summary).
REAL = [('real', tag) for tag in settings.tags()]
BACKENDS = [('emulator', tag) for tag in TAGS] + REAL
TIMEOUT = 30
# What st2's registrar registers from the pack (the emulator is told the same).
PACK_ACTIONS = tuple(sorted('%s.%s' % (PACK.name, path.stem)
                           for path in (PACK / 'actions').glob('*.yaml')))


class MistralRecorder:
    """A stand-in Mistral API that records the action execution updates st2 sends."""

    def __init__(self):
        self.updates = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                recorder.updates.append((self.path, json.loads(body or b'{}')))
                answer = json.dumps({'id': self.path.rsplit('/', 1)[-1]}).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d/v2' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def updates_for(self, action_execution_id):
        return [body for path, body in self.updates
                if path == '/v2/action_executions/%s' % action_execution_id]


@pytest.fixture(scope='session')
def mistral_recorder():
    recorder = MistralRecorder()
    yield recorder
    recorder.server.shutdown()


class Backend:
    """What a contract test needs from an st2, whichever it is."""

    def __init__(self, kind, tag, api_url, auth_url, stream_url, token, api_key,
                 expired_token):
        self.kind = kind
        self.tag = tag
        self.version = settings.version_of(tag)
        self.api_url = api_url
        self.auth_url = auth_url
        self.stream_url = stream_url
        self.token = token
        self.api_key = api_key
        self.expired_token = expired_token

    @property
    def headers(self):
        return {'X-Auth-Token': self.token}

    def get(self, path, **kw):
        return requests.get(self.api_url + path, headers=kw.pop('headers', self.headers),
                            timeout=TIMEOUT, **kw)

    def put(self, path, body, **kw):
        return requests.put(self.api_url + path, json=body,
                            headers=kw.pop('headers', self.headers), timeout=TIMEOUT, **kw)

    def post(self, path, body, **kw):
        headers = dict(self.headers)
        headers.update(kw.pop('headers', {}))
        return requests.post(self.api_url + path, json=body, headers=headers,
                             timeout=TIMEOUT, **kw)

    def wait_for_status(self, execution_id, statuses, timeout=TIMEOUT):
        seen = {}

        def reached():
            seen.clear()
            seen.update(self.get('/executions/%s' % execution_id).json())
            return dict(seen) if seen.get('status') in statuses else None

        return wait_until(reached, timeout=timeout,
                          message=lambda: 'execution %s to reach %s; last seen %s' % (
                              execution_id, statuses, seen.get('status')))


class EmulatorBackend(Backend):
    def __init__(self, emulator, tag):
        super().__init__('emulator', tag, emulator.api_url, emulator.auth_url,
                         emulator.stream_url, 'st2-token', 'st2-key', 'st2-expired')
        self.emulator = emulator

    def new_execution(self, status='running', action=WORKFLOW_ACTION, runner='mistral-v2',
                      context=None, callback=None):
        ex_id = self.emulator.add_execution(status=status, action=action, runner=runner,
                                            context=dict(context or {'user': 'st2admin'}),
                                            callback=callback)
        return ex_id, self.emulator.execution(ex_id)['liveaction_id']


class RealBackend(Backend):
    def __init__(self, st2, tag):
        super().__init__('real', tag, st2.api_url, st2.auth_url, st2.stream_url,
                         st2.control('create_token'), st2.control('create_api_key'),
                         st2.control('create_token', expired=True))
        self.st2 = st2

    def new_execution(self, status='running', action=WORKFLOW_ACTION, runner='mistral-v2',
                      context=None, callback=None):
        made = self.st2.control('new_execution', action=action, status=status,
                                context=context, callback=callback)
        return made['id'], made['liveaction_id']


@pytest.fixture(scope='session')
def real_st2_servers(tmp_path_factory, mistral_recorder):
    """One real st2 per tag, started on first use, for the whole session."""
    servers = {}
    failures = {}

    def get(tag):
        if tag in failures:  # a tag that cannot build or start fails once, not per test
            pytest.fail('real st2 %s did not start (first error above): %s'
                        % (tag, failures[tag]))
        if tag not in servers:
            try:
                servers[tag] = _start_real(tag, tmp_path_factory.mktemp('real-st2-%s' % tag),
                                           mistral_recorder)
            except Exception as exc:
                failures[tag] = exc
                raise
        return servers[tag]

    yield get
    for server in servers.values():
        server.stop()


def _start_real(tag, workdir, mistral_recorder):
    src = settings.source()
    if src is None:
        pytest.skip(settings.SKIP_REASON)
    if tag not in settings.tags():
        pytest.skip('real st2 %s: not in ST2MISTRAL_ST2_TAGS / %s' % (tag, src))
    python = settings.python_for(tag)
    if python is None:
        pytest.skip('real st2 %s: no Python %s found' % (tag, ' or '.join(
            settings.PYTHONS.get(tag, ()))))
    venv = build.build(src, tag, python)
    # API rules only: no scheduler or action runner acts on the executions tests make.
    # [mistral] for st2 3.2's own callback module: the recorder, quick retries.
    config = {'mistral': {'v2_base_url': mistral_recorder.url, 'retry_exp_msec': 10,
                          'retry_exp_max_msec': 100, 'retry_stop_max_msec': 1000},
              'keyvalue': {'encryption_key_path': _crypto_key(venv, workdir)}}
    return launcher.RealSt2(workdir, venv, packs=[PACK], runners=False, config=config).start()


def _crypto_key(venv, workdir):
    """An st2 datastore encryption key made by st2's own code (what
    st2-generate-symmetric-crypto-key writes), for secret keys (``secret: true``)."""
    path = workdir / 'datastore_key.json'
    made = subprocess.run(
        [str(pathlib.Path(venv) / 'bin' / 'python'), '-c',
         'from st2common.util.crypto import AESKey; print(AESKey.generate().to_json())'],
        capture_output=True, text=True, timeout=120, check=True)
    path.write_text(made.stdout.strip())
    return str(path)


def pytest_report_header(config):
    if settings.source() is None:
        return settings.SKIP_REASON


@pytest.fixture(params=REAL, ids=['%s-%s' % b for b in REAL])
def real_backend(request, real_st2_servers):
    """Real st2 only (what has no API to compare with the emulator)."""
    return RealBackend(real_st2_servers(request.param[1]), request.param[1])


@pytest.fixture(params=BACKENDS, ids=['%s-%s' % b for b in BACKENDS])
def backend(request, real_st2_servers, mistral_recorder):
    kind, tag = request.param
    if kind == 'real':
        yield RealBackend(real_st2_servers(tag), tag)
        return
    emulator = st2_emulator.St2Emulator(tokens=('st2-token', 'st2-expired'),
                                        api_keys=('st2-key',), version=tag.lstrip('v'),
                                        actions=PACK_ACTIONS,
                                        mistral_url=mistral_recorder.url)
    emulator.expire_token('st2-expired')
    with emulator:
        yield EmulatorBackend(emulator, tag)
