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

"""Workflow texts several runner tests start (test_operations.py,
test_st2_adapter.py, test_pause_resume.py); each takes its workflow's (or
workbook's) name with ``%``.

The ``items`` task runs examples.ok and examples.flaky through st2.action: a
re-run test makes examples.flaky fail, then re-runs ``items`` (``sub.items``
in a workbook).
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

# A workbook whose main workflow calls ``inner`` as the task ``sub``.
_SUB_WORKBOOK = """
version: '2.0'
name: %%s
workflows:
  main:
    tasks:
      sub:
        workflow: inner
  inner:
    tasks:
%s"""

WITH_ITEMS = """
version: '2.0'
%%s:
  tasks:
%s""" % textwrap.indent(_ITEMS_TASK, ' ' * 4)

SUB_WITH_ITEMS = _SUB_WORKBOOK % textwrap.indent(_ITEMS_TASK, ' ' * 6)

SUB_WORKFLOW = _SUB_WORKBOOK % textwrap.indent(
    'step:\n  action: examples.flaky item=inner\n', ' ' * 6)

# A task to pause or cancel in (examples.slow), then one that must not start before.
SLOW_THEN_ECHO = """
version: '2.0'
%s:
  output:
    last: <%% $.last %%>
  tasks:
    slow:
      action: examples.slow
      on-success: [after]
    after:
      action: examples.echo msg=after
      publish:
        last: <%% task().result.stdout %%>
"""

# One task, ``w``, that runs until the test completes its action (std.async_noop).
WAITING = "version: '2.0'\n%s:\n  tasks:\n    w: {action: std.async_noop}\n"
