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

"""The names both sides agree on: what the runner writes is what the readers read."""

from st2mistral.core import contract
from st2mistral.mistral_side import targets


def test_env_built_by_the_runner_is_read_back_by_the_mistral_side():
    env = contract.build_env('5f0000000000000000000001', 'http://st2/api/v1/', auth_token='t',
                             parent={'mistral': {'workflow_execution_id': 'wf-1'}})

    assert contract.env_execution_id(env) == '5f0000000000000000000001'
    assert contract.env_st2_context(env)['endpoint'] == 'http://st2/api/v1/actionexecutions'
    assert targets.parent_workflow_execution_id(env) == 'wf-1'
    target = targets.resolve({}, env, None)
    assert (target.execution_id, target.api_url, target.token) == (
        '5f0000000000000000000001', 'http://st2/api/v1', 't')


def test_accessors_take_any_shape_without_raising():
    for odd in (None, 'text', [], {'mistral': 'x'}, {'__actions': {'st2.action': 3}}):
        assert contract.mistral_context(odd) == {}
        assert contract.mistral_execution_id(odd) is None
        assert contract.env_st2_context(odd) == {}
    assert contract.env_execution_id('text') is None
    assert contract.mistral_execution_id({'mistral': {'execution_id': 'm-1'}}) == 'm-1'


def test_execution_url_has_one_slash_between_api_and_path():
    assert contract.execution_url('http://st2/api/v1/', 'abc') == 'http://st2/api/v1/executions/abc'
