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

"""st2kv Jinja in st2 action parameters, kept for st2 to render. Pure: no I/O.

st2 renders an action's parameters when it creates the execution, with the
datastore in the Jinja context: ``{{ st2kv.system.greeting }}``,
``{{ st2kv.user.token }}``, ``{{ st2kv.system.secret | decrypt_kv }}``
(st2api/st2api/controllers/v1/actionexecutions.py and
st2common/st2common/util/param.py, ``render_live_params``, at v3.2.0 and v3.9.0).
Mistral has no ``st2kv`` variable, so a task input holding such Jinja fails in
Mistral (``'functools.partial object' has no attribute 'system'``: Mistral's
``st2kv`` is this project's function ``st2kv('system.greeting')``).

st2 3.2 therefore wrapped every string parameter of an st2 action task that refers
to ``st2kv.`` in ``{% raw %}...{% endraw %}``: Mistral hands the text on
unevaluated and st2 renders it when the child execution is created. A parameter
that also refers to the workflow's own context (``_.x``) cannot be split between
the two, and is refused (st2common/st2common/util/workflow/mistral.py at v3.2.0,
``_transform_action_param``). This module applies those rules, with these
differences from st2 3.2's regular expressions, each of which only turns what
failed on st2 3.2 into what the author meant:

- st2kv is looked for inside Jinja delimiters only, ``{{ }}`` and ``{% %}``
  (st2 3.2 missed ``{% if st2kv.system.x %}`` and took ``st2kv.x }}`` outside
  braces); ``st2kv('system.x')``, the Mistral function, is not a reference;
- Mistral's own context functions (``env()``, ``task()``, ``tasks()``,
  ``execution()``, ``global()``) count as the workflow's context like ``_``,
  since st2 cannot render them either;
- a string that already holds ``{% raw %}`` is left as it is (st2 3.2 wrapped it
  again, which Mistral refuses as an unknown ``endraw`` tag).
"""

import re

_ST2KV = re.compile(r'(?<![\w.])st2kv\s*[.\[]')
_WORKFLOW_CONTEXT = re.compile(
    r'(?<![\w.])(?:_\s*[.\[]|(?:env|execution|task|tasks|global)\s*\()')
_RAW = re.compile(r'{%-?\s*raw\s*-?%}')


class MixedContextError(ValueError):
    """A parameter refers to both st2kv and the workflow's context."""


def _expressions(text):
    """The ``{{ }}`` and ``{% %}`` parts of ``text``, found in linear time (a regular
    expression would rescan the rest of the text for every unclosed opener)."""
    found = []
    for opener, closer in (('{{', '}}'), ('{%', '%}')):
        start = text.find(opener)
        while start >= 0:
            end = text.find(closer, start + 2)
            if end < 0:
                break
            found.append(text[start:end + 2])
            start = text.find(opener, end + 2)
    return found


def refers_to_st2kv(text):
    """Whether a string's Jinja refers to st2's ``st2kv`` variable."""
    return any(_ST2KV.search(expression) for expression in _expressions(text))


def refers_to_workflow_context(text):
    """Whether a string's Jinja refers to ``_`` or Mistral's context functions."""
    return any(_WORKFLOW_CONTEXT.search(expression) for expression in _expressions(text))


def wrap_value(action_ref, name, value):
    """``value`` with its st2kv strings wrapped in ``{% raw %}`` (lists and dicts
    walked; a dict's items named by their own key, as st2 3.2 named them)."""
    if isinstance(value, list):
        return [wrap_value(action_ref, name, item) for item in value]
    if isinstance(value, dict):
        return {key: wrap_value(action_ref, key, item) for key, item in value.items()}
    if not isinstance(value, str) or not refers_to_st2kv(value):
        return value
    if refers_to_workflow_context(value):
        raise MixedContextError(
            'Parameter "%s" for action "%s" containing references to both local context '
            '(i.e. _.var1) and st2kv (i.e. st2kv.system.var1) is not supported: Mistral '
            'evaluates the first, st2 the second. Publish the st2kv value in an earlier '
            'task (st2kv(\'system.var1\') in Mistral) or pass the local value as a '
            'separate parameter.' % (name, action_ref))
    if _RAW.search(value):
        return value
    return '{% raw %}' + value + '{% endraw %}'


def wrap_parameters(action_ref, parameters):
    """A copy of an st2 action's ``parameters`` ready for Mistral; raises
    MixedContextError."""
    return {name: wrap_value(action_ref, name, value) for name, value in parameters.items()}
