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

"""Every option of the ``[st2]`` group, in one place.

Options are registered on import but READ only when used, so a change to
mistral.conf (or a test's override) takes effect without re-importing.
``list_opts()`` feeds oslo-config-generator (etc/st2mistral-config-generator.conf).
"""

from oslo_config import cfg

from st2mistral.core import cfgcompat

GROUP = 'st2'

api_opts = [
    cfgcompat.URIOpt(
        'api_url', default='http://127.0.0.1:9101/v1', schemes=['http', 'https'],
        help='Base URL of the st2 API (with /v1). Used when the workflow env '
             'or notify entry names no st2 API URL. Requests go under it only '
             'when it is set here: left at its default it allows nothing, as '
             'any local user could listen on that port.'),
    cfgcompat.URIOpt(
        'auth_url', default='http://127.0.0.1:9100', schemes=['http', 'https'],
        help='Base URL of the st2 auth API. Like api_url, it allows requests only '
             'when it is set here.'),
    cfg.StrOpt(
        'api_key', secret=True,
        help='st2 API key (St2-Api-Key). Used for a workflow only when it has no '
             'st2 token or st2 refuses it, and only when st2\'s record of the '
             'workflow\'s st2 execution names the workflow (its context.mistral.'
             'execution_id); otherwise nothing is sent. Not used by the st2 auth '
             'handler.'),
    cfg.ListOpt(
        'allowed_api_urls', default=[],
        help='st2 API base URLs that updates may be sent to, besides api_url. '
             'A workflow env naming any other URL is refused, so a workflow '
             'author cannot point the notifier at an arbitrary host. URLs are '
             'compared after normalisation: scheme, host and port must match and '
             'the path must lie under the base; ".." segments, encoded "/" and '
             '"#" are refused.'),
    cfg.StrOpt(
        'ca_file',
        help='CA bundle used to verify the st2 API certificate. Default: the '
             'system trust store.'),
    cfg.BoolOpt(
        'insecure', default=False,
        help='Do NOT verify the st2 API TLS certificate. For test labs only.'),
    cfgcompat.FloatOpt(
        'connect_timeout', default=5.0, min=0.1,
        help='Seconds to wait for a TCP/TLS connection to st2.'),
    cfgcompat.FloatOpt(
        'read_timeout', default=30.0, min=0.1,
        help='Seconds to wait for st2 to answer a request.'),
]

retry_opts = [
    cfgcompat.FloatOpt(
        'retry_initial_delay', default=1.0, min=0.0,
        help='First wait, in seconds, before a failed request to st2 is '
             'retried (connection error, timeout, 5xx or 429). Doubles each try.'),
    cfgcompat.FloatOpt(
        'retry_max_delay', default=60.0, min=0.0,
        help='Longest wait, in seconds, between two tries.'),
]

# Read only by St2Client.call, which only the st2 side uses (st2_side/clients.py
# sets it per use); the publisher retries through its queue until
# delivery_expire_after instead. Registered, not in the Mistral-side sample.
st2_side_opts = [
    cfgcompat.FloatOpt(
        'retry_give_up_after', default=600.0, min=0.0,
        help='Seconds after which a request St2Client.call retries is given up.'),
]

delivery_opts = [
    cfgcompat.IntOpt(
        'delivery_workers', default=8, min=1,
        help='Threads per notifier process that send updates to st2. Each st2 '
             'execution has at most one request in flight.'),
    cfgcompat.FloatOpt(
        'delivery_expire_after', default=86400.0, min=1.0,
        help='Seconds after which an update st2 has not accepted is given up '
             'and logged with the st2-track-result command to run (the st2mistral '
             'relay service also heals it within [mistral] reconcile_interval).'),
    cfgcompat.FloatOpt(
        'unknown_execution_grace', default=300.0, min=0.0,
        help='Seconds an update keeps being retried while st2 answers 404 '
             '(unknown execution) before it is given up.'),
    cfg.StrOpt(
        'state_dir', default='/var/lib/mistral/st2mistral',
        help='Directory of the durable delivery spool (SQLite, 0600): events '
             'accepted by the publisher and updates st2 has not taken yet survive '
             'a restart of the Mistral process there. Empty: keep them in memory '
             'only (lost when the process dies).'),
    cfgcompat.IntOpt(
        'spool_max_count', default=100000, min=1,
        help='Most events plus updates waiting for st2 per process (spool or '
             'memory). When it is reached, the waiting update st2 has not known '
             'the longest (HTTP 404 within unknown_execution_grace) is given up to '
             'make room, so workflows naming st2 executions that do not exist '
             'cannot crowd out the others; with none such, new events are refused '
             'with an ERROR line.'),
    cfgcompat.IntOpt(
        'spool_max_bytes', default=256 * 1024 * 1024, min=1024,
        help='Most bytes of events plus updates waiting for st2 per process '
             '(reached: as spool_max_count).'),
    cfgcompat.IntOpt(
        'max_result_size', default=1024 * 1024, min=1024,
        help='Largest st2 result (JSON bytes) sent. A larger one is cut down, '
             'biggest task results first, and marked with "st2mistral_truncated".'),
]

mistral_opts = [
    cfgcompat.URIOpt(
        'mistral_api_url', schemes=['http', 'https'],
        help='Public base URL of this Mistral API (with /v2), as st2 must '
             'reach it for callbacks. Default: built from [api] host/port '
             '(http, or https with [api] enable_ssl_api); a wildcard host '
             '(0.0.0.0, ::) becomes 127.0.0.1, which only suits st2 on the '
             'same host: set this option when st2 runs elsewhere.'),
]

action_opts = [
    cfgcompat.FloatOpt(
        'action_retry_give_up_after', default=60.0, min=0.0,
        help='Seconds st2.action keeps trying to create its st2 execution '
             'while st2 is unreachable or busy. A request is sent again only '
             'when st2 provably did not take it (connection refused, HTTP '
             '429/503); after a read timeout, a cut connection or HTTP '
             '502/504 st2 is asked for the execution instead, so a retry '
             'never makes a second one. The executor thread waits meanwhile.'),
]

auth_opts = [
    cfgcompat.FloatOpt(
        'auth_cache_ttl', default=60.0, min=0.0,
        help='Seconds the st2 auth handler (auth_type = st2) trusts a token '
             'st2 said was valid before asking st2 again. 0 asks st2 on every '
             'request. Invalid answers are never cached.'),
    cfgcompat.IntOpt(
        'auth_cache_size', default=1024, min=1,
        help='Most tokens the st2 auth handler remembers at once.'),
    cfg.ListOpt(
        'admin_users', default=[],
        help='st2 user names that Mistral treats as admins under auth_type = st2: '
             'they see and change the executions of every st2 user (Mistral\'s '
             'admin role). Put here the user of the st2 side\'s [mistral] '
             'st2_service_token (relay and results tracking), and nobody else. '
             'Empty: every st2 user sees only their own executions. st2\'s own '
             'admin flag is not used (with RBAC off st2 calls every user an admin).'),
]


def register_opts(conf=cfg.CONF):
    conf.register_opts(api_opts + retry_opts + st2_side_opts + delivery_opts + mistral_opts
                       + action_opts + auth_opts, group=GROUP)


def list_opts():
    return [(GROUP, api_opts + retry_opts + delivery_opts + mistral_opts + action_opts + auth_opts)]


register_opts()
