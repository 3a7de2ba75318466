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

"""The Mistral callback of a completed st2 execution: st2 <= 3.3 sends it, 3.4+ never does."""

import json
import uuid

from st2mistral.testing.waiting import wait_until
from tests.contract.conftest import CHILD_ACTION


def wait_for_updates(recorder, action_execution_id, timeout=10):
    return wait_until(lambda: recorder.updates_for(action_execution_id), timeout=timeout,
                      interval=0.02,
                      message='a Mistral update for action execution %s' % action_execution_id)


def test_completing_an_execution_with_a_mistral_callback(backend, mistral_recorder):
    action_execution_id = uuid.uuid4().hex
    callback = {'source': 'mistral_v2',
                'url': '%s/action_executions/%s' % (mistral_recorder.url, action_execution_id)}
    ex_id, _ = backend.new_execution(action=CHILD_ACTION, runner='local-shell-cmd',
                                     callback=callback)
    answer = backend.put('/executions/%s' % ex_id,
                         {'status': 'succeeded', 'result': {'stdout': 'hi'}})
    assert answer.status_code == 200, answer.text
    if backend.version >= (3, 4):
        # st2 3.4+ has no callback: the PUT (which runs post_run synchronously) sent nothing.
        assert mistral_recorder.updates_for(action_execution_id) == []
        return
    updates = wait_for_updates(mistral_recorder, action_execution_id)
    assert len(updates) == 1
    assert updates[0]['state'] == 'SUCCESS'
    assert json.loads(updates[0]['output']) == {'stdout': 'hi'}
