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

"""The README's st2 3.2 combination, end to end: st2 3.2's OWN runner + our Mistral side.

Real st2 v3.2.0 on Python 3.6 (api, stream, auth, scheduler, action runner and
``st2resultstracker``, one process) registers st2 3.2's own ``mistral_v2``
runner (contrib/runners/mistral_v2 with python-mistralclient from PyPI); the
project's st2 side is not installed. Mistral is the real Mistral 23 with this
project's Mistral side (the ``st2`` publisher and ``st2.action``).

st2 3.2 has two modes, both run here (``[mistral] enable_polling``, read by
st2 3.2's runner on every run, so one st2 serves both):

- ``push`` (st2 3.2's default, ``enable_polling = False``): the runner starts the
  workflow with ``notify=[{"type": "st2"}]`` (mistral_v2.py,
  ``_construct_workflow_execution_options``), so this project's publisher
  reports the workflow to st2's API;
- ``poll`` (``enable_polling = True``): no notify entry; st2's action runner
  writes an execution-state row and the results tracker polls Mistral through
  st2 3.2's querier (mistral_v2/query.py).

In both, a finished st2 child of ``st2.action`` goes back to Mistral through
st2 3.2's own callback module (mistral_v2/callback.py), called by st2's
action runner (st2common/runners/base.py ``post_run``).

Skipped with one line without ``ST2MISTRAL_ST2_SRC``, v3.2.0 or Python 3.6.
"""

import pytest

from st2mistral.testing.real_st2 import build
from st2mistral.testing.real_st2 import settings
from st2mistral.testing.waiting import wait_until
from tests.functional.real_st2.conftest import TIMEOUT
from tests.functional.real_st2.conftest import running_stack
from tests.functional.real_st2.conftest import task_names

TAG = 'v3.2.0'
MODES = ('push', 'poll')
PUBLISHED = 'is published to st2'  # the publisher's INFO line (README "Troubleshooting")

if settings.source() is None:
    pytest.skip(settings.SKIP_REASON, allow_module_level=True)


@pytest.fixture(scope='module')
def stack32(tmp_path_factory):
    if TAG not in settings.tags():
        pytest.skip('real st2 %s: not in ST2MISTRAL_ST2_TAGS' % TAG)
    python = settings.python_for(TAG)
    if python is None:
        pytest.skip('real st2 %s with its own mistral_v2 runner: no Python %s found'
                    % (TAG, ' or '.join(settings.PYTHONS[TAG])))
    venv = build.build(settings.source(), TAG, python)
    tracker = {'resultstracker': {'query_interval': 0.1, 'empty_q_sleep_time': 0.05,
                                  'no_workers_sleep_time': 0.05}}
    with running_stack(tmp_path_factory.mktemp('real-st2-32-own-runner'), venv, tracker,
                       mistral_runner='st2', results_tracker=True) as stack:
        yield stack


@pytest.fixture(params=MODES)
def stack(request, stack32):
    """The st2 3.2 stack in one mode (replaces conftest's v3.9.0 ``stack`` here)."""
    stack32.mode = request.param
    stack32.st2.control('set_option', group='mistral', name='enable_polling',
                        value=request.param == 'poll')
    return stack32


def reported_by(stack, done, mistral_id):
    """Who brought the workflow's outcome to st2, as each side logged it."""
    published = stack.mistral.log_lines(contains=mistral_id)
    published = [line for line in published if PUBLISHED in line]
    queried = [line for line in stack.st2.log_path.read_text(errors='replace').splitlines()
               if 'Determined execution status' in line
               and done['liveaction']['id'] in line]
    return {'publisher': bool(published), 'results tracker': bool(queried)}


def expected_reporter(stack):
    if stack.mode == 'push':
        return {'publisher': True, 'results tracker': False}
    return {'publisher': False, 'results tracker': True}


def test_st2_registers_its_own_mistral_v2_runner(stack32):
    assert stack32.st2.control('ping')['version'] == 'StackStorm v3.2.0'
    assert 'mistral-v2' in stack32.st2.control('runner_types')
    # contrib/runners/mistral_v2 of the st2 3.2 tree, not st2mistral.st2_side
    assert stack32.st2.control('mistral_runner_module') == 'mistral_v2.mistral_v2'


def test_a_workflow_succeeds_with_its_tasks(stack):
    done = stack.run_to_end('st2mistral_tests.wf_ok', 'succeeded', ['first', 'second'],
                            'SUCCESS')
    assert done['result']['greeting'] == 'hello'
    mistral_id = done['context']['mistral']['execution_id']
    wf = stack.mistral.client().executions.get(mistral_id)
    assert (wf.state, wf.workflow_name) == ('SUCCESS', 'st2mistral_tests.wf_ok')
    assert reported_by(stack, done, mistral_id) == expected_reporter(stack)


