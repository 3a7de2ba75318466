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

"""The st2common adapter (runner, querier, callback) driving a REAL Mistral 23.

st2 is replaced by the st2common STAND-IN of tests/unit/runner/st2common_standin
(documented there; it follows docs/contracts.rst, section 8) for the runner's base
classes and st2's records, and by the st2 emulator for st2's API. The runner
is set up the way st2's runner container sets it up, then called.
"""

import json
import logging
import types
import uuid

from oslo_config import cfg
import pytest
import requests

from st2mistral.st2_side import launcher
from st2mistral.testing import st2_emulator
from tests.functional.runner.conftest import TOKEN
from tests.functional.runner.conftest import st2_put
from tests.functional.runner.conftest import unique
from tests.functional.runner.workflows import WAITING
from tests.functional.runner.workflows import WITH_ITEMS
from tests.unit.runner import standin

Obj = types.SimpleNamespace


@pytest.fixture(scope='module')
def adapter():
    standin.install()
    from st2mistral.st2_side import st2_adapter

    return st2_adapter


@pytest.fixture
def st2_conf(adapter, mistral, st2):
    """st2's global CONF, as st2.conf would set it (fast retries)."""
    overrides = [('v2_base_url', mistral.api_url, 'mistral'), ('retry_exp_msec', 50, 'mistral'),
                 ('retry_stop_max_msec', 10000, 'mistral'), ('jitter_interval', 0, 'mistral'),
                 ('api_url', st2.base_url + '/api', 'auth')]
    for name, value, group in overrides:
        cfg.CONF.set_override(name, value, group=group)
    yield cfg.CONF
    for name, _, group in overrides:
        cfg.CONF.clear_override(name, group=group)


@pytest.fixture
def records(adapter):
    from st2common.persistence import execution
    from st2common.services import action as action_service
    from st2common.util import action_db

    action_db.ACTIONS['examples.echo'] = Obj(
        ref='examples.echo', pack='examples', name='echo', runner_type={'name': 'local-shell-cmd'},
        parameters={'msg': {'type': 'string', 'required': True}})
    action_db.RUNNER_TYPES['local-shell-cmd'] = Obj(runner_parameters={
        'sudo': {'type': 'boolean', 'default': False}})
    yield Obj(action_db=action_db, executions=execution.EXECUTIONS,
              requests=action_service.REQUESTS)
    action_db.ACTIONS.clear()
    action_db.RUNNER_TYPES.clear()
    action_db.LIVEACTIONS.clear()
    execution.EXECUTIONS.clear()
    action_service.REQUESTS.clear()


def st2_record(records, execution_id, runner='mistral-v2', status='running', context=None,
               children=()):
    liveaction = Obj(id='la-' + execution_id, status=status, result={}, notify=None,
                     context=context if context is not None else {'user': 'st2admin'})
    execution = Obj(id=execution_id, status=status, runner={'name': runner},
                    liveaction={'id': liveaction.id}, children=list(children), result={},
                    context=liveaction.context)
    records.action_db.LIVEACTIONS[liveaction.id] = liveaction
    records.executions[execution_id] = execution
    return liveaction, execution


def container_runner(adapter, records, tmp_path, definition, action_ref, st2_id, children=(),
                     runner_parameters=None, context=None, rerun_ex_ref=None):
    """A runner configured the way st2's runner container configures it."""
    pack, name = action_ref.split('.', 1)
    entry_point = tmp_path / ('%s.yaml' % uuid.uuid4().hex)
    entry_point.write_text(definition)
    liveaction, execution = st2_record(records, st2_id, context=context, children=children)
    runner = adapter.get_runner()
    runner.runner_type = Obj(name='mistral-v2', enabled=True)
    runner.runner_parameters = runner_parameters or {}
    runner.action = Obj(pack=pack, name=name, ref=action_ref)
    runner.liveaction, runner.liveaction_id = liveaction, liveaction.id
    runner.execution, runner.execution_id = execution, st2_id
    runner.entry_point = str(entry_point)
    runner.context = liveaction.context
    runner.auth_token = Obj(token=TOKEN)
    runner.rerun_ex_ref = rerun_ex_ref
    runner.pre_run()
    return runner


