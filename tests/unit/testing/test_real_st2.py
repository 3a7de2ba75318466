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

"""The real-st2 fixture's pure parts (no st2 needed): settings, requirements, overlay."""

import configparser
import importlib.metadata

import pytest

from st2mistral.testing.real_st2 import build
from st2mistral.testing.real_st2 import launcher
from st2mistral.testing.real_st2 import settings


def test_tags_come_from_the_tarballs_or_the_setting(tmp_path, monkeypatch):
    monkeypatch.delenv(build.SRC_ENV, raising=False)
    monkeypatch.delenv('ST2MISTRAL_ST2_TAGS', raising=False)
    assert settings.tags() == []
    (tmp_path / 'st2-v3.9.0.tar.gz').write_bytes(b'')
    (tmp_path / 'st2-v3.2.0.tar.gz').write_bytes(b'')
    (tmp_path / 'st2-v3.5.0.tar.gz').write_bytes(b'')
    (tmp_path / 'orquesta-v1.1.1.tar.gz').write_bytes(b'')
    monkeypatch.setenv(build.SRC_ENV, str(tmp_path))
    # Unset: the default tags the folder holds (not every tarball: v3.5.0 runs when named).
    assert settings.tags() == ['v3.9.0', 'v3.2.0']
    assert settings.project_tags() == ['v3.9.0']
    (tmp_path / 'st2-v3.9.0.tar.gz').unlink()
    assert settings.tags() == ['v3.2.0'] and settings.project_tags() == []
    monkeypatch.setenv('ST2MISTRAL_ST2_TAGS', 'v3.5.0,v3.9.0')
    assert settings.tags() == ['v3.5.0', 'v3.9.0']
    assert settings.project_tags() == ['v3.5.0', 'v3.9.0']
    monkeypatch.setenv('ST2MISTRAL_ST2_TAGS', 'v3.2.0,v3.4.1')
    assert settings.project_tags() == []  # the st2 side runs on st2 3.5 and later


def test_st2_3_5_to_3_8_build_on_python_3_8(monkeypatch):
    for tag in ('v3.5.0', 'v3.6.0', 'v3.7.0', 'v3.8.1'):
        assert settings.PYTHONS[tag] == ('3.8',)
        monkeypatch.setattr(settings, 'find_python', lambda version: '/py/' + version)
        monkeypatch.delenv('ST2MISTRAL_ST2_PYTHON_' + tag.upper().replace('.', '_'),
                           raising=False)
        assert settings.python_for(tag) == '/py/3.8'


def test_a_checkout_is_one_tag(tmp_path):
    (tmp_path / 'st2common').mkdir()
    assert build.available_tags(tmp_path) == ['checkout']
    assert settings.version_of('checkout') > settings.version_of('v3.9.0')


def test_git_requirements_become_local_tarballs_or_are_dropped(tmp_path):
    tree = tmp_path / 'st2'
    (tree / 'st2common').mkdir(parents=True)
    (tree / 'st2common' / 'requirements.txt').write_text(
        'kombu==5.5.4\n'
        'orquesta@ git+https://github.com/StackStorm/orquesta.git@5ba1467614b2ef8b\n'
        'st2-rbac-backend@ git+https://github.com/StackStorm/st2-rbac-backend.git@master\n')
    (tree / 'fixed-requirements.txt').write_text(
        'requests[security]==2.23.0\n-e git+https://x/y.git#egg=y\nkombu==5.5.4\n')
    tarball = tmp_path / 'orquesta-5ba1467614b2ef8b4709b2ca89e68baa671e8975.tar.gz'
    tarball.write_bytes(b'')
    reqs = build._requirements(tmp_path, tree, tmp_path).read_text().splitlines()
    assert reqs == ['kombu==5.5.4', 'orquesta @ file://%s' % tarball]
    cons = build._constraints(tree, tmp_path).read_text().splitlines()
    assert cons == ['requests==2.23.0', 'kombu==5.5.4']


def _tree_with_pins(tmp_path, fixed):
    tree = tmp_path / 'st2'
    tree.mkdir(parents=True)
    (tree / 'fixed-requirements.txt').write_text(fixed)
    return build._constraints(tree, tree).read_text().splitlines()


def test_st2s_pin_of_an_argparse_that_never_existed_is_left_out(tmp_path):
    # st2 3.4-3.8 pin argparse==1.12.2 (PyPI's argparse stops at 1.4.0): with it pip
    # refuses st2 3.5's requirements (oslo.config 1.12.1 asks for argparse).
    assert _tree_with_pins(tmp_path, 'oslo.config>=1.12.1,<1.13\nargparse==1.12.2\n') == [
        'oslo.config>=1.12.1,<1.13']
    assert _tree_with_pins(tmp_path / 'x', 'argparse==1.4.0\n') == ['argparse==1.4.0']


