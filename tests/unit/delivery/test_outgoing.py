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

"""An st2 update as the spool keeps it (delivery/outgoing.py)."""

from st2mistral.mistral_side import targets
from st2mistral.mistral_side.delivery.outgoing import Outgoing


def _item():
    return Outgoing(target=targets.Target(execution_id='e1', api_url='http://st2', token='t'),
                    status='succeeded', result={'r': 1}, root_id='r', event='E', ex_id='r')


def test_a_spooled_update_reads_back_without_its_schedule():
    item = _item()
    item.attempts, item.unknown_since, item.due = 2, 5.0, 9.0
    again = Outgoing.from_dict(item.to_dict())
    assert (again.target, again.attempts, again.unknown_since, again.seq) == (
        item.target, 2, 5.0, item.seq)
    assert again.due is None


def test_a_row_spooled_before_unknown_since_keeps_its_grace():
    data = _item().to_dict()
    del data['unknown_since']
    data['first_404_at'] = 7.0                    # the name in earlier spools
    assert Outgoing.from_dict(data).unknown_since == 7.0
