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

"""Options of the st2 side, read from st2.conf (NOT mistral.conf).

``[mistral]`` keeps the names and defaults st2's own mistral-v2 runner had
(st2 <= 3.2), so an existing st2.conf keeps working; the options this project
adds are marked "(st2mistral)". ``[resultstracker]`` is st2's; ``[auth]
api_url`` is st2's public API URL.

st2 <= 3.2 registers some of these itself. Registration is per option and
tolerant: when st2common already registered an option under the same name,
st2's definition stays and ours is skipped.

``list_opts()`` feeds oslo-config-generator (namespace ``st2mistral.st2``).
"""

import logging
import logging.config
import os
import urllib.parse

from oslo_config import cfg

from st2mistral.core import cfgcompat

MISTRAL = 'mistral'
RESULTSTRACKER = 'resultstracker'
AUTH = 'auth'

DEFAULT_ST2_CONF = '/etc/st2/st2.conf'
DEFAULT_PUBLIC_API_URL = 'http://127.0.0.1:9101'
API_VERSION = 'v1'

MISTRAL_DEFAULT_URL = 'http://127.0.0.1:8989/v2'

mistral_opts = [
    cfg.StrOpt(
        'v2_base_url', default=MISTRAL_DEFAULT_URL,
        help='Mistral API v2 base URL.'),
    cfgcompat.IntOpt(
        'retry_exp_msec', default=1000, min=0,
        help='Multiplier (ms) of the exponential backoff between retries of a '
             'Mistral call that failed on a connection error or a transient answer.'),
    cfgcompat.IntOpt(
        'retry_exp_max_msec', default=300000, min=0,
        help='Longest wait (ms) between two retries of a Mistral call.'),
    cfgcompat.IntOpt(
        'retry_stop_max_msec', default=600000, min=0,
        help='Give a Mistral call up after this many ms of retries.'),
    cfgcompat.FloatOpt(
        'jitter_interval', default=0.1, min=0.0,
        help='Up to this many seconds of random delay before each reconciliation of '
             'one execution, so many workflows do not query Mistral in bursts.'),
    cfg.BoolOpt(
        'enable_polling', default=False,
        help='Do not ask Mistral to push status to st2 (no "st2" notify entry); '
             'rely on results tracking instead. Push is faster and cheaper.'),
    cfg.StrOpt(
        'keystone_username', help='Keystone user name (when Mistral uses Keystone).'),
    cfg.StrOpt(
        'keystone_password', secret=True, help='Keystone password.'),
    cfg.StrOpt(
        'keystone_project_name', help='Keystone project name.'),
    cfg.StrOpt(
        'keystone_auth_url', help='Keystone auth URL. Unset: Mistral without Keystone.'),
    cfg.StrOpt(
        'cacert', help='CA bundle that signed the Mistral API certificate.'),
    cfg.BoolOpt(
        'insecure', default=False,
        help='Do NOT verify the Mistral API TLS certificate. For test labs only.'),
    cfg.StrOpt(
        'api_url',
        help='st2 API base URL (without /v1) that Mistral uses to call st2. '
             'Default: [auth] api_url.'),
]

