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

"""The two HTTP clients of the st2 side, built from st2.conf.

- Mistral: mistral_api.Client (requests; python-mistralclient would change
  st2's pinned packages), with request timeouts and TLS verified unless
  ``[mistral] insecure``;
- st2: st2mistral.core.st2api.St2Client, given a private ConfigOpts whose ``[st2]``
  group is filled from st2.conf, so its allow-list contains exactly the
  configured st2 URLs.

Also the retry of Mistral calls (``[mistral] retry_*``), read at call
time, and the classification of Mistral's error answers.
"""

import time

from oslo_config import cfg
import requests

from st2mistral.core import opts as st2_opts
from st2mistral.core import retry
from st2mistral.core import st2api
from st2mistral.st2_side import config
from st2mistral.st2_side import mistral_api


def mistral(conf, auth_token=None):
    """A Mistral v2 API client for ``[mistral] v2_base_url``.

    ``auth_token``: the st2 token of the user the call is made for; sent only
    when Mistral authenticates st2 tokens (``[mistral] use_st2_token``).
    With ``[mistral] keystone_auth_url`` set, a Keystone token is sent instead.
    """
    group = conf[config.MISTRAL]
    verify = False if group.insecure else (group.cacert or True)
    timeout = (group.connect_timeout, group.read_timeout)
    session = requests.Session()
    keystone, token = None, None
    if group.keystone_auth_url:
        keystone = mistral_api.KeystoneToken(
            session, group.keystone_auth_url, group.keystone_username,
            group.keystone_password, group.keystone_project_name, timeout, verify)
    elif group.use_st2_token:
        token = auth_token or group.st2_service_token
    return mistral_api.Client(config.mistral_base_url(conf), verify=verify, timeout=timeout,
                              auth_token=token, keystone=keystone, session=session)


def st2_conf(conf, api_url=None, give_up_after=None):
    """A ConfigOpts with the ``[st2]`` group St2Client reads, filled from st2.conf.

    ``give_up_after``: seconds of retries before a call fails (a command line
    tool or a poll that runs again soon must not wait St2Client's 10 minutes).
    """
    group = conf[config.MISTRAL]
    st2 = cfg.ConfigOpts()
    st2_opts.register_opts(st2)
    urls = [u for u in (api_url, config.public_api_url(conf),
                        config.mistral_facing_api_url(conf)) if u]
    st2.set_override('api_url', urls[0], group=st2_opts.GROUP)
    st2.set_override('allowed_api_urls', urls[1:], group=st2_opts.GROUP)
    st2.set_override('api_key', group.st2_api_key, group=st2_opts.GROUP)
    st2.set_override('ca_file', group.st2_cacert, group=st2_opts.GROUP)
    st2.set_override('insecure', group.st2_insecure, group=st2_opts.GROUP)
    if give_up_after is not None:
        st2.set_override('retry_give_up_after', give_up_after, group=st2_opts.GROUP)
        st2.set_override('retry_max_delay', min(give_up_after, 10.0), group=st2_opts.GROUP)
    return st2


def st2(conf, api_url=None, sleep=None, give_up_after=None):
    return st2api.St2Client(conf=st2_conf(conf, api_url, give_up_after), sleep=sleep)


def st2_credentials(conf, token=None):
    return st2api.Credentials(token=token, api_key=conf[config.MISTRAL].st2_api_key)


# -- Mistral errors ----------------------------------------------------------------


def is_not_found(error):
    return isinstance(error, mistral_api.MistralError) and error.error_code == 404


def is_already_completed(error):
    """Mistral 23 answers a second completion of an action execution with a 500."""
    return (isinstance(error, mistral_api.MistralError)
            and 'is already completed' in str(error.error_message or ''))


def is_parse_error(error):
    """Mistral could not parse an expression of a definition (its YaqlGrammarException)."""
    return (isinstance(error, mistral_api.MistralError) and error.error_code == 400
            and str(error.error_message or '').startswith('Parse error'))


def is_transient(error):
    """Worth retrying: Mistral unreachable, overloaded, just started (its
    policy race, docs/contracts.rst section 3.4) or an engine RPC timeout."""
    if isinstance(error, (requests.ConnectionError, requests.Timeout)):
        return True
    if not isinstance(error, mistral_api.MistralError):
        return False
    message = str(error.error_message or '')
    return (error.error_code in (502, 503, 504)
            or 'MessagingTimeout' in message or 'Duplicate' in message
            or 'temporarily unavailable' in message
            or (message.startswith('Policy ') and 'has not been registered' in message))


def call_mistral(conf, sleep, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, retried on transient failures by the retry policy
    (retry.py) with ``[mistral] retry_*`` (read now, not at import)."""
    return retry.mistral_calls(conf[config.MISTRAL]).call(
        fn, *args, retry_if=is_transient, sleep=sleep or time.sleep, **kwargs)


MISTRAL_PAGE = 1000   # rows per list call; Mistral caps a page at [api] max_limit


def list_all(call, list_fn, **filters):
    """Every row of a Mistral list, page by page. ``call(fn, **kw)`` makes one call."""
    rows, marker = [], ''
    while True:
        page = call(list_fn, marker=marker, limit=MISTRAL_PAGE, **filters)
        rows.extend(page)
        if len(page) < MISTRAL_PAGE:
            return rows
        marker = page[-1].id
