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

import pytest

from st2mistral.mistral_side.delivery import ordering

D = ordering.Decision


@pytest.mark.parametrize('delivered,waiting,new,decision', [
    (None, None, 'running', D.SEND),
    ('running', None, 'succeeded', D.SEND),
    ('running', 'running', 'succeeded', D.SUPERSEDE),
    (None, 'paused', 'running', D.SUPERSEDE),         # resume after pause
    ('succeeded', None, 'running', D.DROP_REGRESSION),  # late running
    ('failed', None, 'failed', D.DROP_REGRESSION),      # duplicate
    (None, 'succeeded', 'running', D.DROP_REGRESSION),
    ('paused', None, 'running', D.SEND),
])
def test_decide(delivered, waiting, new, decision):
    assert ordering.decide(delivered, waiting, new) is decision
