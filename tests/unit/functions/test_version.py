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

from st2mistral.mistral_side.functions import version as v
from st2mistral.mistral_side.functions._common import FunctionError


@pytest.mark.parametrize('a, b, expected', [
    ('1.2.3', '1.2.4', -1), ('1.2.3', '1.2.3', 0), ('2.0.0', '1.9.9', 1),
    ('1.0.0-rc.1', '1.0.0', -1), ('1.0.0+build.1', '1.0.0', 0),
])
def test_compare_family(a, b, expected):
    assert v.version_compare(None, a, b) == expected
    assert v.version_more_than(None, a, b) is (expected == 1)
    assert v.version_less_than(None, a, b) is (expected == -1)
    assert v.version_equal(None, a, b) is (expected == 0)


@pytest.mark.parametrize('expression, expected', [
    ('>=1.2.0', True), ('<1.2.3', False), ('==1.2.3', True), ('!=1.2.3', False),
    ('>1.0.0', True), ('<=1.2.2', False), ('1.2.3', True),
])
def test_match(expression, expected):
    assert v.version_match(None, '1.2.3', expression) is expected


@pytest.mark.parametrize('expression', ['~1.2.3', '>=1.2', 'abc'])
def test_match_invalid_expression(expression):
    with pytest.raises(FunctionError, match='version_match: invalid expression'):
        v.version_match(None, '1.2.3', expression)


@pytest.mark.parametrize('function, value, expected', [
    (v.version_bump_major, '1.2.3', '2.0.0'),
    (v.version_bump_minor, '1.2.3', '1.3.0'),
    (v.version_bump_patch, '1.2.3', '1.2.4'),
    (v.version_bump_patch, '1.2.3-rc.1+b5', '1.2.4'),
    (v.version_strip_patch, '10.20.30', '10.20'),
    (v.version_strip_patch, '1.2.3-rc.1', '1.2'),
])
def test_bump_and_strip(function, value, expected):
    assert function(None, value) == expected


ALL = [v.version_compare, v.version_more_than, v.version_less_than, v.version_equal]
ONE_ARG = [v.version_bump_major, v.version_bump_minor, v.version_bump_patch,
           v.version_strip_patch]


@pytest.mark.parametrize('function', ALL)
@pytest.mark.parametrize('a, b, bad', [('1.2', '1.2.3', "value '1.2'"),
                                       ('1.2.3', 'x', "other 'x'")])
def test_two_arg_functions_refuse_invalid_versions(function, a, b, bad):
    with pytest.raises(FunctionError) as e:
        function(None, a, b)
    assert str(e.value) == ('%s: %s is not a valid semantic version (MAJOR.MINOR.PATCH)'
                            % (function.__name__, bad))


@pytest.mark.parametrize('function', ONE_ARG + [v.version_match])
def test_one_arg_functions_refuse_invalid_versions(function):
    args = ('>=1.0.0',) if function is v.version_match else ()
    with pytest.raises(FunctionError, match="%s: value '1.2.3.4' is not a valid"
                       % function.__name__):
        function(None, '1.2.3.4', *args)


@pytest.mark.parametrize('function', ALL + ONE_ARG)
def test_versions_must_be_strings(function):
    args = ('1.0.0',) if function in ALL else ()
    with pytest.raises(FunctionError, match='value must be a string, got float'):
        function(None, 1.2, *args)
