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

from st2mistral.st2_side import st2kv_params as s


@pytest.mark.parametrize('text', [
    '{{ st2kv.system.greeting }}', 'echo {{st2kv.user.a}}', '{{ st2kv.system.a.b }}',
    "{{ st2kv['system']['a'] }}", '{{ st2kv.system.pw | decrypt_kv }}',
    '{% if st2kv.system.on %}x{% endif %}', '{{ "a" ~ st2kv.system.b }}',
    '{{\n  st2kv.system.multi_line\n}}',
])
def test_st2kv_references(text):
    assert s.refers_to_st2kv(text)


@pytest.mark.parametrize('text', [
    "{{ st2kv('system.a') }}",          # the Mistral function: Mistral evaluates it
    "{{ 'system.a' | st2kv }}",
    '<% st2kv("system.a") %>',
    'st2kv.system.a',                   # not in Jinja delimiters: plain text
    'st2kv.system.a }}',                # st2 3.2's regular expression took this one
    '{{ my_st2kv.system.a }}', '{{ x.st2kv.a }}',
    '{{ _.st2kv }}',
])
def test_not_st2kv_references(text):
    assert not s.refers_to_st2kv(text)


@pytest.mark.parametrize('text, mixed', [
    ('{{ _.x }}', True), ("{{ _['x'] }}", True), ('{{ env().st2_execution_id }}', True),
    ('{{ task("t").result }}', True), ('{{ execution().id }}', True),
    ('{{ my_.x }}', False), ('{{ st2kv.system.task_name }}', False), ('_.x', False),
])
def test_workflow_context_references(text, mixed):
    assert s.refers_to_workflow_context(text) is mixed


def test_wrap_parameters_wraps_only_st2kv_strings_and_copies():
    given = {'cmd': 'echo {{ st2kv.system.a }}', 'n': 1, 'plain': 'x',
             'yaql': '<% $.a %>', 'local': '{{ _.a }}',
             'deep': {'k': ['{{ st2kv.user.b }}', 2]}}
    wrapped = s.wrap_parameters('core.local', given)
    assert wrapped == {'cmd': '{% raw %}echo {{ st2kv.system.a }}{% endraw %}', 'n': 1,
                       'plain': 'x', 'yaql': '<% $.a %>', 'local': '{{ _.a }}',
                       'deep': {'k': ['{% raw %}{{ st2kv.user.b }}{% endraw %}', 2]}}
    assert given['cmd'] == 'echo {{ st2kv.system.a }}'


def test_already_raw_is_kept():
    text = '{%- raw -%}{{ st2kv.system.a }}{% endraw %}'
    assert s.wrap_value('p.a', 'cmd', text) == text


def test_mixed_context_names_parameter_and_action():
    with pytest.raises(s.MixedContextError) as caught:
        s.wrap_parameters('core.local', {'cmd': '{{ _.a }} {{ st2kv.system.b }}'})
    assert str(caught.value).startswith(
        'Parameter "cmd" for action "core.local" containing references to both local '
        'context (i.e. _.var1) and st2kv (i.e. st2kv.system.var1) is not supported')


def test_unclosed_openers_do_not_make_the_scan_quadratic():
    # 200,000 unclosed openers: a lazy regular expression rescans the rest for each.
    # A step count, not a time: the scan's find() calls are counted.
    text = '{{ ' * 200000 + 'st2kv.system.x'
    calls = []

    class Counting(str):
        def find(self, *args):
            calls.append(args)
            return str.find(self, *args)

    assert not s.refers_to_st2kv(Counting(text))
    assert len(calls) <= 4
