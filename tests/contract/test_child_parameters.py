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

"""st2 renders the Jinja of a POSTed execution's parameters (st2api actionexecutions.py,
st2common/util/param.py render_live_params): how st2kv Jinja that the runner left raw in
an st2 action task (st2mistral/st2_side/st2kv_params.py) reaches its value."""

import re
import uuid

from tests.contract.conftest import CHILD_ACTION


def set_key(backend, name, value, scope='system', secret=False):
    if backend.kind == 'emulator':
        backend.emulator.set_key(name, value, scope=scope, encrypted=secret)
        return
    answer = backend.put('/keys/%s' % name, {'name': name, 'value': value, 'scope': scope,
                                             'secret': secret})
    assert answer.status_code == 200, answer.text


def post_child(backend, parameters):
    return backend.post('/executions', {'action': CHILD_ACTION, 'parameters': parameters})


def test_st2kv_system_and_user_scope_are_rendered_when_the_child_is_created(backend):
    name = 'greeting_%s' % uuid.uuid4().hex[:8]
    set_key(backend, name, 'hello')
    set_key(backend, name, 'hi me', scope='user')
    answer = post_child(backend, {'cmd': 'echo {{ st2kv.system.%s }} / {{ st2kv.user.%s }} '
                                         '/ [{{ st2kv.system.missing_%s }}]'
                                         % (name, name, name)})
    assert answer.status_code == 201, answer.text
    assert answer.json()['parameters'] == {'cmd': 'echo hello / hi me / []'}


def failed_children(backend, parameters):
    return [ex for ex in backend.get('/executions', params={
        'action': CHILD_ACTION, 'status': 'failed'}).json()
        if ex['parameters'] == parameters]


def test_an_unknown_variable_is_400_and_a_failed_execution(backend):
    # The workflow's context (_) is unknown to st2: why st2kv_params refuses a parameter
    # that mixes it with st2kv.
    answer = post_child(backend, {'cmd': 'echo {{ _.x }}'})
    assert answer.status_code == 400
    assert answer.json()['faultstring'] == 'Dependency unsatisfied in variable "_"'
    (failed,) = failed_children(backend, {'cmd': 'echo {{ _.x }}'})
    assert failed['result']['error'] == 'Dependency unsatisfied in variable "_"'


def test_an_undefined_attribute_is_400_and_a_failed_execution(backend):
    answer = post_child(backend, {'cmd': 'echo {{ action_context.nope }}'})
    assert answer.status_code == 400
    fault = answer.json()['faultstring']
    assert fault == ('Failed to render parameter "cmd": \'mongoengine.base.datastructures.'
                     'BaseDict object\' has no attribute \'nope\'')
    (failed,) = failed_children(backend, {'cmd': 'echo {{ action_context.nope }}'})
    assert failed['result']['error'] == fault


def test_decrypt_kv_of_a_missing_key_is_refused(backend):
    answer = post_child(backend, {'cmd': 'echo {{ st2kv.system.nope_%s | decrypt_kv }}'
                                         % uuid.uuid4().hex[:8]})
    assert answer.status_code == 400
    fault = answer.json()['faultstring']
    assert fault.startswith('Failed to render parameter "cmd": Referenced datastore item '
                            '"st2kv.system.nope_'), fault
    assert fault.endswith('" doesn\'t exist or it contains an empty string')


def test_encrypted_keys_render_as_ciphertext_unless_decrypted(backend):
    name = 'secret_%s' % uuid.uuid4().hex[:8]
    set_key(backend, name, 's3cret', secret=True)
    set_key(backend, name, 'mine', scope='user', secret=True)
    answer = post_child(backend, {
        'cmd': 'echo {{ st2kv.system.%s | decrypt_kv }} {{ st2kv.user.%s | decrypt_kv }}'
               % (name, name),
        'cwd': '{{ st2kv.system.%s }}' % name})
    assert answer.status_code == 201, answer.text
    parameters = answer.json()['parameters']
    assert parameters['cmd'] == 'echo s3cret mine'
    # st2 keeps the ciphertext (upper-case hex) of a secret; only decrypt_kv opens it.
    assert re.match(r'^[0-9A-F]{32,}$', parameters['cwd']), parameters['cwd']