def test_jinja2_2_without_a_markupsafe_pin_gets_st2_3_7s_markupsafe_limit(tmp_path):
    # st2 3.5.0 and 3.6.0 pin jinja2==2.11.3 and no MarkupSafe: MarkupSafe 2.1 breaks jinja2's
    # import, which left st2 3.5's local runner unregistered.
    assert _tree_with_pins(tmp_path, 'jinja2==2.11.3\n') == ['jinja2==2.11.3',
                                                              'MarkupSafe<2.1.0']
    kept = 'MarkupSafe<2.1.0,>=0.23\njinja2==2.11.3\n'  # st2 3.7.0-3.8.1
    assert _tree_with_pins(tmp_path / 'a', kept) == kept.split()
    assert _tree_with_pins(tmp_path / 'b', 'jinja2==3.1.6\n') == ['jinja2==3.1.6']  # st2 3.9


def test_a_missing_orquesta_tarball_is_named(tmp_path):
    tree = tmp_path / 'st2'
    (tree / 'st2common').mkdir(parents=True)
    (tree / 'st2common' / 'requirements.txt').write_text(
        'git+https://github.com/StackStorm/orquesta.git@v1.1.1#egg=orquesta\n')
    with pytest.raises(build.BuildError, match='no matching orquesta-<ref>.tar.gz'):
        build._requirements(tmp_path, tree, tmp_path)


def test_the_overlay_offers_this_checkout_and_its_st2_entry_points(tmp_path):
    overlay = launcher.write_overlay(tmp_path / 'overlay')
    assert (overlay / 'st2mistral' / 'st2_side' / 'st2_adapter.py').is_file()
    dist = next(importlib.metadata.distributions(path=[str(overlay)]))
    runners = {ep.name: ep.value for ep in dist.entry_points
               if ep.group == 'st2common.runners.runner'}
    assert runners == {'mistral-v2': 'st2mistral.st2_side.st2_adapter'}
    assert {ep.group for ep in dist.entry_points} <= set(launcher.ENTRY_POINT_GROUPS)


def test_st2_conf_uses_memory_transport_and_takes_overrides(tmp_path):
    path = launcher.render_config(tmp_path, 9101, {'mistral': {'v2_base_url': 'http://m/v2'}})
    conf = configparser.ConfigParser()
    conf.read(path)
    assert conf['messaging']['url'] == 'memory://'
    assert conf['auth']['api_url'] == 'http://127.0.0.1:9101/api'
    assert conf['mistral']['v2_base_url'] == 'http://m/v2'


def test_a_tags_python_may_be_named_by_version(monkeypatch):
    from st2mistral.testing.real_st2 import settings

    monkeypatch.setenv('ST2MISTRAL_ST2_PYTHON_V3_9_0', '3.8')
    monkeypatch.setattr(settings, 'find_python', lambda version: '/py/%s' % version)
    assert settings.python_for('v3.9.0') == '/py/3.8'
    monkeypatch.setenv('ST2MISTRAL_ST2_PYTHON_V3_9_0', '/opt/python3.10')
    assert settings.python_for('v3.9.0') == '/opt/python3.10'


def test_the_mistral_runner_choice_is_checked_before_st2_starts(tmp_path, monkeypatch):
    with pytest.raises(ValueError):
        launcher.RealSt2(tmp_path, tmp_path, mistral_runner='mine')
    # A venv without st2's own runner (st2 3.9, or any Python 3.8+ build): refused.
    monkeypatch.setattr(build, 'has_st2_mistral_runner', lambda venv: False)
    with pytest.raises(launcher.St2StartError, match="st2's own mistral_v2 runner"):
        launcher.RealSt2(tmp_path / 'st2', tmp_path, mistral_runner='st2').start()
    # The project's runner needs Python 3.8+.
    monkeypatch.setattr(build, 'runs_project', lambda venv: False)
    monkeypatch.setattr(build, 'python_version', lambda python: '3.6')
    with pytest.raises(launcher.St2StartError, match='needs Python 3.8'):
        launcher.RealSt2(tmp_path / 'st2', tmp_path, mistral_runner='project').start()
    assert not (tmp_path / 'st2').exists()  # nothing was started


def test_st2s_own_runner_is_there_only_for_an_old_python_and_a_tree_that_has_it(
        tmp_path, monkeypatch):
    tree = tmp_path / 'st2-v3.2.0'
    (tree / build.ST2_MISTRAL_RUNNER).mkdir(parents=True)
    venv = tmp_path / 'venv'
    venv.mkdir()
    (venv / 'st2-tree').write_text(str(tree))
    monkeypatch.setattr(build, 'runs_project', lambda venv: False)
    assert build.has_st2_mistral_runner(venv)
    monkeypatch.setattr(build, 'runs_project', lambda venv: True)
    assert not build.has_st2_mistral_runner(venv)
    monkeypatch.setattr(build, 'runs_project', lambda venv: False)
    (venv / 'st2-tree').write_text(str(tmp_path / 'st2-v3.9.0'))
    assert not build.has_st2_mistral_runner(venv)
