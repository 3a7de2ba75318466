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

"""Run st2 v3.2.0's OWN Mistral integration suite, unmodified, on real st2 + real Mistral 23.

    python -m tests.st2_suite.run --tag v3.9.0     # tox: st2suite-v39
    python -m tests.st2_suite.run --tag v3.2.0     # tox: st2suite-v32 (the baseline)
    python -m tests.st2_suite.run --tags v3.9.0,v3.5.0,v3.2.0   # tox: st2suite (CI)

What it does, in order:

1. builds (cached) st2 ``--tag``'s venv (st2mistral/testing/real_st2/build.py) and
   the suite's environment beside it (:mod:`tests.st2_suite.suite_env`);
2. extracts from ``ST2MISTRAL_ST2_SRC``, into a temporary folder, st2 3.2's
   suite (``mistral-tests-st2-v3.2.0.tar.gz``: ``st2tests/integration/mistral``)
   and st2 v3.2.0's ``contrib/examples`` pack (the workflows the suite runs).
   st2-v3.2.0.tar.gz there lacks ``actions/workflows/tests/`` (50 of the 78
   mistral-v2 definitions; 61 of the 91 tests run one, directly or through a
   chain): those tests are reported ``unavailable`` (not run, not failed) and
   the run says so, unless
   ``ST2MISTRAL_ST2_EXAMPLES`` names a complete copy (then all 91 run);
3. starts real Mistral 23 with this project's Mistral side and real st2 (one
   process, real_st2/launcher.py): on st2 3.4+ with this project's runner and
   its relay in st2's process; on st2 3.2 (Python 3.6) with st2 3.2's OWN
   ``mistral_v2`` runner and ``st2resultstracker`` (the 3.2 combination the
   docs (st2-versions.rst) support); registers the tag's ``core`` pack and the examples pack
   with st2's own registrar (actions of runners st2's source here lacks: remote,
   winrm, http, are skipped and counted);
4. runs the suite with the suite venv's pytest 7.0.1 and st2client of the tag,
   configured the way st2client is: ``ST2_API_URL``, ``ST2_AUTH_URL``,
   ``ST2_STREAM_URL``, ``ST2_AUTH_TOKEN`` (a token of ``st2admin``); the plugin
   :mod:`st2suite_plugin` applies ``tests/st2_suite/exceptions.yaml`` and prints
   passed/failed/excepted per file;
5. prints the wall time and exits with pytest's code: non-zero on any
   unexpected failure or unexpected pass.

Only configuration and fixtures adapt st2's suite; its files are not changed. The
one liberty: st2's waits poll every 3 s for up to 15 min per wait; ``--poll``
(default 0.5 s) and ``--max-wait`` (default 120 s) lower both (``--poll 3
--max-wait 900``: st2's own values).
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

from st2mistral.testing import mistral_launcher
from st2mistral.testing.real_st2 import build
from st2mistral.testing.real_st2 import launcher
from st2mistral.testing.real_st2 import settings
from tests.st2_suite import suite_env

HERE = pathlib.Path(__file__).resolve().parent
EXCEPTIONS = HERE / 'exceptions.yaml'
SUITE_TARBALL = 'mistral-tests-st2-v3.2.0.tar.gz'
SUITE_DIR = 'st2tests/integration/mistral'
EXAMPLES_TAG = 'v3.2.0'
# A folder holding st2 v3.2.0's contrib/examples (or a .tar.gz with */contrib/examples),
# when st2-v3.2.0.tar.gz's lacks files the suite runs.
EXAMPLES_ENV = 'ST2MISTRAL_ST2_EXAMPLES'
FILES = ('test_errors.py', 'test_examples.py', 'test_filters.py', 'test_st2kv.py',
         'test_wiring.py', 'test_wiring_cancel.py', 'test_wiring_pause_resume.py',
         'test_wiring_rerun.py')
OUTCOMES = ('passed', 'failed', 'excepted', 'unexpected-pass', 'skipped', 'flaky-pass',
            'unavailable')
# unittest2, which st2's suite imports, fails on Python 3.10+ (collections.MutableMapping):
# the Python a tag runs on here unless ST2MISTRAL_ST2_PYTHON_<TAG> says otherwise.
SUITE_PYTHONS = {'v3.2.0': '3.6'}
DEFAULT_SUITE_PYTHON = '3.8'


class SuiteError(Exception):
    """The suite cannot run; the message says why and what to do."""


def extract(tarball, members_under, dest):
    """Extract the members of ``tarball`` under ``<top>/<members_under>``; return that path."""
    with tarfile.open(tarball) as tar:
        top = tar.getnames()[0].split('/')[0]
        prefix = '%s/%s' % (top, members_under)
        members = [m for m in tar.getmembers()
                   if m.name == prefix or m.name.startswith(prefix + '/')]
        if not members:
            raise SuiteError('%s holds no %s' % (tarball, members_under))
        kwargs = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
        tar.extractall(dest, members=members, **kwargs)
    return pathlib.Path(dest) / prefix


def examples_pack(src, dest):
    """st2 v3.2.0's ``contrib/examples``, from ``ST2MISTRAL_ST2_EXAMPLES`` when set, else
    from st2-v3.2.0.tar.gz; returns the pack's folder and the refs of its mistral-v2
    actions whose definition file is missing (their tests are reported unavailable)."""
    setting = os.environ.get(EXAMPLES_ENV, '').strip()
    if not setting:
        pack = extract(src / ('st2-%s.tar.gz' % EXAMPLES_TAG), 'contrib/examples', dest)
    elif os.path.isdir(setting):
        pack = pathlib.Path(setting)
    else:
        pack = extract(pathlib.Path(setting), 'contrib/examples', dest)
    missing = missing_definitions(pack)
    if missing and setting:
        raise SuiteError('%s (%s) lacks %d mistral-v2 definitions (e.g. %s): give a complete '
                         'copy of st2 %s\'s contrib/examples' % (
                             EXAMPLES_ENV, setting, len(missing),
                             ', '.join(sorted(missing.values())[:3]), EXAMPLES_TAG))
    return pack, missing


def unavailable_note(missing, pack):
    """What the run says, once, when the pack lacks definitions: which, and the fix."""
    absent = sorted(path for path in missing.values() if not (pack / path).is_file())
    folders = sorted({os.path.dirname(path) for path in absent})
    return ('st2-%s.tar.gz\'s contrib/examples lacks %d of its mistral-v2 definitions (%s): '
            'the tests that run them, or a chain or workflow calling them (%d actions), are '
            'reported unavailable, not run. To run all of them set %s to a complete copy: a '
            'folder, or a .tar.gz holding */contrib/examples (git -C <st2 clone> archive -o '
            'examples.tar.gz --prefix st2/ %s contrib/examples)'
            % (EXAMPLES_TAG, len(absent), ', '.join(folders), len(missing), EXAMPLES_ENV,
               EXAMPLES_TAG))


def missing_definitions(pack):
    """``{action ref: entry point}`` of the pack's mistral-v2 actions whose file is missing,
    and of the actions whose own definition (a chain, a workflow) runs one of those."""
    import yaml

    actions = {}
    for path in sorted((pack / 'actions').glob('*.yaml')):
        meta = yaml.safe_load(path.read_text()) or {}
        if isinstance(meta, dict) and meta.get('entry_point'):
            ref = '%s.%s' % (meta.get('pack', pack.name), meta.get('name'))
            actions[ref] = (meta.get('runner_type'), 'actions/%s' % meta['entry_point'])
    missing = {ref: entry_point for ref, (runner, entry_point) in actions.items()
               if runner == 'mistral-v2' and not (pack / entry_point).is_file()}
    while True:
        more = {ref: entry_point for ref, (_, entry_point) in actions.items()
                if ref not in missing and (pack / entry_point).is_file()
                and runs_any((pack / entry_point).read_text(), missing)}
        if not more:
            return missing
        missing.update(more)


def runs_any(definition, refs):
    """Whether a definition's text names one of ``refs`` as a whole action ref."""
    return any(re.search(r'(?<![\w.-])%s(?![\w-])' % re.escape(ref), definition)
               for ref in refs)


