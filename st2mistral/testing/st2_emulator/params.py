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

"""The st2 emulator's rendering of live parameters: what st2 does to the Jinja in the
parameters of an execution it creates (pure; rules.py holds the emulator's other rules)."""

import json

from st2mistral.testing.st2_emulator.rules import FULL_SYSTEM_SCOPE
from st2mistral.testing.st2_emulator.rules import FULL_USER_SCOPE
from st2mistral.testing.st2_emulator.rules import _ciphertext

# -- rendering of live parameters ----------------------------------------------------------
# st2 renders the Jinja in the parameters of an execution it creates, with the datastore
# in the context (st2api/st2api/controllers/v1/actionexecutions.py _schedule_execution,
# st2common/st2common/util/param.py render_live_params/_create_graph/_process/_render,
# services/keyvalues.py KeyValueLookup/UserKeyValueLookup, expressions/functions/datastore.py
# decrypt_kv; the same at v3.2.0 and v3.9.0). Emulated: strings holding ``{{`` or ``{%``
# (lists and dicts through their JSON text, as st2 does), rendered with st2's sandboxed,
# StrictUndefined Jinja; ``st2kv.system.<key>``, ``st2kv.user.<key>`` (the context's
# ``api_user`` or ``user``), ``action_context`` and the other (plain) parameters in the
# context; the ``decrypt_kv`` filter. Not emulated: pack config, parameter defaults,
# parameters that refer to other templated parameters, st2's other filters.


class RenderError(Exception):
    """st2's ParamException: the POST is answered 400 and the execution fails."""


class KeyLookup:
    """st2's KeyValueLookup: ``.name`` and ``['name']`` go one dotted level down; the
    string value is the key's (a secret's ciphertext), '' when there is no such key."""

    def __init__(self, read, scope, user, prefix=''):
        self._read, self._scope, self._user, self._prefix = read, scope, user, prefix

    def _child(self, name):
        return KeyLookup(self._read, self._scope, self._user,
                         '%s.%s' % (self._prefix, name) if self._prefix else name)

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return self._child(name)

    def __getitem__(self, name):
        return self._child(name)

    def _item(self):
        return self._read(self._scope, self._prefix, self._user)

    def __str__(self):
        item = self._item()
        if item is None:
            return ''
        return _ciphertext(item['value']) if item['secret'] else item['value']

    def key_name(self):
        return '%s.%s' % (self._scope, self._prefix)


class BaseDict(dict):
    """The type of the context st2 passes as ``action_context`` (the liveaction's stored
    context, a mongoengine BaseDict), named so in Jinja's ``has no attribute`` errors."""


BaseDict.__module__ = 'mongoengine.base.datastructures'


def _decrypt_kv(value):
    if isinstance(value, KeyLookup):
        item = value._item()
        if item is None or item['value'] == '':
            raise ValueError('Referenced datastore item "%s" doesn\'t exist or it contains an '
                             'empty string' % value.key_name())
        return item['value']
    raise ValueError('st2 emulator: decrypt_kv of a literal value is not emulated')


def _jinja_environment():
    import jinja2
    import jinja2.sandbox

    env = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined,
                                              trim_blocks=True, lstrip_blocks=True)
    env.filters['decrypt_kv'] = _decrypt_kv
    return env


def _is_template(value):
    return isinstance(value, str) and ('{{' in value or '{%' in value)


def render_live_params(parameters, context, read_key):
    """``parameters`` rendered as st2 renders them; raises RenderError.

    ``read_key(scope, name, user)`` -> ``{'value', 'secret'}`` or None, ``scope`` being
    ``st2kv.system`` or ``st2kv.user``.
    """
    user = context.get('api_user') or context.get('user') or 'stanley'
    jinja_context = {
        'st2kv': {'system': KeyLookup(read_key, FULL_SYSTEM_SCOPE, user),
                  'user': KeyLookup(read_key, FULL_USER_SCOPE, user)},
        'action_context': BaseDict(context),
    }
    templated = {}
    for name, value in parameters.items():
        text = json.dumps(value) if isinstance(value, (list, dict)) else value
        if _is_template(text):
            templated[name] = text
        else:
            jinja_context[name] = value
    if not templated:
        return parameters
    import jinja2
    import jinja2.meta

    env = _jinja_environment()
    known = set(jinja_context) | set(parameters) | {'config_context'}
    templates = {}
    for name, text in templated.items():
        try:
            templates[name] = env.from_string(text)
            variables = jinja2.meta.find_undeclared_variables(env.parse(text))
        except jinja2.TemplateSyntaxError:
            continue  # st2's _process: "not jinja after all", the value is kept
        for variable in sorted(variables - known):
            # st2's _validate: a variable that is neither a parameter nor in the context
            raise RenderError('Dependency unsatisfied in variable "%s"' % variable)
    rendered = dict(parameters)
    for name, template in templates.items():
        try:
            result = template.render(jinja_context)
            if isinstance(parameters[name], (list, dict)):
                result = json.loads(result)
        except Exception as e:
            raise RenderError('Failed to render parameter "%s": %s' % (name, e)) from None
        rendered[name] = result
    return rendered
