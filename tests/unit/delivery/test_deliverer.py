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

"""One try at one st2 update (delivery/deliverer.py): its Outcome and its trace line."""

import logging

import pytest

from st2mistral.core import st2api
from st2mistral.mistral_side import binding
from st2mistral.mistral_side import targets
from st2mistral.mistral_side.delivery import deliverer as deliverer_mod
from st2mistral.mistral_side.delivery.deliverer import Outcome
from st2mistral.mistral_side.delivery.outgoing import Outgoing

API = 'http://st2.test/api/v1'
URL = API + '/executions/e1'


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


class Verifier:
    """binding.Verifier's two calls: st2 vouches for the workflow, or raises ``refusal``."""

    def __init__(self, refusal=None):
        self.refusal, self.verified = refusal, []

    def verify(self, api_url, execution_id, root_id):
        self.verified.append(execution_id)
        if self.refusal is not None:
            raise self.refusal

    def key_credentials(self):
        return st2api.Credentials(api_key='key')


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make(conf, clock):
    def make(verifier=None):
        return deliverer_mod.Deliverer(st2api.St2Client(conf=conf), verifier or Verifier(),
                                       conf, clock)
    return make


def _item(status='succeeded', token='tok'):
    return Outgoing(target=targets.Target(execution_id='e1', api_url=API, token=token),
                    status=status, result={'r': 1}, root_id='root-1',
                    event='WORKFLOW_SUCCEEDED', ex_id='root-1')


def _warnings_and_errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_delivered_with_the_status_st2_shows(make, requests_mock, caplog):
    caplog.set_level(logging.INFO)
    requests_mock.put(URL, json={'status': 'succeeded'})
    item = _item()
    assert make().deliver(item) == (Outcome.DELIVERED, 'succeeded')
    assert item.attempts == 1
    assert requests_mock.last_request.headers['X-Auth-Token'] == 'tok'
    assert caplog.messages[-1] == ('[root-1] The workflow event WORKFLOW_SUCCEEDED for root-1 '
                                   'is published to st2.')


def test_a_pause_is_confirmed_by_a_second_put(make, requests_mock):
    requests_mock.put(URL, [{'json': {'status': 'pausing'}}, {'json': {'status': 'paused'}}])
    assert make().deliver(_item('paused')) == (Outcome.DELIVERED, 'paused')
    assert requests_mock.call_count == 2


def test_a_refused_token_falls_back_to_the_key_st2_vouches_for(make, requests_mock):
    requests_mock.put(URL, [{'status_code': 401, 'json': {'faultstring': 'expired'}},
                            {'json': {'status': 'succeeded'}}])
    verifier = Verifier()
    assert make(verifier).deliver(_item()) == (Outcome.DELIVERED, 'succeeded')
    assert verifier.verified == ['e1']
    assert requests_mock.last_request.headers['St2-Api-Key'] == 'key'


@pytest.mark.parametrize('fault, outcome', [
    ('Execution is already in completed state.', Outcome.ALREADY_COMPLETED),
    ('Unable to pause liveaction "la1" because it is not supported by the "mistral-v2" '
     'runner.', Outcome.PAUSE_REFUSED)])
def test_st2s_refusals_are_outcomes_without_a_warning(make, requests_mock, caplog, fault,
                                                      outcome):
    requests_mock.put(URL, status_code=400, json={'faultstring': fault})
    assert make().deliver(_item('paused')) == (outcome, None)
    assert _warnings_and_errors(caplog) == []


def test_a_completion_after_a_refused_pause_is_left_to_the_relay_holding_it(make,
                                                                            requests_mock):
    deliverer = make()
    requests_mock.put(URL, status_code=400, json={
        'faultstring': 'Unable to pause liveaction "la1" because it is not supported by the '
                       '"mistral-v2" runner.'})
    assert deliverer.deliver(_item('paused'))[0] is Outcome.PAUSE_REFUSED
    requests_mock.get(URL, json={'id': 'e1', 'status': 'paused'})
    assert deliverer.deliver(_item('canceled')) == (Outcome.HELD_BY_RELAY, None)
    assert requests_mock.last_request.method == 'GET'


def test_a_transient_failure_is_retried_until_the_update_expires(make, conf, clock,
                                                                  requests_mock, caplog):
    conf.set_override('delivery_expire_after', 60.0, group='st2')
    requests_mock.put(URL, status_code=503, json={})
    item = _item()
    item.accepted_at = clock.now
    deliverer = make()
    assert deliverer.deliver(item) == (Outcome.RETRY, None)
    assert 'is not yet published to st2 (try 1)' in _warnings_and_errors(caplog)[-1]
    clock.now += 61
    assert deliverer.deliver(item) == (Outcome.GIVE_UP, None)
    assert 'HTTP 503' in _warnings_and_errors(caplog)[-1]


def test_an_unknown_execution_waits_out_the_grace_from_its_first_404(make, conf, clock,
                                                                     requests_mock):
    conf.set_override('unknown_execution_grace', 30.0, group='st2')
    requests_mock.put(URL, status_code=404, json={'faultstring': 'nope'})
    item = _item()
    item.accepted_at = clock.now
    deliverer = make()
    assert deliverer.deliver(item)[0] is Outcome.RETRY
    assert item.unknown_since == 1000.0
    clock.now += 29
    assert deliverer.deliver(item)[0] is Outcome.RETRY
    clock.now += 1
    assert deliverer.deliver(item)[0] is Outcome.GIVE_UP


def test_a_workflow_st2_does_not_name_yet_shares_that_grace(make, conf, clock,
                                                            requests_mock):
    conf.set_override('unknown_execution_grace', 30.0, group='st2')
    item = _item(token=None)
    item.unknown_since = clock.now - 30            # a 404 came first, 30 s ago
    not_yet = binding.NotBound('st2 execution e1 names no workflow yet', final=False)
    assert make(Verifier(not_yet)).deliver(item) == (Outcome.GIVE_UP, None)
    assert requests_mock.call_count == 0


def test_a_request_that_cannot_be_made_is_given_up_without_the_token(make, caplog):
    item = _item()
    item.result = {'x': float('nan')}             # not JSON: requests cannot send it
    assert make().deliver(item) == (Outcome.GIVE_UP, None)
    (line,) = _warnings_and_errors(caplog)
    assert 'the request could not be made (' in line and 'tok' not in line
