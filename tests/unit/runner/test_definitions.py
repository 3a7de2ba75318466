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

import pytest

from st2mistral.st2_side import definitions as d

PARAMS = {'msg': {'type': 'string', 'required': True}, 'n': {'type': 'integer'},
          'sudo': {'type': 'boolean', 'default': False, 'required': True}}


def lookup(ref):
    return d.ActionInfo(ref, PARAMS) if ref.startswith('examples.') else None


@pytest.mark.parametrize('text, name, params', [
    ('examples.say', 'examples.say', {}),
    ('examples.say msg="hi there" n=2', 'examples.say', {'msg': 'hi there', 'n': 2}),
    ("examples.say msg='it is'", 'examples.say', {'msg': 'it is'}),
    ('examples.say msg=<% $.a + " b" %> n=1', 'examples.say', {'msg': '<% $.a + " b" %>', 'n': 1}),
    ("examples.say msg={{ st2kv('system.x') }}", 'examples.say',
     {'msg': "{{ st2kv('system.x') }}"}),
    ('examples.say items=[1, "a b", {"k": [2]}] opts={"a": "]"}', 'examples.say',
     {'items': [1, 'a b', {'k': [2]}], 'opts': {'a': ']'}}),
    ('examples.say a=true b=false c=null d=1.5 e=word', 'examples.say',
     {'a': True, 'b': False, 'c': None, 'd': 1.5, 'e': 'word'}),
    ('  examples.say   msg="x"  ', 'examples.say', {'msg': 'x'}),
])
def test_parse_inline(text, name, params):
    assert d.parse_inline(text) == (name, params)


@pytest.mark.parametrize('text', [
    'examples.say msg="unclosed', 'examples.say msg=<% $.a', 'examples.say = 1',
    'examples.say msg=[1, 2', 'examples.say "oops"', '=x',
])
def test_parse_inline_refuses_what_it_cannot_read(text):
    with pytest.raises(d.DefinitionError):
        d.parse_inline(text)


def test_check_name_workflow_and_workbook():
    d.check_name('p.a', {'version': '2.0', 'p.a': {}})
    d.check_name('p.a', {'version': '2.0', 'name': 'p.a', 'workflows': {'main': {}}})
    with pytest.raises(d.DefinitionError, match='fully qualified action name "p.a"'):
        d.check_name('p.a', {'version': '2.0', 'p.b': {}})
    with pytest.raises(d.DefinitionError, match='workbook must be the same'):
        d.check_name('p.a', {'version': '2.0', 'name': 'p.b', 'workflows': {'main': {}}})
    with pytest.raises(d.DefinitionError, match='Multiple workflows'):
        d.check_name('p.a', {'version': '2.0', 'p.a': {}, 'p.b': {}})


def test_default_workflow():
    one = {'name': 'p.a', 'workflows': {'main': {}}}
    two = {'name': 'p.a', 'workflows': {'main': {}, 'other': {}}}
    assert d.default_workflow(one) == 'p.a.main'
    assert d.default_workflow(two, 'p.a.other') == 'p.a.other'
    with pytest.raises(d.DefinitionError, match='cannot be determined'):
        d.default_workflow(two)
    with pytest.raises(d.DefinitionError, match='Unable to find the workflow "p.a.nope"'):
        d.default_workflow(two, 'p.a.nope')
    with pytest.raises(d.DefinitionError, match='Unable to find'):
        d.default_workflow(two, 'q.b.main')
    with pytest.raises(d.DefinitionError, match='no workflows'):
        d.default_workflow({'name': 'p.a', 'workflows': {}})


WORKFLOW = """
version: '2.0'
examples.wf:
  tasks:
    inline:
      action: examples.say msg="hi <% $.who %>" n=2
    explicit:
      action: examples.say
      input:
        msg: "{{ st2kv('system.greeting') }}"
    merged:
      action: examples.say msg="inline" n=1
      input:
        msg: explicit wins
    mistral_action:
      action: std.echo output="<% $.x %>"
    proxied:
      action: st2.action
      input:
        ref: examples.say
        parameters: {msg: ok}
    sub:
      workflow: other.wf
"""


