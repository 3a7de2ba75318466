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

"""Workflow texts the re-run tests share (test_operations.py, test_st2_adapter.py).

Each takes the workflow's (or workbook's) name with ``%``. Their ``items`` task
runs examples.ok and examples.flaky through st2.action: a test makes
examples.flaky fail, then re-runs ``items`` (``sub.items`` in the workbook).
"""

import textwrap

_ITEMS_TASK = """\
items:
  with-items: ref in <%% ['examples.ok', 'examples.flaky'] %%>
  action: st2.action
  input:
    ref: <%% $.ref %%>
    parameters: {item: x}
"""

WITH_ITEMS = """
version: '2.0'
%%s:
  tasks:
%s""" % textwrap.indent(_ITEMS_TASK, ' ' * 4)

# Its main workflow calls ``inner`` as the task ``sub``.
SUB_WITH_ITEMS = """
version: '2.0'
name: %%s
workflows:
  main:
    tasks:
      sub:
        workflow: inner
  inner:
    tasks:
%s""" % textwrap.indent(_ITEMS_TASK, ' ' * 6)
