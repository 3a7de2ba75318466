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

"""Data conversion functions: JSON, YAML, JSONPath, use_none.

Semantics follow st2's Jinja filters of the same names; defaults of
to_json_string and to_yaml_string follow the historic st2mistral (indent 4,
compact JSON separators) because existing Mistral workflows rely on them.
"""

import json

import jsonpath_ng
import jsonpath_ng.exceptions
import yaml

from st2mistral.mistral_side.functions._common import FunctionError
from st2mistral.mistral_side.functions._common import expression_function
from st2mistral.mistral_side.functions._common import require_str
from st2mistral.mistral_side.functions._common import to_plain

# st2 turns this string back into None when it casts action parameters, so a
# workflow can pass an explicit null through st2's parameter rendering.
NONE_MAGIC_VALUE = '%*****__%NONE%__*****%'


# Deeper values exhaust Python's recursion limit in the parsers and in every
# later copy or dump of the value.
TOO_DEEP = 'value is nested too deeply'


@expression_function
def from_json_string(context, value):
    try:
        return json.loads(str(value))
    except ValueError as e:
        raise FunctionError('from_json_string: value is not valid JSON: %s' % e) from None
    except RecursionError:
        raise FunctionError('from_json_string: %s' % TOO_DEEP) from None


class _AliasRefused(yaml.YAMLError):
    pass


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without aliases.

    An alias repeats its anchor's value, so ~300 bytes of nested aliases make
    a value of billions of items ("billion laughs"). Mistral 23 disables them
    in its own yaml_parse for that reason (mistral/utils/safe_yaml.py); here
    an alias is an error rather than text, so the author sees why.
    """

    def fetch_alias(self):
        raise _AliasRefused('YAML aliases (*name) are not allowed: they can expand a short '
                            'string into a huge value; write the value out instead')


@expression_function
def from_yaml_string(context, value):
    try:
        return yaml.load(str(value), Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader
    except _AliasRefused as e:
        raise FunctionError('from_yaml_string: %s' % e) from None
    except yaml.YAMLError as e:
        raise FunctionError(
            'from_yaml_string: value is not valid YAML: %s' % _one_line(e)) from None
    except RecursionError:
        raise FunctionError('from_yaml_string: %s' % TOO_DEEP) from None


@expression_function
def to_json_string(context, value, indent=4, sort_keys=False, separators=(',', ':')):
    try:
        return json.dumps(
            to_plain(value), indent=indent, sort_keys=sort_keys,
            separators=tuple(separators) if separators is not None else None)
    except (TypeError, ValueError) as e:
        raise FunctionError('to_json_string: cannot serialize value: %s' % e) from None


@expression_function
def to_yaml_string(context, value, indent=4, allow_unicode=True):
    try:
        return yaml.safe_dump(
            to_plain(value), indent=indent, allow_unicode=allow_unicode,
            default_flow_style=False)
    except (yaml.YAMLError, TypeError) as e:
        raise FunctionError('to_yaml_string: cannot serialize value: %s' % _one_line(e)) from None


@expression_function
def to_complex(context, value):
    try:
        return json.dumps(to_plain(value))
    except (TypeError, ValueError) as e:
        raise FunctionError('to_complex: cannot serialize value: %s' % e) from None


@expression_function
def json_escape(context, value):
    """Escape a value for embedding inside a JSON string literal.

    st2 stripped every '"' at both ends of the dump, which also ate an escaped
    quote at the end ('a"' gave 'a\\'); only the enclosing quotes go here.
    """
    try:
        dumped = json.dumps(to_plain(value))
    except (TypeError, ValueError) as e:
        raise FunctionError('json_escape: cannot serialize value: %s' % e) from None
    return dumped[1:-1] if isinstance(value, str) else dumped


@expression_function
def use_none(context, value):
    return NONE_MAGIC_VALUE if value is None else value


@expression_function
def jsonpath_query(context, value, query):
    """Values matched by a JSONPath query, or None when nothing matches."""
    require_str('jsonpath_query', 'query', query)
    if len(query) > MAX_JSONPATH_LENGTH:
        raise FunctionError('jsonpath_query: the query is %d characters long, more than the '
                            '%d allowed' % (len(query), MAX_JSONPATH_LENGTH))
    try:
        expr = jsonpath_ng.parse(query)
    except (jsonpath_ng.exceptions.JSONPathError, ValueError, RecursionError) as e:
        # ValueError: an index of thousands of digits; RecursionError: thousands of steps.
        raise FunctionError('jsonpath_query: invalid JSONPath %r: %s' % (
            _shorten(query), _shorten(_one_line(e)))) from None
    try:
        matches = [match.value for match in expr.find(to_plain(value))]
    except RecursionError:
        raise FunctionError('jsonpath_query: the query or the %s' % TOO_DEEP) from None
    return matches or None


# Longer queries are no JSONPath a person writes; refusing them early bounds the parser.
MAX_JSONPATH_LENGTH = 4096


def _shorten(text, limit=120):
    return text if len(text) <= limit else text[:limit] + '...'


def _one_line(error):
    # PyYAML messages span several lines with source excerpts; keep them short.
    return ' '.join(str(error).split())
