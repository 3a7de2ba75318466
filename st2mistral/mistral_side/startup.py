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

"""Replay at start: spooled st2 updates go out without waiting for a workflow event.

Mistral creates a notification publisher only for the first event a process
handles, so a spool left by a killed process used to wait for the next event.
What Mistral 23 does load at start in every process is its expression
functions: ``mistral/expressions/jinja_expression.py`` reads the
``mistral.expression.functions`` entry points when it is imported (``_filters
= base.get_custom_functions()``), which imports st2mistral's functions and so
this module (docs/contracts.rst, "Start of a Mistral process").

That import comes before Mistral has parsed its configuration, and
``mistral-server`` then forks one child per service. So :func:`arm` starts a
daemon thread that waits for Mistral's configuration (``CONF.project ==
'mistral'``), lets the process settle for :data:`SETTLE` seconds, and then,
unless the process is a launcher (``mistral-server`` always forks its services
through oslo.service's ProcessLauncher, mistral/cmd/launch.py @ 23.0.0: its
children re-arm after the fork and do the work, however late the fork comes on
a loaded host; any other process that forked meanwhile counts as one too),
adopts a spool slot a stopped process left entries in (delivery/spool.py
``adopt_only``) and starts the publisher on it, which checks
``[st2]`` (notifiers/config_check.py). A process with nothing to adopt starts
nothing, but still logs the mistakes of ``[st2]`` at once (one ERROR line).
"""

import logging
import os
import sys
import threading

from oslo_config import cfg

from st2mistral.core import retry

LOG = logging.getLogger('st2mistral.mistral_side.notifiers.stackstorm_notifier')

SETTLE = 2.0            # seconds after the configuration is parsed

# mistral-server's launcher never handles an event: it forks one process per service.
LAUNCHERS = ('mistral-server', 'launch.py')

_state = {'armed': False, 'forked': False, 'child': False}
_lock = threading.Lock()


def _forked_parent():
    _state['forked'] = True


def _forked_child():
    _state['forked'] = False
    _state['child'] = True
    _state['armed'] = False
    arm()


def arm(conf=cfg.CONF):
    """Start the waiting thread once per process (again in each forked child)."""
    with _lock:
        if _state['armed']:
            return
        _state['armed'] = True
        if not _state.get('hooks'):
            _state['hooks'] = True
            os.register_at_fork(before=_forked_parent, after_in_child=_forked_child)
    threading.Thread(target=_wait_and_replay, args=(conf,), name='st2-startup',
                     daemon=True).start()


def _wait_and_replay(conf, stop=None):
    stop = stop or threading.Event()

    def parsed():
        if getattr(conf, 'project', None) != 'mistral':
            raise retry.TryAgain('Mistral has not parsed its configuration yet')
        return True

    try:
        # None: ``stop`` was set.
        if not retry.MISTRAL_CONFIG.attempts(sleep=stop.wait).run(parsed):
            return
    except retry.GaveUp:
        return          # not a Mistral process after all
    stop.wait(SETTLE)
    if is_launcher():
        return          # its children do the work
    try:
        replay_now(conf)
    except Exception:
        LOG.exception('The st2 spool could not be replayed at start; it is replayed '
                      'at the first workflow event instead.')


def is_launcher(argv0=None):
    """Whether this process only forks the processes that handle events."""
    if _state['forked']:
        return True
    argv0 = sys.argv[0] if argv0 is None else argv0
    return not _state['child'] and os.path.basename(argv0 or '') in LAUNCHERS


def replay_now(conf=cfg.CONF):
    """Adopt a spool slot a stopped process left entries in and start the publisher
    on it; True when one was adopted. Imports the publisher (Mistral's modules)."""
    from st2mistral.core import opts
    from st2mistral.mistral_side.delivery import spool as spool_mod
    from st2mistral.mistral_side.notifiers import stackstorm_notifier

    try:
        state_dir = conf[opts.GROUP].state_dir
    except (cfg.Error, ValueError):
        state_dir = None
    if not state_dir or not os.path.isdir(state_dir) or not any(
            spool_mod.pending_entries(os.path.join(state_dir, name))
            for name in os.listdir(state_dir) if name.endswith('.sqlite')):
        # Nothing to replay: still say now, not at the first event, what is wrong.
        check_config(conf)
        return False
    publisher = stackstorm_notifier.process_publisher()   # checks [st2] itself
    return publisher.start_adopting()


def check_config(conf=cfg.CONF):
    """Log mistral.conf's [st2] mistakes (one ERROR line), as the publisher would."""
    from st2mistral.mistral_side.notifiers import config_check

    found = config_check.problems(conf)
    config_check.report(found, LOG)
    return found
