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

from mistral import exceptions as mistral_exc
import pytest
from yaql.language import utils as yaql_utils

from st2mistral.mistral_side.functions import data
from st2mistral.mistral_side.functions._common import FunctionError


def test_errors_are_mistral_evaluation_errors():
    # The evaluators wrap any exception; ours must still be a Mistral one when
    # a caller uses a function outside the evaluators.
    assert issubclass(FunctionError, mistral_exc.EvaluationException)
    assert not issubclass(FunctionError, mistral_exc.YaqlEvaluationException)
    assert not issubclass(FunctionError, mistral_exc.JinjaEvaluationException)


class TestFromJsonString:
    def test_parses_objects_and_scalars(self):
        assert data.from_json_string(None, '{"a": [1, 2], "b": null}') == {'a': [1, 2], 'b': None}
        assert data.from_json_string(None, '"x"') == 'x'
        assert data.from_json_string(None, 5) == 5  # str() first, as st2

    def test_invalid_json_is_a_readable_error_without_the_value(self):
        with pytest.raises(FunctionError) as e:
            data.from_json_string(None, 'secret-123 {')
        assert str(e.value).startswith('from_json_string: value is not valid JSON')
        assert 'secret-123' not in str(e.value)


class TestFromYamlString:
    def test_parses(self):
        assert data.from_yaml_string(None, 'a: 1\nb: [x, y]\n') == {'a': 1, 'b': ['x', 'y']}

    def test_refuses_python_tags(self):
        with pytest.raises(FunctionError, match='from_yaml_string: value is not valid YAML'):
            data.from_yaml_string(None, '!!python/object/apply:os.system ["true"]')

    def test_invalid_yaml_message_is_one_line(self):
        with pytest.raises(FunctionError) as e:
            data.from_yaml_string(None, 'a: [1, 2')
        assert '\n' not in str(e.value)


class TestToJsonString:
    def test_defaults_are_the_historic_st2mistral_ones(self):
        assert data.to_json_string(None, {'b': 1, 'a': [1]}) == (
            '{\n    "b":1,\n    "a":[\n        1\n    ]\n}')

    def test_options(self):
        value = {'b': 1, 'a': 2}
        assert data.to_json_string(None, value, None, True, [', ', ': ']) == '{"a": 2, "b": 1}'
        assert data.to_json_string(None, value, indent=None, separators=None) == (
            '{"b": 1, "a": 2}')

    def test_yaql_frozen_containers_become_plain_json(self):
        frozen = yaql_utils.FrozenDict({'a': (1, yaql_utils.FrozenDict({'b': 2}))})
        assert data.to_json_string(None, frozen, indent=None) == '{"a":[1,{"b":2}]}'

    def test_unserializable_value(self):
        with pytest.raises(FunctionError, match='to_json_string: cannot serialize value'):
            data.to_json_string(None, {'a': object()})


class TestToYamlString:
    def test_block_style_and_unicode(self):
        assert data.to_yaml_string(None, {'a': [1, 'é'], 'b': {'c': 2}}) == (
            'a:\n- 1\n- é\nb:\n    c: 2\n')

    def test_tuples_and_frozen_dicts(self):
        frozen = yaql_utils.FrozenDict({'a': (1, 2)})
        assert data.to_yaml_string(None, frozen) == 'a:\n- 1\n- 2\n'

    def test_unserializable_value(self):
        with pytest.raises(FunctionError, match='to_yaml_string: cannot serialize value'):
            data.to_yaml_string(None, {'a': object()})


def test_to_complex():
    assert data.to_complex(None, {'a': [1, 'x']}) == '{"a": [1, "x"]}'
    assert data.to_complex(None, 'x') == '"x"'
    with pytest.raises(FunctionError, match='to_complex'):
        data.to_complex(None, object())


class TestJsonEscape:
    @pytest.mark.parametrize('value, expected', [
        ('plain', 'plain'),
        ('a"b\n\tc\\', 'a\\"b\\n\\tc\\\\'),
        ('say "hi"', 'say \\"hi\\"'),  # st2's strip('"') gave 'say \\"hi\\'
        ('"', '\\"'),
        ('é', '\\u00e9'),
        (5, '5'),
        (None, 'null'),
        ({'a': 'b'}, '{"a": "b"}'),
    ])
    def test_escapes(self, value, expected):
        assert data.json_escape(None, value) == expected

    def test_unserializable_value(self):
        with pytest.raises(FunctionError, match='json_escape'):
            data.json_escape(None, object())


@pytest.mark.parametrize('value, expected', [
    (None, data.NONE_MAGIC_VALUE), (0, 0), ('', ''), (False, False), ([], []),
])
def test_use_none(value, expected):
    assert data.use_none(None, value) == expected


def test_none_magic_value_is_st2s():
    assert data.NONE_MAGIC_VALUE == '%*****__%NONE%__*****%'


class TestJsonpathQuery:
    doc = {'people': [{'name': 'a', 'age': 1}, {'name': 'b', 'age': 2}], 'x': {'y': 'z'}}

    @pytest.mark.parametrize('query, expected', [
        ('$.people[*].name', ['a', 'b']),
        ('people[1].age', [2]),
        ('$.x', [{'y': 'z'}]),
        ('$..age', [1, 2]),
        ('$.missing', None),
    ])
    def test_queries(self, query, expected):
        assert data.jsonpath_query(None, self.doc, query) == expected

    def test_frozen_input(self):
        frozen = yaql_utils.FrozenDict({'a': (yaql_utils.FrozenDict({'b': 1}),)})
        assert data.jsonpath_query(None, frozen, '$.a[0].b') == [1]

    def test_invalid_query(self):
        with pytest.raises(FunctionError, match=r"jsonpath_query: invalid JSONPath '\$\['"):
            data.jsonpath_query(None, self.doc, '$[')

    def test_query_must_be_a_string(self):
        with pytest.raises(FunctionError, match='query must be a string, got int'):
            data.jsonpath_query(None, self.doc, 5)