def test_a_failing_workflow_fails_with_its_tasks(stack):
    done = stack.run_to_end('st2mistral_tests.wf_fail', 'failed', ['boom'], 'ERROR')
    mistral_id = done['context']['mistral']['execution_id']
    assert stack.mistral.client().executions.get(mistral_id).state == 'ERROR'
    assert reported_by(stack, done, mistral_id) == expected_reporter(stack)


def test_a_workflow_with_an_st2_action_child_completes(stack):
    """Our ``st2.action`` creates the st2 child; st2 3.2's callback module completes it
    in Mistral."""
    done, child = stack.run_workflow_with_a_child()
    assert child['liveaction']['callback']['source'] == 'mistral_v2'
    mistral_id = done['context']['mistral']['execution_id']
    (task,) = stack.mistral.client().tasks.list(workflow_execution_id=mistral_id)
    (action_ex,) = stack.mistral.client().action_executions.list(task_execution_id=task.id)
    assert (action_ex.name, action_ex.state) == ('st2.action', 'SUCCESS')
    assert child['context']['mistral']['action_execution_id'] == action_ex.id
    assert reported_by(stack, done, mistral_id) == expected_reporter(stack)


def tracked(stack, liveaction_id):
    """st2 3.2's results-tracker rows for the execution (keyed by liveaction id)."""
    return [row for row in stack.st2.control('state_rows')
            if row['execution_id'] == liveaction_id]


def test_a_cancel_from_st2_cancels_the_mistral_execution(stack):
    ex_id = stack.run('st2mistral_tests.wf_nap_then_noop')
    stack.wait(ex_id, ('running',))
    mistral_id = stack.mistral_id(ex_id)
    liveaction_id = stack.execution(ex_id)['liveaction']['id']
    # poll: st2's action runner set up the query before it recorded the Mistral id
    assert len(tracked(stack, liveaction_id)) == (stack.mode == 'poll')
    stack.cancel(ex_id)
    done = stack.wait(ex_id, ('canceled', 'failed', 'succeeded'))
    assert done['status'] == 'canceled'
    wf = stack.mistral.wait_for_execution(mistral_id, timeout=TIMEOUT)
    assert wf.state == 'CANCELLED'
    if stack.mode == 'poll':
        # The tracker keeps querying until the running task ends, then writes the
        # workflow's result over st2's and drops its row.
        wait_until(lambda: not tracked(stack, liveaction_id), timeout=TIMEOUT,
                   message='st2 3.2 to drop the results-tracker row of %s' % ex_id)
        done = stack.execution(ex_id)
        assert done['status'] == 'canceled'
        assert done['result']['extra']['state'] == 'CANCELLED'
        assert task_names(done['result']) == ['nap']
    else:
        # st2 3.2 completes the cancel itself (container/base.py _do_cancel writes
        # runner.cancel's result, the liveaction's own); a publisher's "canceled" that
        # lands before is overwritten, one after is refused ("already in completed
        # state"). So the result settles to st2's own.
        own = {'message': 'Action canceled by user.', 'user': 'st2admin'}
        wait_until(lambda: stack.execution(ex_id)['result'] == own, timeout=TIMEOUT,
                   message=lambda: "st2's own cancel result on %s: %s" % (
                       ex_id, stack.execution(ex_id)['result']))
        assert stack.execution(ex_id)['status'] == 'canceled'


def test_a_pause_and_resume_from_st2_pause_and_resume_the_mistral_execution(stack):
    """``st2 execution pause`` / ``resume`` (``PUT /executions/<id>``), through st2 3.2's
    runner (pause/resume of the Mistral execution)."""
    ex_id = stack.run('st2mistral_tests.wf_nap_then_noop')
    stack.wait(ex_id, ('running',))
    mistral_id = stack.mistral_id(ex_id)
    liveaction_id = stack.execution(ex_id)['liveaction']['id']
    assert stack.put_status(ex_id, 'pausing')[0] == 200
    stack.wait(ex_id, ('paused',))
    assert stack.mistral.client().executions.get(mistral_id).state == 'PAUSED'
    if stack.mode == 'poll':
        # A resume while st2 3.2 still tracks the execution fails (see the next test):
        # wait until the tracker has seen the nap end and dropped its row.
        wait_until(lambda: not tracked(stack, liveaction_id), timeout=TIMEOUT,
                   message='st2 3.2 to drop the results-tracker row of %s' % ex_id)
        assert stack.execution(ex_id)['status'] == 'paused'
    assert stack.put_status(ex_id, 'resuming')[0] == 200
    done = stack.wait(ex_id, ('succeeded', 'failed'))
    assert done['status'] == 'succeeded', done.get('result')
    assert task_names(done['result']) == ['nap', 'wake']
    assert stack.mistral.client().executions.get(mistral_id).state == 'SUCCESS'


