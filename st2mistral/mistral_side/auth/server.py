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

"""``mistral.auth: st2``: Mistral's API accepts st2 tokens, one project per st2 user.

Enable in mistral.conf::

    [DEFAULT]
    auth_type = st2
    [pecan]
    auth_enable = True
    [st2]
    api_url = https://st2.example.com/api/v1
    admin_users = st2mistral     # the user of the st2 side's st2_service_token

Every API request must carry ``X-Auth-Token: <st2 token>``. The handler asks
st2 who the token belongs to (``GET {api_url}/user`` authenticated by the token
itself: st2 answers 401 for an unknown or expired token, and the user name
otherwise) and lets the request through as that user. An answer is remembered
for at most ``[st2] auth_cache_ttl`` seconds; a refusal never is, so a token st2
accepts later works at once. Mistral's AuthHook turns any exception raised here
into HTTP 401.

Isolation: each st2 user gets a Mistral project of their own (see
:func:`project_of`), so Mistral's project rules apply: a user lists and reads
only their own workflows, executions, tasks and action executions (whose env
holds the requester's st2 token). Users named in ``[st2] admin_users`` get
Mistral's ``admin`` role and see every project; nobody else does.

Identity comes from st2 only: every identity header a client may send
(``X-Roles``, ``X-Project-Id``, ``X-Target-*``...) is removed before the ones
st2 vouched for are set, as keystonemiddleware does.

An admin user may name the project a request acts in (:data:`PROJECT_HEADER`,
one of the st2 users' projects): Mistral before 22 confines even an admin
context to its own project when it completes an action execution (before 21:
``get_action_execution`` ignores ``is_admin``) or its workflow (21.0.0:
``load_workflow_execution``), so the st2 side completes another user's
``st2.action`` task in that user's project (docs/mistral-versions.rst, note
[3]). Anyone else naming it is refused.

Lineage comes from the engine only: Mistral 23 takes ``root_execution_id``
and ``task_execution_id`` from the params of ``POST /v2/executions``
(mistral/engine/workflows.py ``_create_execution``), and only the engine sets
them rightly, when it starts a sub-workflow. A request that names them is
refused (HTTP 401, Mistral's answer to any refusal here), so nobody makes an
execution pass for a sub-workflow of another user's root (whose st2 context a
sub-workflow's st2.action takes, st2mistral.mistral_side.actions.lineage).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
import time

from mistral import auth
from mistral import exceptions as exc
from oslo_config import cfg
from oslo_log import log as logging

from st2mistral.core import bounded
from st2mistral.core import contract
from st2mistral.core import opts
from st2mistral.core import st2api
from st2mistral.mistral_side import params_log

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

TOKEN_HEADER = 'X-Auth-Token'
TOKEN_ENVIRON = 'HTTP_X_AUTH_TOKEN'

# WSGI environ keys (HTTP_ + upper-cased header, '-' -> '_') a client must not
# set: what keystonemiddleware would set after checking a token, what
# oslo.context reads as identity, and Mistral's X-Target-* headers, which
# re-scope a request to another project. Matched by prefix, so every variant
# (X-User-Id, X-User-Name, X-Service-Roles, X-Target-Project-Id...) goes.
_CLIENT_IDENTITY_PREFIXES = (
    'HTTP_X_TARGET_', 'HTTP_X_SERVICE_', 'HTTP_X_USER', 'HTTP_X_PROJECT', 'HTTP_X_TENANT',
    'HTTP_X_DOMAIN', 'HTTP_X_ROLE', 'HTTP_X_IDENTITY_STATUS', 'HTTP_X_IS_ADMIN',
    'HTTP_X_STORAGE_TOKEN', 'HTTP_X_TRUST', 'HTTP_OPENSTACK_',
)

# The project an admin user's request acts in (see the module's docstring).
PROJECT_HEADER = contract.MISTRAL_PROJECT_HEADER
PROJECT_ENVIRON = 'HTTP_' + PROJECT_HEADER.upper().replace('-', '_')
# What project_of returns, and nothing else.
_OUR_PROJECT = re.compile(r'st2:[A-Za-z0-9._@+-]{1,64}|st2~[0-9a-f]{40}')
ADMIN_ROLE = 'admin'
_TOKEN_METHOD = 'authentication token'   # st2's auth_info method for a token


# The Mistral project of an st2 user (the st2 side computes it too: the relay's check).
project_of = contract.st2_user_project


# Params only Mistral's engine may set (it starts sub-workflows with them).
ENGINE_ONLY_PARAMS = ('root_execution_id', 'task_execution_id')


def named_lineage(req):
    """The engine-only params a ``POST .../executions`` request names, or []."""
    if req.method != 'POST' or not req.path.rstrip('/').endswith('/executions'):
        return []
    try:
        body = json.loads(req.body or b'{}')
        params = body.get('params') if isinstance(body, dict) else None
        if isinstance(params, str):
            params = json.loads(params)
    except ValueError:
        return []   # Mistral refuses a body it cannot read
    if not isinstance(params, dict):
        return []
    return [name for name in ENGINE_ONLY_PARAMS if params.get(name) is not None]


def strip_client_identity(environ):
    """Remove every identity header the client sent (see _CLIENT_IDENTITY_PREFIXES)."""
    for key in [k for k in environ if k.startswith(_CLIENT_IDENTITY_PREFIXES)]:
        del environ[key]


@dataclasses.dataclass(frozen=True)
class Identity:
    user: str
    project: str
    is_admin: bool

    def headers(self):
        """What keystonemiddleware would set; Mistral's context reads them."""
        return {
            'X-Identity-Status': 'Confirmed',
            'X-User-Id': self.user, 'X-User-Name': self.user,
            'X-Project-Id': self.project, 'X-Project-Name': self.project,
            'X-Roles': ADMIN_ROLE if self.is_admin else '',
        }


