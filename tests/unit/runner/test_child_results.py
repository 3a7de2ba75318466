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

"""The callback relay against a recording stand-in of the Mistral client.

The real Mistral answers are tested in tests/functional/runner/test_relay.py.
"""

from oslo_config import cfg
import pytest
import requests

from st2mistral.st2_side import child_results as r
from st2mistral.st2_side import config
from st2mistral.st2_side import mistral_api

URL = 'http://mistral:8989/v2/action_executions/ae-1'


class ActionExecutions:
    def __init__(self, failures=()):
        self.failures = list(failures)
        self.calls = []

    def update(self, id, state=None, output=None, project=None):
        self.calls.append((id, state, output) + ((project,) if project else ()))
        if self.failures:
            raise self.failures.pop(0)
        return {'id': id, 'state': state}


class Executions:
    def __init__(self, projects):
        self.projects = projects
        self.gets = []

    def get(self, id):
        self.gets.append(id)
        return mistral_api.Resource({'id': id, 'project_id': self.projects[id]})


class Client:
    def __init__(self, failures=(), projects=None):
        self.action_executions = ActionExecutions(failures)
        self.executions = Executions(projects or {})


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('retry_exp_msec', 0, group='mistral')
    conf.set_override('retry_stop_max_msec', 5000, group='mistral')
    return conf


@pytest.mark.parametrize('status, state', [
    ('succeeded', 'SUCCESS'), ('failed', 'ERROR'), ('timeout', 'ERROR'), ('abandoned', 'ERROR'),
    ('canceling', 'CANCELLED'), ('canceled', 'CANCELLED'), ('pending', 'PAUSED'),
    ('pausing', 'PAUSED'), ('paused', 'PAUSED'), ('running', 'RUNNING'),
    ('resuming', 'RUNNING'), ('requested', 'RUNNING'), ('anything', 'RUNNING'),
])
def test_state_map(status, state):
    assert r.mistral_state(status) == state


def test_callback_of():
    ex = {'liveaction': {'callback': {'source': 'mistral_v2', 'url': URL}}}
    assert r.callback_of(ex) == 'ae-1'
    assert r.callback_of({'liveaction': {'callback': {'source': 'other', 'url': URL}}}) is None
    assert r.callback_of({'liveaction': {'callback': {}}}) is None
    assert r.callback_of({'liveaction': {'callback': {'source': 'mistral_v2',
                                                      'url': 'http://x/bad'}}}) is None
    # An st2 whose API has no liveaction: the child's st2 context says where it reports.
    assert r.callback_of({'context': {'mistral': {'callback_url': URL,
                                                  'action_execution_id': 'ae-2'}}}) == 'ae-2'
    # A top-level workflow has a mistral context but reports to nobody.
    assert r.callback_of({'context': {'mistral': {'execution_id': 'wf'}}}) is None


def test_output_is_always_a_json_object():
    assert r.output_for({'stdout': 'é'}) == {'stdout': 'é'}
    assert r.output_for('{"a": 1}') == {'a': 1}
    assert r.output_for(['x']) == {'result': ['x']}
    assert r.output_for('plain') == {'result': 'plain'}
    assert r.output_for(None) == {'result': None}


def test_deliver_success_and_states_without_output(conf):
    client = Client()
    relay = r.ChildResults(client, conf)
    assert relay.deliver('ae-1', 'succeeded', {'stdout': '✓ 日本'}) == r.DELIVERED
    assert relay.deliver('ae-2', 'canceled', {'ignored': 1}) == r.DELIVERED
    assert relay.deliver('ae-3', 'paused', {}) == r.DELIVERED
    assert client.action_executions.calls == [
        ('ae-1', 'SUCCESS', {'stdout': '✓ 日本'}), ('ae-2', 'CANCELLED', None),
        ('ae-3', 'PAUSED', None)]


