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

"""The runner's pure decisions, and how it sends a definition (with a scripted Mistral;
the real Mistral calls are tested in tests/functional/runner)."""

from oslo_config import cfg
import pytest

from st2mistral.st2_side import config
from st2mistral.st2_side import definitions
from st2mistral.st2_side import launcher as l
from st2mistral.st2_side import mistral_api


def request(**kw):
    values = dict(action_ref='examples.wf', definition='', parameters={}, execution_id='ex1',
                  api_url='http://st2:9101/v1/', public_api_url=None, liveaction_id='la1',
                  context={'user': 'alice', 'chain': {'params': {'p': '{{ x }}'}}},
                  runner_parameters={'skip_notify': ['quiet']}, notify={'on-complete': {}},
                  auth_token='secret-token')
    values.update(kw)
    return l.StartRequest(**values)


def test_env_is_what_the_publisher_and_st2_action_read():
    env = l.build_env(request())
    ctx = env['__actions']['st2.action']['st2_context']
    assert env['st2_execution_id'] == 'ex1'
    assert env['st2_liveaction_id'] == 'la1'
    assert env['st2_action_api_url'] == 'http://st2:9101/v1'
    assert ctx['api_url'] == 'http://st2:9101/v1'
    assert ctx['endpoint'] == 'http://st2:9101/v1/actionexecutions'
    assert ctx['auth_token'] == 'secret-token'
    assert ctx['skip_notify_tasks'] == ['quiet']
    assert ctx['notify'] == {'on-complete': {}}
    # The parent context: the st2 execution, and chain parameters kept away from Mistral.
    assert ctx['parent'] == {'execution_id': 'ex1', 'user': 'alice',
                             'chain': {'params': {'p': '{% raw %}{{ x }}{% endraw %}'}}}


def test_public_api_url_goes_to_the_env_and_the_reachable_one_to_notify():
    same = request(public_api_url='http://st2:9101/v1')
    assert l.notify_entries(same) == [{'type': 'st2'}]
    split = request(public_api_url='https://st2.example.com/api/v1')
    assert l.build_env(split)['st2_action_api_url'] == 'https://st2.example.com/api/v1'
    assert l.notify_entries(split) == [{'type': 'st2', 'api_url': 'http://st2:9101/v1'}]


def test_runner_context_top_level_and_under_a_parent_workflow():
    assert l.runner_context({'user': 'u'}, 'wf1', 'p.a') == {
        'mistral': {'execution_id': 'wf1', 'workflow_name': 'p.a'}}
    parent = {'parent': {'execution_id': 'st2parent'}, 'mistral': {
        'workflow_execution_id': 'pwf', 'workflow_name': 'p.parent', 'task_name': 't',
        'task_execution_id': 'te', 'action_execution_id': 'ae', 'callback_url': 'u'}}
    assert l.runner_context(parent, 'wf1', 'p.a') == {'mistral': {
        'execution_id': 'wf1', 'workflow_name': 'p.a', 'task_name': 't',
        'task_execution_id': 'te', 'action_execution_id': 'ae', 'callback_url': 'u',
        'parent': {'workflow_name': 'p.parent', 'workflow_execution_id': 'pwf'}}}


def test_task_specs():
    assert l.task_specs({'tasks': ['a', 'b.c'], 'reset': ['b.c']}) == {'a': False, 'b.c': True}
    assert l.task_specs(None) == {}


def test_rerun_options_from_st2_32s_context():
    context = {'re-run': {'ref': 'old', 'tasks': ['a', 'b.c'], 'reset': ['b.c']}}
    # st2 3.2's --tasks win; runner parameters are not read then.
    assert l.rerun_options(context, {'rerun_tasks': ['x']}) == {
        'tasks': ['a', 'b.c'], 'reset': ['b.c']}


def test_rerun_options_from_runner_parameters_of_an_st2_re_run():
    rerun = {'re-run': {'ref': 'old'}}
    assert l.rerun_options(rerun, {'rerun_tasks': ['a', 'items'],
                                   'rerun_no_reset': ['items']}) == {
        'tasks': ['a', 'items'], 'reset': ['a']}
    assert l.rerun_options(rerun, {'rerun_tasks': ['a']}) == {'tasks': ['a'], 'reset': ['a']}
    # A plain re-run (no tasks) or a plain start: the workflow starts anew.
    assert l.rerun_options(rerun, {'rerun_tasks': [], 'rerun_no_reset': []}) is None
    assert l.rerun_options({}, {}) is None
    assert l.rerun_options(None, None) is None


