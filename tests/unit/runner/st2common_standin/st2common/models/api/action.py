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

"""st2common.models.api.action (stand-in): RunnerTypeAPI with st2 3.9's schema.

st2 registers a runner with ``RunnerTypeAPI(**get_metadata()).validate()``
after dropping ``experimental``/``aliases`` and defaulting ``runner_package``.
The schema below is st2 3.9's (its draft-3 ``required: True`` written as a
draft-4 ``required`` list; parameters checked for the keys st2 parameters use).
"""

import jsonschema

PARAMETER = {
    'type': 'object',
    'properties': {
        'type': {'enum': ['array', 'boolean', 'integer', 'null', 'number', 'object',
                          'string']},
        'description': {'type': 'string'},
        'default': {},
        'required': {'type': 'boolean'},
        'immutable': {'type': 'boolean'},
        'secret': {'type': 'boolean'},
        'enum': {'type': 'array'},
        'position': {'type': 'integer'},
    },
    'additionalProperties': False,
}

SCHEMA = {
    'type': 'object',
    'properties': {
        'id': {'type': 'string'},
        'uid': {'type': 'string'},
        'name': {'type': 'string'},
        'description': {'type': 'string'},
        'enabled': {'type': 'boolean'},
        'runner_package': {'type': 'string'},
        'runner_module': {'type': 'string'},
        'query_module': {'type': 'string'},
        'runner_parameters': {'type': 'object',
                              'patternProperties': {r'^\w+$': PARAMETER},
                              'additionalProperties': False},
        'output_key': {'type': 'string'},
        'output_schema': {'type': 'object'},
    },
    'required': ['name', 'runner_module'],
    'additionalProperties': False,
}


class RunnerTypeAPI:
    def __init__(self, **kw):
        self._values = kw
        for key, value in kw.items():
            setattr(self, key, value)

    def validate(self):
        jsonschema.validate(self._values, SCHEMA)
        return self
