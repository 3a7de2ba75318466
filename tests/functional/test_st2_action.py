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

"""st2.action on a real Mistral 23 engine, against the strict st2 emulator.

The emulator records each child st2 execution, runs it and calls Mistral back
the way st2's mistral_v2 callback does (``PUT /v2/action_executions/<id>``).
"""

import json
import time

import pytest
import requests

from st2mistral.core import contract
from st2mistral.testing import mistral_launcher
from st2mistral.testing.waiting import wait_until
from tests.functional.conftest import API_KEY
from tests.functional.conftest import POST_EXECUTION
from tests.functional.conftest import TOKEN
from tests.functional.conftest import Run
from tests.functional.conftest import unique

GIVE_UP_AFTER = 1.5
READ_TIMEOUT = 0.5
PARENT = {'execution_id': None, 'user': 'st2admin', 'pack': 'examples'}
NOTIFY = {'on-complete': {'routes': ['chatops'], 'message': 'done'}}


@pytest.fixture(scope='module')
def mistral(st2_emulator, tmp_path_factory):
    """A Mistral of its own: short st2.action retry window and read timeout."""
    config = {'st2': {'api_url': st2_emulator.api_url, 'auth_url': st2_emulator.auth_url,
                      'retry_initial_delay': 0.05, 'retry_max_delay': 0.2,
                      'action_retry_give_up_after': GIVE_UP_AFTER,
                      'read_timeout': READ_TIMEOUT, 'unknown_execution_grace': 2}}
    workdir = str(tmp_path_factory.mktemp('mistral_st2_action'))
    with mistral_launcher.MistralServer(workdir, config=config) as server:
        yield server


def two_step_wf(name, first='core.local', second='core.noop'):
    return """
version: '2.0'
%(name)s:
  tasks:
    step1:
      action: st2.action
      input:
        ref: %(first)s
        parameters:
          cmd: echo hi
      publish:
        step1_out: <%% task().result %%>
      on-success: [quiet]
    quiet:
      action: st2.action ref="%(second)s"
""" % {'name': name, 'first': first, 'second': second}


def one_step_wf(name, ref):
    return """
version: '2.0'
%s:
  tasks:
    only:
      action: st2.action
      input:
        ref: %s
        parameters:
          n: 1
""" % (name, ref)


def start(mistral, st2, definition, workflow, notify=False, **env_kw):
    """Start a workflow with the env st2's mistral-v2 runner would give it."""
    return Run(mistral, st2, definition, workflow, notify=notify,
               parent=dict(PARENT, execution_id=st2.add_execution()),
               env_extra=None, **env_kw)


def task(client, ex_id, name):
    (found,) = [t for t in client.tasks.list(workflow_execution_id=ex_id) if t.name == name]
    return found


def action_ex(client, task_ex):
    (found,) = client.action_executions.list(task_execution_id=task_ex.id)
    return found


def children(st2, ref):
    return st2.executions(action=ref)


def post_requests(st2):
    return st2.requests_for(*POST_EXECUTION)


def st2_lists_executions(st2):
    answer = requests.get(st2.api_url + '/executions', headers={'St2-Api-Key': API_KEY},
                          timeout=5)
    return answer.status_code == 200


