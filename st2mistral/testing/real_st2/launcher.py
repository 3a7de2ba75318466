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

"""Start StackStorm's own services (one process, loopback) for tests.

The process runs :mod:`st2mistral.testing.real_st2.server` with the cached
venv of :mod:`st2mistral.testing.real_st2.build`. This checkout's
``st2mistral`` package is put on that process's path together with a
``dist-info`` holding the st2 entry points of ``setup.cfg``, so st2's own
runner registrar finds the ``mistral-v2`` runner of the code under test (the
cached venv holds st2 only and serves every checkout).

Example::

    with RealSt2(tmp_path, venv) as st2:
        token = st2.control('create_token')
        requests.get(st2.api_url + '/executions', headers={'X-Auth-Token': token})

Stopped by PID, never by name.
"""

import atexit
import configparser
import getpass
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

import requests

from st2mistral.testing import waiting
from st2mistral.testing.real_st2 import build
from st2mistral.testing.st2_urls import St2Urls

REPO = pathlib.Path(__file__).resolve().parents[3]
SERVER = pathlib.Path(__file__).resolve().with_name('server.py')
ENTRY_POINT_GROUPS = ('st2common.runners.runner', 'st2common.runners.query',
                      'st2common.runners.callback')
LOG_NAME = 'st2.log'
READY_LINE = 'st2 ready on'


class St2StartError(RuntimeError):
    pass


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write_overlay(directory):
    """A path entry holding this checkout's st2mistral and its st2 entry points."""
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / 'st2mistral'
    if not link.exists():
        link.symlink_to(REPO / 'st2mistral', target_is_directory=True)
    setup = configparser.ConfigParser()
    setup.read(REPO / 'setup.cfg')
    entry_points = configparser.ConfigParser()
    raw = setup['options.entry_points']
    for group in ENTRY_POINT_GROUPS:
        if group in raw:
            entry_points[group] = {}
            for line in raw[group].strip().splitlines():
                name, _, target = line.partition('=')
                entry_points[group][name.strip()] = target.strip()
    info = directory / 'st2mistral-0+checkout.dist-info'
    info.mkdir(exist_ok=True)
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: st2mistral\n'
                                   'Version: 0+checkout\n')
    with open(info / 'entry_points.txt', 'w') as f:
        entry_points.write(f)
    return directory


LOGGING_CONF = """\
[loggers]
keys=root

[handlers]
keys=file

[formatters]
keys=plain

[logger_root]
level=%(level)s
handlers=file

[handler_file]
class=FileHandler
level=%(level)s
formatter=plain
args=(%(path)r,)

[formatter_plain]
format=%%(asctime)s %%(process)d %%(levelname)s %%(name)s [-] %%(message)s
"""


def render_config(workdir, port, sections):
    """st2.conf for the one-process st2; ``sections`` adds or overrides options."""
    logging_conf = workdir / 'logging.conf'
    logging_conf.write_text(LOGGING_CONF % {'level': 'INFO',
                                            'path': str(workdir / LOG_NAME)})
    base = 'http://127.0.0.1:%d' % port
    conf = {
        'database': {'host': 'localhost', 'db_name': 'st2'},
        'messaging': {'url': 'memory://'},
        'coordination': {'url': ''},
        'auth': {'enable': 'True', 'api_url': base + '/api', 'mode': 'proxy',
                 'logging': str(logging_conf)},
        'api': {'logging': str(logging_conf), 'allow_origin': '*'},
        'stream': {'logging': str(logging_conf)},
        'actionrunner': {'logging': str(logging_conf)},
        'scheduler': {'logging': str(logging_conf), 'sleep_interval': '0.05',
                      'gc_interval': '60'},
        'system_user': {'user': getpass.getuser()},
        'content': {'packs_base_paths': str(workdir / 'packs')},
        'metrics': {'driver': 'noop'},
        'log': {'excludes': '', 'redirect_stderr': 'False'},
    }
    for section, values in sections.items():
        conf.setdefault(section, {}).update({k: str(v) for k, v in values.items()})
    lines = []
    for section, values in conf.items():
        lines.append('[%s]' % section)
        lines.extend('%s = %s' % item for item in values.items())
        lines.append('')
    path = workdir / 'st2.conf'
    path.write_text('\n'.join(lines))
    return path


_RUNNING = set()


@atexit.register
def _kill_leftovers():
    for server in list(_RUNNING):
        server.stop()


