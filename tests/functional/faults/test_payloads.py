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

"""Workflows whose data is awkward for st2: no st2 context, values JSON cannot
represent natively, results over ``[st2] max_result_size``, and requests that
cannot even be built. Real Mistral 23, strict st2 emulator; each test checks
what st2 received and the publisher's log lines.
"""

import json

import pytest

from st2mistral.core import contract
from st2mistral.core import results
from st2mistral.testing import mistral_launcher
from tests.functional.conftest import TOKEN
from tests.functional.conftest import Run
from tests.functional.conftest import unique
from tests.functional.faults.conftest import fault_config
from tests.functional.faults.conftest import history
from tests.functional.faults.conftest import notifier_lines
from tests.functional.faults.conftest import wait_lines
from tests.functional.faults.conftest import wait_mistral_states
from tests.functional.notifiers.test_stackstorm_notifier import simple_wf

MAX_RESULT_SIZE = 4096
WORKERS = 2


@pytest.fixture(scope='module')
def mistral(st2_emulator, tmp_path_factory):
    config = fault_config(st2_emulator, max_result_size=MAX_RESULT_SIZE,
                          delivery_workers=WORKERS)
    server = mistral_launcher.MistralServer(str(tmp_path_factory.mktemp('payloads')),
                                            config=config)
    with server:
        yield server


def _published(mistral, ex_id, event='WORKFLOW_SUCCEEDED'):
    return wait_lines(mistral, '[%s] The workflow event %s for %s is published to st2.'
                      % (ex_id, event, ex_id))


@pytest.mark.parametrize('env', [
    {},
    {'owner': 'ops', 'ticket': 42},
    # st2's context without the execution id: started by hand, copied from st2.
    {'__actions': {'st2.action': {'st2_context': {'api_url': 'http://127.0.0.1:1/api/v1'}}}},
], ids=['no-env', 'unrelated-env', 'context-without-execution-id'])
def test_missing_st2_context_sends_nothing_and_logs_one_info_line_per_event(
        mistral, st2, env):
    name = unique('no_ctx')
    r = Run(mistral, st2, simple_wf(name, tasks=2), name, st2_context=False, env_extra=env)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    wait_lines(mistral, 'WORKFLOW_SUCCEEDED for %s is not published' % r.id)
    lines = notifier_lines(mistral, '[%s] ' % r.id)
    for event in ('WORKFLOW_LAUNCHED', 'WORKFLOW_SUCCEEDED'):
        (line,) = [line for line in lines if 'workflow event %s for' % event in line]
        assert ' INFO ' in line and 'has no st2 context' in line
    assert not [line for line in lines if ' ERROR ' in line or ' WARNING ' in line]
    assert st2.requests_for('PUT') == []
    assert history(st2, r.st2_id) == ['running']


AWKWARD_WF = """
version: '2.0'
%s:
  output:
    when: <%% $.when %%>
    as_set: <%% set(3, 1, 2) %%>
    huge_int: <%% 2 * 1000000000000 * 1000000000000 %%>
    not_json: 'not json {'
    json_in_string: '{"a": 1}'
    unicode: "snow \\u2603, clef \\U0001D11E, tab\\t, quote \\", backslash \\\\"
    empty: {}
  tasks:
    when:
      action: std.echo output=<%% now() %%>
      publish:
        when: <%% task().result %%>
      on-success: [broken_json]
    broken_json:
      action: std.echo
      input:
        output: '[1, 2'
      on-success: [json_text]
    json_text:
      action: std.echo
      input:
        output: '{"k": [1, 2]}'
"""


def test_values_json_cannot_represent_reach_st2_as_mistral_stored_them(mistral, st2):
    """Datetimes, sets, huge ints, strings that look like JSON, unicode.

    Mistral itself turns datetimes into ISO strings and sets into lists when it
    stores them; st2 must get exactly what Mistral's own API shows.
    """
    name = unique('awkward')
    r = Run(mistral, st2, AWKWARD_WF % name, name)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    st2.wait_for_status(r.st2_id, 'succeeded')
    assert _published(mistral, r.id)

    mistral_output = json.loads(r.client.executions.get(r.id).output)
    received = st2.execution(r.st2_id)['result']
    assert {k: received[k] for k in mistral_output} == mistral_output
    assert received['as_set'] == [1, 2, 3]
    assert isinstance(received['when'], str) and received['when'][:2] == '20'
    assert received['huge_int'] == 2 * 10 ** 24
    assert received['not_json'] == 'not json {'
    assert received['json_in_string'] == '{"a": 1}'          # a value stays a string
    assert received['unicode'] == 'snow \u2603, clef \U0001D11E, tab\t, quote ", backslash \\'
    assert received['empty'] == {}
    tasks = {t['name']: t for t in received['tasks']}
    assert tasks['broken_json']['result'] == '[1, 2'          # not JSON: kept as text
    assert tasks['json_text']['result'] == {'k': [1, 2]}      # st2's historic decoding
    assert tasks['when']['published'] == {'when': received['when']}
    (put,) = [p for p in st2.requests_for('PUT', '/api/v1/executions/' + r.st2_id)
              if p.body['status'] == 'succeeded']
    json.loads(put.raw.decode('utf-8'), parse_constant=_reject)   # strict JSON on the wire
    assert not notifier_lines(mistral, '[%s] ' % r.id, ' ERROR ')