def test_poll_mode_a_resume_while_a_task_still_runs_does_not_resume_in_st2_32(stack32):
    """st2 3.2's own limits, with ``enable_polling``, while a Mistral task still runs.

    The results-tracker row of the run stays (the querier turns st2's ``paused`` into
    ``pausing`` while a task is active: mistral_v2/query.py
    ``_determine_execution_status``). A resume then either

    - finds ``pausing`` and is refused (HTTP 400, st2common/services/action.py
      ``request_resume``: only ``paused`` resumes), or
    - finds ``paused``: st2 3.2's runner resumes Mistral, then st2 writes the tracker
      row again (st2actions/container/base.py ``_do_resume`` ->
      st2common/services/queries.py ``setup_query``) although ``execution_id`` is
      unique (st2common/models/db/executionstate.py): st2 records the resume as
      ``failed`` (E11000 duplicate key), and the old row's querier then overwrites
      that with ``running`` or with ``pausing`` (when it read the liveaction as
      pausing: st2 then shows ``pausing`` while Mistral runs, until the workflow
      ends).

    Which one depends on the querier's timing. Not the project's code.
    """
    stack32.st2.control('set_option', group='mistral', name='enable_polling', value=True)
    ex_id = stack32.run('st2mistral_tests.wf_sleep')
    stack32.wait(ex_id, ('running',))
    mistral_id = stack32.mistral_id(ex_id)
    assert stack32.put_status(ex_id, 'pausing')[0] == 200
    stack32.wait(ex_id, ('paused',))
    code, answer = stack32.put_status(ex_id, 'resuming')
    client = stack32.mistral.client()
    liveaction_id = stack32.execution(ex_id)['liveaction']['id']

    def st2_log():
        return stack32.st2.log_path.read_text(errors='replace')

    if code == 400:
        assert 'because it is in "pausing" state and not in "paused" state' in (
            answer['faultstring'])
        assert client.executions.get(mistral_id).state == 'PAUSED'
    else:
        assert code == 200, answer
        # What st2 logs is the evidence: st2's execution log may lose the brief failed
        # status (the container and the querier write the execution concurrently).
        failed = 'Failed to resume action %s' % liveaction_id
        wait_until(lambda: failed in st2_log(), timeout=TIMEOUT,
                   message='st2 3.2 to fail the resume of %s (%s)' % (ex_id, failed))
        assert 'E11000 Duplicate Key Error' in st2_log()
        # The old row's querier overwrites "failed" with what it last determined:
        # running, or pausing (it read the liveaction as pausing: then st2 stays
        # pausing until the workflow ends).
        stack32.wait(ex_id, ('running', 'pausing'))
        assert client.executions.get(mistral_id).state == 'RUNNING'
    # A cancel from st2 then always ends st2's execution. It usually cancels Mistral's
    # too, but not always after this failed resume: in 3 of 10 runs of
    # tests/functional/real_st2 as a whole, Mistral ran the workflow to SUCCESS (those
    # runs took about 60 s longer: the workflow's 60 s sleep ended first). The cause in
    # st2 3.2 was not found; never seen when this module runs alone.
    stack32.cancel(ex_id)
    assert stack32.wait(ex_id, ('canceled', 'failed', 'succeeded'))['status'] == 'canceled'
    assert stack32.mistral.wait_for_execution(mistral_id, timeout=2 * TIMEOUT).state in (
        'CANCELLED', 'SUCCESS')


def test_st2_track_result_has_st2_32s_own_querier_follow_the_execution(stack32):
    """The README's recovery command on st2 3.2 (push mode, as a site runs it): st2's
    ``st2-track-result`` writes a row and st2 3.2's results tracker follows the
    execution with st2 3.2's querier (mistral_v2/query.py) until it completes.
    Last in the module: the script parses st2's config again in st2's process
    (server.py ``track_result``), which drops the ``set_option`` overrides."""
    stack32.st2.control('set_option', group='mistral', name='enable_polling', value=False)
    ex_id = stack32.run('st2mistral_tests.wf_nap_then_noop')
    stack32.wait(ex_id, ('running',))
    stack32.mistral_id(ex_id)
    liveaction_id = stack32.execution(ex_id)['liveaction']['id']
    assert tracked(stack32, liveaction_id) == []
    assert stack32.st2.control('track_result', execution_id=ex_id)['exit_code'] == 0
    (row,) = tracked(stack32, liveaction_id)
    assert row['query_module'] == 'mistral_v2'
    done = stack32.wait(ex_id, ('succeeded', 'failed'))
    assert done['status'] == 'succeeded', done.get('result')
    assert task_names(done['result']) == ['nap', 'wake']
    wait_until(lambda: not tracked(stack32, liveaction_id), timeout=TIMEOUT,
               message='st2 3.2 to drop the results-tracker row of %s' % ex_id)
    log = stack32.st2.log_path.read_text(errors='replace')
    assert '[%s] Determined execution status: running' % liveaction_id in log


def test_st2kv_jinja_in_an_st2_action_task_on_st2_32(stack):
    """The baseline of test_workflows' st2kv test: st2 3.2's own runner raw-wraps the
    parameter (util/workflow/mistral.py @ v3.2.0) and st2 renders it."""
    stack.run_st2kv_workflow(value='hello %s' % stack.mode)