class TokenCache:
    """The st2 user of each token st2 accepted, until its deadline. Thread safe.

    Keys are SHA-256 digests: the process keeps no token in clear.
    """

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._entries = bounded.BoundedDict(0)   # digest -> (deadline, user)
        self._lock = threading.Lock()

    @staticmethod
    def _key(token):
        return hashlib.sha256(token.encode('utf-8')).hexdigest()

    def user_of(self, token):
        """The user st2 named for ``token`` within the TTL, or None."""
        key = self._key(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() >= entry[0]:
                del self._entries[key]
                return None
            return entry[1]

    def remember(self, token, user, ttl, max_size):
        if ttl <= 0:
            return
        key = self._key(token)
        with self._lock:
            self._entries.put(key, (self._clock() + ttl, user), maxsize=max_size)

    def clear(self):
        with self._lock:
            self._entries.clear()


class St2AuthHandler(auth.AuthHandler):
    """Loaded once per Mistral API process by stevedore (no arguments)."""

    def __init__(self, client=None, conf=CONF, clock=time.monotonic):
        params_log.warn_once()
        self._client = client
        self._conf = conf
        self._cache = TokenCache(clock)

    def authenticate(self, req):
        strip_client_identity(req.environ)
        token = req.environ.get(TOKEN_ENVIRON)
        if not token:
            raise exc.UnauthorizedException(
                'Authentication required: send an st2 token in the X-Auth-Token header.')

        group = self._conf[opts.GROUP]
        user = self._cache.user_of(token)
        if user is None:
            user = self._user_of(token, group)
            self._cache.remember(token, user, group.auth_cache_ttl, group.auth_cache_size)

        is_admin = user in group.admin_users
        identity = Identity(user=user, project=self._project(req, user, is_admin),
                            is_admin=is_admin)
        named = named_lineage(req)
        if named:
            LOG.warning('Refused an execution that st2 user %s asked to create with %s in '
                        'its params: only Mistral\'s engine sets them.', user,
                        ' and '.join(named))
            raise exc.UnauthorizedException(
                '%s may not be given when creating an execution: only Mistral\'s engine '
                'sets them, when it starts a sub-workflow. Create the execution without '
                'them.' % ' and '.join(named))
        req.headers.update(identity.headers())

    @staticmethod
    def _project(req, user, is_admin):
        """The user's own project, or the one an admin user names in PROJECT_HEADER."""
        named = req.environ.pop(PROJECT_ENVIRON, None)
        if named is None:
            return project_of(user)
        if not is_admin:
            LOG.warning('Refused a request of st2 user %s naming a project (%s): only '
                        '[st2] admin_users may.', user, PROJECT_HEADER)
            raise exc.UnauthorizedException(
                '%s may be given by [st2] admin_users only.' % PROJECT_HEADER)
        if not _OUR_PROJECT.fullmatch(named):
            raise exc.UnauthorizedException(
                '%s must name the project of an st2 user (st2:<user>).' % PROJECT_HEADER)
        return named

    def _user_of(self, token, group):
        """The st2 user of ``token``; UnauthorizedException when st2 does not vouch for it."""
        client = self._client or st2api.get_client()
        url = group.api_url.rstrip('/') + '/user'
        try:
            answer = client.send('GET', url, st2api.Credentials(token=token))
        except st2api.St2Error as e:
            raise self._unauthorized(e) from None

        user = answer.get('username') if isinstance(answer, dict) else None
        method = ((answer.get('authentication') or {}).get('method')
                  if isinstance(answer, dict) else None)
        if not (isinstance(user, str) and user) or method != _TOKEN_METHOD:
            # st2 with authentication off answers without a user, or a proxy
            # answered instead of st2: nobody can be told apart, so nobody gets in.
            LOG.error('st2 answered GET %s without the user of the token: is st2\'s '
                      'authentication enabled ([auth] enable in st2.conf) and [st2] api_url '
                      'the st2 API? Requests to Mistral are refused meanwhile.', url)
            raise exc.UnauthorizedException(
                'The st2 token cannot be checked: st2 did not say whose token it is.')
        return user

    @staticmethod
    def _unauthorized(error):
        # st2's own text stays in Mistral's log; the client gets a fixed message.
        if error.status_code == 401:
            LOG.info('st2 refused the token of a request: %s', error)
            return exc.UnauthorizedException('The st2 token is invalid or has expired.')
        LOG.warning('The st2 token of a request cannot be checked now: %s', error)
        return exc.UnauthorizedException(
            'The st2 token cannot be checked now: the st2 API did not answer '
            '(HTTP %s).' % (error.status_code or 'none'))
