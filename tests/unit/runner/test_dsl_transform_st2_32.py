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

"""st2 3.2's DSL transform cases (st2common/tests/unit/test_util_mistral_dsl_transform.py
at v3.2.0), rewritten for this project's transform: a workbook and a workflow before and
after, st2kv Jinja raw-wrapped in st2 action parameters (system and user scope, encrypted
keys), st2kv mixed with the workflow's context in one or in two delimiters, a missing and
an unexpected parameter, and the deprecated st2.callback. Each case runs on the parsed
definition and on its YAML text, as st2 3.2's ran on both.
"""

import pytest

from st2mistral.st2_side import definitions as d

ACTIONS = {
    'core.local': {'cmd': {'type': 'string', 'required': True},
                   'sudo': {'type': 'boolean', 'default': False},
                   'timeout': {'type': 'integer', 'default': 60}},
    'wolfpack.action-1': {'actionstr': {'type': 'string', 'required': True},
                          'strtype': {'type': 'string'}, 'inttype': {'type': 'integer'},
                          'options': {'type': 'object'}, 'items': {'type': 'array'}},
}


def lookup(ref):
    return d.ActionInfo(ref, ACTIONS[ref]) if ref in ACTIONS else None


def transformed(text, form):
    """transform of ``text`` given as a dict, or as YAML text dumped back to YAML."""
    if form == 'dict':
        return d.transform(d.load(text), lookup)
    return d.load(d.dump(d.transform(d.load(text), lookup)))


FORMS = pytest.mark.parametrize('form', ['dict', 'yaml'])

WORKBOOK_BEFORE = """
version: '2.0'
name: examples.wb
actions:
  local_echo:
    base: core.local cmd="echo <% $.msg %>"
    base-input: {}
    input: [msg]
workflows:
  main:
    type: direct
    input: [who]
    tasks:
      inline:
        action: wolfpack.action-1 actionstr="hi <% $.who %>" inttype=3 items=[1, 2]
        on-success: [explicit]
      explicit:
        action: wolfpack.action-1
        input:
          actionstr: <% $.who %>
        on-success: [proxied]
      proxied:
        action: st2.action
        input:
          ref: core.local
          parameters:
            cmd: echo ok
        on-success: [sub]
      sub:
        workflow: other
  other:
    tasks:
      mistral_action:
        action: std.echo output="<% $.x %>"
      adhoc:
        action: local_echo msg=hi
"""

WORKBOOK_AFTER = {
    'version': '2.0',
    'name': 'examples.wb',
    'actions': {'local_echo': {
        'base': 'st2.action',
        'base-input': {'ref': 'core.local', 'parameters': {'cmd': 'echo <% $.msg %>'}},
        'input': ['msg']}},
    'workflows': {
        'main': {'type': 'direct', 'input': ['who'], 'tasks': {
            'inline': {'action': 'st2.action', 'input': {
                'ref': 'wolfpack.action-1',
                'parameters': {'actionstr': 'hi <% $.who %>', 'inttype': 3, 'items': [1, 2]}},
                'on-success': ['explicit']},
            'explicit': {'action': 'st2.action', 'input': {
                'ref': 'wolfpack.action-1', 'parameters': {'actionstr': '<% $.who %>'}},
                'on-success': ['proxied']},
            'proxied': {'action': 'st2.action', 'input': {
                'ref': 'core.local', 'parameters': {'cmd': 'echo ok'}},
                'on-success': ['sub']},
            'sub': {'workflow': 'other'}}},
        'other': {'tasks': {
            'mistral_action': {'action': 'std.echo output="<% $.x %>"'},
            'adhoc': {'action': 'local_echo msg=hi'}}},
    },
}


@FORMS
def test_transform_workbook(form):
    assert transformed(WORKBOOK_BEFORE, form) == WORKBOOK_AFTER


WORKFLOW_BEFORE = """
version: '2.0'
examples.wf:
  input: [who]
  tasks:
    say:
      action: core.local cmd="echo <% $.who %>" timeout=30
      publish:
        said: <% task(say).result.stdout %>
      on-complete: [noop]
    noop:
      action: std.noop
"""

WORKFLOW_AFTER = {
    'version': '2.0',
    'examples.wf': {'input': ['who'], 'tasks': {
        'say': {'action': 'st2.action',
                'input': {'ref': 'core.local',
                          'parameters': {'cmd': 'echo <% $.who %>', 'timeout': 30}},
                'publish': {'said': '<% task(say).result.stdout %>'},
                'on-complete': ['noop']},
        'noop': {'action': 'std.noop'}}},
}


@FORMS
def test_transform_workflow(form):
    assert transformed(WORKFLOW_BEFORE, form) == WORKFLOW_AFTER


