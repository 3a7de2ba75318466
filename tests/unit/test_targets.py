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

import pytest

from st2mistral.mistral_side import targets

DEFAULT = 'http://st2.example/api/v1'


def _env(**ctx):
    return {'st2_execution_id': 'abc123', '__actions': {'st2.action': {'st2_context': ctx}}}


def test_no_st2_context_gives_none():
    assert targets.resolve({}, {}, DEFAULT) is None
    assert targets.resolve({}, None, DEFAULT) is None
    assert targets.resolve({}, {'foo': 1}, DEFAULT) is None


def test_env_as_st2_puts_it():
    env = _env(api_url='https://st2/api/v1/', auth_token='tok',
               parent={'mistral': {'workflow_execution_id': 'parent-wf'}})
    target = targets.resolve({}, env, DEFAULT)
    assert target.execution_id == 'abc123'
    assert target.api_url == 'https://st2/api/v1'
    assert target.token == 'tok'
    assert targets.parent_workflow_execution_id(env) == 'parent-wf'
    assert 'tok' not in repr(target)


def test_st2_action_api_url_wins_over_context_and_default():
    env = _env(api_url='https://ctx/api/v1')
    env['st2_action_api_url'] = 'https://action/api/v1'
    assert targets.resolve({}, env, DEFAULT).api_url == 'https://action/api/v1'
    env = {'st2_execution_id': 'e1'}
    assert targets.resolve({}, env, DEFAULT).api_url == DEFAULT


def test_notify_kwargs_win():
    target = targets.resolve({'st2_execution_id': 'k1', 'api_url': 'http://k/api/v1'},
                             _env(api_url='http://env/api/v1'), DEFAULT)
    assert (target.execution_id, target.api_url) == ('k1', 'http://k/api/v1')


@pytest.mark.parametrize('bad_id', ['../admin', 'a/b', '', 12, 'x' * 65])
def test_malformed_execution_id_is_refused(bad_id):
    with pytest.raises(targets.InvalidSt2Context, match='st2_execution_id'):
        targets.resolve({}, {'st2_execution_id': bad_id}, DEFAULT)


def test_malformed_url_and_token_are_refused():
    with pytest.raises(targets.InvalidSt2Context, match='http'):
        targets.resolve({}, _env(api_url='ftp://x'), DEFAULT)
    with pytest.raises(targets.InvalidSt2Context, match='auth_token'):
        targets.resolve({}, _env(auth_token=['secret']), DEFAULT)


def test_garbage_st2_context_is_ignored_not_fatal():
    env = {'st2_execution_id': 'e1', '__actions': {'st2.action': {'st2_context': 'junk'}}}
    assert targets.resolve({}, env, DEFAULT).token is None
    assert targets.parent_workflow_execution_id({'__actions': 5}) is None
