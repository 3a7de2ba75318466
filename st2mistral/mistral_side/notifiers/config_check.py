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

"""The ``[st2]`` group of mistral.conf, checked when the publisher is created.

oslo.config checks a value only when it is read, so without this a wrong
``api_url`` would show at the first workflow event, for every event. Here
every option is read once, the URLs and files are checked for what the
publisher will do with them, and each mistake becomes one :class:`Problem`
naming the option and the fix.

A *blocking* problem means updates cannot be built or sent as configured:
the publisher then keeps every event in its spool (within its bounds) and
sends nothing until mistral.conf is fixed and Mistral restarted. A state
directory it cannot write only costs durability (memory only), so it does
not block.
"""

import collections
import os
import urllib.parse

from oslo_config import cfg

from st2mistral.core import opts

Problem = collections.namedtuple('Problem', 'option message fix blocking')

_URL_FIX = ('write a full URL with scheme and host, e.g. %s')
_URL_EXAMPLES = {
    'api_url': 'https://st2.example.com/api/v1',
    'auth_url': 'https://st2.example.com/auth/v1',
    'mistral_api_url': 'https://mistral.example.com:8989/v2',
}


def _options():
    return [opt for _, group_opts in opts.list_opts() for opt in group_opts]


def problems(conf=cfg.CONF):
    """Every mistake in ``conf``'s ``[st2]`` group, as :class:`Problem` (none: [])."""
    group = conf[opts.GROUP]
    found = []
    values = {}
    for opt in _options():
        try:
            values[opt.dest] = getattr(group, opt.dest)
        except (cfg.Error, ValueError) as e:
            example = _URL_EXAMPLES.get(opt.dest)
            fix = (_URL_FIX % example if example else
                   'give a value of its type, as described in etc/st2mistral.conf.sample')
            # The message of a secret option could quote its value: say only that it is wrong.
            found.append(Problem(opt.dest, 'has a value oslo.config refuses' if opt.secret
                                 else str(e).split('\n')[0], fix, True))
    for url in values.get('allowed_api_urls') or []:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ('http', 'https') or not parts.hostname:
            found.append(Problem('allowed_api_urls', '%r is not an http(s) URL with a host'
                                 % url, _URL_FIX % _URL_EXAMPLES['api_url'], True))
    ca_file = values.get('ca_file')
    if ca_file and not os.access(ca_file, os.R_OK):
        found.append(Problem('ca_file', '%s cannot be read by this user' % ca_file,
                             'give the path of a readable CA bundle, or leave it unset '
                             'for the system trust store', True))
    state_dir = values.get('state_dir')
    if state_dir:
        problem = _state_dir_problem(state_dir)
        if problem:
            found.append(Problem('state_dir', problem,
                                 'create the directory, writable by the user Mistral runs '
                                 'as (mode 0700), or set another one; until then st2 '
                                 'updates are kept in memory only', False))
    return found


def _state_dir_problem(path):
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as e:
        return '%s cannot be created (%s)' % (path, e.strerror or e)
    if not os.path.isdir(path):
        return '%s is not a directory' % path
    if not os.access(path, os.W_OK | os.X_OK):
        return '%s is not writable by this user (uid %d)' % (path, os.getuid())
    return None


def describe(found):
    """One line for the log: every problem, its option and its fix."""
    parts = ['[st2] %s: %s; fix: %s' % (p.option, p.message, p.fix) for p in found]
    text = 'mistral.conf has %d mistake(s) for the st2 publisher: %s.' % (
        len(found), ' | '.join(parts))
    if any(p.blocking for p in found):
        text += (' Nothing is sent to st2 until it is fixed and Mistral restarted; '
                 'events wait in the spool ([st2] state_dir) meanwhile.')
    return text


_reported = set()


def report(found, log):
    """Log ``found`` as one ERROR line, once per process for the same mistakes (the
    start check and the publisher's creation both check)."""
    if not found:
        return
    text = describe(found)
    if text not in _reported:
        _reported.add(text)
        log.error(text)
