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

"""The names both sides agree on, in one place. Pure.

What st2 puts into a Mistral workflow execution (the env the mistral-v2 runner
builds: docs/contracts.rst, section 7), what a Mistral workflow puts into the st2
executions it starts (``context.mistral`` and the callback), and the st2 execution
URL. The runner writes these; the publisher, st2.action, st2kv, the relay and the
results tracking read them through the accessors below, never as bare strings.
"""

import hashlib
import re

# The callback source st2 3.2's mistral_v2 runner used: st2 looks the callback
# module up by it, and child_results returns only such children to Mistral.
CALLBACK_SOURCE = 'mistral_v2'

# The st2.action input the runner sets (st2_side/definitions.py) on a task whose st2
# action is an inquiry (the inquirer runner): st2.action then starts it without st2's
# ``parent``. st2 3.3+ fails an inquiry whose root workflow is mistral-v2: its inquirer
# asks to pause the root (contrib/runners/inquirer_runner/inquirer_runner/
# inquirer_runner.py post_run @ v3.9.0) and st2 refuses to pause mistral-v2
# (st2common/st2common/services/action.py request_pause, WORKFLOW_RUNNER_TYPES @ v3.9.0).
ST2_ACTION_INQUIRY = 'inquiry'
INQUIRER_RUNNER = 'inquirer'

# The env of a workflow execution started by the mistral-v2 runner.
ENV_EXECUTION_ID = 'st2_execution_id'
ENV_LIVEACTION_ID = 'st2_liveaction_id'
ENV_API_URL = 'st2_action_api_url'
ENV_ACTIONS = '__actions'
ST2_ACTION = 'st2.action'
ST2_CONTEXT = 'st2_context'

# Under auth_type = st2, the header in which an [st2] admin_users token names the st2
# user's Mistral project a request acts in (mistral_side/auth/server.py), and the
# prefixes of those projects. Mistral before 22 completes another project's action
# execution (before 21) or its workflow (21.0.0) for nobody, admin or not
# (docs/mistral-versions.rst, note [3]).
MISTRAL_PROJECT_HEADER = 'X-St2mistral-Project'
ST2_USER_PROJECT_PREFIXES = ('st2:', 'st2~')
# A user name that can be a project id as it is (readable in Mistral's lists).
_PLAIN_USER_NAME = re.compile(r'[A-Za-z0-9._@+-]{1,64}')

# The notify entry that sends a workflow's events to st2 (mistral.conf or per execution).
ST2_NOTIFY_ENTRY = {'type': 'st2'}


# st2 execution statuses (st2common/st2common/constants/action.py @ v3.9.0, the same
# at v3.2.0).
# LIVEACTION_COMPLETED_STATES: nothing follows these.
ST2_COMPLETED = frozenset({'succeeded', 'failed', 'timeout', 'abandoned', 'canceled'})
# LIVEACTION_CANCELABLE_STATES without canceling itself: a cancel still has work to do.
ST2_CANCELABLE = frozenset({'requested', 'scheduled', 'delayed', 'running', 'pausing', 'paused',
                            'resuming'})
# A mistral-v2 execution in these has a Mistral workflow that is not over yet.
ST2_ACTIVE = ('running', 'pausing', 'paused', 'canceling', 'resuming')
# The child statuses returned to Mistral (st2 3.2's MISTRAL_ACCEPTED_STATES).
CALLBACK_STATUSES = ST2_COMPLETED | {'paused'}


def st2_user_project(user):
    """The Mistral project of st2 user ``user`` under ``auth_type = st2``: one per user,
    never shared (mistral_side/auth/server.py puts each request there; the relay checks
    a child's user against it).

    ``st2:<name>`` for plain names; any other name (long, spaces, ':'...) maps
    to ``st2~<sha256>``, so two different names never share a project.
    """
    plain, hashed = ST2_USER_PROJECT_PREFIXES
    if _PLAIN_USER_NAME.fullmatch(user):
        return plain + user
    return hashed + hashlib.sha256(user.encode('utf-8')).hexdigest()[:40]


def build_env(execution_id, api_url, auth_token=None, liveaction_id=None, parent=None,
              notify=None, skip_notify_tasks=(), extra=None):
    """Env for ``executions.create(..., env=build_env(...))``."""
    api_url = api_url.rstrip('/')
    env = dict(extra or {})
    env.update({
        ENV_EXECUTION_ID: execution_id,
        ENV_LIVEACTION_ID: liveaction_id or execution_id,
        ENV_API_URL: api_url,
        ENV_ACTIONS: {
            ST2_ACTION: {
                ST2_CONTEXT: {
                    'api_url': api_url,
                    'endpoint': api_url + '/actionexecutions',
                    'parent': parent or {},
                    'notify': notify or {},
                    'skip_notify_tasks': list(skip_notify_tasks),
                    'auth_token': auth_token,
                },
            },
        },
    })
    return env


def env_st2_context(env):
    """The ``st2_context`` st2 put into a workflow env, or {}."""
    try:
        ctx = env[ENV_ACTIONS][ST2_ACTION][ST2_CONTEXT]
    except (KeyError, TypeError):
        return {}
    return ctx if isinstance(ctx, dict) else {}


def env_execution_id(env):
    """The st2 execution id in a workflow env, or None."""
    return env.get(ENV_EXECUTION_ID) if isinstance(env, dict) else None


def mistral_context(context):
    """``context.mistral`` of an st2 execution (a child of a Mistral task), or {}."""
    mistral = context.get('mistral') if isinstance(context, dict) else None
    return mistral if isinstance(mistral, dict) else {}


def mistral_execution_id(context):
    """``context.mistral.execution_id``: the Mistral workflow an st2 execution runs, or None."""
    return mistral_context(context).get('execution_id')


def execution_url(api_url, execution_id):
    """st2's ``/executions/<id>`` under an API URL."""
    return '%s/executions/%s' % (api_url.rstrip('/'), execution_id)
