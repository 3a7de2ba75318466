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

"""Build (once) and cache a virtualenv holding StackStorm's own code at one tag.

StackStorm is not on PyPI. Its source is given as data by the setting
``ST2MISTRAL_ST2_SRC``: a folder holding ``st2-<tag>.tar.gz`` (and the
``orquesta-<ref>.tar.gz`` it pins), or an st2 checkout. The venv is made the
way st2 makes its own: st2common's ``requirements.txt`` constrained by the
top-level ``fixed-requirements.txt`` (st2's pins), then st2's components with
``--no-deps``. Nothing of st2 is copied into this repository.

The venv lives outside the repository, one per (tag, Python, recipe):
``$ST2MISTRAL_REAL_ST2_CACHE`` or ``~/.cache/st2mistral/real-st2/<tag>-py<X.Y>-<hash>``.
A finished build leaves a ``BUILT`` marker; an interrupted one is rebuilt.

    python -m st2mistral.testing.real_st2.build --tag v3.9.0 --python python3.11
"""

import argparse
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

SRC_ENV = 'ST2MISTRAL_ST2_SRC'
CACHE_ENV = 'ST2MISTRAL_REAL_ST2_CACHE'
DEFAULT_CACHE = pathlib.Path('~/.cache/st2mistral/real-st2')

# Bump when the recipe below changes: old venvs are then rebuilt, not reused.
RECIPE = '2'
# st2 components installed with --no-deps (paths inside the st2 tree).
COMPONENTS = ('st2common', 'st2api', 'st2stream', 'st2auth', 'st2actions',
              'contrib/runners/noop_runner', 'contrib/runners/local_runner',
              'contrib/runners/action_chain_runner', 'contrib/runners/orquesta_runner',
              'contrib/runners/python_runner', 'contrib/runners/inquirer_runner')
# Needed by the fixture itself, not by st2: st2 pins none of them, so no st2 pin moves.
FIXTURE_PACKAGES = ('mongomock',)
OLD_FIXTURE_PACKAGES = ('mongomock<4',)  # mongomock 4 imports importlib.metadata (3.8+)
# On Pythons the project's st2 side cannot run on (st2 3.2 on 3.6), st2's OWN Mistral runner
# (in the st2 3.2 tree) is installed instead: st2 3.2 loads the runner module of a
# mistral-v2 execution when it completes, and that is what a 3.2 site runs.
ST2_MISTRAL_RUNNER = 'contrib/runners/mistral_v2'
ST2_MISTRAL_RUNNER_PACKAGES = ('python-mistralclient',)
# What st2's pkg_resources-based code needs on new Pythons (the shared README); on 3.6
# (st2 3.2) the last setuptools that still builds mongoengine 0.18's setup.py.
SETUPTOOLS = 'setuptools>=70.1,<78'
OLD_SETUPTOOLS = 'setuptools<58'
# The project's st2 side runs on Python 3.8+ only: older venvs get st2 alone.
MIN_PROJECT_PYTHON = (3, 8)


class BuildError(Exception):
    """The venv cannot be built; the message says why and what to do."""


def cache_root():
    return pathlib.Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def source_setting():
    """The folder named by ST2MISTRAL_ST2_SRC, or None when unset."""
    value = os.environ.get(SRC_ENV, '').strip()
    return pathlib.Path(value).expanduser() if value else None


def available_tags(src):
    """Tags whose tarball is in the source folder (a checkout offers 'checkout')."""
    if (src / 'st2common').is_dir():
        return ['checkout']
    return sorted(m.group(1) for m in (re.match(r'st2-(v[0-9.]+)\.tar\.gz$', p.name)
                                       for p in src.iterdir()) if m)


