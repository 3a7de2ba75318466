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

"""Reconciler.poll against stand-ins: what it reads, and what it sends st2 (and when not)."""

from st2mistral.core import contract
from st2mistral.core import results
from st2mistral.core import st2api
from st2mistral.st2_side import child_results
from st2mistral.st2_side import mistral_api
from st2mistral.st2_side import reconcile as t
from st2mistral.st2_side import st2_executions

API = 'http://st2/v1'


def st2_api(st2):
    return st2_executions.St2Executions(st2, API, st2api.Credentials(api_key='k'))


class St2:
    """st2's API for the reconciler: GET executions, PUT status (pause/cancel as requests)."""

    def __init__(self, executions):
        self.executions = executions
        self.puts = []
        self.lists = []

    def call(self, method, url, credentials, json_body=None, params=None):
        if url.endswith('/executions'):
            self.lists.append(params)
            children = [dict(e) for e in self.executions.values()
                        if e.get('parent') == params['parent']]
            return children[params['offset']:params['offset'] + params['limit']]
        ex_id = url.rsplit('/', 1)[-1]
        ex = self.executions[ex_id]
        if method == 'GET':
            return dict(ex)
        if ex['status'] in contract.ST2_COMPLETED:
            raise st2api.St2Error('HTTP 400: Execution is already in completed state.', 400)
        self.puts.append((ex_id, dict(json_body)))
        wanted = json_body['status']
        if wanted in ('paused', 'canceled') and ex['status'] == 'running':
            wanted = {'paused': 'pausing', 'canceled': 'canceling'}[wanted]
        ex['status'] = wanted
        return dict(ex)


class Reader:
    def __init__(self, readings):
        self.readings = readings      # list consumed per read (last one repeats)
        self.reads = []

    def read(self, ex_id, known=None):
        reading = self.readings[0] if len(self.readings) == 1 else self.readings.pop(0)
        self.reads.append(known)
        if known == (reading.state, reading.updated_at):
            return t.Reading(reading.state, reading.updated_at, calls=1)
        return reading


def done_reading(state='SUCCESS', updated_at='t1'):
    snapshot = results.Snapshot(state=state, output={'x': 1}, tasks=[])
    return t.Reading(state, updated_at, snapshot=snapshot, calls=4)


def parent(status='running', children=()):
    return {'id': 'p', 'status': status, 'children': list(children),
            'context': {'mistral': {'execution_id': 'm1'}}}


def make(executions, readings, records=None):
    st2, reader = St2(executions), Reader(readings)
    return (t.Reconciler(reader, st2_api(st2), records=records),
            st2, reader)


def test_finished_workflow_is_written_once():
    tracker, st2, reader = make({'p': parent()}, [done_reading()])
    outcome = tracker.poll('p')
    assert outcome.completed and outcome.status == 'succeeded'
    assert st2.puts == [('p', {'status': 'succeeded', 'result': {
        'x': 1, 'extra': {'state': 'SUCCESS', 'state_info': None}, 'tasks': []}})]
    assert tracker.poll('p').message == 'already completed in st2'
    assert len(st2.puts) == 1


def test_children_keep_it_running_then_the_kept_reading_completes_it():
    executions = {'p': parent(children=['c']),
                  'c': {'id': 'c', 'status': 'running', 'parent': 'p'}}
    tracker, st2, reader = make(executions, [done_reading()])
    first = tracker.poll('p')
    assert not first.completed and first.status == 'running'
    second = tracker.poll('p')
    assert second.message == 'no change'
    assert st2.puts and len(st2.puts) == 1        # the result, once, status unchanged
    executions['c']['status'] = 'succeeded'
    assert tracker.poll('p').status == 'succeeded'
    # Mistral was read in full once; later polls only checked it had not changed.
    assert reader.reads == [None, ('SUCCESS', 't1'), ('SUCCESS', 't1')]
    assert st2.lists[0] == {'parent': 'p', 'limit': 100, 'offset': 0,
                            'exclude_attributes': 'result'}


def test_paused_needs_two_updates_through_st2s_api():
    tracker, st2, reader = make({'p': parent()}, [done_reading('PAUSED')])
    outcome = tracker.poll('p')
    assert outcome.status == 'paused' and not outcome.completed
    assert [body['status'] for _, body in st2.puts] == ['paused', 'paused']
    assert tracker.poll('p').message == 'no change'