def encryption_key(st2_venv, path):
    """An st2 AES key file (``[keyvalue] encryption_key_path``): st2kv secrets need one."""
    code = ('import sys; from st2common.util.crypto import AESKey; '
            'open(sys.argv[1], "w").write(AESKey.generate().to_json())')
    subprocess.run([str(build.venv_python(st2_venv)), '-c', code, str(path)], check=True)
    os.chmod(path, 0o600)
    return path


def st2_config(base, mistral, key_path, own_runner):
    conf = {
        'keyvalue': {'encryption_key_path': str(key_path)},
        'mistral': {'v2_base_url': mistral.api_url, 'jitter_interval': 0,
                    'retry_exp_msec': 50, 'retry_exp_max_msec': 500,
                    'st2_stream_url': base + '/stream/v1'},
    }
    if own_runner:
        conf['resultstracker'] = {'query_interval': 0.1, 'empty_q_sleep_time': 0.05,
                                  'no_workers_sleep_time': 0.05}
    return conf


def register(st2, pack_dir):
    """Register ``pack_dir`` with st2's own registrar, skipping the actions st2 cannot
    (a runner not installed); returns the number registered."""
    copy = st2.workdir / 'packs' / pack_dir.name
    if not copy.exists():
        shutil.copytree(pack_dir, copy)
    return st2.control('register_pack', pack_dir=str(copy), fail_on_failure=False)


