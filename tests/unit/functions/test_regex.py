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

from st2mistral.mistral_side.functions import regex
from st2mistral.mistral_side.functions._common import FunctionError


class TestRegexMatch:
    def test_matches_only_at_the_start(self):
        assert regex.regex_match(None, 'a1', r'a\d') is True
        assert regex.regex_match(None, 'xa1', r'a\d') is False

    def test_ignorecase(self):
        assert regex.regex_match(None, 'A1', r'a\d') is False
        assert regex.regex_match(None, 'A1', r'a\d', True) is True

    def test_non_string_value_is_matched_as_text(self):
        assert regex.regex_match(None, 1234, r'\d+$') is True


class TestRegexSearch:
    def test_matches_anywhere(self):
        assert regex.regex_search(None, 'xa1', r'a\d') is True
        assert regex.regex_search(None, 'xyz', r'a\d') is False
        assert regex.regex_search(None, 'XA1', r'a\d', ignorecase=True) is True


class TestRegexReplace:
    def test_replaces_every_match(self):
        assert regex.regex_replace(None, 'hello world', 'o', '0') == 'hell0 w0rld'

    def test_backreferences(self):
        assert regex.regex_replace(None, 'john smith', r'(\w+) (\w+)', r'\2 \1') == 'smith john'

    def test_ignorecase(self):
        assert regex.regex_replace(None, 'Hello', 'h', 'j', True) == 'jello'

    def test_bad_group_reference(self):
        with pytest.raises(FunctionError, match=r"regex_replace: invalid replacement '\\\\3'"):
            regex.regex_replace(None, 'ab', '(a)', r'\3')

    def test_replacement_must_be_a_string(self):
        with pytest.raises(FunctionError, match='replacement must be a string'):
            regex.regex_replace(None, 'ab', 'a', None)


class TestRegexSubstring:
    value = 'ids 123 and 456'

    @pytest.mark.parametrize('index, expected', [(0, '123'), (1, '456'), (-1, '456')])
    def test_picks_the_match(self, index, expected):
        assert regex.regex_substring(None, self.value, r'\d+', index) == expected

    def test_groups(self):
        assert regex.regex_substring(None, 'a1 b2', r'(\w)(\d)', 1) == ('b', '2')
        assert regex.regex_substring(None, 'a1 b2', r'\w(\d)') == '1'

    def test_missing_match_is_readable_and_hides_the_value(self):
        with pytest.raises(FunctionError) as e:
            regex.regex_substring(None, 'secret 123', r'\d+', 5)
        assert str(e.value) == (
            r"regex_substring: no match at index 5 for pattern '\\d+' (1 match(es) found)")

    @pytest.mark.parametrize('index', ['1', 1.0, True, None])
    def test_index_must_be_an_integer(self, index):
        with pytest.raises(FunctionError, match='result_index must be an integer'):
            regex.regex_substring(None, self.value, r'\d+', index)


@pytest.mark.parametrize('function, args', [
    (regex.regex_match, ('a',)),
    (regex.regex_search, ('a',)),
    (regex.regex_replace, ('a', 'b')),
    (regex.regex_substring, ('a',)),
])
class TestBadInputEverywhere:
    def test_invalid_pattern(self, function, args):
        with pytest.raises(FunctionError) as e:
            function(None, args[0], 'a(', *args[1:])
        assert str(e.value).startswith(
            "%s: invalid regular expression 'a(': missing )" % function.__name__)

    def test_pattern_must_be_a_string(self, function, args):
        with pytest.raises(FunctionError, match='pattern must be a string, got int'):
            function(None, args[0], 5, *args[1:])

    def test_ignorecase_must_be_a_bool(self, function, args):
        with pytest.raises(FunctionError, match='ignorecase must be true or false, got str'):
            function(None, args[0], 'a', *args[1:], ignorecase='yes')