def _reject(constant):
    raise ValueError('%s is not JSON' % constant)


NON_FINITE_WF = """
version: '2.0'
%s:
  output:
    nan: <%% float("nan") %%>
    minus_inf: <%% float("-inf") %%>
    fine: 1.5
  tasks:
    t:
      action: std.echo output=<%% float("inf") %%>
"""


def test_non_finite_floats_reach_st2_sensibly_encoded(mistral, st2):
    name = unique('non_finite')
    r = Run(mistral, st2, NON_FINITE_WF % name, name)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    assert 'NaN' in r.client.executions.get(r.id).output       # Mistral stored it so
    st2.wait_for_status(r.st2_id, 'succeeded', timeout=5)
    received = st2.execution(r.st2_id)['result']
    assert (received['nan'], received['minus_inf'], received['fine']) == (
        'NaN', '-Infinity', 1.5)
    assert received['tasks'][0]['result'] == 'Infinity'
    assert _published(mistral, r.id)


def test_requests_that_cannot_be_built_are_given_up_and_never_stall_delivery(mistral, st2):
    """A token with a line break cannot go into a header: requests raises.

    More such workflows than sender threads, then a normal one: each bad
    update is given up with one ERROR line (without the token), and the normal
    workflow still reaches st2, so no sender thread was lost.
    """
    name = unique('bad_token')
    bad = [Run(mistral, st2, simple_wf('%s_%d' % (name, i), tasks=1), '%s_%d' % (name, i),
               token=TOKEN + '\n') for i in range(WORKERS + 1)]
    wait_mistral_states(bad[0].client, [r.id for r in bad])
    good_name = unique('after_bad')
    good = Run(mistral, st2, simple_wf(good_name, tasks=1), good_name)
    st2.wait_for_status(good.st2_id, 'succeeded', timeout=10)
    assert _published(mistral, good.id)

    for r in bad:
        lines = wait_lines(mistral, '[%s] ' % r.id, 'WORKFLOW_SUCCEEDED', ' ERROR ')
        assert len(lines) == 1, lines
        assert 'could not be published to st2 execution %s' % r.st2_id in lines[0]
        assert 'run "st2-track-result %s --config-dir /etc/st2"' % r.st2_id in lines[0]
        assert history(st2, r.st2_id) == ['running']
        assert st2.requests_for('PUT', '/api/v1/executions/' + r.st2_id) == []
    assert not mistral.log_lines(TOKEN)
    assert not mistral.log_lines('Exception in thread')


OVERSIZED_WF = """
version: '2.0'
%s:
  output:
    answer: 42
    summary: <%% $.big.substring(0, 3000) %%>
  tasks:
    t0:
      action: std.echo output=<%% "x" * 3000 %%>
      publish:
        big: <%% task().result %%>
      on-success: [t1]
    t1:
      action: std.echo output=<%% "y" * 2000 %%>
      on-success: [t2]
    t2:
      action: std.echo output="small"
"""


def test_oversized_result_reaches_st2_truncated_with_the_marker(mistral, st2):
    name = unique('oversized')
    r = Run(mistral, st2, OVERSIZED_WF % name, name)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    st2.wait_for_status(r.st2_id, 'succeeded')
    assert _published(mistral, r.id)

    received = st2.execution(r.st2_id)['result']
    marker = received[results.TRUNCATED_KEY]
    assert marker['max_bytes'] == MAX_RESULT_SIZE
    assert marker['original_bytes'] > 3 * MAX_RESULT_SIZE // 2 and marker['fields'] >= 2
    assert len(json.dumps(received, separators=(',', ':'))) <= MAX_RESULT_SIZE
    assert received['answer'] == 42                           # small values kept
    assert received['extra'] == {'state': 'SUCCESS', 'state_info': None}
    tasks = received['tasks']
    assert [t['name'] for t in tasks] == ['t0', 't1', 't2']
    assert tasks[2]['result'] == 'small'
    assert tasks[0]['result'].startswith('<truncated by st2mistral: ')
    assert not notifier_lines(mistral, '[%s] ' % r.id, ' ERROR ')


def test_global_notify_and_execution_notify_do_not_duplicate_updates(mistral, st2):
    """Documented Mistral behaviour (docs/contracts.rst, section 2.2): both entries
    publish. st2 must still see each status once."""
    name = unique('twice')
    client = mistral.client()
    client.workflows.create(simple_wf(name, tasks=1))
    st2_id = st2.add_execution(action='examples.' + name)
    ex = client.executions.create(
        name, env=contract.build_env(st2_id, st2.api_url, auth_token=TOKEN),
        notify=[contract.ST2_NOTIFY_ENTRY, contract.ST2_NOTIFY_ENTRY])
    st2.wait_for_status(st2_id, 'succeeded')
    assert _published(mistral, ex.id)
    assert history(st2, st2_id) == ['running', 'succeeded']