def test_deliver_skips_statuses_st2_does_not_call_back(conf):
    client = Client()
    assert r.ChildResults(client, conf).deliver('ae-1', 'running', {}) == r.SKIPPED
    assert r.ChildResults(client, conf).deliver('ae-1', 'canceling', {}) == r.SKIPPED
    assert client.action_executions.calls == []


def test_already_completed_is_done(conf):
    error = mistral_api.MistralError(500, 'ValueError: Action ae-1 is already completed')
    client = Client([error])
    assert r.ChildResults(client, conf).deliver('ae-1', 'succeeded', {}) == r.ALREADY_COMPLETED
    assert len(client.action_executions.calls) == 1


def test_connection_errors_are_retried(conf):
    sleeps = []
    client = Client([requests.ConnectionError('refused'),
                     mistral_api.MistralError(503, 'Service Unavailable'),
                     mistral_api.MistralError(500, 'MessagingTimeout: no reply')])
    relay = r.ChildResults(client, conf, sleep=sleeps.append)
    assert relay.deliver('ae-1', 'failed', {'stderr': 'boom'}) == r.DELIVERED
    assert len(client.action_executions.calls) == 4
    assert len(sleeps) == 3


def test_errors_that_cannot_heal_are_not_retried(conf):
    client = Client([mistral_api.MistralError(404, 'not found')])
    assert r.ChildResults(client, conf).deliver('ae-1', 'succeeded', {}) == r.FAILED
    assert len(client.action_executions.calls) == 1


def test_deliver_execution(conf):
    client = Client()
    relay = r.ChildResults(client, conf)
    ex = {'id': 'st2ex', 'status': 'succeeded', 'result': {'a': 1},
          'liveaction': {'callback': {'source': 'mistral_v2', 'url': URL}}}
    assert relay.deliver_execution(ex) == r.DELIVERED
    assert relay.deliver_execution({'id': 'x', 'status': 'succeeded'}) == r.SKIPPED
    assert client.action_executions.calls == [('ae-1', 'SUCCESS', {'a': 1})]


def test_a_failed_inquiry_st2_could_not_pause_for_says_what_to_do():
    refused = {'error': 'Unable to pause liveaction "la1" because it is not supported by the '
                        '"mistral-v2" runner.', 'traceback': '...'}
    inquiry = {'runner': {'name': 'inquirer'}, 'status': 'failed', 'result': refused}
    assert r.with_hint(inquiry) == dict(refused, hint=r.INQUIRY_HINT)
    assert '"inquiry: true"' in r.INQUIRY_HINT
    # Anything else is left as it is.
    for other in (dict(inquiry, runner={'name': 'local-shell-cmd'}),
                  dict(inquiry, status='succeeded'),
                  dict(inquiry, result={'error': 'another error'}),
                  dict(inquiry, result='text')):
        assert r.with_hint(other) == other['result']


# Mistral 20's answer to the admin token for another project's action execution.
NOT_FOUND = mistral_api.MistralError(
    500, 'DBEntityNotFoundError: 404: ActionExecution not found [id=ae-1]')


def test_mistral_before_21_gets_the_result_in_the_workflows_project(conf, caplog):
    client = Client([NOT_FOUND], projects={'wf-1': 'st2:alice'})
    relay = r.ChildResults(client, conf)
    ex = {'id': 'st2ex', 'status': 'succeeded', 'result': {'a': 1},
          'liveaction': {'callback': {'source': 'mistral_v2', 'url': URL}},
          'context': {'mistral': {'workflow_execution_id': 'wf-1'}}}
    with caplog.at_level('INFO'):
        assert relay.deliver_execution(ex) == r.DELIVERED
    assert client.action_executions.calls == [('ae-1', 'SUCCESS', {'a': 1}),
                                              ('ae-1', 'SUCCESS', {'a': 1}, 'st2:alice')]
    assert client.executions.gets == ['wf-1']
    assert 'completing it in the project of workflow wf-1' in caplog.text


