"""Tracker.poll against stand-ins: what it reads, and what it sends st2 (and when not)."""

from st2mistral import results
from st2mistral import st2api
from st2mistral.runner import mistral_api
from st2mistral.runner import tracker as t

API = 'http://st2/v1'


class St2:
    """st2's API for the tracker: GET executions, PUT status (pause/cancel as requests)."""

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
        if ex['status'] in results.ST2_COMPLETED:
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
    return t.Reading(state, updated_at, snapshot=snapshot, calls=3)


def parent(status='running', children=()):
    return {'id': 'p', 'status': status, 'children': list(children),
            'context': {'mistral': {'execution_id': 'm1'}}}


def make(executions, readings):
    st2, reader = St2(executions), Reader(readings)
    return t.Tracker(reader, st2, API, st2api.Credentials(api_key='k')), st2, reader


def test_finished_workflow_is_written_once():
    tracker, st2, reader = make({'p': parent()}, [done_reading()])
    outcome = tracker.poll('p')
    assert outcome.done and outcome.status == 'succeeded'
    assert st2.puts == [('p', {'status': 'succeeded', 'result': {
        'x': 1, 'extra': {'state': 'SUCCESS', 'state_info': None}, 'tasks': []}})]
    assert tracker.poll('p').message == 'already completed in st2'
    assert len(st2.puts) == 1


def test_children_keep_it_running_then_the_kept_reading_completes_it():
    executions = {'p': parent(children=['c']),
                  'c': {'id': 'c', 'status': 'running', 'parent': 'p'}}
    tracker, st2, reader = make(executions, [done_reading()])
    first = tracker.poll('p')
    assert not first.done and first.status == 'running'
    second = tracker.poll('p')
    assert second.message == 'no change'
    assert st2.puts and len(st2.puts) == 1        # the result, once, status unchanged
    executions['c']['status'] = 'succeeded'
    assert tracker.poll('p').status == 'succeeded'
    # Mistral was read in full once; later polls only checked it had not changed.
    assert reader.reads == [None, ('SUCCESS', 't1'), ('SUCCESS', 't1')]
    assert st2.lists[0] == {'parent': 'p', 'limit': 100, 'offset': 0,
                            'exclude_attributes': 'result'}


def test_paused_needs_two_updates_in_st2():
    tracker, st2, reader = make({'p': parent()}, [done_reading('PAUSED')])
    outcome = tracker.poll('p')
    assert outcome.status == 'paused' and not outcome.done
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
    tracker = t.Tracker(Gone([]), st2, API, st2api.Credentials(api_key='k'))
    outcome = tracker.poll('p')
    assert outcome.done and outcome.status == 'failed'
    assert st2.puts[0][1]['result'] == {'error': 'Mistral execution m1 was not found.'}


def test_execution_without_mistral_context_is_dropped():
    ex = parent()
    ex['context'] = {}
    tracker, st2, reader = make({'p': ex}, [done_reading()])
    assert tracker.poll('p').done and reader.reads == []
