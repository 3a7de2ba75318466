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

"""Every function through Mistral's real YAQL and Jinja evaluators.

This needs the ``mistral.expression.functions`` entry points installed
(``pip install -e .``): Mistral finds the functions only through stevedore.
Three call forms are checked: YAQL ``<% f(a, b) %>``, Jinja function
``{{ f(a, b) }}`` and Jinja filter ``{{ a | f(b) }}``.
"""

from mistral import config  # noqa: F401  (registers [expressions] and [yaql] options)
from mistral import exceptions as mistral_exc
from mistral import expressions
from mistral.expressions import base as expr_base
import pytest

from st2mistral.mistral_side.functions import data

NAMES = {
    'st2kv', 'json_escape', 'regex_match', 'regex_replace', 'regex_search', 'regex_substring',
    'from_json_string', 'from_yaml_string', 'to_json_string', 'to_yaml_string', 'to_complex',
    'use_none', 'jsonpath_query', 'to_human_time_from_seconds', 'version_compare',
    'version_more_than', 'version_less_than', 'version_equal', 'version_match',
    'version_bump_major', 'version_bump_minor', 'version_bump_patch', 'version_strip_patch',
}

DOC = {'a': [{'b': 1}, {'b': 2}]}

# (function, YAQL arguments, Jinja arguments, expected). YAQL reads the data
# context as $, Jinja as _; for the filter form the first argument is piped.
# Jinja decodes backslash escapes in string literals, so a regex \d is "\\d" there.
CASES = [
    ('regex_match', r'"a1", "a\d"', r'"a1", "a\\d"', True),
    ('regex_match', r'"A1", "a\d", ignorecase => true', r'"A1", "a\\d", ignorecase=true', True),
    ('regex_search', r'"xa1", "a\d"', r'"xa1", "a\\d"', True),
    ('regex_replace', '"hello", "l+", "L"', '"hello", "l+", "L"', 'heLo'),
    ('regex_substring', r'"a 12 b 34", "\d+", 1', r'"a 12 b 34", "\\d+", 1', '34'),
    ('json_escape', '"say \\"hi\\""', "'say \"hi\"'", 'say \\"hi\\"'),
    ('from_json_string', '\'{"x": [1]}\'', '\'{"x": [1]}\'', {'x': [1]}),
    ('from_yaml_string', '"x: [1]"', '"x: [1]"', {'x': [1]}),
    ('to_json_string', '$.doc', '_.doc', '{\n    "a":[\n        {\n            "b":1\n'
                                         '        },\n        {\n            "b":2\n'
                                         '        }\n    ]\n}'),
    ('to_json_string', '$.doc, null, true, [", ", ": "]', '_.doc, none, true, [", ", ": "]',
     '{"a": [{"b": 1}, {"b": 2}]}'),
    ('to_yaml_string', '$.doc', '_.doc', 'a:\n-   b: 1\n-   b: 2\n'),
    ('to_complex', '$.doc', '_.doc', '{"a": [{"b": 1}, {"b": 2}]}'),
    ('use_none', 'null', 'none', data.NONE_MAGIC_VALUE),
    ('use_none', '"x"', '"x"', 'x'),
    ('jsonpath_query', '$.doc, "$.a[*].b"', '_.doc, "$.a[*].b"', [1, 2]),
    ('jsonpath_query', '$.doc, "$.nope"', '_.doc, "$.nope"', None),
    ('to_human_time_from_seconds', '3725', '3725', '1h2m5s'),
    ('version_compare', '"1.2.3", "1.10.0"', '"1.2.3", "1.10.0"', -1),
    ('version_more_than', '"1.10.0", "1.9.0"', '"1.10.0", "1.9.0"', True),
    ('version_less_than', '"1.10.0", "1.9.0"', '"1.10.0", "1.9.0"', False),
    ('version_equal', '"1.0.0", "1.0.0+b1"', '"1.0.0", "1.0.0+b1"', True),
    ('version_match', '"1.2.3", ">=1.2.0"', '"1.2.3", ">=1.2.0"', True),
    ('version_bump_major', '"1.2.3"', '"1.2.3"', '2.0.0'),
    ('version_bump_minor', '"1.2.3"', '"1.2.3"', '1.3.0'),
    ('version_bump_patch', '"1.2.3"', '"1.2.3"', '1.2.4'),
    ('version_strip_patch', '"1.2.3"', '"1.2.3"', '1.2'),
]
IDS = ['%s(%s)' % (c[0], c[1]) for c in CASES]


