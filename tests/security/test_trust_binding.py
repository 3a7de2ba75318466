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

"""The publisher's use of [st2] api_key, without Mistral (issue 9, finding 1).

st2 is requests-mock; the functional attacks are in test_trust_api_key.py.
"""

import logging
import time

from oslo_config import cfg
import pytest

from st2mistral.core import opts
from st2mistral.core import st2api
from st2mistral.mistral_side import binding
from st2mistral.mistral_side import targets
from st2mistral.mistral_side.delivery import deliverer as deliverer_mod
from st2mistral.mistral_side.delivery import sender as delivery
from st2mistral.mistral_side.delivery.deliverer import Outcome

API = 'http://st2.test/api/v1'
KEY = 'site-key-789'
ST2_ID = '5e1f00000000000000000001'
URL = API + '/executions/' + ST2_ID


@pytest.fixture
def st2_conf():
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf([], project='st2mistral-tests')
    for name, value in dict(api_url=API, api_key=KEY, retry_initial_delay=0.0,
                            retry_max_delay=0.0, unknown_execution_grace=0.0).items():
        conf.set_override(name, value, group='st2')
    return conf


@pytest.fixture
def sender(st2_conf):
    s = delivery.Sender(client=st2api.St2Client(conf=st2_conf), conf=st2_conf, workers=1)
    yield s.start()
    s.stop()


def deliverer(st2_conf, clock=time.time):
    """One try at an update, as the Sender makes it."""
    client = st2api.St2Client(conf=st2_conf)
    return deliverer_mod.Deliverer(client, binding.Verifier(client, st2_conf), st2_conf, clock)


def update(status='succeeded', token=None, event='WORKFLOW_SUCCEEDED'):
    return delivery.Outgoing(
        target=targets.Target(execution_id=ST2_ID, api_url=API, token=token),
        status=status, result=None, root_id='root-1', event=event, ex_id='root-1')


def record(mistral_execution_id='root-1'):
    context = {'user': 'alice'}
    if mistral_execution_id:
        context['mistral'] = {'execution_id': mistral_execution_id}
    return {'json': {'id': ST2_ID, 'status': 'running', 'context': context}}


def calls(requests_mock):
    return [(r.method, 'key' if r.headers.get('St2-Api-Key') == KEY else
             'token' if r.headers.get('X-Auth-Token') else 'none')
            for r in requests_mock.request_history]


@pytest.mark.parametrize('doc, problem', [
    ({'context': {'mistral': {'execution_id': 'root-1'}}}, None),
    ({'context': {'mistral': {'execution_id': 'other-root-9'}}}, 'final'),
    ({'context': {'mistral': {'workflow_execution_id': 'root-1'}}}, 'not yet'),
    ({'context': {}}, 'not yet'),
    ({'context': 'x'}, 'not yet'),
    (['root-1'], 'not yet'),
    (None, 'not yet'),
])
def test_check_reads_only_context_mistral_execution_id(doc, problem):
    found = binding.check(doc, ST2_ID, 'root-1')
    if problem is None:
        assert found is None
    else:
        assert found.final is (problem == 'final')
        assert 'other-root-9' not in str(found)      # never another workflow's id


def test_no_token_key_used_after_one_binding_check(sender, requests_mock, caplog):
    requests_mock.get(URL, **record())
    requests_mock.put(URL, json={'status': 'running'})
    assert sender.submit(update('running', event='WORKFLOW_LAUNCHED')) and sender.flush(5)
    assert sender.submit(update('succeeded')) and sender.flush(5)
    assert calls(requests_mock) == [('GET', 'key'), ('PUT', 'key'), ('PUT', 'key')]
    assert KEY not in caplog.text


def test_refused_token_then_key_for_a_bound_execution(sender, requests_mock):
    requests_mock.get(URL, **record())
    requests_mock.put(URL, [{'status_code': 401, 'json': {'faultstring': 'Unauthorized'}},
                            {'json': {'status': 'succeeded'}}])
    assert sender.submit(update(token='expired')) and sender.flush(5)
    assert calls(requests_mock) == [('PUT', 'token'), ('GET', 'key'), ('PUT', 'key')]
    assert sender._delivered[update().key] == 'succeeded'


def test_accepted_token_never_needs_the_binding(sender, requests_mock):
    requests_mock.put(URL, json={'status': 'succeeded'})
    assert sender.submit(update(token='good')) and sender.flush(5)
    assert calls(requests_mock) == [('PUT', 'token')]


@pytest.mark.parametrize('token', [None, 'expired'])
def test_execution_of_another_workflow_gets_nothing_and_one_error(sender, requests_mock,
                                                                  caplog, token):
    caplog.set_level(logging.INFO)
    requests_mock.get(URL, **record('someone-elses-root'))
    requests_mock.put(URL, status_code=401, json={'faultstring': 'Unauthorized'})
    assert sender.submit(update('running', token=token, event='WORKFLOW_LAUNCHED'))
    assert sender.flush(5)
    assert sender.submit(update('succeeded', token=token)) and sender.flush(5)

    assert ('PUT', 'key') not in calls(requests_mock)
    assert [m for m in calls(requests_mock) if m[0] == 'GET'] == [('GET', 'key')]  # asked once
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert ('[root-1] The workflow event WORKFLOW_LAUNCHED for root-1 is not published to st2 '
            'execution %s: the workflow has no st2 token st2 accepts, and st2 execution %s '
            'belongs to another Mistral workflow execution, not to root-1.' % (ST2_ID, ST2_ID)
            in errors[0])
    assert 'someone-elses-root' not in caplog.text
    assert KEY not in caplog.text and 'expired' not in caplog.text


def test_execution_naming_no_workflow_is_retried_for_the_grace_then_given_up(
        st2_conf, requests_mock, caplog):
    st2_conf.set_override('unknown_execution_grace', 100.0, group='st2')
    now = [0.0]
    one_try = deliverer(st2_conf, clock=lambda: now[0])
    requests_mock.get(URL, [record(None), record(None)])
    item = update()
    assert one_try.deliver(item) == (Outcome.RETRY, None)     # st2 has not stored it yet
    now[0] = 101.0
    assert one_try.deliver(item) == (Outcome.GIVE_UP, None)
    assert [m for m in calls(requests_mock)] == [('GET', 'key'), ('GET', 'key')]
    assert 'names no Mistral workflow execution (yet)' in caplog.text


def test_without_any_api_key_the_check_is_made_without_credentials(st2_conf, requests_mock):
    # st2 with authentication off: no token, no key, and still no update for a stranger.
    st2_conf.clear_override('api_key', group='st2')
    requests_mock.get(URL, **record('someone-elses-root'))
    assert deliverer(st2_conf).deliver(update()) == (Outcome.GIVE_UP, None)
    assert calls(requests_mock) == [('GET', 'none')]
