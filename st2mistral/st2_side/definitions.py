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

"""Workflow and workbook definitions as st2 hands them to Mistral. Pure: no I/O.

An st2 mistral-v2 action's entry point is a Mistral v2 workflow (one
workflow named ``<pack>.<action>``) or workbook (named ``<pack>.<action>``).
Before it reaches Mistral, every task or ad-hoc action that calls a
registered st2 action becomes a call of the ``st2.action`` proxy::

    action: examples.say greeting="hi <% $.who %>" times=2

becomes::

    action: st2.action
    input:
      ref: examples.say
      parameters: {greeting: 'hi <% $.who %>', times: 2}

Expressions (YAQL ``<% %>`` and Jinja ``{{ }}``, e.g. ``{{ st2kv('system.x') }}``)
are kept verbatim: Mistral evaluates them when the task runs, not st2 now. The one
exception is st2's own datastore variable in an st2 action's parameters
(``cmd: echo {{ st2kv.system.greeting }}``): st2kv_params wraps it in
``{% raw %}`` for st2 to render when the child runs, as st2 3.2 did.
Which refs are st2 actions, and their parameters, come from a ``lookup``
callable (``ref -> ActionInfo or None``) so this module needs no st2.
"""

import copy
import dataclasses
import json
import re

import yaml

from st2mistral.core import contract
from st2mistral.st2_side import st2kv_params

ST2_ACTION = 'st2.action'
DEPRECATED_ACTIONS = frozenset({'st2.callback'})

# (action key, input key) of a task and of an ad-hoc action.
_SPEC_KEYS = (('action', 'input'), ('base', 'base-input'))
_ACTION_NAME = re.compile(r'\s*([\w.\-]+)')
_PARAM_NAME = re.compile(r'\s*(\w+)=')
_RESOURCE_REF = re.compile(r'^[\w\-]+\.[\w.\-]+$')
_CLOSERS = {'<%': '%>', '{{': '}}'}
_BRACKETS = {'[': ']', '{': '}'}


class DefinitionError(ValueError):
    """The definition cannot be run as this st2 action; the message says why."""


@dataclasses.dataclass(frozen=True)
class ActionInfo:
    """An st2 action's parameters (runner parameters merged in): name -> JSON schema."""

    ref: str
    parameters: dict
    #: False when the runner's parameters are not known (st2mistral-validate without
    #: st2's runners): then a parameter the action does not declare is not refused.
    complete: bool = True
    #: the action's runner type (``inquirer``: an inquiry, see contract.ST2_ACTION_INQUIRY)
    runner: str = None

    def check(self, where, given):
        """Raise DefinitionError for missing required or unknown parameters."""
        missing = sorted(name for name, schema in self.parameters.items()
                         if (schema or {}).get('required') and 'default' not in (schema or {})
                         and name not in given)
        if missing:
            raise DefinitionError('Missing required parameters in "%s" for action "%s": "%s"'
                                  % (where, self.ref, '", "'.join(missing)))
        unexpected = sorted(set(given) - set(self.parameters)) if self.complete else []
        if unexpected:
            raise DefinitionError('Unexpected parameters in "%s" for action "%s": "%s"'
                                  % (where, self.ref, '", "'.join(unexpected)))


# -- reading -----------------------------------------------------------------------


def load(text):
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DefinitionError('The workflow definition is not valid YAML: %s' % e) from None
    if not isinstance(spec, dict):
        raise DefinitionError('The workflow definition must be a YAML mapping.')
    return spec


def dump(spec):
    return yaml.safe_dump(spec, default_flow_style=False, allow_unicode=True, sort_keys=False)


def is_workbook(spec):
    return 'workflows' in spec


def workflow_names(spec):
    """Top-level names of a workflow (not workbook) definition."""
    return [key for key in spec if key != 'version']


