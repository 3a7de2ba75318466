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

"""What every expression function shares: its error type and argument clean-up.

Mistral registers each ``mistral.expression.functions`` entry point three ways:

- YAQL: ``<% f(a, b) %>`` calls ``f(<yaql Context>, a, b)``;
- Jinja function: ``{{ f(a, b) }}`` calls ``f(<data context>, a, b)``;
- Jinja filter: ``{{ a | f(b) }}`` calls the raw function with the piped value
  first. ``jinja2.pass_context`` on our functions makes Jinja put its own
  Context first there, so the filter form gets ``f(<jinja Context>, a, b)``
  too. (The function form goes through a ``functools.partial``, which hides
  the marker, so it is unaffected; YAQL ignores it.)

All three "contexts" answer ``context['__env']``; only st2kv needs that.
"""

from collections.abc import Mapping

import jinja2
from mistral import exceptions as mistral_exc

# Re-exported so each family module reads as: @expression_function.
expression_function = jinja2.pass_context


class FunctionError(mistral_exc.EvaluationException):
    """Bad input to (or failed lookup by) an st2mistral expression function.

    A subclass of Mistral's EvaluationException but NOT of the YAQL/Jinja
    ones: both evaluators then wrap it as "Can not evaluate <lang> expression
    [expression=..., error=<our message>]", which is what lands in the task's
    and workflow's state_info. Messages must never carry secrets.

    Mistral appends the full traceback to state_info, so library errors are
    re-raised ``from None`` with their text folded into our message.
    """


def to_plain(value):
    """Turn YAQL's frozen containers (FrozenDict, tuples) into dict and list.

    json, PyYAML's SafeDumper and jsonpath-ng only know plain containers.
    """
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(item) for item in value]
    return value


def require_str(function, name, value):
    if not isinstance(value, str):
        raise FunctionError(
            '%s: %s must be a string, got %s' % (function, name, type(value).__name__))
    return value


def require_bool(function, name, value):
    if not isinstance(value, bool):
        raise FunctionError(
            '%s: %s must be true or false, got %s' % (function, name, type(value).__name__))
    return value