def test_running_workflow_sends_nothing():
    tracker, st2, reader = make({'p': parent()}, [t.Reading('RUNNING', 't0', calls=1)])
    assert tracker.poll('p').message == 'no change'
    assert st2.puts == []


def test_missing_mistral_execution_fails_the_st2_execution():
    class Gone(Reader):
        def read(self, ex_id, known=None):
            raise mistral_api.MistralError(404, 'not found')

    st2 = St2({'p': parent()})
    tracker = t.Reconciler(Gone([]), st2_api(st2))
    outcome = tracker.poll('p')
    assert outcome.completed and outcome.status == 'failed'
    assert st2.puts[0][1]['result'] == {'error': 'Mistral execution m1 was not found.'}


def test_execution_without_mistral_context_yet_is_left_alone():
    ex = parent()
    ex['context'] = {}
    tracker, st2, reader = make({'p': ex}, [done_reading()])
    outcome = tracker.poll('p')
    assert not outcome.completed and reader.reads == [] and st2.puts == []


class Records:
    """st2_adapter.St2Records' set_status: st2's update_status, recorded."""

    def __init__(self, executions):
        self.executions = executions
        self.set = []

    def set_status(self, execution_id, status, result=None):
        self.set.append((execution_id, status, result))
        if self.executions[execution_id]['status'] not in contract.ST2_COMPLETED:
            self.executions[execution_id]['status'] = status
        return self.executions[execution_id]['status']


def test_pause_is_written_through_st2s_records_not_its_api():
    """st2 3.3+ refuses PUT paused for mistral-v2: the relay writes it as st2's runner would."""
    executions = {'p': parent()}
    records = Records(executions)
    tracker, st2, reader = make(executions, [done_reading('PAUSED')], records=records)
    outcome = tracker.poll('p')
    assert outcome.status == 'paused' and not outcome.completed
    assert st2.puts == []
    (set_status,) = records.set
    assert set_status[:2] == ('p', 'paused')
    assert set_status[2]['extra'] == {'state': 'PAUSED', 'state_info': None}
    assert tracker.poll('p').message == 'no change'


def test_what_follows_a_pause_is_written_through_st2s_records():
    executions = {'p': parent(status='paused')}
    records = Records(executions)
    tracker, st2, reader = make(executions, [t.Reading('RUNNING', 't2', calls=1)],
                                records=records)
    assert tracker.poll('p').status == 'running'
    assert st2.puts == [] and records.set == [('p', 'running', None)]


def test_resume_without_records_is_sent_through_the_api():
    tracker, st2, reader = make({'p': parent(status='paused')},
                                [t.Reading('RUNNING', 't2', calls=1)])
    assert tracker.poll('p').status == 'running'
    assert st2.puts == [('p', {'status': 'running'})]


def test_a_completed_execution_is_not_paused_again():
    executions = {'p': parent()}
    records = Records(executions)
    tracker, st2, reader = make(executions, [done_reading('PAUSED')], records=records)
    executions['p']['status'] = 'running'
    tracker.poll('p')
    executions['p']['status'] = 'canceled'     # another relay or st2 completed it meanwhile
    assert records.set_status('p', 'paused') == 'canceled'


def test_st2s_refusal_without_records_is_no_error():
    class Refusing(St2):
        def call(self, method, url, credentials, json_body=None, params=None):
            if method == 'PUT':
                raise st2api.St2Error('HTTP 400: Unable to pause liveaction "la" because it '
                                      'is not supported by the "mistral-v2" runner.', 400)
            return super().call(method, url, credentials, json_body, params)

    st2 = Refusing({'p': parent()})
    tracker = t.Reconciler(Reader([done_reading('PAUSED')]), st2_api(st2))
    outcome = tracker.poll('p')
    assert (outcome.completed, outcome.status, outcome.message) == (
        False, 'running', 'refused by st2')


def test_a_refused_child_is_not_handed_over_again():
    """A child whose st2 user does not own the task (child_binding.py) is refused once."""
    class Children:
        def __init__(self):
            self.calls = []

        def deliver_execution(self, execution):
            self.calls.append(execution['id'])
            return child_results.REFUSED

    executions = {'p': parent(children=['c']),
                  'c': {'id': 'c', 'status': 'succeeded', 'parent': 'p'}}
    children = Children()
    st2 = St2(executions)
    tracker = t.Reconciler(Reader([t.Reading('RUNNING', 't0', calls=1)]), st2_api(st2),
                           children=children)
    tracker.poll('p')
    tracker.poll('p')
    assert children.calls == ['c']
