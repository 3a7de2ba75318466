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

"""Whether an st2 child may complete the Mistral action execution its callback names.

st2 lets any user start an execution with a ``callback`` and a context of their
choosing (st2api/st2api/controllers/v1/actionexecutions.py
``_handle_schedule_execution`` @ v3.9.0), and the relay completes the Mistral
action execution the callback names with its own service token. So under
``auth_type = st2`` (one Mistral project per st2 user) a child's result goes to
an action execution only when the action execution is in the Mistral project of
the st2 user st2 recorded for the child: ``context.rbac.user`` when st2 wrote it
(RBAC on: st2 sets it after merging the client's st2-context header, and refuses
a ``user`` other than the requester's to non-admins), else ``context.user``.
The user of mistral.conf's ``[st2] api_key`` (``[mistral] st2_key_users``)
completes any user's task: ``st2.action`` uses the key only once st2 vouched
for the workflow (mistral_side/binding.py).
docs/security.rst, "Children's results", says what this does not cover (st2
without RBAC vouches for no user; Mistral without st2 authentication has no
per-user projects).

Cost: one Mistral read per child (two on Mistral before 21, which finds another
project's action execution for nobody, admin or not: docs/mistral-versions.rst
note [3]); each verdict is remembered per child and action execution.
"""

import logging
import threading

from st2mistral.core import bounded
from st2mistral.core import contract
from st2mistral.st2_side import clients
from st2mistral.st2_side import config

LOG = logging.getLogger(__name__)

# Verdicts remembered (a refused child comes back with every reconciliation pass).
MAX_REMEMBERED = 4096
_NOT_FOUND = 'not found'


def st2_user(execution):
    """The st2 user st2 recorded for an execution: ``context.rbac.user``, else
    ``context.user``; None without one."""
    context = execution.get('context') if isinstance(execution, dict) else None
    if not isinstance(context, dict):
        return None
    rbac = context.get('rbac')
    user = rbac.get('user') if isinstance(rbac, dict) else None
    if not (isinstance(user, str) and user):
        user = context.get('user')
    return user if isinstance(user, str) and user else None


def is_checked(conf):
    """The check applies where Mistral keeps one project per st2 user: the relay
    authenticates to Mistral with st2 tokens (``[mistral] use_st2_token``)."""
    group = conf[config.MISTRAL]
    return bool(group.use_st2_token and not group.keystone_auth_url)


class ChildBinding:
    """``refusal(execution, action_execution_id)``: None when the child may complete
    the action execution, else why not (logged once, as a WARNING)."""

    def __init__(self, mistral_client, conf, sleep=None):
        self._client = mistral_client
        self._conf = conf
        self._sleep = sleep
        self._verdicts = bounded.BoundedDict(MAX_REMEMBERED)
        self._lock = threading.Lock()

    def refusal(self, execution, action_execution_id):
        if not is_checked(self._conf):
            return None
        key = (execution.get('id'), action_execution_id)
        with self._lock:
            if key in self._verdicts:
                return self._verdicts[key]
        verdict = self._judge(execution, action_execution_id)
        if verdict is not None:
            LOG.warning('[%s] Not completing Mistral action execution %s with this st2 '
                        'execution\'s result: %s (an st2 execution whose callback names '
                        'another user\'s task; docs/security.rst, "Children\'s results").',
                        execution.get('id') or '-', action_execution_id, verdict)
        with self._lock:
            self._verdicts.put(key, verdict)
        return verdict

    def _judge(self, execution, action_execution_id):
        user = st2_user(execution)
        if user is None:
            return 'st2 recorded no user for it'
        if user in self._conf[config.MISTRAL].st2_key_users:
            return None    # the site's API key: st2.action used it only for a vouched workflow
        project = contract.st2_user_project(user)
        action = self._read(action_execution_id, project)
        owner = getattr(action, 'project_id', None) if action is not None else None
        if owner == project:
            return None
        where = ('it is in Mistral project %s' % owner if owner
                 else 'Mistral has no such action execution in that project')
        return 'it was started as st2 user %r, whose Mistral project is %s, but %s' % (
            user, project, where)

    def _read(self, action_execution_id, project):
        """The action execution as the service user reads it; on Mistral before 21
        (which finds none outside the request's project) in the child user's project."""
        get = self._client.action_executions.get
        try:
            return self._call(get, action_execution_id)
        except Exception as e:
            if _NOT_FOUND not in str(e):
                raise
        try:
            return self._call(get, action_execution_id, project=project)
        except Exception as e:
            if _NOT_FOUND not in str(e):
                raise
        return None

    def _call(self, fn, *args, **kwargs):
        return clients.call_mistral(self._conf, self._sleep, fn, *args, **kwargs)
