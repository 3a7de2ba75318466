"""The Mistral callback of a completed st2 execution: st2 <= 3.3 sends it, 3.4+ never does."""

import json
import time
import uuid

from tests.contract.conftest import CHILD_ACTION


def wait_for_updates(recorder, action_execution_id, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        updates = recorder.updates_for(action_execution_id)
        if updates:
            return updates
        time.sleep(0.02)
    return []


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
