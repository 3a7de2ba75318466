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

"""st2kv Jinja in st2 action parameters, end to end on a real Mistral 23 with the st2
emulator (which renders a child's parameters as st2 does, st2common/util/param.py at
v3.9.0): the runner wraps it, Mistral passes it on as text, st2 renders it.

Before, Mistral failed the task: ``Can not evaluate Jinja expression [expression=echo
{{ st2kv.system.greeting }}, error='functools.partial object' has no attribute 'system']``.
"""

import json

import pytest

from st2mistral.st2_side import launcher
from tests.functional.runner.conftest import unique

WORKFLOW = """
version: '2.0'
%(name)s:
  output:
    said: <%% $.said %%>
  tasks:
    greet:
      action: core.local
      input:
        cmd: "echo {{ st2kv.system.greeting }}"
      publish:
        said: <%% task().result.stdout %%>
      on-success: [inline]
    inline:
      action: core.local cmd="echo {{ st2kv.user.name }} {{ st2kv.system.pw | decrypt_kv }}"
"""


def test_st2kv_jinja_in_an_st2_action_task_is_rendered_by_st2(side, stream, st2):
    st2.set_key('greeting', 'hello', scope='system')
    st2.set_key('name', 'admin', scope='user', user=st2.user)
    st2.set_key('pw', 's3cret', scope='system', encrypted=True)
    st2.set_child_outcome('core.local', 'succeeded', {'stdout': 'hello'})
    name = unique('examples.st2kv')
    st2_id, _, context = side.start(WORKFLOW % {'name': name}, name)
    ex_id = context['mistral']['execution_id']
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)

    children = [c['parameters'] for c in st2.executions('core.local')]
    assert children == [{'cmd': 'echo hello'}, {'cmd': 'echo admin s3cret'}]
    assert side.client.executions.get(ex_id).state == 'SUCCESS'
    assert st2.execution(st2_id)['result']['said'] == 'hello'
    # What Mistral ran: st2.action with the parameter as written (Mistral's Jinja
    # rendered the raw block to its text) ...
    (action_ex,) = side.client.action_executions.list(
        task_execution_id=side.task(ex_id, 'greet').id)
    assert json.loads(action_ex.input)['parameters'] == {'cmd': 'echo {{ st2kv.system.greeting }}'}
    # ... from the definition the runner stored, wrapped for Mistral.
    stored = side.client.workflows.get(name).definition
    assert '{% raw %}echo {{ st2kv.system.greeting }}{% endraw %}' in stored


def test_st2kv_mixed_with_the_workflow_context_is_refused_before_mistral(side, st2):
    name = unique('examples.mixed')
    definition = """
version: '2.0'
%s:
  input: [who]
  tasks:
    greet:
      action: core.local
      input:
        cmd: "echo {{ _.who }} {{ st2kv.system.greeting }}"
""" % name
    with pytest.raises(launcher.RunnerError) as caught:
        side.launcher.prepare(side.request(definition, name, 'x'))
    assert str(caught.value).startswith(
        'Parameter "cmd" for action "core.local" containing references to both local '
        'context (i.e. _.var1) and st2kv (i.e. st2kv.system.var1) is not supported')
    assert not [w for w in side.client.workflows.list() if w.name == name]
