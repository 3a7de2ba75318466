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

from st2mistral.core import opts


@pytest.fixture
def conf():
    """A fresh [st2] config per test (not the global one); zero retry waits."""
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf([], project='st2mistral-tests')
    for name, value in dict(api_url='http://st2.test/api/v1', auth_url='http://st2.test/auth/v1',
                            retry_initial_delay=0.0, retry_max_delay=0.0,
                            retry_give_up_after=5.0).items():
        conf.set_override(name, value, group='st2')
    return conf
