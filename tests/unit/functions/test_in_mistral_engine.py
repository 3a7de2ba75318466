"""Our functions inside real Mistral 23 workflows (engine, DB, env, st2 over HTTP).

mistral_engine_run.py runs the workflows in a subprocess; see its docstring.
Proves: st2kv reads the st2 API URL, token and user from the env the st2
runner sets, in YAQL, Jinja and filter form; errors reach state_info readably.
"""

import json
import pathlib
import subprocess
import sys

import pytest

from tests.unit.functions import mistral_engine_run as run

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope='module')
def outcome():
    proc = subprocess.run(
        [sys.executable, '-m', 'tests.unit.functions.mistral_engine_run'],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def first_line(text):
    return text.split('\n', 1)[0]


def test_functions_publish_values(outcome):
    wf = outcome['workflows']['wf_ok']
    assert wf['state'] == 'SUCCESS', wf['state_info']
    assert wf['tasks']['t1']['published'] == {
        'yaql_kv': 'hello', 'jinja_kv': 's3cr3t', 'filter_kv': 'hello',
        'version': '1.3.0', 'json': '{"a":1}'}


def test_st2kv_used_the_env_token_user_and_scopes(outcome):
    seen = outcome['st2_requests']
    assert all(r['token_ok'] for r in seen)
    assert seen[:3] == [
        {'path': '/v1/keys/greeting', 'query': {'scope': 'user', 'decrypt': 'false',
                                                'user': 'alice'}, 'token_ok': True},
        {'path': '/v1/keys/db_pass', 'query': {'scope': 'system', 'decrypt': 'true'},
         'token_ok': True},
        {'path': '/v1/keys/greeting', 'query': {'scope': 'user', 'decrypt': 'false',
                                                'user': 'alice'}, 'token_ok': True},
    ]


@pytest.mark.parametrize('name, error', [
    ('wf_bad_yaql', "Can not evaluate YAQL expression [expression=regex_match('a1', 'a('), "
                    "error=regex_match: invalid regular expression 'a(': missing ), "
                    "unterminated subpattern at position 1]"),
    ('wf_bad_jinja', "Can not evaluate Jinja expression [expression={{ regex_match('a1', 'a(') }}"
                     ", error=regex_match: invalid regular expression 'a(': missing ), "
                     "unterminated subpattern at position 1]"),
    ('wf_missing_key', "Can not evaluate YAQL expression [expression=st2kv('nope'), "
                       "error=st2kv: key 'nope' not found in st2 user scope]"),
])
def test_errors_are_readable_in_state_info(outcome, name, error):
    wf = outcome['workflows'][name]
    expected = 'Failed to run task [error=%s, wf=%s, task=t1]:' % (error, name)
    assert wf['state'] == 'ERROR'
    assert wf['tasks']['t1']['state'] == 'ERROR'
    # Mistral puts the message first, then the traceback, in both places.
    assert first_line(wf['tasks']['t1']['state_info']) == expected
    assert first_line(wf['state_info']) == expected
    assert run.TOKEN not in wf['state_info']