def check_name(action_ref, spec):
    """The definition must carry the action's ref as its name (st2's rule)."""
    if is_workbook(spec):
        if spec.get('name') != action_ref:
            raise DefinitionError('Name of the workbook must be the same as the fully '
                                  'qualified action name "%s".' % action_ref)
        return
    names = workflow_names(spec)
    if len(names) != 1:
        raise DefinitionError('Workflow (not workbook) definition is detected. Multiple '
                              'workflows is not supported.')
    if names[0] != action_ref:
        raise DefinitionError('Name of the workflow must be the same as the fully qualified '
                              'action name "%s".' % action_ref)


def default_workflow(spec, workflow_param=None):
    """The Mistral workflow name to start for a workbook.

    With several workflows the runner parameter ``workflow``
    (``<pack>.<action>.<workflow>``) names it.
    """
    workflows = spec.get('workflows') or {}
    if not workflows:
        raise DefinitionError('There are no workflows in the workbook.')
    if len(workflows) == 1:
        return '%s.%s' % (spec['name'], next(iter(workflows)))
    if not workflow_param:
        raise DefinitionError('Workbook definition is detected. Default workflow cannot be '
                              'determined: set the "workflow" runner parameter.')
    short_name = workflow_param[workflow_param.rindex('.') + 1:]
    if short_name not in workflows or workflow_param != '%s.%s' % (spec['name'], short_name):
        raise DefinitionError('Unable to find the workflow "%s" in the workbook.'
                              % workflow_param)
    return workflow_param


# -- inline parameters -------------------------------------------------------------


def parse_inline(action_text):
    """``'pack.name a=1 b="x"'`` -> ``('pack.name', {'a': 1, 'b': 'x'})``."""
    match = _ACTION_NAME.match(action_text)
    if not match:
        raise DefinitionError('Invalid action/workflow task property: %s' % action_text)
    name, pos, params = match.group(1), match.end(), {}
    while action_text[pos:].strip():
        param = _PARAM_NAME.match(action_text, pos)
        if not param:
            raise DefinitionError('Cannot parse the inline parameters of "%s" at "%s"'
                                  % (action_text, action_text[pos:].strip()))
        value, pos = _inline_value(action_text, param.end())
        params[param.group(1)] = value
    return name, params


def _inline_value(text, pos):
    """One inline value starting at ``pos``; returns (value, position after it)."""
    if text.startswith(('"', "'"), pos):
        end = text.find(text[pos], pos + 1)
        if end < 0:
            raise DefinitionError('Unclosed quote in "%s"' % text)
        return text[pos + 1:end], end + 1
    for opener, closer in _CLOSERS.items():
        if text.startswith(opener, pos):
            end = text.find(closer, pos)
            if end < 0:
                raise DefinitionError('Unclosed %s in "%s"' % (opener, text))
            return text[pos:end + len(closer)], end + len(closer)  # kept verbatim
    if pos < len(text) and text[pos] in _BRACKETS:
        end = _bracket_end(text, pos)
        return _json_or_text(text[pos:end]), end
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    return _json_or_text(text[pos:end]), end


def _bracket_end(text, pos):
    depth, quote, i = 0, None, pos
    while i < len(text):
        char = text[i]
        if quote:
            if char == '\\':
                i += 1
            elif char == quote:
                quote = None
        elif char in '"\'':
            quote = char
        elif char in '[{':
            depth += 1
        elif char in ']}':
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise DefinitionError('Unbalanced brackets in "%s"' % text)


def _json_or_text(value):
    try:
        return json.loads(value)
    except ValueError:
        return value


# -- transformation ----------------------------------------------------------------


def is_resource_ref(name):
    return bool(name) and bool(_RESOURCE_REF.match(name))