def pytest_command(suite_venv, st2tests, args, summary, ini, unavailable=None):
    files = [str(st2tests / 'integration' / 'mistral' / f) for f in (args.files or FILES)]
    cmd = [str(build.venv_python(suite_venv)), '-m', 'pytest', '-c', str(ini),
           '--rootdir', str(st2tests), '-p', 'st2suite_plugin', '-p', 'no:cacheprovider',
           '--st2suite-exceptions', str(args.exceptions), '--st2suite-tag', args.tag,
           '--st2suite-summary', str(summary), '-rfEX', '-q', '--durations=10']
    if args.poll is not None:
        cmd += ['--st2suite-poll', str(args.poll)]
    if args.max_wait is not None:
        cmd += ['--st2suite-max-wait', str(args.max_wait)]
    if unavailable is not None:
        cmd += ['--st2suite-unavailable', str(unavailable)]
    if args.k:
        cmd += ['-k', args.k]
    return cmd + files


def print_table(summary, out=sys.stdout):
    files = summary['files']
    seconds = summary.get('seconds', {})
    total = dict.fromkeys(OUTCOMES, 0)
    out.write('%-30s %s %8s\n' % ('file', ' '.join('%9s' % o for o in OUTCOMES), 'seconds'))
    for name, counts in files.items():
        out.write('%-30s %s %8.0f\n' % (name, ' '.join('%9d' % counts.get(o, 0) for o in OUTCOMES),
                                         seconds.get(name, 0)))
        for o in OUTCOMES:
            total[o] += counts.get(o, 0)
    out.write('%-30s %s %8.0f\n' % ('total', ' '.join('%9d' % total[o] for o in OUTCOMES),
                                     sum(seconds.values())))


def suite_python(tag):
    if os.environ.get('ST2MISTRAL_ST2_PYTHON_' + tag.upper().replace('.', '_')):
        return settings.python_for(tag)
    return settings.find_python(SUITE_PYTHONS.get(tag, DEFAULT_SUITE_PYTHON))


