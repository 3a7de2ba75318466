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

"""The stock multi-process ``mistral-server --server all`` over RabbitMQ and
PostgreSQL, with ``[notifier] type = remote`` and the global
``[notifier] notify = [{"type": "st2"}]``: the production topology.

Skipped, with the reason, only where RabbitMQ (127.0.0.1:5672) or PostgreSQL
(127.0.0.1:5432) is not reachable.
"""

import pytest

from st2mistral.core import contract
from st2mistral.testing import mistral_launcher
from st2mistral.testing import st2_emulator
from tests.functional.conftest import TOKEN
from tests.functional.conftest import fast_retry_config
from tests.functional.conftest import unique
from tests.functional.notifiers.test_stackstorm_notifier import has
from tests.functional.notifiers.test_stackstorm_notifier import simple_wf
from tests.functional.notifiers.test_stackstorm_notifier import trace

available, reason = mistral_launcher.services_available()
pytestmark = pytest.mark.skipif(not available, reason='production topology needs RabbitMQ '
                                'and PostgreSQL on 127.0.0.1: %s' % reason)


@pytest.fixture(scope='module')
def st2():
    with st2_emulator.St2Emulator(tokens=(TOKEN,)) as emulator:
        yield emulator


@pytest.fixture(scope='module')
def mistral(st2, tmp_path_factory):
    server = mistral_launcher.MistralServer(
        str(tmp_path_factory.mktemp('stock')), topology='stock', notifier_type='remote',
        notify=[contract.ST2_NOTIFY_ENTRY], config=fast_retry_config(st2))
    with server.start(timeout=120):
        yield server


def _start(mistral, st2, definition, name):
    client = mistral.client()
    client.workflows.create(definition)
    st2_id = st2.add_execution(action='examples.' + name)
    # No notify entry here: the global [notifier] notify entry applies.
    ex = client.executions.create(name, env=contract.build_env(st2_id, st2.api_url,
                                                             auth_token=TOKEN))
    return ex.id, st2_id


def test_success_over_rabbitmq_and_postgresql(mistral, st2):
    name = unique('stock_ok')
    ex_id, st2_id = _start(mistral, st2, simple_wf(name), name)
    assert mistral.wait_for_execution(ex_id, timeout=60).state == 'SUCCESS'
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    result = st2.execution(st2_id)['result']
    assert [t['name'] for t in result['tasks']] == ['t0', 't1', 't2']
    assert result['answer'] == 42
    lines = trace(mistral, ex_id, expect='WORKFLOW_SUCCEEDED for %s is published' % ex_id)
    assert has(lines, 'The workflow event WORKFLOW_SUCCEEDED for %s is published to st2.' % ex_id)
    # Remote notifier: concurrent RPC threads, yet st2 never saw a regression.
    history = [h['status'] for h in st2.execution(st2_id)['history']]
    assert history[-1] == 'succeeded' and history.count('succeeded') == 1


def test_failure_over_rabbitmq_and_postgresql(mistral, st2):
    name = unique('stock_fail')
    ex_id, st2_id = _start(mistral, st2, simple_wf(name, tasks=2, fail=True), name)
    assert mistral.wait_for_execution(ex_id, timeout=60).state == 'ERROR'
    st2.wait_for_status(st2_id, 'failed', timeout=30)
    assert st2.execution(st2_id)['result']['extra']['state'] == 'ERROR'
    lines = trace(mistral, ex_id, expect='WORKFLOW_FAILED for %s is published' % ex_id)
    assert has(lines, 'The workflow event WORKFLOW_FAILED for %s is published to st2.' % ex_id)
