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

"""The emulator renders the Jinja of a POSTed execution's parameters as st2 does
(st2api/st2api/controllers/v1/actionexecutions.py, st2common/st2common/util/param.py
render_live_params, services/keyvalues.py, expressions/functions/datastore.py decrypt_kv,
at v3.2.0 and v3.9.0)."""

import pytest
import requests

from st2mistral.testing.st2_emulator import St2Emulator

TOKEN = {'X-Auth-Token': 'st2-token'}

pytest.importorskip('jinja2')


@pytest.fixture(scope='module')
def shared_emulator():
    with St2Emulator(tokens={'st2-token': 'alice'}, version='3.9.0') as emulator:
        yield emulator


@pytest.fixture
def st2(shared_emulator):
    shared_emulator.reset()
    yield shared_emulator
    shared_emulator.reset()


def post(st2, parameters, context=None):
    body = {'action': 'core.local', 'parameters': parameters}
    if context:
        body['context'] = context
    return requests.post(st2.api_url + '/executions', json=body, headers=TOKEN, timeout=5)


def test_st2kv_system_user_and_decrypted_keys_are_rendered(st2):
    st2.set_key('greeting', 'hello', scope='system')
    st2.set_key('greeting', 'hi alice', scope='user', user='alice')
    st2.set_key('greeting', 'hi bob', scope='user', user='bob')
    st2.set_key('a.b', 'dotted', scope='system')
    st2.set_key('pw', 's3cret', scope='system', encrypted=True)
    answer = post(st2, {
        'cmd': 'echo {{ st2kv.system.greeting }} / {{ st2kv.user.greeting }}',
        'dotted': '{{ st2kv.system.a.b }}',
        'secret': '{{ st2kv.system.pw | decrypt_kv }}',
        'masked': '{{ st2kv.system.pw }}',
        'missing': '[{{ st2kv.system.nope }}]',
        'listed': ['{{ st2kv.system.greeting }}', 2],
        'plain': 'no jinja', 'n': 3,
        'ctx': '{{ action_context.user }}',
    })
    assert answer.status_code == 201, answer.text
    parameters = answer.json()['parameters']
    assert parameters['cmd'] == 'echo hello / hi alice'
    assert parameters['dotted'] == 'dotted'
    assert parameters['secret'] == 's3cret'
    assert parameters['masked'] not in ('s3cret', '') and 's3cret' not in parameters['masked']
    assert parameters['missing'] == '[]'          # st2: a missing key is ''
    assert parameters['listed'] == ['hello', 2]
    assert (parameters['plain'], parameters['n']) == ('no jinja', 3)
    assert parameters['ctx'] == 'alice'
    assert st2.executions('core.local')[0]['parameters'] == parameters


def test_a_failed_render_is_a_400_and_a_failed_execution(st2):
    answer = post(st2, {'cmd': 'echo {{ st2kv.system.nope | decrypt_kv }}'})
    assert answer.status_code == 400
    message = ('Failed to render parameter "cmd": Referenced datastore item '
               '"st2kv.system.nope" doesn\'t exist or it contains an empty string')
    assert answer.json()['faultstring'] == message
    (failed,) = st2.executions('core.local')
    assert failed['status'] == 'failed'
    assert failed['result'] == {'error': message}


def test_an_unknown_variable_is_an_unsatisfied_dependency(st2):
    answer = post(st2, {'cmd': 'echo {{ _.x }}', 'n': 1})
    assert answer.status_code == 400
    assert answer.json()['faultstring'] == 'Dependency unsatisfied in variable "_"'


def test_other_parameters_are_known_variables(st2):
    answer = post(st2, {'cmd': 'echo {{ n }}', 'n': 1})
    assert answer.status_code == 201
    assert answer.json()['parameters']['cmd'] == 'echo 1'


def test_undefined_attribute_fails_like_st2s_strict_undefined(st2):
    answer = post(st2, {'cmd': 'echo {{ action_context.nope }}'})
    assert answer.status_code == 400
    assert answer.json()['faultstring'] == (
        'Failed to render parameter "cmd": \'mongoengine.base.datastructures.BaseDict object\' '
        'has no attribute \'nope\'')


def test_text_that_is_not_jinja_after_all_is_kept(st2):
    answer = post(st2, {'cmd': 'echo {{ unclosed'})
    assert answer.status_code == 201
    assert answer.json()['parameters'] == {'cmd': 'echo {{ unclosed'}