def run(args):
    src = settings.source()
    if src is None:
        print('st2 suite skipped: %s' % settings.SKIP_REASON)
        return 0
    for name in (SUITE_TARBALL, 'st2-%s.tar.gz' % EXAMPLES_TAG, 'st2-%s.tar.gz' % args.tag):
        if not (src / name).is_file():
            raise SuiteError('%s is not in %s (ST2MISTRAL_ST2_SRC)' % (name, src))
    python = args.python or suite_python(args.tag)
    if python is None:
        raise SuiteError('no Python %s for st2 %s: install it or set ST2MISTRAL_ST2_PYTHON_%s'
                         % (SUITE_PYTHONS.get(args.tag, DEFAULT_SUITE_PYTHON), args.tag,
                            args.tag.upper().replace('.', '_')))
    started = time.monotonic()
    st2_venv = build.build(src, args.tag, python)
    suite_venv = suite_env.build_suite_env(st2_venv)
    own_runner = build.has_st2_mistral_runner(st2_venv)
    built = time.monotonic()

    workdir = pathlib.Path(tempfile.mkdtemp(prefix='st2suite-%s-' % args.tag))
    ok = False
    try:
        st2tests = extract(src / SUITE_TARBALL, SUITE_DIR, workdir / 'suite').parents[1]
        examples, missing = examples_pack(src, workdir / 'examples')
        unavailable = None
        if missing:
            note = unavailable_note(missing, examples)
            print(note, flush=True)
            unavailable = workdir / 'unavailable.json'
            unavailable.write_text(json.dumps({'refs': sorted(missing), 'why': (
                'its definition is not in st2-%s.tar.gz\'s contrib/examples; set %s'
                % (EXAMPLES_TAG, EXAMPLES_ENV))}))
        core = build.st2_tree(st2_venv) / 'contrib' / 'core'
        key = encryption_key(st2_venv, workdir / 'st2.key')
        ini = workdir / 'pytest.ini'
        ini.write_text('[pytest]\n')
        summary_path = workdir / 'summary.json'

        port = launcher.free_port()
        base = 'http://127.0.0.1:%d' % port
        mistral_conf = {'st2': {'api_url': base + '/api/v1', 'auth_url': base + '/auth',
                                'retry_initial_delay': 0.05, 'retry_max_delay': 0.5}}
        with mistral_launcher.MistralServer(str(workdir / 'mistral'),
                                            config=mistral_conf) as mistral:
            st2 = launcher.RealSt2(workdir / 'st2', st2_venv, port=port,
                                   config=st2_config(base, mistral, key, own_runner),
                                   mistral_runner='st2' if own_runner else 'project',
                                   results_tracker=own_runner)
            with st2:
                counts = {p.name: register(st2, p) for p in (core, examples)}
                print('st2 %s (%s mistral-v2 runner) on %s, Mistral 23 on %s; registered '
                      'actions: %s' % (args.tag, 'its own' if own_runner else "this project's",
                                       base, mistral.api_url, counts), flush=True)
                if not own_runner:
                    api_key = st2.control('create_api_key')
                    st2.control('start_relay', overrides={'mistral': {'st2_api_key': api_key}})
                env = dict(os.environ)
                env.pop('PYTHONHOME', None)
                env.update({
                    'PYTHONPATH': os.pathsep.join([str(st2tests), str(HERE)]),
                    'ST2_BASE_URL': base, 'ST2_API_URL': st2.api_url,
                    'ST2_AUTH_URL': st2.auth_url, 'ST2_STREAM_URL': st2.stream_url,
                    'ST2_AUTH_TOKEN': st2.control('create_token'),
                })
                ready = time.monotonic()
                cmd = pytest_command(suite_venv, st2tests, args, summary_path, ini, unavailable)
                code = subprocess.run(cmd, env=env, cwd=str(workdir)).returncode
                finished = time.monotonic()
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
        print('\n== st2 v3.2.0 Mistral suite on st2 %s (%s runner) ==' % (
            args.tag, "st2's own mistral_v2" if own_runner else "this project's"))
        if summary:
            print_table(summary)
            if missing:
                print(unavailable_note(missing, examples))
            if args.summary_json:
                pathlib.Path(args.summary_json).write_text(json.dumps(summary, indent=1))
        print('wall time: %.0f s (venvs %.0f s, start %.0f s, suite %.0f s)' % (
            finished - started, built - started, ready - built, finished - ready))
        ok = code == 0
        if not ok:
            print('pytest exited %s; logs kept in %s (st2/st2.log, mistral/%s)'
                  % (code, workdir, mistral_launcher.LOG_FILE_NAME))
        return code
    finally:
        if args.keep:
            print('kept %s' % workdir)
        elif ok or not (workdir / 'st2').exists():  # logs of a failed run are kept
            shutil.rmtree(workdir, ignore_errors=True)


