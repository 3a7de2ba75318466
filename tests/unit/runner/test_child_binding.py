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

"""Which st2 children may complete which Mistral action executions (child_binding.py),
against a stand-in Mistral client. The real Mistral: tests/security/
test_trust_forged_callback.py."""

import logging

from oslo_config import cfg
import pytest
import requests

from st2mistral.st2_side import child_binding
from st2mistral.st2_side import child_results
from st2mistral.st2_side import config
from st2mistral.st2_side import mistral_api

URL = 'http://mistral:8989/v2/action_executions/ae-1'
NOT_FOUND = mistral_api.MistralError(404, 'ActionExecution not found [id=ae-1]')


class ActionExecutions:
    """Action execution ``ae-1`` in Alice's project; ``admin_reads`` False is Mistral
    before 21 (the service user finds it only when acting in that project)."""

    def __init__(self, project='st2:alice', admin_reads=True, failures=()):
        self.project = project
        self.admin_reads = admin_reads
        self.failures = list(failures)
        self.gets = []
        self.updates = []

    def get(self, id, project=None):
        self.gets.append((id, project))
        if self.failures:
            raise self.failures.pop(0)
        if self.project is None or not (self.admin_reads or project == self.project):
            raise NOT_FOUND
        return mistral_api.Resource({'id': id, 'project_id': self.project})

    def update(self, id, state=None, output=None, project=None):
        self.updates.append((id, state))
        return {'id': id}


class Client:
    def __init__(self, **kw):
        self.action_executions = ActionExecutions(**kw)


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('retry_exp_msec', 0, group='mistral')
    conf.set_override('retry_stop_max_msec', 5000, group='mistral')
    conf.set_override('use_st2_token', True, group='mistral')
    conf.set_override('st2_service_token', 'service-token', group='mistral')
    return conf


def child(context, id='c1', status='succeeded'):
    return {'id': id, 'status': status, 'context': context, 'result': {'stdout': 'x'},
            'liveaction': {'callback': {'source': 'mistral_v2', 'url': URL}}}


@pytest.mark.parametrize('context, user', [
    ({'user': 'alice'}, 'alice'),
    # With RBAC st2 writes context.rbac after merging the client's st2-context header.
    ({'user': 'alice', 'rbac': {'user': 'bob', 'roles': []}}, 'bob'),
    ({'user': 'alice', 'rbac': {'roles': []}}, 'alice'),
    ({}, None), ({'user': ''}, None), (None, None), ({'user': 7}, None),
])
def test_the_st2_user_st2_recorded(context, user):
    assert child_binding.st2_user({'context': context}) == user


def test_the_users_own_child_is_delivered_after_one_read(conf):
    client = Client()
    children = child_results.ChildResults(client, conf)
    assert children.deliver_execution(child({'user': 'alice'})) == child_results.DELIVERED
    assert client.action_executions.gets == [('ae-1', None)]
    assert client.action_executions.updates == [('ae-1', 'SUCCESS')]


def test_another_users_child_is_refused_once_and_remembered(conf, caplog):
    client = Client()
    children = child_results.ChildResults(client, conf)
    forged = child({'user': 'bob', 'mistral': {'action_execution_id': 'ae-1'}})
    with caplog.at_level(logging.WARNING):
        assert children.deliver_execution(forged) == child_results.REFUSED
        assert children.deliver_execution(forged) == child_results.REFUSED
    assert client.action_executions.updates == []
    assert client.action_executions.gets == [('ae-1', None)]     # remembered
    (warning,) = caplog.records
    assert warning.getMessage() == (
        "[c1] Not completing Mistral action execution ae-1 with this st2 execution's "
        "result: it was started as st2 user 'bob', whose Mistral project is st2:bob, but "
        "it is in Mistral project st2:alice (an st2 execution whose callback names another "
        "user's task; docs/security.rst, \"Children's results\").")


def test_a_forged_user_loses_to_the_rbac_user(conf):
    client = Client()
    forged = child({'user': 'alice', 'rbac': {'user': 'bob', 'roles': []}})
    assert child_results.ChildResults(client, conf).deliver_execution(forged) == \
        child_results.REFUSED
    assert client.action_executions.updates == []


def test_a_child_without_a_user_is_refused_without_a_read(conf):
    client = Client()
    assert child_results.ChildResults(client, conf).deliver_execution(child({})) == \
        child_results.REFUSED
    assert client.action_executions.gets == []


def test_mistral_before_21_is_read_in_the_childs_project(conf):
    client = Client(admin_reads=False)
    children = child_results.ChildResults(client, conf)
    assert children.deliver_execution(child({'user': 'alice'})) == child_results.DELIVERED
    assert client.action_executions.gets == [('ae-1', None), ('ae-1', 'st2:alice')]
    assert children.deliver_execution(child({'user': 'bob'}, id='c2')) == \
        child_results.REFUSED


def test_an_unknown_action_execution_is_refused(conf, caplog):
    client = Client(project=None)
    with caplog.at_level(logging.WARNING):
        assert child_results.ChildResults(client, conf).deliver_execution(
            child({'user': 'alice'})) == child_results.REFUSED
    assert 'Mistral has no such action execution in that project' in caplog.text


def test_a_failed_read_is_not_remembered(conf, caplog):
    client = Client(failures=[requests.ConnectionError('down')] * 50)
    conf.set_override('retry_stop_max_msec', 1, group='mistral')
    children = child_results.ChildResults(client, conf)
    with caplog.at_level(logging.ERROR):
        assert children.deliver_execution(child({'user': 'alice'})) == child_results.FAILED
    assert 'Unable to check that Mistral action execution ae-1' in caplog.text
    client.action_executions.failures = []
    assert children.deliver_execution(child({'user': 'alice'})) == child_results.DELIVERED


@pytest.mark.parametrize('override', [{'use_st2_token': False},
                                      {'keystone_auth_url': 'http://keystone:5000'}])
def test_not_checked_without_per_user_projects(conf, override):
    for name, value in override.items():
        conf.set_override(name, value, group='mistral')
    client = Client()
    assert child_results.ChildResults(client, conf).deliver_execution(
        child({'user': 'bob'})) == child_results.DELIVERED
    assert client.action_executions.gets == []


def test_a_running_child_is_not_checked(conf):
    client = Client()
    assert child_results.ChildResults(client, conf).deliver_execution(
        child({'user': 'bob'}, status='running')) == child_results.SKIPPED
    assert client.action_executions.gets == []


def test_the_api_keys_user_completes_any_users_task(conf):
    conf.set_override('st2_key_users', ['st2mistral-key'], group='mistral')
    client = Client()
    children = child_results.ChildResults(client, conf)
    assert children.deliver_execution(child({'user': 'st2mistral-key'})) == \
        child_results.DELIVERED
    assert client.action_executions.gets == []
    assert children.deliver_execution(child({'user': 'bob'}, id='c2')) == \
        child_results.REFUSED
