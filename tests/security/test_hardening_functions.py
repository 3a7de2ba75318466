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

"""Issue 9, findings 3 and 11: expression functions a workflow author feeds hostile input.

Each attack must end in one short FunctionError (what Mistral puts first in
state_info), never a traceback, an 8 MB value or an engine busy for minutes.
"""

import time

import pytest

from st2mistral.mistral_side.functions import data
from st2mistral.mistral_side.functions import regex
from st2mistral.mistral_side.functions._common import FunctionError

# ~300 bytes that PyYAML expands to 9**9 strings ("billion laughs").
BILLION_LAUGHS = '\n'.join(
    ['a0: &a0 "lol"'] + ['a%d: &a%d [%s]' % (i, i, ', '.join(['*a%d' % (i - 1)] * 9))
                         for i in range(1, 10)])


def short(error):
    text = str(error.value)
    assert '\n' not in text and len(text) < 400, text
    return text


class TestYamlAliases:
    """Finding 3: from_yaml_string refuses aliases, as Mistral's own yaml_parse does."""

    def test_billion_laughs_is_refused_at_once(self):
        began = time.monotonic()
        with pytest.raises(FunctionError) as e:
            data.from_yaml_string(None, BILLION_LAUGHS)
        assert 'alias' in short(e).lower()
        assert time.monotonic() - began < 1.0

    def test_a_single_alias_and_a_merge_key_are_refused(self):
        for text in ('a: &x 1\nb: *x\n', 'base: &b {x: 1}\nother:\n  <<: *b\n'):
            with pytest.raises(FunctionError, match='from_yaml_string: .*alias'):
                data.from_yaml_string(None, text)

    def test_ampersand_and_star_inside_values_still_parse(self):
        assert data.from_yaml_string(None, 'a: "x*y"\nb: R&D\nc: \'*z\'\n') == {
            'a': 'x*y', 'b': 'R&D', 'c': '*z'}

    def test_deeply_nested_yaml_is_a_clean_error(self):
        with pytest.raises(FunctionError, match='from_yaml_string: '):
            data.from_yaml_string(None, '[' * 5000 + ']' * 5000)


class TestDeepJson:
    def test_deeply_nested_json_is_a_clean_error(self):
        with pytest.raises(FunctionError) as e:
            data.from_json_string(None, '[' * 5000 + ']' * 5000)
        assert short(e).startswith('from_json_string: ')


class TestJsonPathBounds:
    """Finding 11: JSONPath queries that blow the parser up."""

    def test_3000_deep_query_is_a_short_error(self):
        with pytest.raises(FunctionError) as e:
            data.jsonpath_query(None, {'a': 1}, '$' + '.a' * 3000)
        assert short(e).startswith('jsonpath_query: ')

    def test_huge_index_is_a_short_error(self):
        with pytest.raises(FunctionError) as e:
            data.jsonpath_query(None, [1, 2], '$[%s]' % ('9' * 5000))
        assert short(e).startswith('jsonpath_query: ')

    def test_ordinary_queries_still_work(self):
        assert data.jsonpath_query(None, {'a': [{'b': 1}, {'b': 2}]}, 'a[*].b') == [1, 2]
        assert data.jsonpath_query(None, [1, 2], '$[99999999999999999999]') is None


# Exponential backtracking in Python's re and in the regex module alike.
CATASTROPHIC = r'(a|aa)+$'
VICTIM = 'a' * 60 + '!'


class TestRegexBounds:
    """Finding 11: a catastrophic pattern ends in a clean error within the time limit."""

    @pytest.mark.parametrize('call', [
        lambda: regex.regex_match(None, VICTIM, CATASTROPHIC),
        lambda: regex.regex_search(None, VICTIM, CATASTROPHIC),
        lambda: regex.regex_replace(None, VICTIM, CATASTROPHIC, 'x'),
        lambda: regex.regex_substring(None, VICTIM, CATASTROPHIC),
    ], ids=['match', 'search', 'replace', 'substring'])
    def test_catastrophic_pattern_is_stopped(self, call):
        began = time.monotonic()
        with pytest.raises(FunctionError) as e:
            call()
        took = time.monotonic() - began
        text = short(e)
        assert 'took longer than' in text and CATASTROPHIC in text
        assert took < regex.TIME_LIMIT + 2.0

    def test_ordinary_patterns_keep_re_semantics(self):
        assert regex.regex_substring(None, 'a1b22', r'(\w)(\d+)', 1) == ('b', '22')
        assert regex.regex_replace(None, 'a1b2', r'(\d)', r'<\1>') == 'a<1>b<2>'