def run_tags(tags, argv):
    """Run the suite on several tags at once, one process each (each its own st2 and
    Mistral; the suite mostly waits for workflows, so they share a host well); print
    each run's output in turn, then one line per tag; non-zero if any run failed."""
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='st2suite-tags-'))
    runs = {}
    for tag in tags:
        log = open(workdir / ('%s.log' % tag), 'w')
        summary = workdir / ('%s.json' % tag)
        command = [sys.executable, '-m', 'tests.st2_suite.run', '--tag', tag,
                   '--summary-json', str(summary)] + argv
        runs[tag] = (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log,
                     summary)
    started = time.monotonic()
    codes = {}
    for tag, (process, log, _) in runs.items():
        codes[tag] = process.wait()
        log.close()
    for tag in tags:
        print('\n######## st2 %s (exit %s) ########' % (tag, codes[tag]))
        print((workdir / ('%s.log' % tag)).read_text(), end='')
    print('\n== st2 v3.2.0 Mistral suite, per st2 tag (ran at once: %.0f s) ==' % (
        time.monotonic() - started))
    print('%-8s %s %5s' % ('tag', ' '.join('%9s' % o for o in OUTCOMES), 'exit'))
    for tag in tags:
        summary = runs[tag][2]
        files = json.loads(summary.read_text())['files'] if summary.exists() else {}
        total = [sum(counts.get(o, 0) for counts in files.values()) for o in OUTCOMES]
        print('%-8s %s %5s' % (tag, ' '.join('%9d' % n for n in total), codes[tag]))
    shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(codes.values()) else 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tag', default='v3.9.0', help='the st2 tag to run against')
    parser.add_argument('--tags', help='several tags at once, comma-separated (one process '
                                       'each; the other options apply to each)')
    parser.add_argument('--python', help='interpreter for the st2 venv (default: settings)')
    parser.add_argument('--exceptions', default=str(EXCEPTIONS), type=pathlib.Path)
    parser.add_argument('--files', nargs='*', help='some of %s' % ', '.join(FILES))
    parser.add_argument('-k', help="pytest's -k")
    parser.add_argument('--poll', type=float, default=0.5,
                        help="seconds between st2's polls (st2's own: 3)")
    parser.add_argument('--max-wait', type=float, default=120,
                        help="longest wait for one state, s (st2's own: 900)")
    parser.add_argument('--summary-json', help='also write the per-file counts here')
    parser.add_argument('--keep', action='store_true', help='keep the temporary folder')
    args = parser.parse_args(argv)
    if args.tags:
        if args.python or args.summary_json:
            parser.error('--python and --summary-json name one run: use them with --tag')
        rest = [a for i, a in enumerate(argv)
                if a != '--tags' and not a.startswith('--tags=')
                and not (i and argv[i - 1] == '--tags')]
        return run_tags([t.strip() for t in args.tags.split(',') if t.strip()], rest)
    try:
        return run(args)
    except (SuiteError, build.BuildError, suite_env.SuiteEnvError) as exc:
        sys.exit('st2 suite: %s' % exc)


if __name__ == '__main__':
    sys.exit(main())
