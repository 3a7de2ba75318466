"""st2kv: read a key from the st2 datastore inside a Mistral expression.

    <% st2kv('my_key') %>                  user scope (the workflow's st2 user)
    <% st2kv('system.my_key', true) %>     system scope, decrypted
    {{ st2kv('my_key') }}  or  {{ 'my_key' | st2kv }}

The st2 API URL and auth token come from the workflow's env, where the st2
mistral-v2 runner puts them: ``__env.__actions['st2.action'].st2_context``
(``api_url``, ``auth_token``, ``parent.user``). With no URL there, the [st2]
api_url option is used.
"""

from urllib import parse

from oslo_config import cfg
from oslo_log import log as logging
import requests

from st2mistral import opts  # noqa: F401  (registers the [st2] options)
from st2mistral.functions._common import FunctionError
from st2mistral.functions._common import expression_function
from st2mistral.functions._common import require_bool
from st2mistral.functions._common import require_str

LOG = logging.getLogger(__name__)

SYSTEM_PREFIX = 'system.'
TIMEOUT = (5, 30)  # (connect, read) seconds


@expression_function
def st2kv(context, key, decrypt=False):
    require_str('st2kv', 'key', key)
    require_bool('st2kv', 'decrypt', decrypt)
    scope, name = parse_key(key)

    st2_ctx = st2_context(context)
    api_url = (st2_ctx.get('api_url') or cfg.CONF.st2.api_url).rstrip('/')
    token = st2_ctx.get('auth_token')
    user = _parent_user(st2_ctx) if scope == 'user' else None
    url = key_url(api_url, name)

    LOG.debug('st2kv: GET %s [scope=%s, decrypt=%s]', url, scope, decrypt)
    try:
        resp = _fetch_key(api_url, token, name, scope, decrypt, user=user)
    except requests.Timeout:
        raise FunctionError('st2kv: the st2 API at %s did not answer in time' % url) from None
    except requests.RequestException as e:
        raise FunctionError('st2kv: cannot reach the st2 API at %s (%s)'
                            % (url, type(e).__name__)) from None
    return value_from_response(resp, url, name, scope, has_token=bool(token))


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
        env = None
    try:
        st2_ctx = env['__actions']['st2.action']['st2_context']
    except (KeyError, TypeError):
        return {}
    return st2_ctx if isinstance(st2_ctx, dict) else {}


def key_url(api_url, name):
    return '%s/keys/%s' % (api_url, parse.quote(name, safe=''))


def value_from_response(resp, url, name, scope, has_token):
    """The key's value from st2's answer, or a readable FunctionError."""
    status = resp.status_code
    if status == 200:
        try:
            return resp.json().get('value')
        except (ValueError, AttributeError):
            raise FunctionError('st2kv: the st2 API at %s answered with an unexpected body'
                                % url) from None
    if status == 404:
        raise FunctionError("st2kv: key '%s' not found in st2 %s scope" % (name, scope))
    if status == 401:
        reason = ('the auth token is invalid or expired' if has_token
                  else "the workflow env holds no st2 auth token")
        raise FunctionError('st2kv: the st2 API at %s refused the request (HTTP 401): %s'
                            % (url, reason))
    detail = _fault(resp)
    raise FunctionError("st2kv: the st2 API at %s answered HTTP %d for key '%s' in %s scope%s"
                        % (url, status, name, scope, ': ' + detail if detail else ''))


def _fetch_key(api_url, token, name, scope, decrypt, user=None):
    """GET one key from st2. The only HTTP in this module (to be replaced by
    st2mistral.st2api). Returns the requests.Response; raises
    requests.RequestException when st2 cannot be reached."""
    params = {'scope': scope, 'decrypt': 'true' if decrypt else 'false'}
    if user:
        params['user'] = user
    headers = {'X-Auth-Token': token} if token else {}
    return requests.get(key_url(api_url, name), params=params, headers=headers,
                        timeout=TIMEOUT, verify=True)


def _parent_user(st2_ctx):
    # st2 v3.2 puts the liveaction context (with 'user') under 'parent'; older
    # runners put a bare liveaction id there.
    parent = st2_ctx.get('parent')
    return parent.get('user') if isinstance(parent, dict) else None


def _fault(resp):
    # st2 errors are {"faultstring": "..."}; keep it short, it ends up in state_info.
    try:
        fault = resp.json().get('faultstring')
    except (ValueError, AttributeError):
        fault = None
    return str(fault)[:200] if fault else ''
