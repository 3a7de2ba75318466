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

"""The HTTP client for st2's API requests. (st2's event stream, one long-lived
read, is st2_side/stream.py: its own session, with TLS verified, no redirect
followed and text redacted by this module's ``redact``.)

One pooled keep-alive session per process, explicit timeouts, TLS verified
unless ``[st2] insecure`` says otherwise, an ``X-Request-ID`` on every
request, and destinations limited to the configured st2 URLs.

Secrets: tokens and API keys travel only in headers. No log line, exception
text or ``repr`` here contains a header value or a request body, and text that
came from the network (st2's ``faultstring``, a ``Location``) passes through
:func:`redact` first: a proxy that echoes the request would quote the token.

Destinations: a URL is sent to only if it lies under a configured st2 URL
after normalisation (see :func:`check_destination`). No redirect is ever
followed: requests would resend the token or API key to wherever it points.
Only a JSON answer is st2's answer; an empty one, a proxy's page or a redirect
is an error (:class:`UnexpectedAnswer`), never a success.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import urllib.parse
import uuid

from oslo_config import cfg
import requests
from requests import adapters
import urllib3

from st2mistral.core import opts
from st2mistral.core import retry
from st2mistral.core import singleton
from st2mistral.core import st2update

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

TOKEN_HEADER = 'X-Auth-Token'
API_KEY_HEADER = 'St2-Api-Key'
REQUEST_ID_HEADER = 'X-Request-ID'


@dataclasses.dataclass(frozen=True)
class Credentials:
    """What authenticates a request: a user token, an API key, or both."""

    token: str | None = dataclasses.field(default=None, repr=False)
    api_key: str | None = dataclasses.field(default=None, repr=False)

    def headers(self, prefer_api_key=False):
        if self.api_key and (prefer_api_key or not self.token):
            return {API_KEY_HEADER: self.api_key}
        if self.token:
            return {TOKEN_HEADER: self.token}
        return {}


class St2Error(Exception):
    """A request to st2 did not succeed.

    ``status_code`` is None when st2 never answered (connection refused,
    timeout). ``retryable`` says whether trying again later can help.
    """

    def __init__(self, message, status_code=None, retryable=False, request_id=None,
                 never_sent=False, fault=None):
        super().__init__(message)
        self.status_code = status_code
        self.fault = fault            # st2's own error text (faultstring), if it answered
        self.retryable = retryable
        self.request_id = request_id
        # True only when the request provably never reached st2 (no connection
        # was made), so sending it again cannot make st2 act twice.
        self.never_sent = never_sent


class DestinationNotAllowed(St2Error):
    """The URL is not under any configured st2 base URL."""


class UnexpectedAnswer(St2Error):
    """st2's address answered, but not with st2's JSON: a redirect, nothing, a page."""


REDACTED = '***'


def redact(text, secrets):
    """``text`` (from the network) with every secret value replaced by ``***``."""
    if not text:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def redact_tree(value, secrets):
    """``value`` (JSON-like) with every secret inside its strings replaced by ``***``.

    Mistral before 23 writes a task's whole data context, the workflow env with
    the st2 token included, into ``state_info`` when an expression fails: a
    result built from it must not carry the token to st2.
    """
    secrets = [secret for secret in secrets if secret]
    if not secrets:
        return value

    def walk(item):
        if isinstance(item, str):
            return redact(item, secrets) if any(s in item for s in secrets) else item
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [walk(v) for v in item]
        return item
    return walk(value)


_DEFAULT_PORTS = {'http': 80, 'https': 443}
# Double-encoded separators and dots: a server that decodes twice would see them.
_ENCODED_SEPARATORS = ('%2f', '%5c', '%2e')


def _canonical(url):
    """``(origin, path segments)`` of an http(s) URL, or a reason it cannot be checked.

    The path is percent-decoded once (``%2e%2e`` is ``..`` to most servers);
    dot segments, encoded slashes, backslashes, fragments and user names make
    the URL uncheckable: what the server does with them varies.
    """
    if '#' in url or '\\' in url:
        return None, 'it has a "#" or a backslash'
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or '@' in parts.netloc:
        return None, 'it is not a plain http(s) URL'
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        return None, 'its port is invalid'
    path = urllib.parse.unquote(parts.path)
    if '\\' in path or any(e in path.lower() for e in _ENCODED_SEPARATORS):
        return None, 'its path has an encoded "/" or "\\"'
    segments = [seg for seg in path.split('/') if seg]
    if any(seg in ('.', '..') for seg in segments):
        return None, 'its path has "." or ".." segments'
    return ((scheme, parts.hostname.lower(), port), segments), None


def _is_set(conf, name):
    """Whether ``[st2] name`` was given a value (config file, override, CLI)."""
    if not hasattr(conf, 'get_location'):
        # oslo.config before 5.3 (st2 up to 3.8 pins 1.12) cannot say where a value
        # came from: a value equal to the option's default counts as not set (fails closed).
        default = {opt.dest: opt.default for opt in opts.api_opts}[name]
        return conf[opts.GROUP][name] != default
    try:
        location = conf.get_location(name, opts.GROUP).location
    except (AttributeError, cfg.Error):
        return True
    return location not in (cfg.Locations.opt_default, cfg.Locations.set_default)


def allowed_base_urls(conf=CONF):
    """The st2 base URLs requests may go to.

    ``api_url`` and ``auth_url`` count only when set: a default (127.0.0.1:9100
    ...) is an address any local user may listen on, not a trusted st2.
    """
    group = conf[opts.GROUP]
    urls = [getattr(group, name) for name in ('api_url', 'auth_url') if _is_set(conf, name)]
    return [u for u in urls + list(group.allowed_api_urls) if u]


def check_destination(url, conf=CONF):
    """Refuse any URL outside the configured st2 API/auth URLs (normalised first)."""
    target, reason = _canonical(url)
    if target is not None:
        for base in allowed_base_urls(conf):
            allowed, _ = _canonical(base)
            if (allowed is not None and allowed[0] == target[0]
                    and target[1][:len(allowed[1])] == allowed[1]):
                return
        reason = 'it is not under [st2] api_url, auth_url or allowed_api_urls (a URL left ' \
                 'at its default allows nothing)'
    raise DestinationNotAllowed(
        'Refusing to send to %s: %s. Add its base URL to [st2] allowed_api_urls (or set '
        '[st2] api_url) in mistral.conf if this st2 is trusted.' % (url, reason))


def _fault_text(response, secrets):
    """st2's own error text (``faultstring``), short, secrets redacted."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return ''   # e.g. a proxy's HTML error page: nothing useful to quote
    if isinstance(body, dict) and 'faultstring' in body:
        return redact(str(body['faultstring']), secrets)[:500]
    return redact(str(body), secrets)[:200]


