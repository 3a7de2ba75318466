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

"""The env st2 puts into a Mistral workflow execution. Pure.

The mistral-v2 runner builds it (docs/contracts.rst, section 7); the notifier
(targets.py), st2.action and st2kv read it. One builder keeps both sides in
agreement.
"""


def build_env(execution_id, api_url, auth_token=None, liveaction_id=None, parent=None,
              notify=None, skip_notify_tasks=(), extra=None):
    """Env for ``executions.create(..., env=build_env(...))``."""
    api_url = api_url.rstrip('/')
    env = dict(extra or {})
    env.update({
        'st2_execution_id': execution_id,
        'st2_liveaction_id': liveaction_id or execution_id,
        'st2_action_api_url': api_url,
        '__actions': {
            'st2.action': {
                'st2_context': {
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


ST2_NOTIFY_ENTRY = {'type': 'st2'}
