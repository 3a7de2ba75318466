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

"""The wheel holds the product (core, mistral_side, st2_side), not the test support."""

import pathlib
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

from tests.unit.tool_scripts import load_tool

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_wheel_ships_the_three_sides_and_not_the_test_support(tmp_path):
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
                    '-w', str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300,
                   cwd=tmp_path)
    [wheel] = tmp_path.glob('st2mistral-*.whl')
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split('/')[1] for n in names if n.startswith('st2mistral/') and n.count('/') > 1}

    assert top == {'core', 'mistral_side', 'st2_side'}
    assert 'st2mistral/st2_side/runner.yaml' in names
    assert not [n for n in names if '/testing/' in n]


def package_check():
    return load_tool('package_check')


@pytest.mark.skipif(tomllib is None, reason='reading pyproject.toml needs tomllib (Python 3.11+)')
def test_pep517_sdist_then_wheel_from_it_hold_what_they_must(tmp_path):
    # The backend pyproject.toml names, through its PEP 517 hooks (what `python -m
    # build` calls): the sdist from the checkout, then the wheel from the sdist.
    backend = tomllib.loads((ROOT / 'pyproject.toml').read_text())['build-system']['build-backend']
    hook = ('import importlib, sys; backend = importlib.import_module(sys.argv[1]); '
            'print(getattr(backend, sys.argv[2])(sys.argv[3]))')
    # From a copy without the checkout's egg-info: setuptools adds the files its
    # SOURCES.txt lists to the sdist, whatever MANIFEST.in says now.
    checkout = tmp_path / 'checkout'
    shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(
        '*.egg-info', '.tox*', '.git', 'build', 'dist', '__pycache__', '.*cache', '.hypothesis'))
    sdist_name = subprocess.run([sys.executable, '-c', hook, backend, 'build_sdist', str(tmp_path)],
                                cwd=checkout, check=True, capture_output=True, text=True,
                                timeout=300).stdout.strip().splitlines()[-1]
    sdist = tmp_path / sdist_name
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path / 'unpacked', filter='data')
    [source] = (tmp_path / 'unpacked').iterdir()
    wheel_name = subprocess.run([sys.executable, '-c', hook, backend, 'build_wheel', str(tmp_path)],
                                cwd=source, check=True, capture_output=True, text=True,
                                timeout=300).stdout.strip().splitlines()[-1]

    assert backend == 'setuptools.build_meta'
    assert package_check().content_problems(sdist, tmp_path / wheel_name) == []


def test_content_check_names_shipped_test_support(tmp_path):
    wheel = tmp_path / 'st2mistral-0-py3-none-any.whl'
    with zipfile.ZipFile(wheel, 'w') as archive:
        for name in ('core', 'mistral_side', 'st2_side', 'testing'):
            archive.writestr('st2mistral/%s/__init__.py' % name, '')
        archive.writestr('st2mistral/st2_side/runner.yaml', '')
    sdist = tmp_path / 'st2mistral-0.tar.gz'
    with tarfile.open(sdist, 'w:gz') as tar:
        tar.add(ROOT / 'setup.cfg', arcname='st2mistral-0/setup.cfg')

    problems = package_check().content_problems(sdist, wheel)

    assert problems[0] == ("wheel: st2mistral/ holds ['core', 'mistral_side', 'st2_side', "
                           "'testing'], not ['core', 'mistral_side', 'st2_side']")
    assert 'sdist: docs/index.rst is missing' in problems
    assert 'test support shipped: st2mistral/testing/__init__.py' in problems
