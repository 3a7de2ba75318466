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

import os

import pytest

from st2mistral.runner import tracking


def test_add_remove_list(tmp_path):
    store = tracking.TrackingStore(str(tmp_path / 'tracked'))
    assert store.ids() == []
    assert store.add('5f0000000000000000000001', mistral_execution_id='m1')
    assert not store.add('5f0000000000000000000001')  # duplicate
    assert store.add('5f0000000000000000000002')
    os.utime(tmp_path / 'tracked' / '5f0000000000000000000001.json', (1, 1))
    assert store.ids() == ['5f0000000000000000000001', '5f0000000000000000000002']
    assert '5f0000000000000000000002' in store
    assert store.remove('5f0000000000000000000002')
    assert not store.remove('5f0000000000000000000002')
    assert store.ids() == ['5f0000000000000000000001']


@pytest.mark.parametrize('bad', ['../etc/passwd', 'a/b', '', 'x' * 65, None])
def test_ids_never_name_a_path(tmp_path, bad):
    store = tracking.TrackingStore(str(tmp_path))
    with pytest.raises(tracking.InvalidExecutionId):
        store.add(bad)
