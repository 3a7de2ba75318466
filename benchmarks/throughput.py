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

"""Figure 3, throughput: st2 updates per second one notifier process sends.

In this process: the product's delivery layer (``delivery.sender.Sender`` with
the real ``St2Client``, its default worker count and the durable spool as
mistral.conf enables it by default) takes N updates of N distinct st2
executions; the time runs from the first ``submit()`` to ``flush()``
returning with nothing waiting or in flight. Baseline, in the same run and
process: Mistral's built-in ``webhook`` publisher posting the same number of
workflow events from as many threads as the sender has workers (its egress
deny-list is emptied here so it may post to 127.0.0.1; benchmark only).

Both send to the same minimal HTTP server (benchmarks.loopback) in another
process. The sender also sends to the strict st2 emulator (another process)
to show what a Python st2 stand-in sustains; the emulator, not the sender,
limits that figure.
"""

import concurrent.futures
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

from oslo_config import cfg

from benchmarks import harness
from benchmarks import stats
from st2mistral.core import opts
from st2mistral.core import results
from st2mistral.core import st2api
from st2mistral.mistral_side import targets
from st2mistral.mistral_side.delivery import sender as delivery

CONF = cfg.CONF


class ChildServer:
    """A server module run as ``python -m <module>``; first stdout line is its address."""

    def __init__(self, module):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(p for p in (root, env.get('PYTHONPATH')) if p)
        self.proc = subprocess.Popen(
            [sys.executable, '-m', module], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=env)
        self.address = json.loads(self.proc.stdout.readline())

    def ask(self, command):
        self.proc.stdin.write(command + '\n')
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()      # by PID: this object's own child
            self.proc.wait()


def completed_result():
    """The st2 result of a completed 3-task workflow (what the notifier sends)."""
    tasks = []
    for i, name in enumerate(('first', 'second', 'third')):
        tasks.append({'id': str(uuid.uuid4()), 'name': name,
                      'workflow_execution_id': str(uuid.uuid4()),
                      'workflow_name': harness.WF3_NAME,
                      'created_at': '2026-01-01 00:00:0%d' % i,
                      'updated_at': '2026-01-01 00:00:0%d' % i,
                      'state': 'SUCCESS', 'state_info': None,
                      'published': {'greeting': 'hello'} if i == 0 else {},
                      'result': 'hello' if i < 2 else None})
    snapshot = results.Snapshot(state='SUCCESS', output={'greeting': 'hello'}, tasks=tasks)
    return results.build_update(snapshot).result


def workflow_event(ex_id):
    """The ``data`` Mistral gives publishers for WORKFLOW_SUCCEEDED.

    See docs/contracts.rst, section 2.3.
    """
    now = datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M:%S')
    return {'id': ex_id, 'name': harness.WF3_NAME, 'workflow_name': harness.WF3_NAME,
            'workflow_namespace': '', 'workflow_id': str(uuid.uuid4()), 'state': 'SUCCESS',
            'state_info': None, 'project_id': '<default-project>', 'task_execution_id': None,
            'root_execution_id': None, 'created_at': now, 'updated_at': now,
            'event': 'WORKFLOW_SUCCEEDED'}


def sender_rate(api_url, execution_ids, result, store=None):
    """Updates per second through a fresh Sender; raises if any is left undelivered."""
    sender = delivery.Sender(client=st2api.St2Client(), store=store)
    sender.start()
    items = [delivery.Outgoing(
        target=targets.Target(execution_id=ex_id, api_url=api_url, token=harness.TOKEN),
        status='succeeded', result=result, root_id=str(uuid.uuid4()),
        event='WORKFLOW_SUCCEEDED', ex_id=str(uuid.uuid4())) for ex_id in execution_ids]
    try:
        started = time.monotonic()
        for item in items:
            sender.submit(item)
        drained = sender.flush(timeout=120)
        elapsed = time.monotonic() - started
    finally:
        sender.stop()
    if not drained:
        raise RuntimeError('the sender did not drain %d updates' % len(items))
    return len(items) / elapsed


def webhook_rate(url, count, threads):
    """Events per second through Mistral's webhook publisher, ``threads`` at a time."""
    from mistral.notifiers.publishers import webhook

    publisher = webhook.WebhookPublisher()
    events = [workflow_event(str(uuid.uuid4())) for _ in range(count)]

    def publish(data):
        publisher.publish(None, data['id'], data, data['event'], None, url=url)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(publish, data) for data in events]:
            future.result()       # raises if a POST was not answered 200/201
    return count / (time.monotonic() - started)


def configure(allowed_urls):
    import mistral.config  # noqa: F401  (registers [action_std_http])

    CONF.set_override('allowed_api_urls', allowed_urls, group=opts.GROUP)
    # Mistral's default deny-list refuses 127.0.0.1; relaxed for this benchmark only.
    CONF.set_override('denied_cidrs', [], group='action_std_http')


def open_spool(directory):
    """The product's durable spool, as the notifier opens it by default; None if absent."""
    try:
        from st2mistral.mistral_side.delivery import spool
    except ImportError:
        return None
    group = CONF[opts.GROUP]
    return spool.Spool(directory, group.spool_max_count, group.spool_max_bytes).open()


def run(count, rounds, workdir, log=print):
    """Figure 3 numbers: medians over ``rounds`` of ``count`` updates each."""
    loopback = ChildServer('benchmarks.loopback')
    emulator = ChildServer('benchmarks.emulator_proc')
    try:
        loop_url = 'http://127.0.0.1:%d' % loopback.address
        loop_api = loop_url + '/api/v1'
        configure([loop_api, emulator.address])
        result = completed_result()
        workers = CONF[opts.GROUP].delivery_workers
        spool_dir = tempfile.mkdtemp(prefix='spool-', dir=workdir)
        rates = {'sender': [], 'sender_memory': [], 'sender_emulator': [],
                 'webhook': [], 'webhook_1': []}
        for i in range(rounds):
            log('  throughput round %d/%d' % (i + 1, rounds))
            ids = [uuid.uuid4().hex for _ in range(count)]
            store = open_spool(os.path.join(spool_dir, str(i)))
            try:
                rates['sender'].append(sender_rate(loop_api, ids, result, store))
            finally:
                if store is not None:
                    store.close()
            rates['sender_memory'].append(sender_rate(loop_api, ids, result))
            rates['webhook'].append(webhook_rate(loop_url + '/hook', count, workers))
            rates['webhook_1'].append(webhook_rate(loop_url + '/hook', max(1, count // 4), 1))
            ids = emulator.ask('add %d' % count)
            rates['sender_emulator'].append(sender_rate(emulator.address, ids, result))
            if emulator.ask('count succeeded') < (i + 1) * count:
                raise RuntimeError('the emulator did not record every update')
        return {
            'count': count, 'rounds': rounds, 'workers': workers,
            'spool': store is not None,
            'result_bytes': len(json.dumps(result)),
            'event_bytes': len(json.dumps(workflow_event(str(uuid.uuid4())))),
            **{name: stats.median(values) for name, values in rates.items()},
        }
    finally:
        loopback.stop()
        emulator.stop()
