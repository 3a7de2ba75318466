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

"""Inquiries in a mistral-v2 workflow on real st2 v3.9.0 (issue 17, item 5).

st2's inquirer runner asks st2 to pause the ROOT workflow of an inquiry that has a
``parent`` outside orquesta (contrib/runners/inquirer_runner/inquirer_runner/
inquirer_runner.py ``post_run`` @ v3.9.0), and st2 3.3+ refuses a pause of mistral-v2
(st2common/st2common/services/action.py ``request_pause``, WORKFLOW_RUNNER_TYPES):
the worker then fails the inquiry. The runner has ``st2.action`` start an inquiry
without ``parent``: it stays pending, the Mistral task stays RUNNING, and
``st2 inquiry respond`` (``PUT /api/v1/inquiries/<id>``) completes it; the relay
brings the response to Mistral and the workflow goes on.
"""

import tarfile
import time

import pytest
import requests

from st2mistral.st2_side import child_results
from st2mistral.testing.real_st2 import build
from st2mistral.testing.real_st2 import settings
from st2mistral.testing.waiting import wait_until
from tests.functional.real_st2.conftest import TIMEOUT
from tests.functional.real_st2.conftest import task_names
from tests.st2_suite import run as st2_suite_run

if settings.source() is None:
    pytest.skip(settings.SKIP_REASON, allow_module_level=True)


