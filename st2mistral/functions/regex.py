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

"""Regular-expression functions (Python ``re`` syntax), as st2's Jinja filters.

A non-string value is matched against its ``str()``, as st2 does.
"""

import re

from st2mistral.functions._common import FunctionError
from st2mistral.functions._common import expression_function
from st2mistral.functions._common import require_bool
from st2mistral.functions._common import require_str


def _compile(function, pattern, ignorecase):
    require_str(function, 'pattern', pattern)
    require_bool(function, 'ignorecase', ignorecase)
    try:
        return re.compile(pattern, re.IGNORECASE if ignorecase else 0)
    except re.error as e:
        raise FunctionError(
            '%s: invalid regular expression %r: %s' % (function, pattern, e)) from None


def _text(value):
    return value if isinstance(value, str) else str(value)


@expression_function
def regex_match(context, value, pattern, ignorecase=False):
    """True when the pattern matches at the start of the value."""
    return bool(_compile('regex_match', pattern, ignorecase).match(_text(value)))


@expression_function
def regex_search(context, value, pattern, ignorecase=False):
    """True when the pattern matches anywhere in the value."""
    return bool(_compile('regex_search', pattern, ignorecase).search(_text(value)))


@expression_function
def regex_replace(context, value, pattern, replacement, ignorecase=False):
    """The value with every match replaced (backreferences like \\1 allowed)."""
    regex = _compile('regex_replace', pattern, ignorecase)
    require_str('regex_replace', 'replacement', replacement)
    try:
        return regex.sub(replacement, _text(value))
    except re.error as e:
        raise FunctionError(
            'regex_replace: invalid replacement %r: %s' % (replacement, e)) from None


@expression_function
def regex_substring(context, value, pattern, result_index=0, ignorecase=False):
    """The match number ``result_index`` (0-based, negative counts from the end).

    As ``re.findall``: the whole match, the single group's text, or a tuple of
    the groups' texts when the pattern has several groups.
    """
    regex = _compile('regex_substring', pattern, ignorecase)
    if isinstance(result_index, bool) or not isinstance(result_index, int):
        raise FunctionError('regex_substring: result_index must be an integer, got %s'
                            % type(result_index).__name__)
    found = regex.findall(_text(value))
    try:
        return found[result_index]
    except IndexError:
        raise FunctionError('regex_substring: no match at index %d for pattern %r '
                            '(%d match(es) found)' % (result_index, pattern, len(found))) from None
