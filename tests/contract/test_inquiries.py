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

"""``PUT /inquiries/<id>`` (st2api/st2api/controllers/v1/inquiries.py,
st2common/st2common/services/inquiry.py): what ``st2 inquiry respond`` gets. The
emulator's rules are st2_emulator/inquiries.py."""

ASK = 'st2mistral_tests.ask'  # an inquirer runner action


def respond(backend, inquiry_id, response):
    return backend.put('/inquiries/%s' % inquiry_id, {'id': inquiry_id, 'response': response})


def pending_inquiry(backend):
    """An inquiry as st2's inquirer runner leaves it: pending, its parameters in the result
    (contrib/runners/inquirer_runner/inquirer_runner/inquirer_runner.py ``run``)."""
    inquiry, liveaction_id = backend.new_execution(status='running', action=ASK,
                                                   runner='inquirer',
                                                   context={'user': 'st2admin'})
    # A schema with ``properties``: st2 3.2's GET of a responded inquiry masks the response
    # through them (st2common/st2common/util/secrets.py mask_inquiry_response @ v3.2.0,
    # KeyError without: HTTP 500).
    schema = {'type': 'object', 'properties': {'continue': {'type': 'boolean'}}}
    result = {'schema': schema, 'roles': [], 'users': [], 'route': '', 'ttl': 1440}
    if backend.kind == 'real':
        backend.st2.control('set_status', liveaction_id=liveaction_id, status='pending',
                            result=result)
    else:
        backend.emulator.db_update_status(liveaction_id, 'pending', result)
    return inquiry


def test_a_pending_inquiry_takes_a_response_once(backend):
    inquiry = pending_inquiry(backend)
    answer = respond(backend, inquiry, {'continue': True})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {'id': inquiry, 'response': {'continue': True}}
    got = backend.get('/executions/%s' % inquiry)
    assert got.status_code == 200, got.text
    assert got.json()['status'] == 'succeeded'
    assert got.json()['result']['response'] == {'continue': True}
    again = respond(backend, inquiry, {'continue': True})
    assert (again.status_code, again.json()) == (400, {
        'faultstring': 'Inquiry "%s" has already been responded to.' % inquiry})


def test_respond_to_an_execution_that_is_not_an_inquiry(backend):
    ex, _ = backend.new_execution(status='running')
    answer = respond(backend, ex, {})
    assert answer.status_code == 400
    assert answer.json()['faultstring'] == 'Action execution "%s" is not an inquiry.' % ex
