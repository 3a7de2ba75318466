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

"""Mistral before 23 writes a workflow execution's params to its log at INFO.

st2's runner puts the st2 auth token in the workflow's env, which is in those
params, so Mistral 18-22 write the token three times per workflow, from three
loggers (read in their source, measured on 18.1.0, 20.2.0 and 22.0.0):

* ``mistral.api.controllers.v2.execution``: "Create execution [execution=...]"
* ``mistral.rpc.clients``: "Send RPC request 'start_workflow'[... params=...]"
* ``mistral.engine.engine_server``: "Received RPC request 'start_workflow'[...]"

Setting those loggers to WARN in ``[DEFAULT] default_log_levels`` stops it (the
README, "Mistral releases", and the devstack plugin give the whole value).
Mistral 23 logs no params. :func:`warn_once` says so, once per process, at
WARNING, when this process's Mistral would write them.
"""

from __future__ import annotations

import logging
import threading

LOG = logging.getLogger(__name__)

PARAMS_LOGGERS = (
    'mistral.api.controllers.v2.execution',
    'mistral.rpc.clients',
    'mistral.engine.engine_server',
)
# The first Mistral release that logs no execution params at INFO.
FIRST_QUIET_RELEASE = 23
# What to append to [DEFAULT] default_log_levels.
SETTING = ','.join('%s=WARN' % name for name in PARAMS_LOGGERS)

_lock = threading.Lock()
_warned = []


def mistral_major():
    """The major version of the Mistral this process runs, or None if unknown."""
    from importlib import metadata
    try:
        return int(metadata.version('mistral').split('.')[0])
    except (metadata.PackageNotFoundError, ValueError):
        return None


def loggers_writing_params(major):
    """The loggers of Mistral ``major`` that would write execution params here."""
    if major is None or major >= FIRST_QUIET_RELEASE:
        return []
    return [name for name in PARAMS_LOGGERS
            if logging.getLogger(name).isEnabledFor(logging.INFO)]


def warn_once(major=None):
    """Log the WARNING (once per process) when Mistral would log st2 tokens.

    Call it where a plugin of ours starts working in a Mistral process (logging
    is set up by then). Returns True when it warned now.
    """
    if _warned:
        return False
    with _lock:
        if _warned:
            return False
        _warned.append(True)
    major = mistral_major() if major is None else major
    noisy = loggers_writing_params(major)
    if not noisy:
        return False
    LOG.warning(
        'Mistral %s writes each workflow execution\'s params, which hold the st2 auth '
        'token st2 puts in the env, to its log at INFO (loggers %s). To stop it, append '
        '"%s" to [DEFAULT] default_log_levels in mistral.conf (README: Mistral releases); '
        'Mistral %d and later do not log them.',
        major, ', '.join(noisy), SETTING, FIRST_QUIET_RELEASE)
    return True
