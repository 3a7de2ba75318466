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

"""``mistral.auth: st2``: Mistral's API accepts st2 tokens.

Enable in mistral.conf::

    [DEFAULT]
    auth_type = st2
    [pecan]
    auth_enable = True
    [st2]
    auth_url = https://st2.example.com/auth/v1
    api_key = <an st2 API key>

Every API request must carry ``X-Auth-Token: <st2 token>``. The handler asks
st2 (``POST {auth_url}/tokens/validate`` with ``{"token": ...}``, sent with
the configured API key, or with the token itself when no key is configured)
and lets the request through when st2 answers ``{"valid": true}``. A valid
answer is remembered for at most ``[st2] auth_cache_ttl`` seconds; an invalid
one never is, so a token st2 accepts later works at once. Mistral's AuthHook
turns any exception raised here into HTTP 401.

st2 tokens carry no OpenStack identity, so the handler removes identity
headers a client may have sent itself (``X-Roles: admin``...): Mistral must
not take them for verified facts, as keystonemiddleware does not either.
"""

import collections
import hashlib
import threading
import time

from mistral import auth
from mistral import exceptions as exc
from oslo_config import cfg
from oslo_log import log as logging

from st2mistral import opts
from st2mistral import st2api

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

TOKEN_HEADER = 'X-Auth-Token'

# Headers keystonemiddleware would have set after checking a token. A client
# must not be able to claim them.
IDENTITY_HEADERS = (
    'X-Identity-Status', 'X-Service-Identity-Status', 'X-Roles', 'X-Service-Roles',
    'X-Project-Id', 'X-Project-Name', 'X-Project-Domain-Id', 'X-Project-Domain-Name',
    'X-User-Id', 'X-User-Name', 'X-User-Domain-Id', 'X-User-Domain-Name',
    'X-Domain-Id', 'X-Domain-Name', 'X-Is-Admin-Project', 'X-Service-Catalog',
    'X-Tenant-Id', 'X-Tenant-Name', 'X-Tenant', 'X-User', 'X-Role',
)


class TokenCache:
    """Tokens st2 said were valid, each until its deadline. Thread safe.

    Keys are SHA-256 digests: the process keeps no token in clear.
    """

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._valid_until = collections.OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(token):
        return hashlib.sha256(token.encode('utf-8')).hexdigest()

    def is_valid(self, token):
        key = self._key(token)
        with self._lock:
            until = self._valid_until.get(key)
            if until is None:
                return False
            if self._clock() >= until:
                del self._valid_until[key]
                return False
            return True

    def remember(self, token, ttl, max_size):
        if ttl <= 0:
            return
        key = self._key(token)
        with self._lock:
            self._valid_until.pop(key, None)
            self._valid_until[key] = self._clock() + ttl
            while len(self._valid_until) > max_size:
                self._valid_until.popitem(last=False)  # the oldest entry

    def clear(self):
        with self._lock:
            self._valid_until.clear()


class St2AuthHandler(auth.AuthHandler):
    """Loaded once per Mistral API process by stevedore (no arguments)."""

    def __init__(self, client=None, conf=CONF, clock=time.monotonic):
        self._client = client
        self._conf = conf
        self._cache = TokenCache(clock)

    def authenticate(self, req):
        token = req.headers.get(TOKEN_HEADER)
        if not token:
            raise exc.UnauthorizedException(
                'Authentication required: send an st2 token in the X-Auth-Token header.')

        group = self._conf[opts.GROUP]
        if not self._cache.is_valid(token):
            self._validate(token, group)
            self._cache.remember(token, group.auth_cache_ttl, group.auth_cache_size)

        for name in IDENTITY_HEADERS:
            req.headers.pop(name, None)
        req.headers['X-Identity-Status'] = 'Confirmed'

    def _validate(self, token, group):
        """Return when st2 says the token is valid; raise UnauthorizedException otherwise."""
        client = self._client or st2api.get_client()
        url = group.auth_url.rstrip('/') + '/tokens/validate'
        if group.api_key:
            credentials = st2api.Credentials(api_key=group.api_key)
        else:
            credentials = st2api.Credentials(token=token)
        try:
            answer = client.send('POST', url, credentials, json_body={'token': token})
        except st2api.St2Error as e:
            raise self._unauthorized(e, bool(group.api_key)) from None

        if not (isinstance(answer, dict) and answer.get('valid') is True):
            LOG.info('st2 says the token of a request is not valid (or has expired).')
            raise exc.UnauthorizedException('The st2 token is invalid or has expired.')

    @staticmethod
    def _unauthorized(error, used_api_key):
        # st2's own text stays in Mistral's log; the client gets a fixed message.
        if error.status_code in (401, 403) and used_api_key:
            LOG.error('st2 refused the [st2] api_key of Mistral while validating a token: %s. '
                      'Check [st2] api_key in mistral.conf.', error)
            return exc.UnauthorizedException(
                'The st2 token cannot be checked: st2 refused the API key of Mistral.')
        if error.status_code == 401:
            LOG.info('st2 refused the token of a request: %s', error)
            return exc.UnauthorizedException('The st2 token is invalid or has expired.')
        LOG.warning('The st2 token of a request cannot be checked now: %s', error)
        return exc.UnauthorizedException(
            'The st2 token cannot be checked now: the st2 auth service did not answer '
            '(HTTP %s).' % (error.status_code or 'none'))