def test_workflow_of_st2_actions_runs_end_to_end(mistral, st2):
    st2.set_child_outcome('core.local', 'succeeded', {'stdout': 'hi', 'return_code': 0})
    name = unique('st2_action_ok')
    parent_id = st2.add_execution()
    parent = dict(PARENT, execution_id=parent_id)
    client = mistral.client()
    client.workflows.create(two_step_wf(name))
    began = time.monotonic()
    # What st2's mistral-v2 runner does: env with __actions.st2.action.st2_context and
    # the st2 notify entry, so st2 hears about the workflow too.
    execution = client.executions.create(
        name, workflow_input={},
        env=contract.build_env(parent_id, st2.api_url, auth_token=TOKEN, parent=parent,
                             notify=NOTIFY, skip_notify_tasks=['quiet']),
        notify=[contract.ST2_NOTIFY_ENTRY])

    assert mistral.wait_for_execution(execution.id).state == 'SUCCESS'
    elapsed = time.monotonic() - began
    st2.wait_for_status(parent_id, 'succeeded')  # st2 notified of the workflow

    step1 = task(client, execution.id, 'step1')
    step1_action = action_ex(client, step1)
    # Mistral passed the env's __actions defaults to the action as input.
    assert json.loads(step1_action.input)['st2_context']['api_url'] == st2.api_url

    (child,) = children(st2, 'core.local')
    (quiet_child,) = children(st2, 'core.noop')
    callback = '%s/action_executions/%s' % (mistral.api_url, step1_action.id)
    assert child['parameters'] == {'cmd': 'echo hi'}
    assert child['callback'] == {'source': 'mistral_v2', 'url': callback}
    assert child['notify'] == NOTIFY
    assert quiet_child['notify'] is None  # "quiet" is in skip_notify_tasks
    assert child['parent'] == parent_id
    assert child['context']['parent'] == parent
    assert child['context']['mistral'] == {
        'workflow_execution_id': execution.id, 'workflow_name': name,
        'task_execution_id': step1.id, 'task_name': 'step1',
        'action_execution_id': step1_action.id, 'callback_url': callback}
    assert quiet_child['context']['mistral']['task_name'] == 'quiet'

    first_post = [r for r in post_requests(st2) if r.body['action'] == 'core.local'][0]
    assert first_post.headers['X-Auth-Token'] == TOKEN
    assert json.loads(first_post.headers['st2-context'])['mistral']['task_name'] == 'step1'

    # The Mistral task completed with the child's result, published downstream.
    assert json.loads(client.tasks.get(step1.id).result) == {'stdout': 'hi', 'return_code': 0}
    assert json.loads(client.executions.get(execution.id).output)['step1_out'] == {
        'stdout': 'hi', 'return_code': 0}
    assert [c['status'] for c in st2.callbacks] == [200, 200]
    assert not mistral.log_lines(TOKEN)  # the token is never logged
    print('two st2.action tasks end to end: %.2f s' % elapsed)


def test_failing_child_fails_task_and_workflow(mistral, st2):
    st2.set_child_outcome('core.fail', 'failed', {'stderr': 'disk full', 'return_code': 2})
    name = unique('st2_action_fail')
    run = start(mistral, st2, one_step_wf(name, 'core.fail'), name)

    finished = mistral.wait_for_execution(run.id)
    assert finished.state == 'ERROR'
    only = task(run.client, run.id, 'only')
    assert only.state == 'ERROR'
    assert 'disk full' in only.state_info
    (child,) = children(st2, 'core.fail')
    assert child['status'] == 'failed'
    assert child['parameters'] == {'n': 1}


def test_st2_refusal_fails_task_with_its_status_and_message(mistral, st2):
    name = unique('st2_action_refused')
    st2.fail_next(400, body={'faultstring': 'Action "core.gone" cannot be found.'},
                  on=POST_EXECUTION)
    run = start(mistral, st2, one_step_wf(name, 'core.gone'), name)

    assert mistral.wait_for_execution(run.id).state == 'ERROR'
    info = task(run.client, run.id, 'only').state_info
    assert 'HTTP 400' in info and 'Action "core.gone" cannot be found.' in info
    assert TOKEN not in info
    assert not children(st2, 'core.gone')


def test_missing_st2_context_fails_task_naming_it(mistral, st2):
    name = unique('st2_action_no_ctx')
    run = Run(mistral, st2, one_step_wf(name, 'core.local'), name, st2_context=False,
              notify=False)

    assert mistral.wait_for_execution(run.id).state == 'ERROR'
    assert 'st2_context' in task(run.client, run.id, 'only').state_info
    assert not post_requests(st2)