ECHO = """
version: '2.0'
%s:
  input: [who]
  tasks:
    say:
      action: examples.echo msg="hi <%% $.who %%>" sudo=true
"""


def test_runner_runs_a_workflow_through_the_st2_proxy(adapter, st2_conf, records, side, stream,
                                                       st2, tmp_path):
    name = unique('examples.adapter')
    st2_id = st2.add_execution(action=name)
    runner = container_runner(adapter, records, tmp_path, ECHO % name, name, st2_id)
    status, result, context = runner.run({'who': 'ann'})
    assert (status, result) == ('running', {'tasks': []})
    st2.wait_for_status(st2_id, 'succeeded', timeout=30)
    (child,) = st2.executions('examples.echo')
    assert child['parameters'] == {'msg': 'hi ann', 'sudo': True}
    ex = side.client.executions.get(context['mistral']['execution_id'])
    assert json.loads(ex.params)['env']['st2_execution_id'] == st2_id
    assert json.loads(ex.params)['notify'] == [{'type': 'st2'}]


def test_runner_checks_parameters_of_registered_st2_actions(adapter, st2_conf, records, st2,
                                                            tmp_path):
    name = unique('examples.badparams')
    definition = "version: '2.0'\n%s:\n  tasks:\n    t:\n      action: examples.echo nope=1\n" \
                 % name
    runner = container_runner(adapter, records, tmp_path, definition, name,
                              st2_emulator.new_object_id())
    with pytest.raises(launcher.RunnerError, match='Missing required parameters in "t"'):
        runner.run({})


def run_keeping_context(runner):
    """runner.run() as st2's container calls it, which stores the context the runner
    returns into the liveaction; the Mistral execution id."""
    _, _, context = runner.run({})
    runner.context = dict(runner.context, **context)
    return context['mistral']['execution_id']


def test_pause_resume_cancel_cascade_to_workflow_children(adapter, st2_conf, records, side, st2,
                                                         tmp_path):
    name = unique('examples.cascade')
    wf_child, shell_child = st2_emulator.new_object_id(), st2_emulator.new_object_id()
    st2_record(records, wf_child, runner='mistral-v2')
    st2_record(records, shell_child, runner='local-shell-cmd')
    runner = container_runner(adapter, records, tmp_path, WAITING % name, name,
                              st2_emulator.new_object_id(), children=[wf_child, shell_child])
    ex_id = run_keeping_context(runner)

    assert runner.pause()[0] == 'pausing'          # children still run
    assert side.client.executions.get(ex_id).state == 'PAUSED'
    assert records.requests == [('pause', 'la-' + wf_child, 'st2admin')]

    records.executions[wf_child].status = 'paused'
    assert runner.resume()[0] == 'running'
    assert side.client.executions.get(ex_id).state == 'RUNNING'
    assert records.requests[-1] == ('resume', 'la-' + wf_child, 'st2admin')

    records.executions[shell_child].status = 'succeeded'
    assert runner.cancel()[0] == 'canceled'         # the paused child counts as inactive
    assert side.client.executions.get(ex_id).state == 'CANCELLED'
    assert records.requests[-1] == ('cancel', 'la-' + wf_child, 'st2admin')


FLAKY = """
version: '2.0'
%s:
  tasks:
    step:
      action: examples.echo msg=try
"""


def test_rerun_through_the_runner(adapter, st2_conf, records, side, stream, st2, tmp_path):
    name = unique('examples.adapterrerun')
    st2.set_child_outcome('examples.echo', 'failed', {'stderr': 'no'})
    first = st2.add_execution(action=name)
    runner = container_runner(adapter, records, tmp_path, FLAKY % name, name, first)
    _, _, context = runner.run({})
    st2.wait_for_status(first, 'failed', timeout=30)

    st2.set_child_outcome('examples.echo', 'succeeded', {'stdout': 'yes'})
    second = st2.add_execution(action=name)
    rerun = container_runner(
        adapter, records, tmp_path, FLAKY % name, name, second,
        context={'user': 'st2admin', 're-run': {'tasks': ['step'], 'reset': ['step']}},
        rerun_ex_ref=Obj(context=context))
    status, _, new_context = rerun.run({})
    assert status == 'running'
    assert new_context['mistral']['execution_id'] == context['mistral']['execution_id']
    st2.wait_for_status(second, 'succeeded', timeout=30)


