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

from oslo_config import cfg
import pytest

from st2mistral.st2_side import config


def fresh():
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    return conf


def test_defaults_are_st2s():
    conf = fresh()
    m, rt = conf.mistral, conf.resultstracker
    assert m.v2_base_url == 'http://127.0.0.1:8989/v2'
    assert (m.retry_exp_msec, m.retry_exp_max_msec, m.retry_stop_max_msec) == (
        1000, 300000, 600000)
    assert m.jitter_interval == 0.1 and m.enable_polling is False
    assert m.cacert is None and m.insecure is False and m.api_url is None
    assert (rt.query_interval, rt.thread_pool_size, rt.empty_q_sleep_time,
            rt.no_workers_sleep_time) == (5, 10, 1, 1)


def test_st2s_own_definitions_win():
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt('v2_base_url', default='http://st2-says:8989/v2',
                                 help='st2common'), group='mistral')
    config.register_opts(conf)  # no DuplicateOptError
    conf([], default_config_files=[])
    assert conf.mistral.v2_base_url == 'http://st2-says:8989/v2'
    assert conf.mistral.reconcile_interval == 60.0  # ours are still added


def test_urls():
    conf = fresh()
    assert config.public_api_url(conf) == 'http://127.0.0.1:9101/v1'
    assert config.mistral_facing_api_url(conf) == 'http://127.0.0.1:9101/v1'
    conf.set_override('api_url', 'https://st2.example.com/api/', group='auth')
    conf.set_override('api_url', 'http://10.0.0.5:9101', group='mistral')
    assert config.public_api_url(conf) == 'https://st2.example.com/api/v1'
    assert config.mistral_facing_api_url(conf) == 'http://10.0.0.5:9101/v1'
    conf.set_override('api_url', 'http://10.0.0.5:9101/v1/', group='mistral')
    assert config.mistral_facing_api_url(conf) == 'http://10.0.0.5:9101/v1'


def test_load_reads_config_file_and_dir(tmp_path):
    (tmp_path / 'st2.conf').write_text(
        '[mistral]\nv2_base_url = http://mistral:8989/v2\n[resultstracker]\n'
        'query_interval = 0.5\n[api]\nport = 9101\n')
    conf = config.load(['--config-file', str(tmp_path / 'st2.conf')])
    assert conf.mistral.v2_base_url == 'http://mistral:8989/v2'
    assert conf.resultstracker.query_interval == 0.5
    conf = config.load(['--config-dir', str(tmp_path)])
    assert conf.mistral.v2_base_url == 'http://mistral:8989/v2'


def test_list_opts_covers_every_group():
    groups = dict(config.list_opts())
    assert {'mistral', 'resultstracker', 'auth'} == set(groups)
    assert 'st2_api_key' in {o.name for o in groups['mistral']}
    assert [o for o in groups['mistral'] if o.name == 'st2_api_key'][0].secret


@pytest.mark.parametrize('name', ['keystone_password', 'st2_api_key'])
def test_secrets_are_marked(name):
    assert [o for o in config.mistral_opts + config.st2mistral_opts if o.name == name][0].secret