def test_transform_wraps_only_st2_actions_and_keeps_expressions():
    spec = d.transform(d.load(WORKFLOW), lookup)
    tasks = spec['examples.wf']['tasks']
    assert tasks['inline'] == {'action': 'st2.action', 'input': {
        'ref': 'examples.say', 'parameters': {'msg': 'hi <% $.who %>', 'n': 2}}}
    assert tasks['explicit']['input'] == {
        'ref': 'examples.say', 'parameters': {'msg': "{{ st2kv('system.greeting') }}"}}
    assert tasks['merged']['input']['parameters'] == {'msg': 'explicit wins', 'n': 1}
    assert tasks['mistral_action'] == {'action': 'std.echo output="<% $.x %>"'}
    assert tasks['proxied']['input'] == {'ref': 'examples.say', 'parameters': {'msg': 'ok'}}
    assert tasks['sub'] == {'workflow': 'other.wf'}
    # What Mistral receives still holds the expressions verbatim.
    reloaded = d.load(d.dump(spec))['examples.wf']['tasks']
    assert reloaded['explicit']['input']['parameters']['msg'] == "{{ st2kv('system.greeting') }}"


def test_transform_does_not_touch_its_input():
    spec = d.load(WORKFLOW)
    d.transform(spec, lookup)
    assert spec['examples.wf']['tasks']['inline']['action'].startswith('examples.say msg=')


def test_transform_workbook_and_adhoc_actions():
    spec = d.transform({
        'version': '2.0', 'name': 'examples.wb',
        'actions': {'greet': {'base': 'examples.say msg="x"'}},
        'workflows': {'main': {'tasks': {'t': {'action': 'examples.say msg=y'}}}},
    }, lookup)
    assert spec['actions']['greet'] == {'base': 'st2.action',
                                        'base-input': {'ref': 'examples.say',
                                                       'parameters': {'msg': 'x'}}}
    assert spec['workflows']['main']['tasks']['t']['input']['parameters'] == {'msg': 'y'}


@pytest.mark.parametrize('action, message', [
    ('examples.say n=1', 'Missing required parameters in "t" for action "examples.say": "msg"'),
    ('examples.say msg=a bogus=1', 'Unexpected parameters in "t" for action "examples.say": '
                                   '"bogus"'),
    ('st2.callback', 'deprecated'),
])
def test_transform_checks_parameters(action, message):
    with pytest.raises(d.DefinitionError, match=message):
        d.transform({'version': '2.0', 'p.a': {'tasks': {'t': {'action': action}}}}, lookup)


def test_transform_checks_parameters_of_explicit_st2_action():
    spec = {'version': '2.0', 'p.a': {'tasks': {'t': {
        'action': 'st2.action', 'input': {'ref': 'examples.say', 'parameters': {'x': 1}}}}}}
    with pytest.raises(d.DefinitionError, match='Missing required parameters'):
        d.transform(spec, lookup)


def test_load_refuses_non_mappings():
    with pytest.raises(d.DefinitionError):
        d.load('- a list')
    with pytest.raises(d.DefinitionError, match='not valid YAML'):
        d.load('a: [unclosed')


def test_raw_jinja():
    assert d.raw_jinja('{{ x }}') == '{% raw %}{{ x }}{% endraw %}'
    assert d.raw_jinja({'a': ['{% if %}', 1, 'plain']}) == {
        'a': ['{% raw %}{% if %}{% endraw %}', 1, 'plain']}
    already = '{% raw %}{{ x }}{% endraw %}'
    assert d.raw_jinja(already) == already


def test_an_inquiry_is_marked_for_st2_action_to_start_it_without_parent():
    def runners(ref):
        return d.ActionInfo(ref, {'route': {}, 'schema': {}},
                            runner='inquirer' if ref == 'core.ask' else 'local-shell-cmd')

    spec = d.load("""
version: '2.0'
examples.ask:
  tasks:
    ask:
      action: core.ask route=developers
    explicit:
      action: st2.action
      input: {ref: core.ask, parameters: {route: ops}}
    expression:
      action: st2.action
      input: {ref: <% $.ref %>}
    other:
      action: core.local route=x
""")
    tasks = d.transform(spec, runners)['examples.ask']['tasks']
    assert tasks['ask'] == {'action': 'st2.action', 'input': {
        'ref': 'core.ask', 'parameters': {'route': 'developers'}, 'inquiry': True}}
    assert tasks['explicit']['input']['inquiry'] is True
    assert 'inquiry' not in tasks['expression']['input']   # known only when it runs
    assert 'inquiry' not in tasks['other']['input']
