"""PUT /api/v1/executions/<id>: what st2 applies and refuses (the publisher's calls)."""

COMPLETED = 'Execution is already in completed state.'


def not_supported(verb, liveaction_id):
    # st2common/st2common/services/action.py request_pause/request_resume @ v3.3.0+
    return ('Failed updating execution. Unable to %s liveaction "%s" because it is not '
            'supported by the "mistral-v2" runner.' % (verb, liveaction_id))


def test_a_completed_status_is_applied_then_every_update_is_refused(backend):
    ex_id, _ = backend.new_execution()
    answer = backend.put('/executions/%s' % ex_id,
                         {'status': 'succeeded', 'result': {'tasks': [{'name': 't1'}]}})
    assert answer.status_code == 200, answer.text
    assert answer.json()['status'] == 'succeeded'
    assert answer.json()['result'] == {'tasks': [{'name': 't1'}]}

    again = backend.put('/executions/%s' % ex_id, {'status': 'failed', 'result': {'x': 1}})
    assert (again.status_code, again.json()['faultstring']) == (400, COMPLETED)
    assert backend.get('/executions/%s' % ex_id).json()['status'] == 'succeeded'


def test_an_unchanged_status_is_a_no_op_that_keeps_the_old_result(backend):
    ex_id, _ = backend.new_execution()
    first = backend.put('/executions/%s' % ex_id, {'status': 'running', 'result': {'a': 1}})
    assert first.status_code == 200, first.text
    assert backend.get('/executions/%s' % ex_id).json()['status'] == 'running'
    assert backend.get('/executions/%s' % ex_id).json().get('result') in (None, {})


def test_pause_of_a_mistral_v2_execution_per_version(backend):
    ex_id, lv_id = backend.new_execution()
    answer = backend.put('/executions/%s' % ex_id, {'status': 'pausing'})
    if backend.version >= (3, 3):
        assert answer.status_code == 400
        assert answer.json()['faultstring'] == not_supported('pause', lv_id)
        assert backend.get('/executions/%s' % ex_id).json()['status'] == 'running'
    else:
        assert answer.status_code == 200, answer.text
        assert answer.json()['status'] == 'pausing'


def test_paused_is_two_steps_pausing_then_paused(backend):
    """The publisher's PUT paused: st2 <= 3.2 takes it as a pause request first."""
    ex_id, lv_id = backend.new_execution()
    first = backend.put('/executions/%s' % ex_id, {'status': 'paused'})
    if backend.version >= (3, 3):
        assert first.status_code == 400
        assert first.json()['faultstring'] == not_supported('pause', lv_id)
        return
    assert (first.status_code, first.json()['status']) == (200, 'pausing')
    second = backend.put('/executions/%s' % ex_id, {'status': 'paused'})
    assert (second.status_code, second.json()['status']) == (200, 'paused')


def test_resume_of_a_paused_mistral_v2_execution_per_version(backend):
    ex_id, lv_id = backend.new_execution(status='paused')
    answer = backend.put('/executions/%s' % ex_id, {'status': 'resuming'})
    if backend.version >= (3, 3):
        assert answer.status_code == 400
        assert answer.json()['faultstring'] == not_supported('resume', lv_id)
    else:
        assert (answer.status_code, answer.json()['status']) == (200, 'resuming')


def test_resume_of_a_running_execution_is_a_no_op_on_3_2(backend):
    ex_id, lv_id = backend.new_execution()
    answer = backend.put('/executions/%s' % ex_id, {'status': 'resuming'})
    if backend.version >= (3, 3):
        assert answer.status_code == 400
        assert answer.json()['faultstring'] == not_supported('resume', lv_id)
    else:
        assert (answer.status_code, answer.json()['status']) == (200, 'running')


def test_canceled_is_two_steps_and_the_request_replaces_the_result(backend):
    """PUT canceled on running: a cancellation request (canceling, {message, user});
    PUT canceled again on canceling: applied with the result sent."""
    ex_id, _ = backend.new_execution()
    first = backend.put('/executions/%s' % ex_id,
                        {'status': 'canceled', 'result': {'tasks': ['ignored']}})
    assert first.status_code == 200, first.text
    assert first.json()['status'] == 'canceling'
    assert first.json()['result'] == {'message': 'Action canceled by user.',
                                      'user': 'st2admin'}
    second = backend.put('/executions/%s' % ex_id,
                         {'status': 'canceled', 'result': {'tasks': ['kept']}})
    assert second.status_code == 200, second.text
    assert second.json()['status'] == 'canceled'
    assert second.json()['result'] == {'tasks': ['kept']}


def test_an_unknown_execution_is_404(backend):
    answer = backend.put('/executions/5f0000000000000000000000', {'status': 'succeeded'})
    assert answer.status_code == 404
    assert answer.json()['faultstring'] == (
        'Unable to identify resource with id "5f0000000000000000000000".')


def test_an_unknown_property_is_400(backend):
    ex_id, _ = backend.new_execution()
    answer = backend.put('/executions/%s' % ex_id, {'status': 'succeeded', 'output': {}})
    assert answer.status_code == 400
    assert "Additional properties are not allowed ('output' was unexpected)" in (
        answer.json()['faultstring'])
