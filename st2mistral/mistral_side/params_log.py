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
docs/mistral-versions.rst and the devstack plugin give the whole value).
Mistral 23 logs no params. :func:`warn_once` says so, once per process, at
WARNING, when this process's Mistral would write them.

Mistral before 23 also writes a task's whole data context (the env, with the
token) into the error of a failed expression, which it logs at ERROR
(mistral.engine.task_handler) and INFO (workflow_trace), traceback included.
Those lines matter, so :func:`warn_once` installs :class:`TokenFilter` on the
root logger's handlers instead: ``'auth_token': '<token>'`` becomes ``'***'``.
"""

from __future__ import annotations

import logging
import re
import sys
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

# The token in a repr of the env (Mistral's data dumps) or in its JSON form.
_TOKEN_ITEM = re.compile(r"""(['"]auth_token['"]\s*:\s*)(['"])(?:(?!\2).)+\2""")

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


def redact(text):
    """``text`` with the value of every ``auth_token`` item replaced by ``***``."""
    return _TOKEN_ITEM.sub(lambda m: '%s%s***%s' % (m.group(1), m.group(2), m.group(2)), text)


class TokenFilter(logging.Filter):
    """A handler filter: no ``auth_token`` value in a record or its traceback.

    oslo.log also appends, to a WARNING or worse logged while an exception is
    being handled, that exception's text (its ``error_summary``, from
    ``sys.exc_info()`` when the record has no exc_info): the record then gets
    that exception with its text redacted and no traceback.
    """

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the formatter's to report
            return True
        exc_info = record.exc_info
        if not exc_info and record.levelno >= logging.WARNING:
            exc_info = sys.exc_info()
        exc_text = ''
        if exc_info and exc_info[1] is not None:
            exc_text = str(exc_info[1])
            if record.exc_info and 'auth_token' in exc_text:
                # The traceback repeats the exception's text: keep it, redacted.
                message = '%s\n%s' % (message, logging.Formatter().formatException(exc_info))
        if 'auth_token' not in message and 'auth_token' not in exc_text:
            return True
        record.msg = redact(message)
        record.args = None
        record.exc_text = None
        if 'auth_token' in exc_text:
            record.exc_info = (exc_info[0], _same_kind(exc_info[0], redact(exc_text)), None)
        return True


def _same_kind(exc_type, text):
    """An exception of ``exc_type`` (else Exception) whose text is ``text``."""
    try:
        return exc_type(text)
    except Exception:
        return Exception(text)


def install_token_filter(logger=None):
    """Put a TokenFilter on every handler of ``logger`` (the root) that lacks one."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, TokenFilter) for f in handler.filters):
            handler.addFilter(TokenFilter())


def warn_once(major=None):
    """Log the WARNING (once per process) when Mistral would log st2 tokens.

    On Mistral < 23 also installs the TokenFilter (failed expressions) and the
    state_info guard (mistral_side/state_info.py). Call it
    where a plugin of ours starts working in a Mistral process (logging is set
    up by then). Returns True when it warned now.
    """
    if _warned:
        return False
    with _lock:
        if _warned:
            return False
        _warned.append(True)
    major = mistral_major() if major is None else major
    if major is not None and major < FIRST_QUIET_RELEASE:
        install_token_filter()
        # The same data dumps in state_info (usually registered already at our
        # functions' import; this covers a process that never loads them).
        from st2mistral.mistral_side import state_info
        state_info.guard(major)
    noisy = loggers_writing_params(major)
    if not noisy:
        return False
    LOG.warning(
        'Mistral %s writes each workflow execution\'s params, which hold the st2 auth '
        'token st2 puts in the env, to its log at INFO (loggers %s). To stop it, append '
        '"%s" to [DEFAULT] default_log_levels in mistral.conf (docs/mistral-versions.rst); '
        'Mistral %d and later do not log them.',
        major, ', '.join(noisy), SETTING, FIRST_QUIET_RELEASE)
    return True
