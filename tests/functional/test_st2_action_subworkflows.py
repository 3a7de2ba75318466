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

"""st2.action in a workbook's sub-workflows on a real Mistral 23 (issue 17).

Mistral 23 starts a sub-workflow without its parent's env, so the st2 context
st2 put into the root is not in the sub-workflow's; st2 3.2's Mistral passed
it down, and st2's own suite (test_wiring's complex workbooks, test_examples'
multiple subflows) relies on it. st2.action takes its root's context then,
through the lineage the engine recorded (the forged-lineage tests are in
tests/security/test_trust_subworkflow_context.py).
"""

import json

from tests.functional.conftest import TOKEN
from tests.functional.conftest import unique
from tests.functional.subworkflows import SUB_ACTION_WORKBOOK
from tests.functional.subworkflows import executions_under
from tests.functional.subworkflows import posts_for

WORKBOOK = """
version: '2.0'
name: %(name)s
workflows:
  main:
    tasks:
      first:
        action: st2.action
        input:
          ref: core.local
          parameters:
            cmd: echo root %(name)s
        on-success: [call]
      call:
        workflow: sub
        input:
          word: <%% task(first).result.stdout %%>
        publish:
          said: <%% task(call).result.said %%>
  sub:
    input: [word]
    output:
      said: <%% $.said %%>
    tasks:
      act:
        action: st2.action
        input:
          ref: core.local
          parameters:
            cmd: echo sub <%% $.word %%> %(name)s
        publish:
          said: <%% task(act).result.stdout %%>
        on-success: [deeper]
      deeper:
        workflow: subsub
        with-items: n in [1, 2]
        input:
          n: <%% $.n %%>
  subsub:
    input: [n]
    tasks:
      leaf:
        action: st2.action
        input:
          ref: core.local
          parameters:
            cmd: echo leaf <%% $.n %%> %(name)s
"""

PARENT = {'user': 'st2admin', 'pack': 'examples'}


def test_subworkflow_st2_actions_act_with_the_roots_st2_context(mistral, st2, run):
    st2.set_child_outcome('core.local', 'succeeded', {'stdout': 'hi', 'return_code': 0})
    name = unique('st2_action_subwf')
    parent_id = st2.add_execution()
    started = run(WORKBOOK % {'name': name}, name + '.main', workbook=True,
                  parent=dict(PARENT, execution_id=parent_id))

    ex = mistral.wait_for_execution(started.id)
    assert ex.state == 'SUCCESS', ex.state_info
    st2.wait_for_status(started.st2_id, 'succeeded')

    posts = posts_for(st2, name)
    commands = sorted(r.body['parameters']['cmd'] for r in posts)
    assert commands == sorted(['echo root %s' % name, 'echo sub hi %s' % name,
                               'echo leaf 1 %s' % name, 'echo leaf 2 %s' % name])
    client = mistral.client()
    tree = {e.id: e for e in executions_under(client, started.id)}
    for post in posts:
        # Each child is created with the root's token and names the root's st2 parent,
        # as on st2 3.2 (its Mistral gave sub-workflows the root's env).
        assert post.headers.get('X-Auth-Token') == TOKEN
        header = json.loads(post.headers['st2-context'])
        assert header['parent'] == dict(PARENT, execution_id=parent_id)
        wf_ex_id = header['mistral']['workflow_execution_id']
        assert wf_ex_id == started.id or wf_ex_id in tree
    assert len({json.loads(p.headers['st2-context'])['mistral']['workflow_execution_id']
                for p in posts}) == 4
    # The sub-workflow's output came back through its st2 child's callback.
    (call,) = [t for t in client.tasks.list(workflow_execution_id=started.id)
               if t.name == 'call']
    assert json.loads(call.published) == {'said': 'hi'}


def test_subworkflow_of_a_root_without_st2_context_fails_naming_it(mistral, st2, run):
    name = unique('st2_action_subwf_noctx')
    started = run(SUB_ACTION_WORKBOOK % {'name': name, 'ref': 'core.local'}, name + '.main',
                  workbook=True, st2_context=False, notify=False)
    assert mistral.wait_for_execution(started.id).state == 'ERROR'
    client = mistral.client()
    (sub,) = executions_under(client, started.id)
    (act,) = client.tasks.list(workflow_execution_id=sub.id)
    assert act.state == 'ERROR'
    assert 'has no st2 context' in act.state_info, act.state_info
    assert posts_for(st2, name) == []