def _describe(answer):
    return {dict: 'a JSON object', list: 'a JSON array'}.get(type(answer), 'a JSON scalar')


def _never_connected(error):
    """Whether a requests ConnectionError happened before any byte was sent."""
    reason = getattr(error.args[0], 'reason', None) if error.args else None
    # urllib3 2: NewConnectionError (refused, unresolvable) is a ConnectTimeoutError.
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)


def _is_expired_token_answer(response):
    return response.status_code == 401


class St2Client:
    """Sends requests to st2. Thread safe; share one per process."""

    def __init__(self, conf=CONF, session=None, sleep=None):
        self._conf = conf
        self._session = session or self._new_session()
        # requests would re-read proxy and CA variables from os.environ on every
        # request (a quarter of a request's CPU); read them once instead.
        self._session.trust_env = False
        self._env_ca_bundle = (os.environ.get('REQUESTS_CA_BUNDLE')
                               or os.environ.get('CURL_CA_BUNDLE'))
        self._proxies = {}                      # (scheme, host:port) -> proxies
        # Tests inject a no-op sleep so retries cost no wall time.
        self._sleep = sleep or time.sleep

    @staticmethod
    def _new_session():
        session = requests.Session()
        adapter = adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        session.mount('http://', adapter)
        session.mount('https://', adapter)
        return session

    @property
    def _group(self):
        return self._conf[opts.GROUP]

    def _verify(self):
        if self._group.insecure:
            return False
        return self._group.ca_file or self._env_ca_bundle or True

    def _proxies_for(self, url):
        """HTTP(S)_PROXY / NO_PROXY from the environment, resolved once per host."""
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxies:
            self._proxies[key] = requests.utils.get_environ_proxies(url)
        return self._proxies[key]

    def _timeout(self):
        return (self._group.connect_timeout, self._group.read_timeout)

    def default_credentials(self, token=None):
        return Credentials(token=token, api_key=self._group.api_key)

    # -- one attempt -------------------------------------------------------

    def _secrets(self, credentials):
        return (credentials.token, credentials.api_key, self._group.api_key)

    def send(self, method, url, credentials, json_body=None, params=None, headers=None,
             expect=(dict, list)):
        """One request (plus one API-key retry of a 401); no backoff.

        Returns the parsed JSON answer, which must be an ``expect`` (dict and/or
        list); raises St2Error with ``retryable`` set for what a later try could
        fix, UnexpectedAnswer for a 2xx/3xx that is not st2's JSON.
        """
        check_destination(url, self._conf)
        response, request_id = self._request(
            method, url, credentials.headers(), json_body, params, headers)

        if (_is_expired_token_answer(response) and credentials.token
                and credentials.api_key):
            LOG.info('st2 refused the token for %s %s (HTTP 401, request %s); '
                     'retrying once with the configured API key.', method, url, request_id)
            response, request_id = self._request(
                method, url, credentials.headers(prefer_api_key=True), json_body, params,
                headers)

        if response.status_code >= 400:
            fault = _fault_text(response, self._secrets(credentials))
            raise St2Error(
                'st2 answered %s %s with HTTP %s: %s (request %s)' % (
                    method, url, response.status_code, fault, request_id),
                status_code=response.status_code,
                retryable=retry.is_transient(response.status_code),
                request_id=request_id, fault=fault)
        return self._answer(method, url, response, request_id, credentials, expect)

    def _answer(self, method, url, response, request_id, credentials, expect):
        """The JSON st2 answered, or UnexpectedAnswer saying what came instead."""
        status = response.status_code
        if 300 <= status < 400:
            location = redact(response.headers.get('Location', ''), self._secrets(credentials))
            # A wrong URL (http -> https, a login page): trying again cannot help.
            raise UnexpectedAnswer(
                '%s %s was answered with a redirect (HTTP %s to %s), which is never followed '
                'with st2 credentials; configure the URL st2 really answers on (request %s)'
                % (method, url, status, location[:200] or 'nowhere', request_id),
                status_code=status, retryable=False, request_id=request_id)
        problem = None
        if not response.content:
            problem = 'an empty answer'
        else:
            try:
                answer = response.json()
            except (ValueError, RecursionError):
                problem = 'an answer that is not JSON (%s)' % (
                    response.headers.get('Content-Type') or 'no content type')
            else:
                if isinstance(answer, expect):
                    return answer
                wanted = expect if isinstance(expect, tuple) else (expect,)
                problem = '%s where st2 answers %s' % (
                    _describe(answer), ' or '.join(_describe(t()) for t in wanted))
        # A proxy or a page in front of st2: st2 may be back later.
        raise UnexpectedAnswer(
            '%s %s was answered with HTTP %s and %s, not st2\'s JSON: a proxy or another '
            'server may be in the way (request %s)' % (method, url, status, problem, request_id),
            status_code=status, retryable=True, request_id=request_id)

    def _request(self, method, url, auth_headers, json_body, params, extra_headers):
        request_id = 'req-' + str(uuid.uuid4())
        headers = {REQUEST_ID_HEADER: request_id, 'Accept': 'application/json'}
        headers.update(extra_headers or {})
        headers.update(auth_headers)
        try:
            response = self._session.request(
                method, url, json=json_body, params=params, headers=headers,
                timeout=self._timeout(), verify=self._verify(), allow_redirects=False,
                proxies=self._proxies_for(url))
        except requests.ConnectTimeout:
            raise St2Error('cannot connect to st2 at %s within %.1f s (request %s)' % (
                url, self._group.connect_timeout, request_id),
                retryable=True, request_id=request_id, never_sent=True) from None
        except requests.Timeout:
            raise St2Error('st2 did not answer %s %s within %.1f s (request %s)' % (
                method, url, self._group.read_timeout, request_id),
                retryable=True, request_id=request_id) from None
        except requests.exceptions.SSLError as e:
            raise St2Error('TLS verification failed for %s: %s. Set [st2] ca_file to the '
                           'CA bundle that signed st2\'s certificate.' % (url, type(e).__name__),
                           retryable=False, request_id=request_id) from None
        except requests.ConnectionError as e:
            raise St2Error('cannot connect to st2 at %s (request %s)' % (url, request_id),
                           retryable=True, request_id=request_id,
                           never_sent=_never_connected(e)) from None
        return response, request_id

    # -- with backoff ------------------------------------------------------

    def call(self, method, url, credentials, json_body=None, params=None, headers=None,
             expect=(dict, list)):
        """Like send(), retried by the retry policy (retry.py) while retryable.

        The policy is read from [st2] at call time, not at import.
        """
        return retry.st2_calls(self._group).call(
            self.send, method, url, credentials, json_body, params, headers, expect,
            retry_if=lambda e: isinstance(e, St2Error) and e.retryable, sleep=self._sleep,
            on_retry=lambda e: LOG.warning('Retrying %s %s after: %s', method, url, e))

    # -- st2 endpoints -----------------------------------------------------

    def update_execution(self, api_url, execution_id, status, result, credentials):
        """PUT {api_url}/executions/{id} with st2's {status, result} body (one attempt).

        The credentials' secrets never travel inside the result (redact_tree).
        """
        result = redact_tree(result, self._secrets(credentials))
        return st2update.put(self.send, api_url, execution_id, status, result, credentials,
                             expect=dict)


@singleton.process_wide
def get_client():
    """The process-wide client (one pooled session)."""
    return St2Client()
