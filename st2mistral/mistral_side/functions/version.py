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

"""Semantic-version functions (https://semver.org), as st2's Jinja filters.

Versions are full ``MAJOR.MINOR.PATCH[-pre][+build]`` strings; '1.2' is refused.
"""

import semver

from st2mistral.mistral_side.functions._common import FunctionError
from st2mistral.mistral_side.functions._common import expression_function
from st2mistral.mistral_side.functions._common import require_str


def _parse(function, name, value):
    require_str(function, name, value)
    try:
        return semver.Version.parse(value)
    except ValueError:
        raise FunctionError('%s: %s %r is not a valid semantic version (MAJOR.MINOR.PATCH)'
                            % (function, name, value)) from None


def _compare(function, value, other):
    return _parse(function, 'value', value).compare(_parse(function, 'other', other))


@expression_function
def version_compare(context, value, other):
    """-1, 0 or 1 as value is lower than, equal to or higher than other."""
    return _compare('version_compare', value, other)


@expression_function
def version_more_than(context, value, other):
    return _compare('version_more_than', value, other) == 1


@expression_function
def version_less_than(context, value, other):
    return _compare('version_less_than', value, other) == -1


@expression_function
def version_equal(context, value, other):
    return _compare('version_equal', value, other) == 0


@expression_function
def version_match(context, value, expression):
    """True when value satisfies an expression like '>=1.2.0' (no operator: '==')."""
    version = _parse('version_match', 'value', value)
    require_str('version_match', 'expression', expression)
    try:
        return version.match(expression)
    except ValueError as e:
        raise FunctionError('version_match: invalid expression %r: %s' % (expression, e)) from None


@expression_function
def version_bump_major(context, value):
    return str(_parse('version_bump_major', 'value', value).bump_major())


@expression_function
def version_bump_minor(context, value):
    return str(_parse('version_bump_minor', 'value', value).bump_minor())


@expression_function
def version_bump_patch(context, value):
    return str(_parse('version_bump_patch', 'value', value).bump_patch())


@expression_function
def version_strip_patch(context, value):
    """'MAJOR.MINOR' of the version."""
    version = _parse('version_strip_patch', 'value', value)
    return '%d.%d' % (version.major, version.minor)