def inquiry_of(stack, workflow_id, ref='st2mistral_tests.ask'):
    """The pending inquiry the workflow's ask task started (st2's execution)."""
    mistral_id = stack.mistral_id(workflow_id)

    def pending():
        answer = requests.get(stack.st2.api_url + '/executions', headers=stack.headers,
                              params={'action': ref}, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        for ex in answer.json():
            mistral = (ex.get('context') or {}).get('mistral') or {}
            if mistral.get('workflow_execution_id') == mistral_id:
                assert ex['status'] in ('requested', 'scheduled', 'running', 'pending'), (
                    ex['status'], ex.get('result'))
                return ex if ex['status'] == 'pending' else None
        return None

    return wait_until(pending, timeout=TIMEOUT, interval=0.2,
                      message=lambda: 'a pending inquiry of workflow %s' % workflow_id)


def respond(stack, inquiry_id, response):
    """``st2 inquiry respond``: ``PUT /api/v1/inquiries/<id>``."""
    return requests.put(stack.st2.api_url + '/inquiries/%s' % inquiry_id,
                        headers=stack.headers, json={'id': inquiry_id, 'response': response},
                        timeout=TIMEOUT)


def test_a_workflow_waits_for_the_inquiry_and_goes_on_with_its_response(stack):
    stack.start_relay()
    ex_id = stack.run('st2mistral_tests.wf_ask')
    inquiry = inquiry_of(stack, ex_id)
    mistral_id = stack.mistral_id(ex_id)
    client = stack.mistral.client()
    (ask,) = [t for t in client.tasks.list(workflow_execution_id=mistral_id)]
    assert (ask.name, ask.state) == ('ask', 'RUNNING')

    # Waiting: nothing moves while the inquiry is not answered.
    time.sleep(2)
    assert stack.execution(ex_id)['status'] == 'running'
    assert stack.execution(inquiry['id'])['status'] == 'pending'
    assert client.tasks.get(ask.id).state == 'RUNNING'
    got = requests.get(stack.st2.api_url + '/inquiries/%s' % inquiry['id'],
                       headers=stack.headers, timeout=TIMEOUT)
    assert got.status_code == 200, got.text
    assert got.json()['route'] == 'developers'
    # A response the schema refuses is refused; the workflow still waits.
    assert respond(stack, inquiry['id'], {'other': 1}).status_code == 400
    assert stack.execution(ex_id)['status'] == 'running'

    answer = respond(stack, inquiry['id'], {'secondfactor': 'xyz'})
    assert answer.status_code == 200, answer.text
    done = stack.wait(ex_id, ('succeeded', 'failed'))
    assert done['status'] == 'succeeded', done.get('result')
    assert done['result']['said'].strip() == 'got xyz'
    assert stack.execution(inquiry['id'])['result']['response'] == {'secondfactor': 'xyz'}


def test_an_inquiry_of_a_nested_mistral_workflow(stack):
    """st2 3.2's examples.mistral-ask-parent: the inquiry is in a mistral-v2 child."""
    stack.start_relay()
    parent_id = stack.run('st2mistral_tests.wf_ask_parent')
    stack.wait(parent_id, ('running',))

    def child_started():
        children = stack.execution(parent_id).get('children') or []
        return children[0] if children else None

    child_id = wait_until(child_started, timeout=TIMEOUT, interval=0.2,
                          message=lambda: 'the wf_ask child of %s' % parent_id)
    inquiry = inquiry_of(stack, child_id)
    assert stack.execution(parent_id)['status'] == 'running'
    assert respond(stack, inquiry['id'], {'secondfactor': 'nested'}).status_code == 200
    done = stack.wait(parent_id, ('succeeded', 'failed'))
    assert done['status'] == 'succeeded', done.get('result')
    assert done['result']['said'].strip() == 'got nested'


def test_an_inquiry_whose_ref_is_known_only_at_run_time_fails_at_once_saying_why(stack):
    """Not marked (the runner cannot know the ref): st2 3.9 fails the inquiry, the relay
    returns the failure with what to do instead, and the workflow fails; nothing hangs."""
    stack.start_relay()
    ex_id = stack.run('st2mistral_tests.wf_ask_unmarked')
    done = stack.wait(ex_id, ('succeeded', 'failed'))
    assert done['status'] == 'failed'
    (inquiry_id,) = done['children']
    inquiry = stack.execution(inquiry_id)
    assert inquiry['status'] == 'failed'
    assert 'is not supported by the "mistral-v2" runner' in inquiry['result']['error']
    (ask,) = done['result']['tasks']
    assert ask['state'] == 'ERROR'
    assert ask['result']['hint'] == child_results.INQUIRY_HINT


# -- st2 3.2's own examples: examples.mistral-ask-basic and mistral-ask-parent ------------

ASK_EXAMPLES = ('actions/mistral-ask-basic.meta.yaml', 'actions/mistral-ask-parent.meta.yaml',
                'actions/workflows/mistral-ask-basic.yaml',
                'actions/workflows/mistral-ask-parent.yaml', 'pack.yaml')


@pytest.fixture(scope='module')
def ask_examples(stack, tmp_path_factory):
    """st2 v3.2.0's two mistral-ask examples (an ``examples`` pack of just them, read from
    ST2MISTRAL_ST2_SRC) and the tag's ``core`` pack (core.ask, core.local), registered
    with st2's own registrar."""
    pack = tmp_path_factory.mktemp('ask-examples') / 'examples'
    with tarfile.open(settings.source() / 'st2-v3.2.0.tar.gz') as tar:
        top = tar.getnames()[0].split('/')[0]
        for name in ASK_EXAMPLES:
            data = tar.extractfile('%s/contrib/examples/%s' % (top, name)).read()
            (pack / name).parent.mkdir(parents=True, exist_ok=True)
            (pack / name).write_bytes(data)
    core = build.st2_tree(stack.st2.venv) / 'contrib' / 'core'
    return {p.name: st2_suite_run.register(stack.st2, p) for p in (core, pack)}


@pytest.mark.parametrize('action', ['examples.mistral-ask-basic', 'examples.mistral-ask-parent'])
def test_st2_32s_mistral_ask_examples(stack, ask_examples, action):
    stack.start_relay()
    ex_id = stack.run(action)
    asking = ex_id
    if action.endswith('parent'):
        asking = wait_until(lambda: (stack.execution(ex_id).get('children') or [None])[0],
                            timeout=TIMEOUT, interval=0.2,
                            message=lambda: 'the child of %s' % ex_id)
    inquiry = inquiry_of(stack, asking, ref='core.ask')
    assert stack.execution(ex_id)['status'] == 'running'
    assert respond(stack, inquiry['id'], {'secondfactor': 'supersecret'}).status_code == 200
    done = stack.wait(ex_id, ('succeeded', 'failed'))
    assert done['status'] == 'succeeded', done.get('result')
    # Both workflows' output: ``result: <% task(task1).result.response %>`` (the parent's
    # is its child's ``result``).
    assert done['result']['result'] == {'secondfactor': 'supersecret'}
    asked = stack.execution(asking)
    assert asked['status'] == 'succeeded'
    assert task_names(asked['result']) == ['task1', 'task2']