def test_st2_unreachable_fails_task_clearly_and_never_posts_late(mistral, st2):
    name = unique('st2_action_down')
    client = mistral.client()
    client.workflows.create(one_step_wf(name, 'core.down'))
    parent_id = st2.add_execution()
    st2.go_down()
    began = time.monotonic()
    execution = client.executions.create(
        name, env=contract.build_env(parent_id, st2.api_url, auth_token=TOKEN,
                                   parent=dict(PARENT, execution_id=parent_id)))

    assert mistral.wait_for_execution(execution.id).state == 'ERROR'
    failed_after = time.monotonic() - began
    info = task(client, execution.id, 'only').state_info
    assert 'st2 could not be reached' in info and 'cannot connect to st2' in info
    assert TOKEN not in info
    assert GIVE_UP_AFTER <= failed_after < GIVE_UP_AFTER + 5

    # st2 is back: a later workflow gets its child; the failed one never posts again.
    st2.come_up()
    later = unique('st2_action_after')
    run = start(mistral, st2, one_step_wf(later, 'core.after'), later)
    assert mistral.wait_for_execution(run.id).state == 'SUCCESS'
    assert children(st2, 'core.down') == []
    assert [r.body['action'] for r in post_requests(st2)] == ['core.after']
    print('st2 down: task failed after %.2f s (give up %.1f s)' % (failed_after,
                                                                  GIVE_UP_AFTER))


def test_st2_back_within_the_window_gets_exactly_one_child(mistral, st2):
    name = unique('st2_action_blip')
    client = mistral.client()
    client.workflows.create(one_step_wf(name, 'core.blip'))
    parent_id = st2.add_execution()
    retries_before = len(mistral.log_lines('st2.action core.blip'))
    st2.go_down()
    execution = client.executions.create(
        name, env=contract.build_env(parent_id, st2.api_url, auth_token=TOKEN,
                                   parent=dict(PARENT, execution_id=parent_id)))

    # Bring st2 back once Mistral has logged a failed try.
    wait_until(lambda: len(mistral.log_lines('st2.action core.blip')) > retries_before,
               timeout=10, interval=0.02, message='a failed try of st2.action logged')
    st2.come_up()

    assert mistral.wait_for_execution(execution.id).state == 'SUCCESS'
    assert len(children(st2, 'core.blip')) == 1
    assert len(post_requests(st2)) == 1  # refused tries never reached st2


def test_lost_answer_never_makes_a_second_child(mistral, st2):
    """st2 takes the POST but answers after Mistral's read timeout."""
    name = unique('st2_action_slow')
    client = mistral.client()
    client.workflows.create(one_step_wf(name, 'core.slow'))
    parent_id = st2.add_execution()
    lists = st2_lists_executions(st2)
    st2.set_delay(READ_TIMEOUT * 2)
    execution = client.executions.create(
        name, env=contract.build_env(parent_id, st2.api_url, auth_token=TOKEN,
                                   parent=dict(PARENT, execution_id=parent_id)))
    # Only the POST is slow: the look-ups that follow are answered at once.
    st2.wait_for(lambda s: post_requests(s), timeout=10)
    st2.set_delay(0)

    finished = mistral.wait_for_execution(execution.id)
    st2.wait_for(lambda s: len(children(s, 'core.slow')) == 1, timeout=10)
    assert len(post_requests(st2)) == 1
    if lists:
        # st2 listed the child: the action adopted it and the callback completed it.
        assert finished.state == 'SUCCESS'
    else:
        # This st2 cannot be asked: the task fails rather than risk a duplicate.
        assert finished.state == 'ERROR'
        assert 'not posting again' in task(client, execution.id, 'only').state_info
    assert len(children(st2, 'core.slow')) == 1


def test_parallel_st2_actions(mistral, st2):
    """Ten st2.action tasks at once: one child each, workflow SUCCESS."""
    name = unique('st2_action_many')
    tasks = '\n'.join('    t%d:\n      action: st2.action\n      input:\n'
                      '        ref: core.many\n        parameters: {i: %d}' % (i, i)
                      for i in range(10))
    definition = "version: '2.0'\n%s:\n  tasks:\n%s\n" % (name, tasks)
    client = mistral.client()
    client.workflows.create(definition)
    parent_id = st2.add_execution()
    began = time.monotonic()
    execution = client.executions.create(
        name, env=contract.build_env(parent_id, st2.api_url, auth_token=TOKEN,
                                   parent=dict(PARENT, execution_id=parent_id)))
    assert mistral.wait_for_execution(execution.id).state == 'SUCCESS'
    elapsed = time.monotonic() - began
    made = children(st2, 'core.many')
    assert sorted(c['parameters']['i'] for c in made) == list(range(10))
    assert len({c['context']['mistral']['action_execution_id'] for c in made}) == 10
    print('10 parallel st2.action tasks: %.2f s' % elapsed)

