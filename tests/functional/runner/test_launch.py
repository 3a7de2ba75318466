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

"""The mistral-v2 runner's launch on a real Mistral 23, with the st2 emulator.

Each test goes round the whole loop of st2 3.4+: the runner starts the workflow,
st2.action starts st2 children in the emulator, the relay sends their results
back to Mistral, and the st2 publisher inside Mistral marks the st2 execution.
"""

import json
import time

from st2mistral.st2_side import definitions
from tests.functional.runner.conftest import unique

TWO_TASKS = """
version: '2.0'
%(name)s:
  input: [who]
  output:
    said: <%% $.said %%>
  tasks:
    say:
      action: examples.echo msg="hi <%% $.who %%>" n=2
      publish:
        said: <%% task().result.stdout %%>
      on-success: [done]
    done:
      action: std.noop
"""


def test_full_loop_workflow_with_an_st2_child(side, stream, st2):
    name = unique('examples.loop')
    st2.set_child_outcome('examples.echo', 'succeeded', {'stdout': 'hi bob'})
    started = time.monotonic()
    st2_id, _, context = side.start(TWO_TASKS % {'name': name}, name,
                                    parameters={'who': 'bob'})
    ex_id = context['mistral']['execution_id']
    st2.wait_for(lambda e: e.executions('examples.echo'), timeout=30)
    child_posted = time.monotonic()
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    done = time.monotonic()

    assert context['mistral']['workflow_name'] == name
    (child,) = st2.executions('examples.echo')
    assert child['parameters'] == {'msg': 'hi bob', 'n': 2}
    assert child['context']['parent']['execution_id'] == st2_id
    assert child['callback']['source'] == 'mistral_v2'
    assert child['context']['mistral']['workflow_execution_id'] == ex_id
    result = st2.execution(st2_id)['result']
    assert result['said'] == 'hi bob'
    assert result['extra'] == {'state': 'SUCCESS', 'state_info': None}
    assert [t['name'] for t in result['tasks']] == ['say', 'done']
    assert result['tasks'][0]['result'] == {'stdout': 'hi bob'}
    assert side.client.executions.get(ex_id).state == 'SUCCESS'
    print('\nfull loop: runner start -> child POSTed %.3f s; -> st2 succeeded %.3f s '
          '(total %.3f s)' % (child_posted - started, done - child_posted, done - started))


WORKBOOK = """
version: '2.0'
name: %(name)s
workflows:
  main:
    tasks:
      call:
        action: examples.echo msg="from main"
  other:
    input: [x]
    output:
      x: <%% $.x %%>
    tasks:
      call:
        action: examples.echo
        input:
          msg: <%% $.x %%>
"""


def test_workbook_runs_the_workflow_named_by_the_runner_parameter(side, stream, st2):
    name = unique('examples.wb')
    st2_id, _, context = side.start(WORKBOOK % {'name': name}, name, parameters={'x': 'y'},
                                    runner_parameters={'workflow': name + '.other'})
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    assert context['mistral']['workflow_name'] == name + '.other'
    assert [c['parameters'] for c in st2.executions('examples.echo')] == [{'msg': 'y'}]
    assert st2.execution(st2_id)['result']['x'] == 'y'
    # Mistral holds the transformed workbook: st2 actions go through st2.action.
    stored = side.client.workbooks.get(name).definition
    assert 'st2.action' in stored and 'examples.echo msg=' not in stored


def test_single_workflow_workbook_needs_no_parameter(side, stream, st2):
    name = unique('examples.wb1')
    definition = """
version: '2.0'
name: %s
workflows:
  only:
    tasks:
      t:
        action: std.noop
""" % name
    st2_id, _, context = side.start(definition, name)
    assert context['mistral']['workflow_name'] == name + '.only'
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)


def test_definition_is_saved_only_when_it_changed(side):
    name = unique('examples.save')
    definition = TWO_TASKS % {'name': name}
    spec, workbook, _ = side.launcher.prepare(side.request(definition, name, 'x'))
    assert side.launcher.save(name, spec, workbook) == 'created'
    first = side.client.workflows.get(name)
    assert side.launcher.save(name, spec, workbook) == 'unchanged'
    assert side.client.workflows.get(name).updated_at == first.updated_at
    changed, _, _ = side.launcher.prepare(
        side.request(definition.replace('std.noop', 'std.echo output=1'), name, 'x'))
    assert side.launcher.save(name, changed, workbook) == 'updated'
    assert 'std.echo output=1' in side.client.workflows.get(name).definition


def test_workflow_replaces_a_workbook_of_the_same_name(side):
    name = unique('examples.kind')
    wb = """
version: '2.0'
name: %s
workflows:
  main:
    tasks:
      t: {action: std.noop}
""" % name
    spec, workbook, _ = side.launcher.prepare(side.request(wb, name, 'x'))
    assert side.launcher.save(name, spec, workbook) == 'created'
    wf = "version: '2.0'\n%s:\n  tasks:\n    t: {action: std.noop}\n" % name
    spec, workbook, _ = side.launcher.prepare(side.request(wf, name, 'x'))
    assert side.launcher.save(name, spec, workbook) == 'created'
    assert name not in [w.name for w in side.client.workbooks.list()]


def test_jinja_with_st2kv_reaches_mistral_raw_and_mistral_evaluates_it(side, stream, st2):
    name = unique('examples.kv')
    st2.set_key('greeting', 'hello from the datastore', scope='system')
    definition = """
version: '2.0'
%s:
  tasks:
    t:
      action: examples.echo msg="{{ st2kv('system.greeting') }}" n=<%% 1 + 1 %%>
""" % name
    st2_id, _, _ = side.start(definition, name)
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    (child,) = st2.executions('examples.echo')
    assert child['parameters'] == {'msg': 'hello from the datastore', 'n': 2}
    stored = definitions.load(side.client.workflows.get(name).definition)
    assert stored[name]['tasks']['t']['input']['parameters']['msg'] == \
        "{{ st2kv('system.greeting') }}"  # evaluated by Mistral, not by st2


def test_reverse_workflow_runs_up_to_task_name(side, stream, st2):
    name = unique('examples.rev')
    definition = """
version: '2.0'
%s:
  type: reverse
  tasks:
    first:
      action: examples.echo msg=first
    second:
      action: examples.echo msg=second
      requires: [first]
    unrelated:
      action: examples.echo msg=unrelated
""" % name
    st2_id, _, context = side.start(definition, name, runner_parameters={'task_name': 'second'})
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    assert [c['parameters']['msg'] for c in st2.executions('examples.echo')] == [
        'first', 'second']


def test_without_push_no_notify_entry_is_sent(side, st2):
    name = unique('examples.poll')
    definition = "version: '2.0'\n%s:\n  tasks:\n    t: {action: std.noop}\n" % name
    st2_id, _, context = side.start(definition, name, push=False)
    ex = side.wait_state(context['mistral']['execution_id'])
    assert ex.state == 'SUCCESS'
    params = json.loads(ex.params)
    assert 'notify' not in params
    assert params['env']['st2_execution_id'] == st2_id
    assert st2.execution(st2_id)['status'] == 'running'  # nothing pushed