def test_rerun_of_tasks_on_st2_39_through_runner_parameters(adapter, st2_conf, records, side,
                                                             stream, st2, tmp_path):
    """st2 3.3+ refuses ``--tasks`` for mistral-v2; ``st2 execution re-run <id>
    rerun_tasks=items rerun_no_reset=items`` is accepted and re-runs the failed item
    of the same Mistral execution as a new st2 execution, the failed one unchanged."""
    st2.version = '3.9.0'
    name = unique('examples.adapteritems')
    st2.set_child_outcome('examples.flaky', 'failed', {'stderr': 'no'})
    first = st2.add_execution(action=name)
    runner = container_runner(adapter, records, tmp_path, WITH_ITEMS % name, name, first)
    _, _, context = runner.run({})
    st2.update_context(first, context)
    st2.wait_for_status(first, 'failed', timeout=30)
    failed_before = st2.execution(first)

    url = '%s/executions/%s/re_run' % (st2.api_url, first)
    headers = {'X-Auth-Token': TOKEN}
    refused = requests.post(url, json={'tasks': ['items'], 'reset': ['items']},
                            headers=headers, timeout=5)
    assert refused.status_code == 400
    assert refused.json()['faultstring'] == ('Task option is only supported for Orquesta '
                                             'workflows.')

    st2.set_child_outcome('examples.flaky', 'succeeded', {'stdout': 'yes'})
    answer = requests.post(url, json={'parameters': {'rerun_tasks': ['items'],
                                                     'rerun_no_reset': ['items']}},
                           headers=headers, timeout=5)
    assert answer.status_code == 201, answer.text
    new = answer.json()
    assert new['id'] != first and new['context']['re-run'] == {'ref': first}
    # st2's scheduler and action runner: running, then the runner with its parameters.
    st2.db_update_status(new['liveaction']['id'], 'running')
    rerun = container_runner(adapter, records, tmp_path, WITH_ITEMS % name, name, new['id'],
                             runner_parameters={k: new['parameters'][k]
                                                for k in ('rerun_tasks', 'rerun_no_reset')},
                             context=new['context'], rerun_ex_ref=Obj(context=context))
    status, _, new_context = rerun.run({})
    assert status == 'running'
    assert new_context['mistral']['execution_id'] == context['mistral']['execution_id']
    st2.wait_for_status(new['id'], 'succeeded', timeout=30)

    assert len(st2.executions('examples.ok')) == 1        # not reset: kept
    flaky = st2.executions('examples.flaky')
    assert [c['status'] for c in flaky] == ['failed', 'succeeded']
    assert flaky[1]['context']['parent']['execution_id'] == new['id']
    after = st2.execution(first)
    assert (after['status'], after['history']) == ('failed', failed_before['history'])


def test_rerun_tasks_without_an_execution_to_rerun_fails_at_once(adapter, st2_conf, records,
                                                                 side, st2, tmp_path):
    name = unique('examples.adapternoref')
    st2_id = st2.add_execution(action=name)
    runner = container_runner(adapter, records, tmp_path, WITH_ITEMS % name, name, st2_id,
                              runner_parameters={'rerun_tasks': ['items']})
    with pytest.raises(launcher.RunnerError, match='not with "st2 run"'):
        runner.run({})
    assert all(
        e.workflow_name != name for e in side.client.executions.list())


def test_querier_reconciles_a_tracked_liveaction(adapter, st2_conf, records, side, st2,
                                                 tmp_path):
    name = unique('examples.queried')
    side.client.workflows.create("version: '2.0'\n%s:\n  output: {x: 1}\n  tasks:\n"
                                 "    t: {action: std.noop}\n" % name)
    ex = side.client.executions.create(name)
    side.wait_state(ex.id)
    liveaction, _ = st2_record(records, st2_emulator.new_object_id(),
                               children=[])
    querier = adapter.get_querier()
    status, result = querier.query(liveaction.id, {'mistral': {'execution_id': ex.id}})
    assert status == 'succeeded'
    assert result['x'] == 1 and [t['name'] for t in result['tasks']] == ['t']

    status, result = querier.query(liveaction.id, {'mistral': {
        'execution_id': '00000000-0000-0000-0000-000000000000'}})
    assert status == 'failed' and 'was not found' in result['error']


