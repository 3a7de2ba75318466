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

"""No st2 token in the ``state_info`` Mistral 18-22 store for a failed expression.

When a YAQL or Jinja expression fails (one of our functions or Mistral's own),
Mistral before 23 builds the error as "Can not evaluate ... expression
[expression=..., error=..., data=<the task's data context>]"
(mistral/expressions/yaql_expression.py and jinja_expression.py,
``evaluate``). The data context holds the workflow env, where st2's runner puts
the st2 token (``__actions.st2.action.st2_context.auth_token``); under
``[pecan] auth_enable`` also ``openstack.auth_token``, the request's token.
task_handler.py puts that error, and the traceback that repeats it, into the
task's and the workflow's ``state_info``. The evaluators catch every Exception
and always append the data, so a function cannot fail without it.

Mistral itself trims every execution's ``state_info`` on assignment with an
SQLAlchemy attribute ``set`` listener (mistral/db/v2/sqlalchemy/models.py,
``utils.cut(v, 65500)``). :func:`guard` adds one more listener of that public
SQLAlchemy kind on the same attributes: every ``'auth_token': '<value>'`` item
becomes ``'auth_token': '***'`` before the value reaches the session, so
neither the database nor the API nor a parent workflow ever holds it. Mistral
23 appends no data; there nothing is registered.
"""

from __future__ import annotations

import logging
import re
import threading

from st2mistral.mistral_side import params_log

LOG = logging.getLogger(__name__)

_lock = threading.Lock()
_guarded = []
# An item Mistral's own listener (it runs first) cut inside the token's value.
_CUT_ITEM = re.compile(r"""(['"]auth_token['"]\s*:\s*['"])[^'"]*$""")


def redact(value):
    """``value`` with every ``auth_token`` item's value replaced by ``***``
    (a string; anything else unchanged)."""
    if isinstance(value, str) and 'auth_token' in value:
        return _CUT_ITEM.sub(r'\1***', params_log.redact(value))
    return value


def _on_set(target, value, oldvalue, initiator):
    return redact(value)


def guard(major=None):
    """Register the redacting listener once per process on Mistral < 23.

    Returns True when it is (now or before) registered. Needs only Mistral's
    models module, which imports neither the expression functions nor the
    engine, so our functions' import (the first thing of ours a Mistral
    process loads) can call it.
    """
    if _guarded:
        return True
    major = params_log.mistral_major() if major is None else major
    if major is None or major >= params_log.FIRST_QUIET_RELEASE:
        return False
    with _lock:
        if _guarded:
            return True
        from mistral.db.v2.sqlalchemy import models
        from sqlalchemy import event

        for cls in (models.WorkflowExecution, models.TaskExecution, models.ActionExecution):
            event.listen(cls.state_info, 'set', _on_set, retval=True)
        _guarded.append(True)
    return True
