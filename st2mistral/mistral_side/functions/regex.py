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

Bounded work: a workflow author's pattern runs inside the Mistral engine, and
a pattern such as ``(a|aa)+$`` backtracks exponentially (Python's ``re`` would
keep the engine busy for hours on 60 characters). The pattern is checked with
``re`` (its syntax and error messages are the contract) and run with the
``regex`` module, which stops a match after ``TIME_LIMIT`` seconds; the
function then fails with a short error naming the pattern.
"""

import re

import regex as regex_engine

from st2mistral.mistral_side.functions._common import FunctionError
from st2mistral.mistral_side.functions._common import expression_function
from st2mistral.mistral_side.functions._common import require_bool
from st2mistral.mistral_side.functions._common import require_str

# Seconds one regex_* call may spend matching (documented in docs/operator-guide.rst).
TIME_LIMIT = 1.0


def _compile(function, pattern, ignorecase):
    require_str(function, 'pattern', pattern)
    require_bool(function, 'ignorecase', ignorecase)
    flags = re.IGNORECASE if ignorecase else 0
    try:
        re.compile(pattern, flags)
        return regex_engine.compile(pattern, regex_engine.IGNORECASE if ignorecase else 0)
    except (re.error, regex_engine.error) as e:
        raise FunctionError(
            '%s: invalid regular expression %r: %s' % (function, pattern, e)) from None


def _run(function, pattern, method, *args):
    """``method(*args)`` with the time limit; a clean error when it is reached."""
    try:
        return method(*args, timeout=TIME_LIMIT)
    except TimeoutError:
        raise FunctionError(
            '%s: pattern %r took longer than %.1f s, the limit per call; simplify it '
            '(nested repetition such as (a|aa)+ backtracks exponentially)'
            % (function, pattern, TIME_LIMIT)) from None


def _text(value):
    return value if isinstance(value, str) else str(value)


@expression_function
def regex_match(context, value, pattern, ignorecase=False):
    """True when the pattern matches at the start of the value."""
    compiled = _compile('regex_match', pattern, ignorecase)
    return bool(_run('regex_match', pattern, compiled.match, _text(value)))


@expression_function
def regex_search(context, value, pattern, ignorecase=False):
    """True when the pattern matches anywhere in the value."""
    compiled = _compile('regex_search', pattern, ignorecase)
    return bool(_run('regex_search', pattern, compiled.search, _text(value)))


@expression_function
def regex_replace(context, value, pattern, replacement, ignorecase=False):
    """The value with every match replaced (backreferences like \\1 allowed)."""
    compiled = _compile('regex_replace', pattern, ignorecase)
    require_str('regex_replace', 'replacement', replacement)
    try:
        # re checks the replacement template: its errors are the documented ones.
        re.compile(pattern).sub(replacement, '')
        return _run('regex_replace', pattern, compiled.sub, replacement, _text(value))
    except (re.error, regex_engine.error, IndexError) as e:
        raise FunctionError(
            'regex_replace: invalid replacement %r: %s' % (replacement, e)) from None


@expression_function
def regex_substring(context, value, pattern, result_index=0, ignorecase=False):
    """The match number ``result_index`` (0-based, negative counts from the end).

    As ``re.findall``: the whole match, the single group's text, or a tuple of
    the groups' texts when the pattern has several groups.
    """
    compiled = _compile('regex_substring', pattern, ignorecase)
    if isinstance(result_index, bool) or not isinstance(result_index, int):
        raise FunctionError('regex_substring: result_index must be an integer, got %s'
                            % type(result_index).__name__)
    found = _run('regex_substring', pattern, compiled.findall, _text(value))
    try:
        return found[result_index]
    except IndexError:
        raise FunctionError('regex_substring: no match at index %d for pattern %r '
                            '(%d match(es) found)' % (result_index, pattern, len(found))) from None
