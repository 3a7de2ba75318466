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

"""The st2common adapter, loaded the way st2 loads runners, on a st2common STAND-IN.

st2 cannot be installed here, so tests/unit/runner/st2common_standin holds a
minimal stand-in of the st2common names the adapter uses (documented in its
package docstring, following docs/contracts.rst, section 8). The steps below are
st2's: stevedore finds the entry point; registration validates
``get_metadata()`` with RunnerTypeAPI; the runner, query and callback modules
are looked up by name, retrying "mistral_v2" as "mistral-v2".
"""

import pathlib
import re

import pytest
from stevedore import driver
from stevedore import exception as stevedore_exc
from stevedore import extension

import st2mistral

RUNNERS = 'st2common.runners.runner'
QUERIERS = 'st2common.runners.query'
CALLBACKS = 'st2common.runners.callback'


def st2_load(namespace, name):
    """st2's get_runner_module / query / callback module lookup."""
    try:
        return driver.DriverManager(namespace, name, invoke_on_load=False).driver
    except stevedore_exc.NoMatches:
        return driver.DriverManager(namespace, name.replace('_', '-'),
                                    invoke_on_load=False).driver


@pytest.fixture(scope='module')
def adapter(st2common_standin):
    return st2_load(RUNNERS, 'mistral-v2')


def test_runner_is_registered_like_st2_registers_it(adapter, st2common_standin):
    from st2common.models.api.action import RunnerTypeAPI

    assert 'mistral-v2' in extension.ExtensionManager(RUNNERS).names()
    meta = adapter.get_metadata()
    for key in ('experimental', 'aliases'):
        meta.pop(key, None)
    meta.setdefault('runner_package', meta['runner_module'])
    RunnerTypeAPI(**meta).validate()
    assert meta['name'] == 'mistral-v2'
    assert set(meta['runner_parameters']) == {'context', 'skip_notify', 'task_name', 'workflow',
                                              'rerun_tasks', 'rerun_no_reset'}
    for name in ('rerun_tasks', 'rerun_no_reset'):  # st2client casts 'a,b' to a list
        assert meta['runner_parameters'][name]['type'] == 'array'
        assert meta['runner_parameters'][name]['default'] == []
    assert meta['runner_parameters']['context']['default'] == {}
    assert meta['runner_parameters']['skip_notify']['default'] == []


def test_runner_query_and_callback_modules_by_their_registered_names(adapter):
    from st2common.callback.base import AsyncActionExecutionCallbackHandler
    from st2common.query.base import Querier
    from st2common.runners.base import PollingAsyncActionRunner

    meta = adapter.get_metadata()
    runner_module = st2_load(RUNNERS, meta['runner_module'])   # "mistral_v2" -> "mistral-v2"
    assert runner_module is adapter
    runner = runner_module.get_runner()
    assert isinstance(runner, PollingAsyncActionRunner)
    assert runner.is_polling_enabled() is False        # push by default, as st2 3.2
    assert runner_module.get_runner(config={'x': 1}).runner_id != runner.runner_id

    querier = st2_load(QUERIERS, meta['query_module']).get_instance()
    assert isinstance(querier, Querier)
    handler = st2_load(CALLBACKS, 'mistral_v2').get_instance()
    assert issubclass(handler, AsyncActionExecutionCallbackHandler)
    assert callable(handler.callback)


def test_st2common_is_imported_by_the_adapter_only():
    package = pathlib.Path(st2mistral.__file__).parent
    importing = sorted(str(path.relative_to(package)) for path in package.rglob('*.py')
                       if re.search(r'^\s*(from|import)\s+st2common\b', path.read_text(),
                                    re.MULTILINE))
    # testing/real_st2/server.py is not the product: it IS st2's process in the tests.
    assert importing == ['st2_side/st2_adapter.py', 'testing/real_st2/server.py']
