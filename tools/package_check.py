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

"""Build the release files, check them, and run the Quick start demo on the wheel.

    python tools/package_check.py ROOT [--python PYTHON] [--keep]

(``tools/test.sh -e package`` runs it with build and twine installed.)

1. ``python -m build``: the sdist, then the wheel built FROM the sdist (so a
   file missing from the sdist breaks the wheel), into ROOT/dist/.
2. ``twine check --strict`` on both, and the contents: the wheel holds the
   product (core, mistral_side, st2_side, runner.yaml) and no test support;
   the sdist also holds the docs and the sample configurations.
3. A fresh virtualenv (PYTHON, default this interpreter) gets the wheel with
   its ``mistral`` extra and Mistral 23 (upper-constraints.txt), and nothing
   from the checkout but the demo's test support (st2mistral/testing, which
   the wheel leaves out, copied beside the installed package). The demo then
   runs there, outside the checkout: Mistral loads the publisher through the
   wheel's entry points. Exits non-zero at the first step that fails.
"""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

PRODUCT = {'core', 'mistral_side', 'st2_side'}


def run(command, **kwargs):
    print('$ %s' % ' '.join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True, **kwargs)


def build(root, dist):
    for old in dist.glob('st2mistral-*'):
        old.unlink()
    # setuptools adds the files an old SOURCES.txt lists to the sdist, whatever
    # MANIFEST.in says now: the build writes a new one.
    (root / 'st2mistral.egg-info' / 'SOURCES.txt').unlink(missing_ok=True)
    run([sys.executable, '-m', 'build', '--outdir', dist, root])
    [sdist] = dist.glob('st2mistral-*.tar.gz')
    [wheel] = dist.glob('st2mistral-*.whl')
    return sdist, wheel


def content_problems(sdist, wheel):
    """What the release files hold that they must not, or lack."""
    problems = []
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split('/')[1] for n in names if n.startswith('st2mistral/') and n.count('/') > 1}
    if top != PRODUCT:
        problems.append('wheel: st2mistral/ holds %s, not %s' % (sorted(top), sorted(PRODUCT)))
    if 'st2mistral/st2_side/runner.yaml' not in names:
        problems.append('wheel: st2mistral/st2_side/runner.yaml is missing')
    with tarfile.open(sdist) as tar:
        members = {name.split('/', 1)[1] for name in tar.getnames() if '/' in name}
    for needed in ('pyproject.toml', 'setup.cfg', 'CHANGELOG.rst', 'docs/index.rst',
                   'etc/st2mistral.conf.sample', 'etc/st2.conf.sample',
                   'st2mistral/st2_side/runner.yaml'):
        if needed not in members:
            problems.append('sdist: %s is missing' % needed)
    for name in (names + sorted(members)):
        if 'st2mistral/testing/' in name:
            problems.append('test support shipped: %s' % name)
            break
    return problems


def smoke(root, wheel, python, workdir):
    venv = workdir / 'wheel-venv'
    run([python, '-m', 'venv', venv])
    vpython = venv / 'bin' / 'python'
    requirements = (root / 'test-requirements.txt').read_text().splitlines()
    mistral_pin = next(line.strip() for line in requirements if line.startswith('mistral=='))
    run([vpython, '-m', 'pip', 'install', '--quiet', '-c', root / 'upper-constraints.txt',
         '%s[mistral]' % wheel, mistral_pin])
    purelib = 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
    site = subprocess.run([vpython, '-c', purelib],
                          check=True, capture_output=True, text=True).stdout.strip()
    shutil.copytree(root / 'st2mistral' / 'testing', pathlib.Path(site, 'st2mistral', 'testing'),
                    ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    env = {key: value for key, value in os.environ.items()
           if key not in ('PYTHONPATH', 'VIRTUAL_ENV') and not key.startswith('ST2MISTRAL_')}
    # The product and its entry points come from the installed wheel, not from the checkout.
    run([vpython, '-c', 'import importlib.metadata as m, st2mistral.core, sys; '
         'd = m.distribution("st2mistral"); '
         'assert st2mistral.core.__file__.startswith(sys.argv[1]), st2mistral.core.__file__; '
         'assert d.read_text("WHEEL"), "not installed from a wheel"; '
         'print("st2mistral %s from %s; publisher entry point: %s" % (d.version, sys.argv[1], '
         '[e.value for e in d.entry_points if e.group == "mistral.notification.publishers"]))',
         site], cwd=workdir, env=env)
    run([vpython, '-m', 'st2mistral.testing.demo'], cwd=workdir, env=env)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', type=pathlib.Path, help='the checkout')
    parser.add_argument('--python', default=sys.executable,
                        help='interpreter of the fresh virtualenv (Mistral 23: 3.10-3.13)')
    parser.add_argument('--keep', action='store_true', help='keep the virtualenv (path printed)')
    args = parser.parse_args(argv)
    root = args.root.resolve()
    started = time.monotonic()

    sdist, wheel = build(root, root / 'dist')
    run([sys.executable, '-m', 'twine', 'check', '--strict', sdist, wheel])
    problems = content_problems(sdist, wheel)
    if problems:
        print('\n'.join(['release files are wrong:'] + problems))
        return 1
    print('release files: %s, %s' % (sdist.name, wheel.name))

    workdir = pathlib.Path(tempfile.mkdtemp(prefix='st2mistral-package-'))
    try:
        smoke(root, wheel, args.python, workdir)
    finally:
        if args.keep:
            print('kept: %s' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print('package check OK in %.0f s: %s and %s built, twine check passed, the demo ran on '
          'the installed wheel' % (time.monotonic() - started, sdist.name, wheel.name))
    return 0


if __name__ == '__main__':
    sys.exit(main())
