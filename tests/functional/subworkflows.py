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

"""What the tests of st2.action in sub-workflows share: the functional ones
(test_st2_action_subworkflows.py) and the trust ones
(tests/security/test_trust_subworkflow_context.py)."""

import json

from tests.functional.conftest import POST_EXECUTION

# main's task ``call`` runs the workflow ``sub``, whose task ``act`` runs the st2
# action %(ref)s with cmd ``echo %(name)s``.
SUB_ACTION_WORKBOOK = """
version: '2.0'
name: %(name)s
workflows:
  main:
    tasks:
      call:
        workflow: sub
  sub:
    tasks:
      act:
        action: st2.action
        input:
          ref: %(ref)s
          parameters:
            cmd: echo %(name)s
"""


def posts_for(st2, fragment):
    """The st2 children st2.action POSTed with ``fragment`` in their parameters."""
    return [r for r in st2.requests_for(*POST_EXECUTION)
            if fragment in json.dumps((r.body or {}).get('parameters'))]


def executions_under(client, root_id):
    """The sub-workflow executions Mistral records under the root ``root_id``."""
    return [e for e in client.executions.list() if e.root_execution_id == root_id]
