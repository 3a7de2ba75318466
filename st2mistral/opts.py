"""Every option of the ``[st2]`` group, in one place.

Options are registered on import but READ only when used, so a change to
mistral.conf (or a test's override) takes effect without re-importing.
``list_opts()`` feeds oslo-config-generator (etc/st2mistral-config-generator.conf).
"""

from oslo_config import cfg

GROUP = 'st2'

api_opts = [
    cfg.URIOpt(
        'api_url', default='http://127.0.0.1:9101/v1', schemes=['http', 'https'],
        help='Base URL of the st2 API (with /v1). Used when the workflow env '
             'or notify entry names no st2 API URL.'),
    cfg.URIOpt(
        'auth_url', default='http://127.0.0.1:9100', schemes=['http', 'https'],
        help='Base URL of the st2 auth API, used to validate tokens.'),
    cfg.StrOpt(
        'api_key', secret=True,
        help='st2 API key. Sent as St2-Api-Key when a request has no token, '
             'and used once more when st2 answers 401 to an expired token.'),
    cfg.ListOpt(
        'allowed_api_urls', default=[],
        help='st2 API base URLs that updates may be sent to, besides api_url. '
             'A workflow env naming any other URL is refused, so a workflow '
             'author cannot point the notifier at an arbitrary host.'),
    cfg.StrOpt(
        'ca_file',
        help='CA bundle used to verify the st2 API certificate. Default: the '
             'system trust store.'),
    cfg.BoolOpt(
        'insecure', default=False,
        help='Do NOT verify the st2 API TLS certificate. For test labs only.'),
    cfg.FloatOpt(
        'connect_timeout', default=5.0, min=0.1,
        help='Seconds to wait for a TCP/TLS connection to st2.'),
    cfg.FloatOpt(
        'read_timeout', default=30.0, min=0.1,
        help='Seconds to wait for st2 to answer a request.'),
]

retry_opts = [
    cfg.FloatOpt(
        'retry_initial_delay', default=1.0, min=0.0,
        help='First wait, in seconds, before a failed request to st2 is '
             'retried (connection error, timeout, 5xx or 429). Doubles each try.'),
    cfg.FloatOpt(
        'retry_max_delay', default=60.0, min=0.0,
        help='Longest wait, in seconds, between two tries.'),
    cfg.FloatOpt(
        'retry_give_up_after', default=600.0, min=0.0,
        help='Seconds after which a request that keeps failing is given up '
             '(the delivery spool may still hold the update, see spool_*).'),
]

delivery_opts = [
    cfg.IntOpt(
        'delivery_workers', default=8, min=1,
        help='Threads per notifier process that send updates to st2. Each st2 '
             'execution has at most one request in flight.'),
    cfg.FloatOpt(
        'delivery_expire_after', default=86400.0, min=1.0,
        help='Seconds after which an update st2 has not accepted is given up '
             'and logged with the st2-track-result command to run.'),
    cfg.FloatOpt(
        'unknown_execution_grace', default=300.0, min=0.0,
        help='Seconds an update keeps being retried while st2 answers 404 '
             '(unknown execution) before it is given up.'),
]

mistral_opts = [
    cfg.URIOpt(
        'mistral_api_url', schemes=['http', 'https'],
        help='Public base URL of this Mistral API (with /v2), as st2 must '
             'reach it for callbacks. Default: built from [api] host/port.'),
]


def register_opts(conf=cfg.CONF):
    conf.register_opts(api_opts + retry_opts + delivery_opts + mistral_opts, group=GROUP)


def list_opts():
    return [(GROUP, api_opts + retry_opts + delivery_opts + mistral_opts)]


register_opts()
