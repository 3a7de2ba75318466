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

"""Helpers for the fault-injection tests, and their ``slow`` marker.

Each test module starts its own real Mistral 23 (``fault_config``: the st2
publisher retries on a short, known schedule), so a fault test may leave its
Mistral in any state (killed, spool full of updates) without touching the
other tests. The ``st2`` fixture (the session emulator, reset around each
test) comes from tests/functional/conftest.py.
"""

import json
import os
import sqlite3

from st2mistral.core import contract
from st2mistral.testing.waiting import wait_until
from tests.functional.conftest import API_KEY
from tests.functional.conftest import TOKEN
from tests.functional.conftest import add_st2_execution
from tests.functional.conftest import fast_retry_config


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'slow: a fault test that takes a minute or more; it runs in the '
                   'default suite, deselect it with -m "not slow"')


def fault_config(st2, **st2_options):
    """mistral.conf for fault tests: tries every <= 2 s, a hung st2 costs 1 s."""
    config = fast_retry_config(st2)
    config['st2'].update({'api_key': API_KEY, 'retry_initial_delay': 0.1,
                          'retry_max_delay': 2, 'connect_timeout': 1, 'read_timeout': 1,
                          'unknown_execution_grace': 3})
    config['st2'].update(st2_options)
    return config


def start_execution(client, st2, workflow, workflow_input=None, st2_id=None):
    """Start ``workflow`` (already defined) as st2's mistral-v2 runner does.

    ``st2_id``: the st2 execution made beforehand (``add_st2_execution``).
    Returns (Mistral execution id, st2 execution id).
    """
    st2_id = st2_id or add_st2_execution(st2, workflow)
    execution = client.executions.create(
        workflow, workflow_input=workflow_input or {},
        env=contract.build_env(st2_id, st2.api_url, auth_token=TOKEN),
        notify=[contract.ST2_NOTIFY_ENTRY])
    # As st2 stores the runner's context: the st2 execution names its workflow.
    st2.update_context(st2_id, {'mistral': {'execution_id': execution.id,
                                            'workflow_name': workflow}})
    return execution.id, st2_id


def wait_mistral_states(client, ex_ids, states=('SUCCESS', 'ERROR', 'CANCELLED'),
                        timeout=60):
    """{id: state} once every execution is in one of ``states``."""
    pending = set(ex_ids)
    found = {}

    def all_there():
        for ex in client.executions.list(limit=-1, fields=['state']):
            if ex.id in pending and ex.state in states:
                found[ex.id] = ex.state
                pending.discard(ex.id)
        return not pending

    wait_until(all_there, timeout=timeout, interval=0.2,
               message=lambda: '%d executions in %s, e.g. %s' % (
                   len(pending), states, sorted(pending)[:3]))
    return found


def history(st2, st2_id):
    return [h['status'] for h in st2.execution(st2_id)['history']]


def notifier_lines(mistral, *texts):
    """stackstorm_notifier log lines holding every one of ``texts``."""
    return [line for line in mistral.log_lines('stackstorm_notifier')
            if all(text in line for text in texts)]


def wait_lines(mistral, *texts, timeout=5.0):
    """Like notifier_lines, polling until there is one (st2 may see a request
    a moment before the line saying so is written)."""
    return wait_until(lambda: notifier_lines(mistral, *texts), timeout=timeout,
                      message='a stackstorm_notifier line with %r' % (texts,))


def spool_rows(mistral):
    """{'events': [...], 'updates': [...]} in every spool slot of ``mistral``.

    Reads the SQLite files the way an operator would (the process may run).
    """
    directory = os.path.join(mistral.workdir, 'st2-spool')
    rows = {'events': [], 'updates': []}
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        if not name.endswith('.sqlite'):
            continue
        db = sqlite3.connect('file:%s?mode=ro' % os.path.join(directory, name), uri=True)
        try:
            for table in rows:
                rows[table] += [json.loads(payload) for (payload,) in db.execute(
                    'SELECT payload FROM %s ORDER BY rowid' % table)]
        finally:
            db.close()
    return rows


def wait_spool_updates(mistral, expected, timeout=10):
    """{st2 execution id: spooled status} for the ids of ``expected``, polled until
    it equals ``expected`` (the publisher may still be processing events)."""
    last = {}

    def spooled():
        last['updates'] = {u['target']['execution_id']: u['status']
                           for u in spool_rows(mistral)['updates'] if
                           u['target']['execution_id'] in expected}
        return last['updates'] == expected

    wait_until(spooled, timeout=timeout, interval=0.1,
               message=lambda: 'spooled updates %s, expected %s' % (last['updates'], expected))
    return last['updates']


def wait_spool_empty(mistral, timeout=10):
    """Until st2 took everything: the sender removes a row once st2 answered."""
    wait_until(lambda: spool_rows(mistral) == {'events': [], 'updates': []}, timeout=timeout,
               message=lambda: 'an empty spool; it holds %s' % (spool_rows(mistral),))