def test_callback_module_sends_the_result_to_mistral(adapter, st2_conf, side):
    name = unique('examples.cb')
    side.client.workflows.create(WAITING % name)
    ex = side.client.executions.create(name)
    task = side.wait_task(ex.id, 'w', ('RUNNING',))
    (action,) = side.client.action_executions.list(task_execution_id=task.id)
    handler = adapter.get_callback_handler()
    handler.callback(Obj(id='la1', status='succeeded', result={'stdout': 'ünïcode'}, callback={
        'source': 'mistral_v2', 'url': 'http://ignored-host/v2/action_executions/' + action.id}))
    assert side.wait_state(ex.id).state == 'SUCCESS'
    assert json.loads(side.client.tasks.get(task.id).result) == {'stdout': 'ünïcode'}


def test_callback_module_sends_no_result_to_another_users_task(adapter, st2_conf, side,
                                                                caplog):
    """With use_st2_token (docs/security.rst, "Children's results"): this Mistral keeps
    every execution in one project, which is no st2 user's."""
    name = unique('examples.cb_other')
    side.client.workflows.create(WAITING % name)
    ex = side.client.executions.create(name)
    task = side.wait_task(ex.id, 'w', ('RUNNING',))
    (action,) = side.client.action_executions.list(task_execution_id=task.id)
    handler = adapter.get_callback_handler()
    liveaction = Obj(id='la2', status='succeeded', result={'stdout': 'bob'},
                     context={'user': 'bob'}, callback={
                         'source': 'mistral_v2',
                         'url': 'http://ignored-host/v2/action_executions/' + action.id})
    st2_conf.set_override('use_st2_token', True, group='mistral')
    st2_conf.set_override('st2_service_token', 'service-token', group='mistral')
    try:
        with caplog.at_level(logging.WARNING):
            handler.callback(liveaction)   # synchronous: a PUT would be made by now
    finally:
        st2_conf.clear_override('use_st2_token', group='mistral')
        st2_conf.clear_override('st2_service_token', group='mistral')
    assert side.client.action_executions.get(action.id).state == 'RUNNING'
    assert "[la2] Not completing Mistral action execution %s" % action.id in caplog.text
    assert 'service-token' not in caplog.text
    handler.callback(liveaction)            # not checked without use_st2_token
    assert side.wait_state(ex.id).state == 'SUCCESS'


def st2_worker_completes_cancel(st2, st2_id, runner):
    """What st2's action runner does with a canceling execution: call ``cancel()`` and
    write its answer into the liveaction and the execution (st2actions/container/base.py
    ``_do_cancel`` -> ``_update_status`` @ v3.9.0 and v3.2.0)."""
    status, result, context = runner.cancel()
    st2.db_update_status(st2.execution(st2_id)['liveaction_id'], status, result)
    return status, result


def start_waiting(adapter, records, side, st2, tmp_path, version, prefix):
    """st2 ``version`` runs WAITING through the runner; (st2 id, runner, Mistral
    execution id) once its task ``w`` runs."""
    st2.version = version
    name = unique(prefix)
    st2_id = st2.add_execution(action=name)
    runner = container_runner(adapter, records, tmp_path, WAITING % name, name, st2_id)
    ex_id = run_keeping_context(runner)
    side.wait_task(ex_id, 'w', ('RUNNING',))
    return st2_id, runner, ex_id


@pytest.mark.parametrize('version', ['3.2', '3.9'])
def test_cancel_from_st2_keeps_the_workflows_result(adapter, st2_conf, records, side, stream,
                                                    st2, tmp_path, version):
    st2_id, runner, ex_id = start_waiting(adapter, records, side, st2, tmp_path, version,
                                          'examples.st2cancel')

    # st2 execution cancel: st2 records the request with its own result ...
    answer = st2_put(st2, st2_id, 'canceled').json()
    assert answer['status'] == 'canceling'
    assert answer['result'] == {'message': 'Action canceled by user.', 'user': 'st2admin'}
    # ... then its action runner calls the runner, whose answer replaces it.
    status, result = st2_worker_completes_cancel(st2, st2_id, runner)
    assert status == 'canceled'
    assert result['extra'] == {'state': 'CANCELLED', 'state_info': None}
    assert [t['name'] for t in result['tasks']] == ['w']
    st2.wait_for_status(st2_id, 'canceled')
    assert st2.execution(st2_id)['result'] == result
    assert side.client.executions.get(ex_id).state == 'CANCELLED'


