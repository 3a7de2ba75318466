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

"""Fixtures for functional tests: a REAL Mistral 23 and the strict st2 emulator.

One single-process Mistral (SQLite, in-process transport, this plugin
installed) and one emulator serve the whole session; each test uses its own
workflow names and st2 executions, and the emulator is reset between tests.
"""

import uuid

import pytest

from st2mistral.core import contract
from st2mistral.testing import mistral_launcher
from st2mistral.testing.st2_emulator import St2Emulator

TOKEN = 'st2-token'
API_KEY = 'st2-key'


def fast_retry_config(st2):
    return {'st2': {'api_url': st2.api_url, 'auth_url': st2.auth_url,
                    'retry_initial_delay': 0.05, 'retry_max_delay': 0.5,
                    'unknown_execution_grace': 2}}


@pytest.fixture(scope='session')
def st2_emulator():
    with St2Emulator(tokens=(TOKEN,), api_keys=(API_KEY,)) as emulator:
        yield emulator


@pytest.fixture(scope='session')
def mistral_server(st2_emulator, tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp('mistral'))
    with mistral_launcher.MistralServer(workdir, config=fast_retry_config(st2_emulator)) as m:
        yield m


@pytest.fixture
def st2(st2_emulator):
    st2_emulator.reset()
    yield st2_emulator
    st2_emulator.reset()


@pytest.fixture
def mistral(mistral_server):
    return mistral_server


def unique(name):
    return '%s_%s' % (name, uuid.uuid4().hex[:8])


def add_st2_execution(st2, workflow):
    return st2.add_execution(action='examples.' + workflow.split('.')[-1])


# st2.action's request that creates a child (and ``on=`` of a fault meant for it).
POST_EXECUTION = ('POST', '/api/v1/executions')


def st2_put(st2_id):
    """``on=`` of an emulator fault meant for the publisher's updates of ``st2_id``."""
    return 'PUT', '/api/v1/executions/' + st2_id


class Run:
    """One workflow started the way st2's mistral-v2 runner starts it."""

    def __init__(self, mistral, st2, definition, workflow, workflow_input=None, st2_context=True,
                 notify=True, token=TOKEN, env_extra=None, parent=None, workbook=False,
                 st2_id=None):
        self.client = mistral.client()
        if workbook:
            self.client.workbooks.create(definition)
        else:
            self.client.workflows.create(definition)
        # st2_id: made beforehand (add_st2_execution), e.g. to aim a fault at its updates.
        self.st2_id = st2_id or add_st2_execution(st2, workflow)
        env = (contract.build_env(self.st2_id, st2.api_url, auth_token=token, parent=parent,
                                extra=env_extra) if st2_context else dict(env_extra or {}))
        params = {'env': env}
        if notify:
            params['notify'] = [contract.ST2_NOTIFY_ENTRY]
        self.execution = self.client.executions.create(
            workflow, workflow_input=workflow_input or {}, **params)
        self.id = self.execution.id
        if st2_context:
            # What st2 stores once the mistral-v2 runner returns: the st2 execution
            # names its Mistral workflow (the proof the API key may act for it).
            st2.update_context(self.st2_id, {'mistral': {'execution_id': self.id,
                                                         'workflow_name': workflow}})


@pytest.fixture
def run(mistral, st2):
    def start(definition, workflow, **kw):
        return Run(mistral, st2, definition, workflow, **kw)
    return start
