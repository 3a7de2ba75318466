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
import time

from st2mistral import st2env
from tests.functional.conftest import API_KEY
from tests.functional.conftest import TOKEN
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


def start_execution(client, st2, workflow, workflow_input=None):
    """Start ``workflow`` (already defined) as st2's mistral-v2 runner does.

    Returns (Mistral execution id, st2 execution id).
    """
    st2_id = st2.add_execution(action='examples.' + workflow)
    execution = client.executions.create(
        workflow, workflow_input=workflow_input or {},
        env=st2env.build_env(st2_id, st2.api_url, auth_token=TOKEN),
        notify=[st2env.ST2_NOTIFY_ENTRY])
    # As st2 stores the runner's context: the st2 execution names its workflow.
    st2.update_context(st2_id, {'mistral': {'execution_id': execution.id,
                                            'workflow_name': workflow}})
    return execution.id, st2_id


def wait_mistral_states(client, ex_ids, states=('SUCCESS', 'ERROR', 'CANCELLED'),
                        timeout=60):
    """{id: state} once every execution is in one of ``states``."""
    deadline = time.monotonic() + timeout
    pending = set(ex_ids)
    found = {}
    while pending:
        for ex in client.executions.list(limit=-1, fields=['state']):
            if ex.id in pending and ex.state in states:
                found[ex.id] = ex.state
                pending.discard(ex.id)
        if not pending:
            break
        if time.monotonic() > deadline:
            raise AssertionError('%d executions not in %s after %ss, e.g. %s'
                                 % (len(pending), states, timeout, sorted(pending)[:3]))
        time.sleep(0.2)
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
    deadline = time.monotonic() + timeout
    while True:
        lines = notifier_lines(mistral, *texts)
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


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
    deadline = time.monotonic() + timeout
    while True:
        updates = {u['target']['execution_id']: u['status']
                   for u in spool_rows(mistral)['updates'] if
                   u['target']['execution_id'] in expected}
        if updates == expected or time.monotonic() > deadline:
            return updates
        time.sleep(0.1)


def wait_spool_empty(mistral, timeout=10):
    """Until st2 took everything: the sender removes a row once st2 answered."""
    deadline = time.monotonic() + timeout
    while spool_rows(mistral) != {'events': [], 'updates': []}:
        assert time.monotonic() < deadline, spool_rows(mistral)
        time.sleep(0.05)