# Options this project adds to [mistral].
st2mistral_opts = [
    cfgcompat.FloatOpt(
        'connect_timeout', default=5.0, min=0.1,
        help='(st2mistral) Seconds to wait for a TCP/TLS connection to Mistral.'),
    cfgcompat.FloatOpt(
        'read_timeout', default=60.0, min=0.1,
        help='(st2mistral) Seconds to wait for Mistral to answer a request.'),
    cfg.BoolOpt(
        'use_st2_token', default=False,
        help='(st2mistral) Mistral\'s API authenticates st2 tokens (mistral.conf '
             '[DEFAULT] auth_type = st2): the runner sends the st2 token of the action '
             'it runs, the relay service sends st2_service_token.'),
    cfg.StrOpt(
        'st2_service_token', secret=True,
        help='(st2mistral) A long-lived st2 token ("st2 auth <user> -l <ttl>") the '
             'relay service and results tracking send to Mistral when use_st2_token '
             'is set.'),
    cfg.ListOpt(
        'st2_key_users', default=[],
        help='(st2mistral) With use_st2_token: the st2 users whose st2 executions may '
             'complete any st2 user\'s st2.action task. Name the user of mistral.conf\'s '
             '[st2] api_key: st2.action starts a child with the key when the workflow\'s '
             'token expired, once st2 vouched for the workflow. Any other user\'s child '
             'completes only tasks in that user\'s own Mistral project.'),
    cfg.StrOpt(
        'st2_api_key', secret=True,
        help='(st2mistral) st2 API key the relay service uses to read executions, '
             'follow the stream and update them. Create one with "st2 apikey create".'),
    cfg.StrOpt(
        'st2_stream_url', default='http://127.0.0.1:9102/v1',
        help='(st2mistral) st2 stream API base URL the relay service follows.'),
    cfg.StrOpt(
        'st2_cacert',
        help='(st2mistral) CA bundle that signed the st2 API certificate. Default: '
             'the system trust store.'),
    cfg.BoolOpt(
        'st2_insecure', default=False,
        help='(st2mistral) Do NOT verify the st2 API TLS certificate. Test labs only.'),
    cfgcompat.IntOpt(
        'max_result_size', default=1024 * 1024, min=1024,
        help='(st2mistral) Largest st2 result (JSON bytes) the relay and the runner\'s '
             'cancel write. A '
             'larger one is cut down and marked "st2mistral_truncated", exactly as the '
             'publisher does with mistral.conf [st2] max_result_size: keep both equal.'),
    cfgcompat.FloatOpt(
        'reconcile_interval', default=60.0, min=0.0,
        help='(st2mistral) Every this many seconds the relay service reconciles every '
             'non-completed mistral-v2 execution in st2 with its Mistral execution, so a '
             'status that push missed is healed without an operator. 0 disables it.'),
    cfgcompat.FloatOpt(
        'pause_check_interval', default=1.0, min=0.0,
        help='(st2mistral) Every this many seconds the relay service lists Mistral\'s '
             'PAUSED executions (one call) and reflects a pause or resume in st2: st2 3.3+ '
             'refuses to pause a mistral-v2 execution through its API. 0 disables it.'),
    cfgcompat.FloatOpt(
        'cancel_check_interval', default=1.0, min=0.0,
        help='(st2mistral) Every this many seconds the relay service lists st2\'s canceling '
             'executions and cancels their mistral-v2 children: st2 3.3+ passes a cancel '
             'on only to action-chain and orquesta children. 0 disables it.'),
    cfgcompat.FloatOpt(
        'progress_interval', default=4.0, min=0.0,
        help='(st2mistral) Every this many seconds the relay service writes the tasks '
             '(name, state, times) of every running Mistral workflow whose tasks changed '
             'into its st2 execution\'s result, as st2 3.2\'s querier did (Mistral list '
             'calls: one per 1000 running workflows and one per 1000 changed tasks). '
             'Needs st2\'s database (the relay in st2\'s virtualenv). 0 disables it.'),
]

resultstracker_opts = [
    cfgcompat.FloatOpt(
        'query_interval', default=5.0, min=0.01,
        help='Seconds between two passes of the relay service over the executions '
             'st2-track-result tracks.'),
    cfgcompat.IntOpt(
        'thread_pool_size', default=10, min=1,
        help='Executions the relay service reconciles at the same time.'),
    cfgcompat.FloatOpt(
        'empty_q_sleep_time', default=1.0, min=0.0,
        help='Seconds to sleep when nothing is due.'),
    cfgcompat.FloatOpt(
        'no_workers_sleep_time', default=1.0, min=0.0,
        help='Seconds to sleep when every worker is busy.'),
]

auth_opts = [
    cfg.StrOpt(
        'api_url',
        help='st2 public API base URL (without /v1). Default: %s.' % DEFAULT_PUBLIC_API_URL),
]


def _register(conf, group, options):
    for opt in options:
        try:
            conf.register_opt(opt, group=group)
        except cfg.DuplicateOptError:
            pass  # st2common's own definition of this option wins


def register_opts(conf=cfg.CONF):
    _register(conf, MISTRAL, mistral_opts + st2mistral_opts)
    _register(conf, RESULTSTRACKER, resultstracker_opts)
    _register(conf, AUTH, auth_opts)


def list_opts():
    return [(MISTRAL, mistral_opts + st2mistral_opts),
            (RESULTSTRACKER, resultstracker_opts),
            (AUTH, auth_opts)]


def _with_version(base_url):
    base = base_url.rstrip('/')
    return base if base.endswith('/' + API_VERSION) else '%s/%s' % (base, API_VERSION)


def public_api_url(conf):
    """st2's public API URL with /v1 (st2's get_full_public_api_url)."""
    return _with_version(conf[AUTH].api_url or DEFAULT_PUBLIC_API_URL)