ST2KV_BEFORE = """
version: '2.0'
examples.st2kv:
  tasks:
    system_scope:
      action: core.local cmd="echo {{ st2kv.system.greeting }}"
    user_scope:
      action: core.local
      input:
        cmd: echo {{st2kv.user.greeting}}
    encrypted:
      action: st2.action
      input:
        ref: core.local
        parameters:
          cmd: "curl -u admin:{{ st2kv.system.password | decrypt_kv }} http://x"
    nested:
      action: wolfpack.action-1
      input:
        actionstr: "{% if st2kv.system.verbose %}-v{% endif %}"
        options:
          token: "{{ st2kv.user.token | decrypt_kv }}"
          count: 2
        items: ["{{ st2kv.system.a }}", "<% $.b %>", 3]
    left_to_mistral:
      action: wolfpack.action-1
      input:
        actionstr: "{{ st2kv('system.greeting') }} {{ _.who }} <% $.x %>"
    not_an_st2_action:
      action: std.echo
      input:
        output: "{{ st2kv.system.greeting }}"
"""

RAW = '{%% raw %%}%s{%% endraw %%}'

ST2KV_AFTER_TASKS = {
    'system_scope': {'action': 'st2.action', 'input': {'ref': 'core.local', 'parameters': {
        'cmd': RAW % 'echo {{ st2kv.system.greeting }}'}}},
    'user_scope': {'action': 'st2.action', 'input': {'ref': 'core.local', 'parameters': {
        'cmd': RAW % 'echo {{st2kv.user.greeting}}'}}},
    'encrypted': {'action': 'st2.action', 'input': {'ref': 'core.local', 'parameters': {
        'cmd': RAW % 'curl -u admin:{{ st2kv.system.password | decrypt_kv }} http://x'}}},
    'nested': {'action': 'st2.action', 'input': {'ref': 'wolfpack.action-1', 'parameters': {
        'actionstr': RAW % '{% if st2kv.system.verbose %}-v{% endif %}',
        'options': {'token': RAW % '{{ st2kv.user.token | decrypt_kv }}', 'count': 2},
        'items': [RAW % '{{ st2kv.system.a }}', '<% $.b %>', 3]}}},
    'left_to_mistral': {'action': 'st2.action', 'input': {
        'ref': 'wolfpack.action-1',
        'parameters': {'actionstr': "{{ st2kv('system.greeting') }} {{ _.who }} <% $.x %>"}}},
    'not_an_st2_action': {'action': 'std.echo',
                          'input': {'output': '{{ st2kv.system.greeting }}'}},
}


@FORMS
def test_transform_workflow_with_jinja_st2kv(form):
    assert transformed(ST2KV_BEFORE, form) == {
        'version': '2.0', 'examples.st2kv': {'tasks': ST2KV_AFTER_TASKS}}


def test_raw_wrapped_parameter_reaches_st2_as_written():
    # What Mistral's Jinja makes of the wrapped text is the parameter as the author
    # wrote it, for st2 to render when it creates the child execution.
    jinja2 = pytest.importorskip('jinja2')
    wrapped = ST2KV_AFTER_TASKS['encrypted']['input']['parameters']['cmd']
    rendered = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        wrapped).render({})
    assert rendered == 'curl -u admin:{{ st2kv.system.password | decrypt_kv }} http://x'


def test_an_already_raw_parameter_is_not_wrapped_twice():
    text = RAW % '{{ st2kv.system.greeting }}'
    spec = {'version': '2.0', 'p.a': {'tasks': {'t': {
        'action': 'core.local', 'input': {'cmd': text}}}}}
    assert d.transform(spec, lookup)['p.a']['tasks']['t']['input']['parameters'] == {
        'cmd': text}


MIXED = """
version: '2.0'
examples.mixed:
  tasks:
    task1:
      action: wolfpack.action-1
      input:
        actionstr: ok
        %s
"""


@FORMS
@pytest.mark.parametrize('parameter, name', [
    # one delimiter holding both (st2 3.2's wf_jinja_mixed_context_ref1)
    ('strtype: "{{ _.foo ~ st2kv.system.bar }}"', 'strtype'),
    # two delimiters (st2 3.2's wf_jinja_mixed_context_ref2)
    ('inttype: "{{ _.foo }}{{ st2kv.system.bar }}"', 'inttype'),
    # a nested value, named by its own key as st2 3.2 named it
    ('options: {deep: "{{ st2kv.user.k }} {{ env().st2_execution_id }}"}', 'deep'),
])
def test_mixed_jinja_context_is_refused(form, parameter, name):
    with pytest.raises(d.DefinitionError) as caught:
        transformed(MIXED % parameter, form)
    message = str(caught.value)
    assert 'Parameter "%s" for action "wolfpack.action-1"' % name in message
    assert 'references to both local context' in message


@pytest.mark.parametrize('action, message', [
    ('wolfpack.action-1 inttype=1',
     'Missing required parameters in "task1" for action "wolfpack.action-1": "actionstr"'),
    ('wolfpack.action-1 actionstr=a foo=1',
     'Unexpected parameters in "task1" for action "wolfpack.action-1": "foo"'),
    ('st2.callback', 'st2.callback is deprecated'),
])
def test_refused_tasks(action, message):
    spec = {'version': '2.0', 'p.a': {'tasks': {'task1': {'action': action}}}}
    with pytest.raises(d.DefinitionError) as caught:
        d.transform(spec, lookup)
    assert message in str(caught.value)
