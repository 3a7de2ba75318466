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

"""tools/st2_pins.py: the check that installing st2mistral changes none of st2's pins."""

import os
import re
import sys

import pytest

from tests.unit.tool_scripts import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope='module')
def tool():
    return load_tool('st2_pins')


def test_a_changed_or_removed_package_fails(tool):
    before = {'stevedore': '5.3.0', 'pyyaml': '6.0.3', 'six': '1.17.0'}
    after = {'stevedore': '5.10.0', 'pyyaml': '6.0.3', 'st2mistral': '4.0.0'}
    assert tool.compare(before, after, pins={}) == [
        'six 1.17.0 was removed', 'stevedore changed 5.3.0 -> 5.10.0']


def test_an_installed_package_off_its_pin_fails_and_ignored_ones_do_not(tool):
    after = {'oslo-config': '10.7.0', 'pytest': '8.3.5', 'st2mistral': '4.0.0'}
    pins = {'oslo-config': '9.6.0', 'pytest': '7.0.1', 'gunicorn': '23.0.0'}
    assert tool.compare(after, after, pins, ignore={'pytest'}) == [
        'oslo-config is 10.7.0, pinned 9.6.0']


def test_pins_are_read_with_names_normalised_and_markers_honoured(tool, tmp_path):
    (tmp_path / 'constraints.txt').write_text(
        '# comment\noslo.config==9.6.0\nPyYAML==6.0.3  # note\npyOpenSSL<25.2\n'
        'typing-extensions>=4.13.2; python_version < "3.0"\n'
        'pyinotify==0.9.6 ; platform_system=="NoSuchSystem"\n')
    (tmp_path / 'requirements.txt').write_text(
        'backports.zoneinfo[tzdata]; python_version<"3.9"\nrequests[security]==2.32.4\n')
    assert tool.read_pins(str(tmp_path)) == {
        'oslo-config': '9.6.0', 'pyyaml': '6.0.3', 'requests': '2.32.4'}


def test_the_stored_st2_pins_parse(tool):
    pins = tool.read_pins(os.path.join(ROOT, 'tests', 'st2-pins', 'v3.9.0'))
    assert pins['stevedore'] == '5.3.0' and pins['oslo-config'] == '9.6.0'
    assert pins['urllib3'] == '2.2.3' and pins['tenacity'] == '9.0.0'


def test_without_pip_arguments_it_says_how_to_call_it(tool, capsys):
    with pytest.raises(SystemExit):
        tool.main([os.path.join(ROOT, 'tests', 'st2-pins', 'v3.9.0')])
    assert 'after --' in capsys.readouterr().err


PINS = os.path.join(ROOT, 'tests', 'st2-pins')
TAGS = sorted(os.listdir(PINS))
# Lines of a pins folder that are not in st2's files, each with its reason in the file.
ADDED = {'v3.5.0': {'constraints.txt': ['MarkupSafe<2.1.0']},
         'v3.6.0': {'constraints.txt': ['MarkupSafe<2.1.0']},
         'v3.8.1': {'requirements.txt': ['setuptools<81']}}
# st2 3.4-3.8 pin argparse 1.12.2, which was never released (PyPI's argparse stops at 1.4.0).
NEVER_RELEASED = {'argparse==1.12.2'}


def _st2_file(tag, name):
    """The lines of a file of st2's tree at ``tag`` (st2-<tag>.tar.gz in ST2MISTRAL_ST2_SRC)."""
    import tarfile
    src = os.environ.get('ST2MISTRAL_ST2_SRC', '').strip()
    tarball = os.path.join(src, 'st2-%s.tar.gz' % tag)
    if not src or not os.path.isfile(tarball):
        pytest.skip('ST2MISTRAL_ST2_SRC does not hold st2-%s.tar.gz: the pins are not '
                    'compared with st2\'s files' % tag)
    with tarfile.open(tarball) as tar:
        member = next(m for m in tar.getmembers() if m.name.split('/', 1)[-1] == name)
        return tar.extractfile(member).read().decode().splitlines()


def _entries(lines):
    return [line.split('#', 1)[0].strip() for line in lines
            if line.split('#', 1)[0].strip()]


def _stored(tag, name):
    with open(os.path.join(PINS, tag, name), encoding='utf-8') as f:
        return _entries(f)


@pytest.mark.parametrize('tag', TAGS)
def test_the_stored_constraints_are_st2s_fixed_requirements(tag):
    expected = [re.sub(r'\[[^\]]*\]', '', line)  # pip refuses extras in constraints
                for line in _entries(_st2_file(tag, 'fixed-requirements.txt'))
                if 'git+' not in line and line not in NEVER_RELEASED]
    assert _stored(tag, 'constraints.txt') == (
        expected + ADDED.get(tag, {}).get('constraints.txt', []))


@pytest.mark.parametrize('tag', TAGS)
def test_the_stored_requirements_are_st2commons(tag):
    expected = [line for line in _entries(_st2_file(tag, 'st2common/requirements.txt'))
                if 'git+' not in line]  # orquesta and st2-rbac-backend: not on PyPI
    assert _stored(tag, 'requirements.txt') == (
        expected + ADDED.get(tag, {}).get('requirements.txt', []))


@pytest.mark.parametrize('tag', TAGS)
def test_every_stored_release_has_its_tox_env_on_python_38(tag):
    import configparser
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(os.path.join(ROOT, 'tox.ini'))
    major, minor = tag.lstrip('v').split('.')[:2]
    prefix = 'testenv:st2v%s%s-py' % (major, minor)
    (section,) = [s for s in tox.sections() if s.startswith(prefix)]
    assert re.search(r'(-py38$|-py\{38,)', section), section
    folder = '{toxinidir}/tests/st2-pins/%s' % tag
    env = tox[section]
    assert 'ST2MISTRAL_ST2_PINS = %s' % folder in env['setenv']
    assert env['deps'].split() == ['-r%s/requirements.txt' % folder,
                                   '-c%s/constraints.txt' % folder]


def test_an_openstack_upper_constraints_file_is_read_with_its_markers(tool, tmp_path):
    pins = tmp_path / 'upper-constraints.txt'
    pins.write_text("mistral-lib===2.10.0\nalabaster===0.7.13;python_version=='3.8'\n"
                    "alabaster===0.7.16;python_version>='3.9'\noslo.log===5.5.1\n")
    assert tool.read_pins(str(pins)) == {
        'mistral-lib': '2.10.0', 'oslo-log': '5.5.1',
        'alabaster': '0.7.13' if sys.version_info[:2] == (3, 8) else '0.7.16'}


def test_the_stored_mistral_series_pins_parse(tool):
    pins = tool.read_pins(os.path.join(ROOT, 'tests', 'mistral-pins',
                                       'upper-constraints-2024.1.txt'))
    assert pins['mistral-lib'] == '2.10.0' and pins['oslo-log'] == '5.5.1'