def mistral_facing_api_url(conf):
    """The st2 API URL with /v1 that Mistral calls (st2's get_mistral_api_url)."""
    return _with_version(conf[MISTRAL].api_url or public_api_url(conf))


def mistral_base_url(conf):
    return conf[MISTRAL].v2_base_url.rstrip('/')


def _url_problem(option, url, example):
    parts = urllib.parse.urlsplit(url or '')
    if parts.scheme in ('http', 'https') and parts.hostname:
        return None
    return ('%s = %r is not an http(s) URL with a host: write it in full, e.g. %s'
            % (option, url, example))


def problems(conf, follow_stream=True):
    """What in st2.conf keeps the relay from working: one line per mistake, naming
    the option and the fix ([] when none)."""
    group = conf[MISTRAL]
    found = [
        _url_problem('[mistral] v2_base_url', group.v2_base_url,
                     'http://mistral.example.com:8989/v2'),
        _url_problem('[auth] api_url', conf[AUTH].api_url or DEFAULT_PUBLIC_API_URL,
                     'https://st2.example.com/api'),
    ]
    if group.api_url:
        found.append(_url_problem('[mistral] api_url', group.api_url,
                                  'https://st2.example.com/api'))
    if follow_stream:
        found.append(_url_problem('[mistral] st2_stream_url', group.st2_stream_url,
                                  'https://st2.example.com/stream/v1'))
    for option, path in (('cacert', group.cacert), ('st2_cacert', group.st2_cacert)):
        if path and not os.access(path, os.R_OK):
            found.append('[mistral] %s = %s cannot be read: give a readable CA bundle or '
                         'leave it unset for the system trust store' % (option, path))
    if group.use_st2_token and not group.st2_service_token:
        found.append('[mistral] use_st2_token is set but st2_service_token is empty: the '
                     'relay would have nothing to authenticate to Mistral with; create one '
                     'with "st2 auth <user> -l <ttl>" and set st2_service_token')
    return [line for line in found if line]


def endpoints(conf):
    """(Mistral, st2 API, st2 stream) base URLs the relay uses."""
    return (mistral_base_url(conf), public_api_url(conf),
            conf[MISTRAL].st2_stream_url.rstrip('/'))


def config_args(conf):
    """The ``--config-file``/``--config-dir`` arguments ``conf`` was parsed from, to
    hand to st2common's own option parsing (st2_adapter.connect)."""
    args = []
    for path in conf.config_file or ([DEFAULT_ST2_CONF] if os.path.exists(DEFAULT_ST2_CONF)
                                     else []):
        args += ['--config-file', path]
    if conf.config_dir:
        args += ['--config-dir', conf.config_dir]
    return args


# Command-line options of a long-running st2-side command (st2mistral-relay).
# Standard-library logging, as st2's own services use: st2's venv has no oslo.log.
logging_cli_opts = [
    cfgcompat.FlagOpt('debug', default=False, help='Log at DEBUG level (default INFO).'),
    cfg.StrOpt('log-config', metavar='PATH',
               help='A logging configuration file (Python logging.config.fileConfig '
                    'format, like st2\'s /etc/st2/logging.*.conf). Default: to stderr.'),
]

LOG_FORMAT = '%(asctime)s %(process)d %(levelname)s %(name)s %(message)s'


def setup_logging(conf):
    """Configure standard-library logging from ``--log-config`` / ``--debug``."""
    if conf.log_config:
        logging.config.fileConfig(conf.log_config, disable_existing_loggers=False)
    else:
        logging.basicConfig(level=logging.DEBUG if conf.debug else logging.INFO,
                            format=LOG_FORMAT)
    if conf.debug:
        logging.getLogger('st2mistral').setLevel(logging.DEBUG)


def load(argv=None, prog=None, description=None, cli_opts=(), with_logging=False):
    """A ConfigOpts with these options, parsed from st2.conf and ``argv``.

    ``--config-file`` and ``--config-dir`` are oslo.config's own; without
    either, /etc/st2/st2.conf is read when it exists.
    """
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf.register_cli_opts(list(cli_opts))
    if with_logging:
        conf.register_cli_opts(logging_cli_opts)
    defaults = [DEFAULT_ST2_CONF] if os.path.exists(DEFAULT_ST2_CONF) else []
    cfgcompat.parse(conf, argv, project='st2', prog=prog, description=description,
                    default_config_files=defaults, default_config_dirs=[],
                    validate_default_values=True)
    return conf