def python_version(python):
    out = subprocess.run([python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _digest(paths, extra):
    h = hashlib.sha256(extra.encode())
    for path in paths:
        if path.is_file():
            h.update(path.read_bytes())
        else:
            for name in ('requirements.txt', 'fixed-requirements.txt',
                         'st2common/requirements.txt', 'st2common/st2common/__init__.py'):
                if (path / name).is_file():
                    h.update((path / name).read_bytes())
    return h.hexdigest()[:12]


def venv_dir(src, tag, python):
    ver = python_version(python)
    tarball = src / ('st2-%s.tar.gz' % tag)
    key = _digest([tarball if tag != 'checkout' else src],
                  '|'.join((RECIPE, tag, ver) + COMPONENTS + FIXTURE_PACKAGES
                           + OLD_FIXTURE_PACKAGES + (ST2_MISTRAL_RUNNER,)))
    return cache_root() / ('%s-py%s-%s' % (tag, ver, key))


def venv_python(venv):
    return venv / 'bin' / 'python'


def is_built(venv):
    return (venv / 'BUILT').is_file()


def _run(cmd, log, **kw):
    log.write('$ %s\n' % ' '.join(str(c) for c in cmd))
    log.flush()
    proc = subprocess.run([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT, **kw)
    if proc.returncode:
        raise BuildError('command failed (%s): %s; see %s'
                         % (proc.returncode, ' '.join(str(c) for c in cmd), log.name))


def _extract(tarball, dest):
    with tarfile.open(tarball) as tar:
        kwargs = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
        tar.extractall(dest, **kwargs)
    (top,) = [p for p in dest.iterdir() if p.is_dir()]
    return top


def _orquesta_tarball(src, line):
    """The local tarball for st2's git requirement on orquesta, or None."""
    m = re.search(r'orquesta\.git@([0-9A-Za-z.]+)', line)
    if not m:
        return None
    for path in src.glob('orquesta-%s*.tar.gz' % m.group(1)):
        return path
    return None


def _requirements(src, tree, workdir):
    """st2common's requirements with the git-only lines made local (or dropped)."""
    lines = []
    for line in (tree / 'st2common' / 'requirements.txt').read_text().splitlines():
        if 'st2-rbac-backend' in line:
            continue  # git-only and not needed with RBAC off (the shared README)
        if 'orquesta' in line and 'git+' in line:
            local = _orquesta_tarball(src, line)
            if local is None:
                raise BuildError('st2 pins %r but no matching orquesta-<ref>.tar.gz is in %s'
                                 % (line.strip(), src))
            line = 'orquesta @ file://%s' % local
        lines.append(line)
    path = workdir / 'requirements.txt'
    path.write_text('\n'.join(lines) + '\n')
    return path


# st2 3.4-3.8 pin argparse==1.12.2, a release that never existed (PyPI's argparse stops at
# 1.4.0): pip's resolver refuses the install when oslo.config 1.12.1 asks for argparse, which
# Python 3 has in its standard library. Such a pin is left out; argparse==1.4.0 (st2 3.9) is kept.
NONEXISTENT_PINS = ('argparse==1.12.2',)
# MarkupSafe 2.1.0 (February 2022) removed soft_unicode, which the jinja2 2.x that st2 pins
# imports: st2 3.7.0 added MarkupSafe<2.1.0 to its pins ("Fix build issue due to MarkUpSafe
# 2.1.0 removing soft_unicode", #5581, in its CHANGELOG). Trees that pin jinja2 2.x but not
# MarkupSafe (3.5.0, 3.6.0; 3.2.0, where Python 3.6 stops at MarkupSafe 2.0.1 anyway) get the
# same limit, which every st2 venv of theirs built before 2022 met.
MARKUPSAFE_LIMIT = 'MarkupSafe<2.1.0'


def _constraints(tree, workdir):
    """fixed-requirements.txt as pip constraints: no git lines, no extras, no pin of a
    release that does not exist; MarkupSafe<2.1.0 where jinja2 2.x is pinned without it."""
    # pip refuses extras in constraints (st2 3.2 pins requests[security]==2.23.0).
    lines = [re.sub(r'\[[^\]]*\]', '', line)
             for line in (tree / 'fixed-requirements.txt').read_text().splitlines()
             if 'git+' not in line and not line.startswith('-e')
             and line.split('#', 1)[0].strip() not in NONEXISTENT_PINS]
    pinned = {re.split(r'[<>=!~;\[ ]', line.strip(), maxsplit=1)[0].lower() for line in lines}
    if 'markupsafe' not in pinned and any(re.match(r'jinja2==2\.', line.strip(), re.I)
                                          for line in lines):
        lines.append(MARKUPSAFE_LIMIT)
    path = workdir / 'constraints.txt'
    path.write_text('\n'.join(lines) + '\n')
    return path


def build(src, tag, python, log=None):
    """Return the venv for (tag, python), building it when not cached."""
    venv = venv_dir(src, tag, python)
    if is_built(venv):
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    venv.mkdir(parents=True)
    log = log or open(venv / 'build.log', 'w')
    with log, tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        if tag == 'checkout':
            tree = src
        else:
            tree = _extract(src / ('st2-%s.tar.gz' % tag), venv / 'src')
        reqs = _requirements(src, tree, workdir)
        cons = _constraints(tree, workdir)
        new_python = tuple(int(p) for p in python_version(python).split('.')) >= MIN_PROJECT_PYTHON
        setuptools = SETUPTOOLS if new_python else OLD_SETUPTOOLS
        # pip 22 and wheel 0.38 dropped Python 3.6
        tools = ['pip', setuptools, 'wheel'] if new_python else ['pip<22', setuptools, 'wheel<0.38']
        _run([python, '-m', 'venv', venv], log)
        pip = [venv_python(venv), '-m', 'pip', 'install', '--no-input', '-q']
        _run(pip + ['-U'] + tools, log)
        _run(pip + ['-r', reqs, '-c', cons, setuptools], log)
        components = list(COMPONENTS)
        if not new_python and (tree / ST2_MISTRAL_RUNNER).is_dir():
            components.append(ST2_MISTRAL_RUNNER)
        _run(pip + ['--no-deps', '--no-build-isolation'] + [tree / c for c in components], log)
        frozen = workdir / 'frozen.txt'
        with open(frozen, 'w') as out:
            subprocess.run([str(venv_python(venv)), '-m', 'pip', 'freeze', '--exclude-editable'],
                           stdout=out, check=True)
        # Everything st2 has stays exactly as installed: the freeze is the constraint.
        pinned = [line for line in frozen.read_text().splitlines()
                  if '==' in line and not line.startswith(('st2', 'orquesta'))]
        frozen.write_text('\n'.join(pinned) + '\n')
        if new_python:
            extras = FIXTURE_PACKAGES
        else:
            extras = OLD_FIXTURE_PACKAGES + ST2_MISTRAL_RUNNER_PACKAGES
        _run(pip + ['-c', frozen] + list(extras), log)
        (venv / 'st2-tree').write_text(str(tree))
    (venv / 'BUILT').write_text(tag + '\n')
    return venv


def runs_project(venv):
    """Whether the venv's Python can run the project's st2 side (3.8+)."""
    version = python_version(str(venv_python(venv)))
    return tuple(int(p) for p in version.split('.')) >= MIN_PROJECT_PYTHON


def st2_tree(venv):
    return pathlib.Path((venv / 'st2-tree').read_text())


def has_st2_mistral_runner(venv):
    """Whether :func:`build` installed st2's OWN mistral_v2 runner into the venv (st2 3.2
    on Python < 3.8: a tree that has it, where the project's st2 side cannot run)."""
    return not runs_project(venv) and (st2_tree(venv) / ST2_MISTRAL_RUNNER).is_dir()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tag', default='v3.9.0')
    parser.add_argument('--python', default=sys.executable)
    args = parser.parse_args(argv)
    src = source_setting()
    if src is None:
        sys.exit('%s is not set: name a folder holding st2-<tag>.tar.gz or an st2 checkout'
                 % SRC_ENV)
    try:
        print(build(src, args.tag, args.python))
    except BuildError as exc:
        sys.exit(str(exc))


if __name__ == '__main__':
    main()
