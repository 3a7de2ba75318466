"""The env st2 puts into a Mistral workflow execution. Pure.

The mistral-v2 runner builds it (CONTRACTS.md section 5); the notifier
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