@pytest.mark.parametrize('context, params, message', [
    ({}, {'rerun_tasks': ['a']},
     'use it with st2\'s re-run, "st2 execution re-run <id of the failed execution> '
     'rerun_tasks=<task>'),
    ({'re-run': {'ref': 'old'}}, {'rerun_tasks': ['a'], 'rerun_no_reset': ['b', 'c']},
     'rerun_no_reset names tasks that rerun_tasks does not: b, c.'),
    ({'re-run': {'ref': 'old'}}, {'rerun_no_reset': ['b']},
     'rerun_no_reset names tasks (b) but rerun_tasks is empty'),
])
def test_rerun_options_refusals_say_what_to_do(context, params, message):
    with pytest.raises(l.RunnerError) as error:
        l.rerun_options(context, params)
    assert message in str(error.value)


def test_children_to_cascade_only_workflow_children_in_the_right_state():
    children = [('1', 'mistral-v2', 'running'), ('2', 'local-shell-cmd', 'running'),
                ('3', 'orquesta', 'paused'), ('4', 'action-chain', 'succeeded'),
                ('5', 'action-chain', 'pausing')]
    assert l.children_to_cascade('pause', children) == ['1']
    assert l.children_to_cascade('resume', children) == ['3']
    assert l.children_to_cascade('cancel', children) == ['1', '3', '5']


def test_status_after():
    assert l.status_after('pause', True) == 'pausing'
    assert l.status_after('pause', False) == 'paused'
    assert l.status_after('cancel', True) == 'canceling'
    assert l.status_after('cancel', False) == 'canceled'
    assert l.status_after('resume', True) == 'running'


def test_prepare_reports_definition_errors_as_runner_errors():
    launcher = l.Launcher(client=None, conf=None,
                          lookup=lambda ref: definitions.ActionInfo(ref, {}))
    with pytest.raises(l.RunnerError, match='fully qualified action name "examples.wf"'):
        launcher.prepare(request(definition="version: '2.0'\nother.wf: {}\n"))
    wb = ("version: '2.0'\nname: examples.wf\nworkflows:\n  a: {tasks: {t: {action: std.noop}}}"
          "\n  b: {tasks: {t: {action: std.noop}}}\n")
    with pytest.raises(l.RunnerError, match='Default workflow cannot be determined'):
        launcher.prepare(request(definition=wb))
    spec, workbook, workflow = launcher.prepare(
        request(definition=wb, runner_parameters={'workflow': 'examples.wf.b'}))
    assert workbook and workflow == 'examples.wf.b'


def test_operations_need_the_mistral_execution_id():
    launcher = l.Launcher(client=None, conf=None)
    for operation in (launcher.pause, launcher.resume, launcher.cancel):
        with pytest.raises(l.RunnerError, match='mistral execution_id is missing'):
            operation({'mistral': {}})


class Definitions:
    """A Mistral workflows resource that answers each create/update from a script."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.sent = []

    def get(self, name):
        raise mistral_api.MistralError(404, 'Workflow not found [workflow_identifier=%s]' % name)

    def delete(self, name):
        self.get(name)

    def create(self, text):
        self.sent.append(text)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def launcher_with(answers):
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], project='st2mistral-test')
    conf.set_override('retry_stop_max_msec', 0, group='mistral')
    workflows = Definitions(answers)
    client = type('Client', (), {'workflows': workflows, 'workbooks': Definitions([])})()
    return l.Launcher(client, conf, sleep=lambda s: None), workflows


def parse_error():
    return mistral_api.MistralError(400, 'Parse error: unexpected end of statement')


def test_a_definition_mistral_failed_to_parse_once_is_sent_once_more(caplog):
    # Mistral 23 parses YAQL with one PLY parser shared by its threads: under
    # load a valid definition can fail to parse once.
    launcher, workflows = launcher_with([parse_error(), 'created'])
    spec = {'version': '2.0', 'examples.wf': {'tasks': {'t': {'action': 'std.noop'}}}}
    assert launcher.save('examples.wf', spec, workbook=False) == 'created'
    assert len(workflows.sent) == 2 and workflows.sent[0] == workflows.sent[1]
    assert 'sending it once more' in caplog.text


def test_a_definition_mistral_cannot_parse_twice_fails_with_mistrals_message():
    launcher, workflows = launcher_with([parse_error(), parse_error(), 'never'])
    spec = {'version': '2.0', 'examples.wf': {'tasks': {'t': {'action': 'std.noop'}}}}
    with pytest.raises(mistral_api.MistralError, match='Parse error'):
        launcher.save('examples.wf', spec, workbook=False)
    assert len(workflows.sent) == 2
