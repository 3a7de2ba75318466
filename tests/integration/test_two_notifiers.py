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

"""Two st2 notifier servers on the production topology: the stock multi-process
``mistral-server --server all`` (``[notifier] type = remote``) over RabbitMQ
and PostgreSQL, plus a second ``mistral-server --server notifier`` on the same
configuration, queue, database and ``[st2] state_dir``.

RabbitMQ hands the events of one workflow to either server, so two processes
publish for the same st2 execution concurrently. What keeps st2 right:

- each server orders and supersedes per st2 execution, and never sends
  anything after a completed status it sent or has queued;
- across servers, the completed status is final in st2 itself: st2 answers 400
  "already in completed state" to a late ``running`` from the other server,
  which counts as delivered. The completed status is always sent, whichever
  server has it, so nothing is left ``running``.
- Where it cannot hold: between two NON-completed statuses handled by different
  servers (``running``/``paused``), e.g. server A retrying an old ``running``
  while server B delivers ``paused``; the last to reach st2 wins until the next
  event. This test runs fast workflows (no pauses); it proves none is stuck and
  none moves backwards.

Skipped, with the reason, only where RabbitMQ or PostgreSQL is not reachable.
"""

import concurrent.futures
import os
import signal
import subprocess
import sys
import time

import pytest

from st2mistral.core import contract
from st2mistral.testing import mistral_launcher
from st2mistral.testing import st2_emulator
from st2mistral.testing.waiting import wait_until
from tests.functional.conftest import TOKEN
from tests.functional.conftest import fast_retry_config
from tests.functional.conftest import unique
from tests.functional.faults.conftest import wait_spool_empty
from tests.functional.notifiers.test_stackstorm_notifier import simple_wf

available, reason = mistral_launcher.services_available()
pytestmark = pytest.mark.skipif(not available, reason='two notifier servers need RabbitMQ '
                                'and PostgreSQL on 127.0.0.1: %s' % reason)

WORKFLOWS = 320
FAIL_EVERY = 5
SECOND_LOG = 'mistral-notifier-2.log'


