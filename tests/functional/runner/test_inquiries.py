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

"""Inquiries in a workflow on a real Mistral 23, with the st2 emulator as st2 3.9
(its inquiry rules: st2_emulator/inquiries.py) and the relay following its stream."""

import json

import requests

from st2mistral.st2_side import child_results
from tests.functional.runner.conftest import API_KEY
from tests.functional.runner.conftest import unique

ASK = """
version: '2.0'
%s:
  tasks:
    ask:
      action: st2.action
      input:
        ref: examples.ask
        parameters: {schema: {type: object}}
        %s
      publish:
        got: <%% task(ask).result.response.answer %%>
      on-success: [after]
    after:
      action: examples.echo msg="<%% $.got %%>"
"""


def inquiry_child(st2):
    (child,) = st2.executions('examples.ask')
    return child


def test_a_marked_inquiry_waits_then_the_response_goes_on(side, stream, st2):
    st2.version = '3.9.0'
    st2.set_inquiry_action('examples.ask')
    name = unique('examples.ask')
    st2_id, _, context = side.start(ASK % (name, 'inquiry: true'), name)
    st2.wait_for(lambda e: [c['status'] for c in e.executions('examples.ask')] == ['pending'],
                 timeout=30)
    inquiry = inquiry_child(st2)
    assert 'parent' not in inquiry['context']
    assert inquiry['context']['mistral']['workflow_execution_id'] == (
        context['mistral']['execution_id'])
    ask = side.task(context['mistral']['execution_id'], 'ask')
    assert ask.state == 'RUNNING'
    assert st2.execution(st2_id)['status'] == 'running'

    answer = requests.put('%s/inquiries/%s' % (st2.api_url, inquiry['id']),
                          json={'id': inquiry['id'], 'response': {'answer': 'yes'}},
                          headers={'St2-Api-Key': API_KEY}, timeout=5)
    assert answer.status_code == 200, answer.text
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    assert [c['parameters'] for c in st2.executions('examples.echo')] == [{'msg': 'yes'}]


def test_an_unmarked_inquiry_fails_at_once_with_st2s_refusal(side, stream, st2):
    """A ref known only when the task runs cannot be marked: st2 3.9 fails the inquiry
    (it cannot pause the mistral-v2 root), and the task and workflow fail, never hang."""
    st2.version = '3.9.0'
    st2.set_inquiry_action('examples.ask')
    name = unique('examples.askfails')
    st2_id, _, context = side.start(ASK % (name, ''), name)
    st2.wait_for_status(st2_id, 'failed', timeout=30)
    inquiry = inquiry_child(st2)
    assert inquiry['status'] == 'failed'
    assert 'is not supported by the "mistral-v2" runner' in inquiry['result']['error']
    ask = side.task(context['mistral']['execution_id'], 'ask')
    assert ask.state == 'ERROR'
    # The relay adds what to do instead to what Mistral shows.
    (action,) = side.client.action_executions.list(task_execution_id=ask.id)
    output = side.client.action_executions.get(action.id).output
    output = json.loads(output) if isinstance(output, str) else output
    failure = output['result']   # Mistral keeps an ERROR's output under "result"
    assert failure['hint'] == child_results.INQUIRY_HINT
    assert 'is not supported by the "mistral-v2" runner' in failure['error']
    assert not st2.executions('examples.echo')