def _transform_one(where, spec, lookup):
    keys = [(action, given) for action, given in _SPEC_KEYS if action in spec]
    if not keys:
        return
    action_key, input_key = keys[0]
    action_text = spec[action_key]
    if not isinstance(action_text, str):
        return
    name, inline = parse_inline(action_text)
    if name in DEPRECATED_ACTIONS:
        raise DefinitionError('%s is deprecated (task "%s").' % (name, where))

    if name == ST2_ACTION:
        action_input = spec.get(input_key) or {}
        ref = action_input.get('ref')
        info = lookup(ref) if is_resource_ref(ref) else None
        if info is not None:
            info.check(where, action_input.get('parameters') or {})
            _mark_inquiry(spec[input_key], info)
        # Wrapped whatever the ref (a YAQL ref too): st2 renders them in any action.
        _wrap_st2kv(spec[input_key], ref)
        return

    info = lookup(name) if is_resource_ref(name) else None
    if info is None:
        return  # a Mistral action or workflow: Mistral parses it itself
    explicit = spec.get(input_key) or {}
    if not isinstance(explicit, dict):
        raise DefinitionError('The input of "%s" must be a mapping to call st2 action "%s".'
                              % (where, name))
    parameters = dict(inline)
    parameters.update(explicit)
    info.check(where, parameters)
    spec[action_key] = ST2_ACTION
    spec[input_key] = {'ref': name}
    if parameters:
        spec[input_key]['parameters'] = parameters
        _wrap_st2kv(spec[input_key], name)
    _mark_inquiry(spec[input_key], info)


def _mark_inquiry(action_input, info):
    """An inquiry is started without st2's ``parent`` (contract.ST2_ACTION_INQUIRY)."""
    if info.runner == contract.INQUIRER_RUNNER and isinstance(action_input, dict):
        action_input.setdefault(contract.ST2_ACTION_INQUIRY, True)


def _wrap_st2kv(action_input, ref):
    parameters = action_input.get('parameters') if isinstance(action_input, dict) else None
    if not isinstance(parameters, dict):
        return
    try:
        action_input['parameters'] = st2kv_params.wrap_parameters(ref, parameters)
    except st2kv_params.MixedContextError as e:
        raise DefinitionError(str(e)) from None


def _tasks(workflow_spec):
    tasks = workflow_spec.get('tasks') if isinstance(workflow_spec, dict) else None
    return tasks.items() if isinstance(tasks, dict) else ()


def _action_specs(spec):
    """(workflow name or None for an ad-hoc action, name, spec) of every task and
    ad-hoc action of a definition."""
    actions = spec.get('actions')
    for name, action_spec in (actions.items() if isinstance(actions, dict) else ()):
        if isinstance(action_spec, dict):
            yield None, name, action_spec
    if is_workbook(spec):
        workflows = spec['workflows'].items() if isinstance(spec['workflows'], dict) else ()
    else:
        workflows = ((name, spec[name]) for name in workflow_names(spec))
    for workflow_name, workflow_spec in workflows:
        for task_name, task_spec in _tasks(workflow_spec):
            if isinstance(task_spec, dict):
                yield workflow_name, task_name, task_spec


def transform(spec, lookup):
    """A copy of ``spec`` with st2 action calls made through ``st2.action`` and the
    st2kv Jinja of their parameters wrapped for st2 (st2kv_params)."""
    spec = copy.deepcopy(spec)
    for _workflow, name, action_spec in _action_specs(spec):
        _transform_one(name, action_spec, lookup)
    return spec


def problems(spec, lookup):
    """What transform() would refuse, every one: ``[(where, message)]``, ``where``
    being ``<workflow>.<task>`` (``actions.<name>`` for an ad-hoc action)."""
    found = []
    for workflow, name, action_spec in _action_specs(copy.deepcopy(spec)):
        try:
            _transform_one(name, action_spec, lookup)
        except DefinitionError as e:
            found.append(('%s.%s' % (workflow or 'actions', name), str(e)))
    return found


# -- st2 context -------------------------------------------------------------------


def raw_jinja(value):
    """Wrap Jinja in ``{% raw %}`` so Mistral keeps it as text (st2's rule for the
    action-chain parameters it copies into a workflow's context)."""
    if isinstance(value, str):
        if ('{{' in value or '{%' in value) and '{% raw %}' not in value:
            return '{%% raw %%}%s{%% endraw %%}' % value
        return value
    if isinstance(value, dict):
        return {key: raw_jinja(item) for key, item in value.items()}
    if isinstance(value, list):
        return [raw_jinja(item) for item in value]
    return value