def _context():
    return {'doc': DOC}


def _filter_form(name, jinja_args):
    first, _, rest = jinja_args.partition(', ')
    return '{{ %s | %s%s }}' % (first, name, '(%s)' % rest if rest else '')


def test_every_function_is_registered():
    assert NAMES <= set(expr_base.get_custom_functions())


def test_every_function_is_exercised_below():
    assert NAMES - {'st2kv'} == {c[0] for c in CASES}


@pytest.mark.parametrize('name, yaql_args, jinja_args, expected', CASES, ids=IDS)
def test_yaql(name, yaql_args, jinja_args, expected):
    assert expressions.evaluate('<%% %s(%s) %%>' % (name, yaql_args), _context()) == expected


@pytest.mark.parametrize('name, yaql_args, jinja_args, expected', CASES, ids=IDS)
def test_jinja_function(name, yaql_args, jinja_args, expected):
    assert expressions.evaluate('{{ %s(%s) }}' % (name, jinja_args), _context()) == expected


@pytest.mark.parametrize('name, yaql_args, jinja_args, expected', CASES, ids=IDS)
def test_jinja_filter(name, yaql_args, jinja_args, expected):
    assert expressions.evaluate(_filter_form(name, jinja_args), _context()) == expected


def test_inside_a_longer_string():
    # Mixed text renders the whole template (a different Jinja code path).
    assert expressions.evaluate(
        'v={{ "1.2.3" | version_bump_patch }} ok={{ regex_match("a1", "a") }}', {}
    ) == 'v=1.2.4 ok=True'
    assert expressions.evaluate('v=<% version_bump_patch("1.2.3") %>', {}) == 'v=1.2.4'


class TestErrors:
    """Our error text reaches the user wrapped with the failing expression."""

    def test_yaql(self):
        with pytest.raises(mistral_exc.YaqlEvaluationException) as e:
            expressions.evaluate('<% regex_match("a", "a(") %>', {})
        assert str(e.value) == (
            'Can not evaluate YAQL expression [expression=regex_match("a", "a("), '
            "error=regex_match: invalid regular expression 'a(': missing ), "
            'unterminated subpattern at position 1]')

    @pytest.mark.parametrize('expression', [
        '{{ version_bump_major("1.2") }}', '{{ "1.2" | version_bump_major }}'])
    def test_jinja(self, expression):
        with pytest.raises(mistral_exc.JinjaEvaluationException) as e:
            expressions.evaluate(expression, {})
        assert str(e.value) == (
            'Can not evaluate Jinja expression [expression=%s, error=version_bump_major: '
            "value '1.2' is not a valid semantic version (MAJOR.MINOR.PATCH)]" % expression)


class TestSt2kv:
    api = 'http://st2.test/v1'
    token = 'tok-SECRET-1'

    def context(self):
        st2_ctx = {'api_url': self.api, 'auth_token': self.token,
                   'parent': {'user': 'alice'}}
        return {'__env': {'__actions': {'st2.action': {'st2_context': st2_ctx}}}}

    @pytest.mark.parametrize('expression', [
        '<% st2kv("k1") %>', '{{ st2kv("k1") }}', '{{ "k1" | st2kv }}',
        '<% st2kv("system.k1", true) %>', '{{ st2kv("system.k1", true) }}',
        '{{ "system.k1" | st2kv(true) }}', '{{ "system.k1" | st2kv(decrypt=true) }}',
    ])
    def test_reads_env_in_every_form(self, requests_mock, expression):
        requests_mock.get(self.api + '/keys/k1', json={'value': 'v1'})
        assert expressions.evaluate(expression, self.context()) == 'v1'
        req = requests_mock.last_request
        assert req.headers['X-Auth-Token'] == self.token
        system = 'system.' in expression
        assert req.qs['scope'] == ['system' if system else 'user']
        assert req.qs['decrypt'] == ['true' if system else 'false']

    @pytest.mark.parametrize('expression, error', [
        ('<% st2kv("nope") %>', mistral_exc.YaqlEvaluationException),
        ('{{ st2kv("nope") }}', mistral_exc.JinjaEvaluationException),
    ])
    def test_missing_key(self, requests_mock, expression, error):
        requests_mock.get(self.api + '/keys/nope', status_code=404, json={})
        with pytest.raises(error) as e:
            expressions.evaluate(expression, self.context())
        assert "error=st2kv: key 'nope' not found in st2 user scope]" in str(e.value)
        assert self.token not in str(e.value)