class RealSt2(St2Urls):
    """st2's api, stream, auth, scheduler and action runner in one child process."""

    def __init__(self, workdir, venv, *, port=None, config=None, packs=(), python_path=(),
                 runners=True, mistral_runner=None, results_tracker=False):
        """``runners=False``: st2's API, stream and auth only (no scheduler, no action
        runner), so executions stay as the API leaves them.

        ``mistral_runner``: which ``mistral-v2`` runner st2 must register, checked at
        start: ``'project'`` (this checkout's), ``'st2'`` (st2's own, which build.py
        installs for st2 3.2 on Python 3.6 only) or None (whichever the venv's Python
        runs: the project's on 3.8+, else st2's own). ``results_tracker``: also run
        st2's results tracker (st2 3.2's ``st2resultstracker``, which polls Mistral
        through the runner's querier when ``[mistral] enable_polling`` is on)."""
        if mistral_runner not in (None, 'project', 'st2'):
            raise ValueError("mistral_runner must be None, 'project' or 'st2'")
        self.workdir = pathlib.Path(workdir)
        self.venv = pathlib.Path(venv)
        self.port = port or free_port()
        self.config = config or {}
        self.packs = list(packs)
        self.python_path = list(python_path)
        self.runners = runners
        self.mistral_runner = mistral_runner
        self.results_tracker = results_tracker
        self.proc = None
        self.startup_seconds = None

    @property
    def log_path(self):
        return self.workdir / LOG_NAME

    def _check_mistral_runner(self):
        if self.mistral_runner == 'st2' and not build.has_st2_mistral_runner(self.venv):
            raise St2StartError("st2's own mistral_v2 runner is not in %s: build.py installs "
                                "it for an st2 tree that has it (st2 3.2) on Python < 3.8 only"
                                % self.venv)
        if self.mistral_runner == 'project' and not build.runs_project(self.venv):
            raise St2StartError("the project's st2 side needs Python 3.8+; %s has %s"
                                % (self.venv, build.python_version(
                                    str(build.venv_python(self.venv)))))

    def start(self, timeout=120):
        self._check_mistral_runner()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / 'packs').mkdir(exist_ok=True)
        overlay = write_overlay(self.workdir / 'overlay')
        conf = render_config(self.workdir, self.port, self.config)
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join([str(overlay)] + self.python_path)
        env.pop('PYTHONHOME', None)
        cmd = [str(build.venv_python(self.venv)), str(SERVER), '--config-file', str(conf),
               '--port', str(self.port), '--st2-tree', str(build.st2_tree(self.venv))]
        for pack in self.packs:
            # st2 registers a pack only from inside packs_base_paths.
            copy = self.workdir / 'packs' / pathlib.Path(pack).name
            if not copy.exists():
                shutil.copytree(pack, copy)
            cmd += ['--packs', str(copy)]
        if not self.runners:
            cmd.append('--no-runners')
        if self.mistral_runner:
            cmd += ['--mistral-runner', self.mistral_runner]
        if self.results_tracker:
            cmd.append('--results-tracker')
        if self.mistral_runner == 'st2' or not build.runs_project(self.venv):
            # The project's st2 side stays off the path (it needs Python 3.8+), and
            # st2's own mistral-v2 runner (installed by build.py) is the one registered.
            env['PYTHONPATH'] = os.pathsep.join(self.python_path)
        started = time.monotonic()
        out = open(self.workdir / 'server.out', 'w')
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                     cwd=str(self.workdir), start_new_session=True)
        _RUNNING.add(self)

        def ready():
            code = self.proc.poll()
            if code is not None:
                self.stop()
                raise St2StartError('st2 exited with %s while starting; see %s and %s\n%s'
                                    % (code, self.workdir / 'server.out', self.log_path,
                                       self.last_error()))
            return READY_LINE in (self.workdir / 'server.out').read_text(errors='replace')

        try:
            waiting.wait_until(ready, timeout=timeout, interval=0.1)
        except waiting.WaitTimeout:
            self.stop()
            raise St2StartError('st2 not ready after %ss; see %s'
                                % (timeout, self.workdir)) from None
        self.startup_seconds = time.monotonic() - started
        return self

    def last_error(self, lines=12):
        """The end of st2's output and the last traceback st2 logged, for error messages."""
        parts = []
        for path in (self.workdir / 'server.out', self.log_path):
            if path.exists():
                text = path.read_text(errors='replace').splitlines()
                # st2 redirects stderr into its log one fragment per line: keep the text.
                text = [line.split(' [-] ', 1)[-1] for line in text if line.strip()]
                parts.append('\n'.join(text[-lines:]))
        return '\n--\n'.join(parts)

    def stop(self, grace=5.0):
        proc, self.proc = self.proc, None
        _RUNNING.discard(self)
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def control(self, command, **kwargs):
        """Run a control command inside the st2 process; its JSON result."""
        answer = requests.post('%s/_control/%s' % (self.base_url, command),
                               data=json.dumps(kwargs), timeout=60)
        body = answer.json()
        if answer.status_code != 200:
            raise RuntimeError('st2 control %s failed: %s\n%s'
                               % (command, body.get('error'), body.get('traceback', '')))
        return body['result']
