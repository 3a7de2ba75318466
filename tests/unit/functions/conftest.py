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


@pytest.fixture(autouse=True)
def allowed_st2_urls():
    """st2kv goes through the shared client, which only talks to configured st2 URLs."""
    cfg.CONF.set_override('allowed_api_urls',
                          ['http://st2.example:9101/v1', 'http://st2.test/v1'], group='st2')
    yield
    cfg.CONF.clear_override('allowed_api_urls', group='st2')
