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

"""The one st2 update routine shared by the publisher and the relay."""

import pytest

from st2mistral.core import st2api
from st2mistral.core import st2update


class Puts:
    """A PUT that answers the listed statuses in turn."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def send(self, method, url, credentials, json_body=None):
        self.sent.append((method, url, json_body))
        answer = self.answers.pop(0)
        return {'status': answer} if answer else {}


@pytest.mark.parametrize('status, requested', [('paused', 'pausing'),
                                               ('canceled', 'canceling')])
def test_a_pause_or_cancel_st2_took_as_a_request_is_confirmed_with_a_second_put(
        status, requested):
    puts = Puts(requested, status)
    assert st2update.update(lambda: st2update.put(
        puts.send, 'http://st2/v1/', 'e1', status, {'a': 1}, None), status) == status
    assert puts.sent == [('PUT', 'http://st2/v1/executions/e1',
                          {'status': status, 'result': {'a': 1}})] * 2


@pytest.mark.parametrize('status, answer', [('paused', 'paused'), ('succeeded', 'succeeded'),
                                            ('running', 'running'), ('canceled', None)])
def test_any_other_answer_is_final_after_one_put(status, answer):
    puts = Puts(answer)
    assert st2update.update(lambda: st2update.put(
        puts.send, 'http://st2/v1', 'e1', status, None, None), status) == status
    assert puts.sent == [('PUT', 'http://st2/v1/executions/e1', {'status': status})]


@pytest.mark.parametrize('error, expected', [
    (st2api.St2Error('HTTP 400: Execution is already in completed state.', 400),
     st2update.ALREADY_COMPLETED),
    (st2api.St2Error('Cannot pause the action execution because it is not supported by '
                     'the "mistral-v2" runner.', 400), st2update.RUNNER_REFUSED),
    (st2api.St2Error('Execution is already in completed state.', 500), None),
    (st2api.St2Error('HTTP 400: bad status', 400), None),
    (ValueError('already in completed state'), None),
])
def test_refusal_reads_st2s_answers(error, expected):
    assert st2update.refusal(error) == expected