@pytest.mark.parametrize('version', ['3.2', '3.9'])
def test_cancel_started_in_mistral_keeps_the_workflows_result(adapter, st2_conf, records,
                                                              side, stream, st2, tmp_path,
                                                              version):
    st2_id, runner, ex_id = start_waiting(adapter, records, side, st2, tmp_path, version,
                                          'examples.mcancel')

    side.client.executions.update(ex_id, 'CANCELLED')
    # The publisher's PUT canceled makes st2 cancel (canceling); st2's action runner then
    # calls the runner while the publisher confirms: whichever lands first, the result
    # st2 keeps is the workflow's.
    st2.wait_for(lambda e: e.execution(st2_id)['status'] in ('canceling', 'canceled'),
                 timeout=10)
    status, result = st2_worker_completes_cancel(st2, st2_id, runner)
    assert status == 'canceled' and result['extra']['state'] == 'CANCELLED'
    st2.wait_for_status(st2_id, 'canceled', timeout=10)
    final = st2.execution(st2_id)['result']
    assert final['extra'] == {'state': 'CANCELLED', 'state_info': None}
    assert [t['name'] for t in final['tasks']] == ['w']


def test_a_cancel_sent_while_the_workflow_starts_cancels_it(adapter, st2_conf, records, side,
                                                            st2, tmp_path):
    """st2 dispatches the cancel to ``cancel()`` while ``run()`` is still starting the
    workflow: there is no Mistral execution to cancel yet, st2 keeps the execution
    canceling, then would write run()'s answer over it (st2actions/container/base.py
    ``_do_cancel`` and ``_update_live_action_db`` @ v3.9.0; seen in st2's own
    test_wiring_cancel on real st2 3.9). run() must see it and cancel the workflow."""
    name = unique('examples.cancel-at-start')
    st2_id = st2.add_execution(action=name)
    runner = container_runner(adapter, records, tmp_path, WAITING % name, name, st2_id)
    # st2's worker: cancel() before run() has returned: nothing to cancel in Mistral yet
    assert runner.cancel()[0] == 'canceled'
    launching = runner._launcher

    def launcher_while_st2_cancels():
        real = launching()
        start = real.start

        def start_then_cancel_arrives(request):
            started = start(request)
            runner.liveaction.status = 'canceling'  # request_cancellation, meanwhile
            return started

        real.start = start_then_cancel_arrives
        return real

    runner._launcher = launcher_while_st2_cancels
    status, _, context = runner.run({})
    assert status == 'canceling'   # st2 keeps the status it has (canceled here)
    ex_id = context['mistral']['execution_id']
    assert side.client.executions.get(ex_id).state == 'CANCELLED'


def test_a_cancel_dispatched_with_the_context_of_before_the_start_uses_the_stored_one(
        adapter, st2_conf, records, side, st2, tmp_path):
    """st2's worker builds the cancelling runner from the liveaction its queue message
    carried, from before run() stored the Mistral execution id (seen on real st2 3.9:
    "has changed from canceling to running while in the queue"). cancel() takes the
    stored context and cancels the workflow."""
    name = unique('examples.cancel-stale-context')
    st2_id = st2.add_execution(action=name)
    runner = container_runner(adapter, records, tmp_path, WAITING % name, name, st2_id)
    _, _, context = runner.run({})
    ex_id = context['mistral']['execution_id']
    side.wait_task(ex_id, 'w', ('RUNNING',))
    stored = dict(runner.liveaction.context, **context)
    stale = container_runner(adapter, records, tmp_path, WAITING % name, name, st2_id)
    assert 'mistral' not in stale.context                 # the queue's copy
    records.action_db.LIVEACTIONS[stale.liveaction_id] = Obj(
        **dict(vars(stale.liveaction), context=stored))   # what st2's database holds
    status, _, returned_context = stale.cancel()
    assert status == 'canceled'
    assert side.client.executions.get(ex_id).state == 'CANCELLED'
    assert returned_context['mistral']['execution_id'] == ex_id   # st2 stores it back
