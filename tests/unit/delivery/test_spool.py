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
import stat

import pytest

from st2mistral.core import st2api
from st2mistral.mistral_side import targets
from st2mistral.mistral_side.delivery import sender as delivery
from st2mistral.mistral_side.delivery import spool as spool_mod


def _item(execution_id='e1', status='succeeded', result=None):
    return delivery.Outgoing(
        target=targets.Target(execution_id=execution_id, api_url='http://st2/api/v1',
                              token='secret-token'),
        status=status, result=result or {'a': 'é'}, root_id='root', event='WORKFLOW_SUCCEEDED',
        ex_id='root')


@pytest.fixture
def spool(tmp_path):
    s = spool_mod.Spool(str(tmp_path / 'state'), max_count=10, max_bytes=100000).open()
    yield s
    s.close()


def test_events_survive_reopen_in_order(tmp_path):
    directory = str(tmp_path / 'state')
    first = spool_mod.Spool(directory, 10, 100000).open()
    ids = [first.add_event({'ex_id': 'x%d' % i}) for i in range(3)]
    first.remove_event(ids[1])
    first.close()
    again = spool_mod.Spool(directory, 10, 100000).open()
    assert [payload['ex_id'] for _, payload in again.events()] == ['x0', 'x2']
    assert again.usage()[0] == 2
    again.close()


def test_newest_update_per_execution_replaces_older(spool):
    old, new = _item(status='running'), _item(status='succeeded')
    spool.put(old)
    spool.put(new)
    spool.put(_item(execution_id='e2'))
    loaded = [delivery.Outgoing.from_dict(d) for _, d in spool.load()]
    assert [(i.target.execution_id, i.status) for i in loaded] == [('e1', 'succeeded'),
                                                                     ('e2', 'succeeded')]
    assert loaded[0].target.token == 'secret-token'
    assert loaded[0].result == {'a': 'é'}
    spool.remove(old)            # an older seq does not remove the newer row
    assert len(spool.load()) == 2
    spool.remove(new)
    assert len(spool.load()) == 1
    assert spool.usage()[0] == 1


def test_limits_refuse_with_a_clear_message(tmp_path):
    small = spool_mod.Spool(str(tmp_path / 's'), max_count=2, max_bytes=100000).open()
    small.add_event({'n': 1})
    small.put(_item())
    with pytest.raises(spool_mod.SpoolFull, match='spool_max_count=2'):
        small.add_event({'n': 2})
    small.put(_item(status='failed'))     # replacing a row needs no room
    small.close()
    tiny = spool_mod.Spool(str(tmp_path / 't'), max_count=100, max_bytes=50).open()
    with pytest.raises(spool_mod.SpoolFull, match='spool_max_bytes=50'):
        tiny.add_event({'big': 'x' * 100})
    tiny.close()


def test_file_is_private_and_slots_are_exclusive(tmp_path):
    directory = str(tmp_path / 'state')
    a = spool_mod.Spool(directory, 10, 1000).open()
    b = spool_mod.Spool(directory, 10, 1000).open()
    assert a.path != b.path
    assert stat.S_IMODE(os.stat(a.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    a.add_event({'from': 'a'})
    a.close()                                  # "a" dies: its slot is adopted
    c = spool_mod.Spool(directory, 10, 1000).open()
    assert c.path == a.path and c.events()[0][1] == {'from': 'a'}
    b.close()
    c.close()


def test_sender_replays_spooled_updates(conf, tmp_path, requests_mock):
    conf.set_override('api_url', 'http://st2/api/v1', group='st2')
    requests_mock.put('http://st2/api/v1/executions/e1', json={})
    directory = str(tmp_path / 'state')
    first = spool_mod.Spool(directory, 10, 100000).open()
    delivery.Sender(conf=conf, store=first, client=object()).submit(_item())  # never started
    first.close()

    second = spool_mod.Spool(directory, 10, 100000).open()

    sender = delivery.Sender(conf=conf, store=second, workers=1,
                             client=st2api.St2Client(conf=conf)).start()
    assert sender.flush(5)
    sender.stop()
    assert [r.json()['status'] for r in requests_mock.request_history] == ['succeeded']
    assert requests_mock.request_history[0].headers['X-Auth-Token'] == 'secret-token'
    assert second.load() == []
    second.close()


def test_an_unreadable_update_is_discarded_by_its_key(spool):
    """The row goes by its key, whatever its payload looks like once re-serialised."""
    spool.put(_item(execution_id='e1'))
    spool.put(_item(execution_id='e2'))
    # A row written by another build: key order and spacing differ from json.dumps.
    spool._db.execute("UPDATE updates SET payload = '{ \"target\" : {\"execution_id\": \"e1\"}}' "
                      "WHERE execution_id = 'e1'")
    (key, data), _ = spool.load()
    assert data == {'target': {'execution_id': 'e1'}}
    spool.discard(key)
    assert [d['target']['execution_id'] for _, d in spool.load()] == ['e2']
    assert spool.usage()[0] == 1
