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

"""The stand-in options used when oslo.config is as old as st2 3.8's pin (1.12).

They are built directly here, so they are checked whatever oslo.config the venv holds.
"""

from oslo_config import cfg
import pytest

from st2mistral.core import cfgcompat


@pytest.mark.parametrize('type_, good, bad', [
    (cfgcompat._Integer(min=0), '0', '-1'),        # 1.12's own Integer skips min=0
    (cfgcompat._Float(min=0.1), '0.1', '0.05'),
    (cfgcompat._Float(max=2.0), '2', '2.5'),
])
def test_range_is_checked(type_, good, bad):
    assert type_(good) == float(good)
    with pytest.raises(ValueError, match='Should be'):
        type_(bad)


def test_uri_needs_a_host_and_an_allowed_scheme():
    uri = cfgcompat._URI(schemes=['http', 'https'])
    assert uri('https://st2.test/api/v1') == 'https://st2.test/api/v1'
    for bad in ('ftp://st2.test/', 'st2.test/api', 'http://'):
        with pytest.raises(ValueError):
            uri(bad)


def test_options_reject_out_of_range_values_from_the_config_file(tmp_path):
    conf_file = tmp_path / 'st2.conf'
    conf_file.write_text('[g]\nn = 0\n')
    conf = cfg.ConfigOpts()
    conf.register_opt(cfgcompat.IntOpt('n', default=1, min=1), group='g')
    conf(['--config-file', str(conf_file)], project='st2mistral-tests')
    with pytest.raises(cfg.ConfigFileValueError):
        _ = conf.g.n


def test_parse_leaves_out_arguments_this_oslo_config_lacks():
    conf = cfg.ConfigOpts()
    conf.register_opt(cfgcompat.FloatOpt('x', default=1.0, min=0.0))
    cfgcompat.parse(conf, [], project='st2mistral-tests', description='d',
                    default_config_dirs=[], validate_default_values=True)
    assert conf.x == 1.0