@pytest.mark.parametrize('workflow, projects', [
    (None, {}),                                      # the child names no workflow
    ('wf-1', {'wf-1': '<default-project>'}),         # Mistral's auth is off
    ('wf-1', {'wf-1': None}),
])
def test_not_found_stays_a_failure_without_an_st2_users_project(conf, workflow, projects):
    client = Client([NOT_FOUND], projects=projects)
    assert r.ChildResults(client, conf).deliver(
        'ae-1', 'succeeded', {}, workflow_execution_id=workflow) == r.FAILED
    assert len(client.action_executions.calls) == 1     # no PUT in another project


def test_other_errors_are_not_retried_in_another_project(conf):
    client = Client([mistral_api.MistralError(500, 'ValueError: bad output')],
                    projects={'wf-1': 'st2:alice'})
    assert r.ChildResults(client, conf).deliver(
        'ae-1', 'succeeded', {}, workflow_execution_id='wf-1') == r.FAILED
    assert len(client.action_executions.calls) == 1
    assert client.executions.gets == []


def test_workflow_of():
    assert r.workflow_of({'mistral': {'workflow_execution_id': 'wf-1'}}) == 'wf-1'
    for context in (None, {}, {'mistral': {}}, {'mistral': {'workflow_execution_id': 3}},
                    {'mistral': {'workflow_execution_id': ''}}):
        assert r.workflow_of(context) is None


@pytest.fixture
def st2_auth_conf(conf):
    """The st2 side of a Mistral with auth_type = st2 (one project per st2 user)."""
    conf.set_override('use_st2_token', True, group='mistral')
    conf.set_override('st2_service_token', 'service-token', group='mistral')
    return conf


def test_under_st2_auth_the_result_goes_in_the_workflows_project(st2_auth_conf):
    """Mistral 21.0.0 completes another project's action execution for the admin
    user, then never completes its workflow (docs/mistral-versions.rst, note [3]):
    the PUT acts in the workflow's project from the start."""
    client = Client(projects={'wf-1': 'st2:alice'})
    assert r.ChildResults(client, st2_auth_conf).deliver(
        'ae-1', 'succeeded', {'a': 1}, workflow_execution_id='wf-1') == r.DELIVERED
    assert client.action_executions.calls == [('ae-1', 'SUCCESS', {'a': 1}, 'st2:alice')]
    assert client.executions.gets == ['wf-1']


@pytest.mark.parametrize('workflow, projects', [
    (None, {}),                                      # the child names no workflow
    ('wf-1', {'wf-1': '<default-project>'}),         # not an st2 user's project
])
def test_under_st2_auth_without_an_st2_users_workflow_the_put_is_plain(
        st2_auth_conf, workflow, projects):
    client = Client(projects=projects)
    assert r.ChildResults(client, st2_auth_conf).deliver(
        'ae-1', 'succeeded', {}, workflow_execution_id=workflow) == r.DELIVERED
    assert client.action_executions.calls == [('ae-1', 'SUCCESS', {})]


def test_under_st2_auth_not_found_outside_an_st2_users_workflow_reads_it_once(
        st2_auth_conf):
    client = Client([NOT_FOUND], projects={'wf-1': '<default-project>'})
    assert r.ChildResults(client, st2_auth_conf).deliver(
        'ae-1', 'succeeded', {}, workflow_execution_id='wf-1') == r.FAILED
    assert client.action_executions.calls == [('ae-1', 'SUCCESS', {})]
    assert client.executions.gets == ['wf-1']


def test_without_st2_auth_the_workflow_is_not_read_first(conf):
    client = Client(projects={'wf-1': 'st2:alice'})
    assert r.ChildResults(client, conf).deliver(
        'ae-1', 'succeeded', {}, workflow_execution_id='wf-1') == r.DELIVERED
    assert client.action_executions.calls == [('ae-1', 'SUCCESS', {})]
    assert client.executions.gets == []