class SecondNotifier:
    """``mistral-server --server notifier`` started and stopped by its PID (group)."""

    def __init__(self, mistral):
        self.workdir = mistral.workdir
        self.log_path = os.path.join(self.workdir, SECOND_LOG)
        self.conf_path = os.path.join(self.workdir, 'mistral-notifier-2.conf')
        with open(mistral.conf_path) as f:
            conf = f.read()
        main_log = 'log_file = %s\n' % mistral.log_path
        assert main_log in conf
        with open(os.open(self.conf_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                  'w') as f:
            f.write(conf.replace(main_log, 'log_file = %s\n' % self.log_path))
        self._proc = None

    def start(self, timeout=60):
        server = os.path.join(os.path.dirname(sys.executable), 'mistral-server')
        with open(self.log_path, 'ab') as log:
            # Its own session: the oslo.service master forks a worker, and both
            # are stopped together through the group of the PID started here.
            self._proc = subprocess.Popen(
                [server, '--server', 'notifier', '--config-file', self.conf_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.workdir, start_new_session=True)
        def started():
            if self._proc.poll() is not None:
                raise RuntimeError('second notifier exited:\n' + self.text()[-3000:])
            return 'Notification server started.' in self.text()

        try:
            wait_until(started, timeout=timeout, interval=0.1,
                       message=lambda: 'the second notifier to start:\n' + self.text()[-3000:])
        except Exception:
            self.stop()
            raise
        return self

    def stop(self, grace=5):
        if self._proc is None:
            return
        for signum in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self._proc.pid, signum)
            except ProcessLookupError:
                break
            try:
                self._proc.wait(timeout=grace)
                if signum == signal.SIGKILL:
                    break
            except subprocess.TimeoutExpired:
                continue
        self._proc.wait()
        self._proc = None

    def text(self):
        try:
            with open(self.log_path, encoding='utf-8', errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def lines(self, contains):
        return [line for line in self.text().splitlines() if contains in line]


@pytest.fixture(scope='module')
def st2():
    with st2_emulator.St2Emulator(tokens=(TOKEN,)) as emulator:
        yield emulator


@pytest.fixture(scope='module')
def servers(st2, tmp_path_factory):
    mistral = mistral_launcher.MistralServer(
        str(tmp_path_factory.mktemp('two_notifiers')), topology='stock',
        notifier_type='remote', notify=[contract.ST2_NOTIFY_ENTRY], config=fast_retry_config(st2))
    with mistral.start(timeout=120):
        second = SecondNotifier(mistral).start()
        try:
            yield mistral, second
        finally:
            second.stop()


def _start_all(mistral, st2, workflows):
    """Start every (workflow, expected st2 status) at once, as a busy st2 would."""
    def start(item):
        workflow, status = item
        st2_id = st2.add_execution(action='examples.' + workflow)
        ex = mistral.client().executions.create(
            workflow, env=contract.build_env(st2_id, st2.api_url, auth_token=TOKEN))
        return ex.id, st2_id, status
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(start, workflows))


def _wait_mistral_done(mistral, ex_ids, timeout):
    client = mistral.client()
    seen = {'states': {}, 'running': list(ex_ids)}

    def all_done():
        seen['states'] = {ex.id: ex.state for ex in client.executions.list(
            limit=-1, fields=['state']) if ex.id in ex_ids}
        seen['running'] = [i for i in ex_ids
                           if seen['states'].get(i) not in mistral_launcher.TERMINAL_STATES]
        return not seen['running']

    wait_until(all_done, timeout=timeout, interval=0.5,
               message=lambda: '%d workflows still running in Mistral' % len(seen['running']))
    return seen['states']


def _final_lines(lines):
    return [line for line in lines if ('WORKFLOW_SUCCEEDED' in line or 'WORKFLOW_FAILED'
                                       in line) and line.endswith('is published to st2.')]


def test_300_fast_workflows_over_two_notifier_servers(servers, st2):
    mistral, second = servers
    client = mistral.client()
    ok_wf, fail_wf = unique('two_ok'), unique('two_fail')
    client.workflows.create(simple_wf(ok_wf, tasks=1))
    client.workflows.create(simple_wf(fail_wf, tasks=1, fail=True))
    plan = [(fail_wf, 'failed') if i % FAIL_EVERY == 0 else (ok_wf, 'succeeded')
            for i in range(WORKFLOWS)]

    started = time.monotonic()
    runs = _start_all(mistral, st2, plan)
    states = _wait_mistral_done(mistral, {ex_id for ex_id, _, _ in runs}, timeout=300)
    mistral_done = time.monotonic()
    assert sorted(states.values()) == sorted(
        'ERROR' if status == 'failed' else 'SUCCESS' for _, status in plan)

    # None stuck: every st2 execution reaches its true final status.
    expected = {st2_id: status for _, st2_id, status in runs}
    st2.wait_for(lambda s: all(s.execution(i)['status'] == v for i, v in expected.items()),
                 timeout=60, interval=0.2)
    print('%d workflows: Mistral done in %.1f s, st2 up to date %.1f s later' % (
        WORKFLOWS, mistral_done - started, time.monotonic() - mistral_done))

    # None regressed: one change per execution, to its final status, nothing after.
    for ex_id, st2_id, status in runs:
        assert [h['status'] for h in st2.execution(st2_id)['history']] == [
            'running', status], ex_id

    # Both servers really published final updates, from their own spool slots.
    first_lines = _final_lines(mistral.log_lines('stackstorm_notifier'))
    second_lines = _final_lines(second.lines('stackstorm_notifier'))
    print('final updates sent: stock notifier %d, second notifier %d' % (
        len(first_lines), len(second_lines)))
    assert len(first_lines) + len(second_lines) >= WORKFLOWS
    assert len(first_lines) >= WORKFLOWS // 10 and len(second_lines) >= WORKFLOWS // 10
    for ex_id, _, _ in runs:
        assert any(ex_id in line for line in first_lines + second_lines), ex_id
    # One state_dir, one slot each; both left empty (nothing waits for st2).
    assert sorted(name for name in os.listdir(os.path.join(mistral.workdir, 'st2-spool'))
                  if name.endswith('.sqlite')) == ['spool-0.sqlite', 'spool-1.sqlite']
    wait_spool_empty(mistral)

    for lines in (mistral.log_lines('stackstorm_notifier'), second.lines('stackstorm_notifier')):
        assert not [line for line in lines if ' ERROR ' in line]
    assert not mistral.log_lines('Exception in thread') and not second.lines(
        'Exception in thread')
    assert not mistral.log_lines(TOKEN) and not second.lines(TOKEN)
