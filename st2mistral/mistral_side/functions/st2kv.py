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

"""st2kv: read a key from the st2 datastore inside a Mistral expression.

    <% st2kv('my_key') %>                  user scope (the workflow's st2 user)
    <% st2kv('system.my_key', true) %>     system scope, decrypted
    {{ st2kv('my_key') }}  or  {{ 'my_key' | st2kv }}

The st2 API URL and auth token come from the workflow's env, where the st2
mistral-v2 runner puts them: ``__env.__actions['st2.action'].st2_context``
(``api_url``, ``auth_token``). With no URL there, the [st2] api_url option is
used. User scope means the token's user: st2 resolves it from the token (a
``user=`` parameter would need an admin token under st2 RBAC, so none is sent).
"""

from urllib import parse

from oslo_config import cfg
from oslo_log import log as logging

from st2mistral.core import opts  # noqa: F401  (registers the [st2] options)
from st2mistral.core import st2api
from st2mistral.mistral_side import targets
from st2mistral.mistral_side.functions._common import FunctionError
from st2mistral.mistral_side.functions._common import expression_function
from st2mistral.mistral_side.functions._common import require_bool
from st2mistral.mistral_side.functions._common import require_str

LOG = logging.getLogger(__name__)

SYSTEM_PREFIX = 'system.'


@expression_function
def st2kv(context, key, decrypt=False):
    require_str('st2kv', 'key', key)
    require_bool('st2kv', 'decrypt', decrypt)
    scope, name = parse_key(key)

    st2_ctx = st2_context(context)
    api_url = (st2_ctx.get('api_url') or cfg.CONF.st2.api_url).rstrip('/')
    token = st2_ctx.get('auth_token')
    url = key_url(api_url, name)

    params = {'scope': scope, 'decrypt': 'true' if decrypt else 'false'}
    LOG.debug('st2kv: GET %s [scope=%s, decrypt=%s]', url, scope, decrypt)
    try:
        answer = st2api.get_client().send('GET', url, st2api.Credentials(token=token),
                                          params=params)
    except st2api.DestinationNotAllowed as e:
        raise FunctionError('st2kv: %s' % e) from None
    except st2api.St2Error as e:
        raise FunctionError(describe_failure(e, url, name, scope, has_token=bool(token))) \
            from None
    if not isinstance(answer, dict) or 'value' not in answer:
        raise FunctionError('st2kv: the st2 API at %s answered with an unexpected body' % url)
    return answer['value']


def parse_key(key):
    """'system.x' -> ('system', 'x'); anything else -> ('user', key)."""
    if key.startswith(SYSTEM_PREFIX):
        scope, name = 'system', key[len(SYSTEM_PREFIX):]
    else:
        scope, name = 'user', key
    if not name:
        raise FunctionError('st2kv: key name is empty')
    return scope, name


def st2_context(context):
    """The st2_context dict the st2 runner put in the workflow env, or {}."""
    try:
        env = context['__env']
    except (KeyError, TypeError):
        return {}
    return targets.st2_context(env)


def key_url(api_url, name):
    return '%s/keys/%s' % (api_url, parse.quote(name, safe=''))


def describe_failure(error, url, name, scope, has_token):
    """A readable FunctionError text for a failed key read; never the token."""
    status = error.status_code
    if status is None or isinstance(error, st2api.UnexpectedAnswer):
        return 'st2kv: cannot read the st2 API at %s: %s' % (url, error)
    if status == 404:
        return "st2kv: key '%s' not found in st2 %s scope" % (name, scope)
    if status == 401:
        reason = ('the auth token is invalid or expired' if has_token
                  else 'the workflow env holds no st2 auth token')
        return 'st2kv: the st2 API at %s refused the request (HTTP 401): %s' % (url, reason)
    return "st2kv: the st2 API at %s answered HTTP %d for key '%s' in %s scope%s" % (
        url, status, name, scope, ': ' + error.fault if error.fault else '')
