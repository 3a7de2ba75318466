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

"""Issue 9, finding 5: deeply nested JSON in a task result must not lose the update.

results.decode_json caught only ValueError: json.loads of a 5,000-deep
``[[[...]]]`` raises RecursionError, which dropped the workflow's final update
(st2 stayed ``running``). The relay's output_for took the same path.
"""

import datetime
import json

from st2mistral.core import results
from st2mistral.st2_side import child_results

DEEP = '[' * 5000 + ']' * 5000          # 10 kB; json.loads raises RecursionError
MEDIUM = '[' * 500 + ']' * 500          # parses, but is deeper than st2 can store


def task(**kw):
    base = {'id': 't1', 'name': 't1', 'workflow_execution_id': 'wf1', 'workflow_name': 'wf',
            'created_at': datetime.datetime(2026, 1, 2, 3, 4, 5), 'updated_at': None,
            'state': 'SUCCESS', 'state_info': None, 'published': {}, 'result': 'r'}
    base.update(kw)
    return base


def test_deep_json_strings_are_kept_as_strings():
    assert results.decode_json(DEEP) == DEEP
    assert results.decode_json(MEDIUM) == MEDIUM
    assert results.decode_json('{"a": [[1]]}') == {'a': [[1]]}


def test_nesting_up_to_the_limit_is_decoded():
    limit = results.MAX_DECODED_DEPTH
    ok = '[' * limit + ']' * limit
    assert results.decode_json(ok) != ok
    too_deep = '[' * (limit + 1) + ']' * (limit + 1)
    assert results.decode_json(too_deep) == too_deep


def test_update_with_a_deep_task_result_is_built_and_serialisable():
    snapshot = results.Snapshot(state='SUCCESS', output={'out': DEEP},
                                tasks=[task(result=DEEP, published={'p': DEEP})])
    update = results.build_update(snapshot)
    assert update.status == 'succeeded'
    assert update.result['tasks'][0]['result'] == DEEP
    assert update.result['out'] == DEEP
    json.dumps(update.result)
    assert results.result_for_st2(snapshot, 1024 * 1024) == update.result


def test_result_for_st2_never_raises_and_says_what_went_wrong():
    # An output deeper than the recursion limit (Mistral's DB can hold one as a dict).
    deep = []
    for _ in range(5000):
        deep = [deep]
    snapshot = results.Snapshot(state='ERROR', state_info='boom', output={'o': deep},
                                tasks=[task()])
    result = results.result_for_st2(snapshot, 1024 * 1024)
    assert result['extra'] == {'state': 'ERROR', 'state_info': 'boom'}
    assert 'RecursionError' in result[results.ERROR_KEY]
    json.dumps(result)


def test_relay_output_keeps_a_deep_string():
    assert child_results.output_for(DEEP) == {'result': DEEP}
    assert child_results.output_for(MEDIUM) == {'result': MEDIUM}
