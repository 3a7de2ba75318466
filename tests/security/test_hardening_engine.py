"""Issue 9 on a REAL Mistral 23 engine with the st2 emulator: findings 3, 4, 5 and 11.

A workflow author (or a misbehaving st2/proxy) attacks; the engine must end
each workflow with a short, clear error or deliver the update, never hang,
never leave st2 running for ever.
"""

import time

import pytest

from tests.functional import conftest as functional
from tests.functional.conftest import TOKEN
from tests.functional.conftest import unique

# The functional suite's fixtures (a real Mistral, the st2 emulator), for this module.
st2_emulator = functional.st2_emulator
mistral_server = functional.mistral_server
mistral = functional.mistral
st2 = functional.st2
run = functional.run

PARENT = {'execution_id': 'parent-ex', 'user': 'alice'}


def one_task(name, body, inputs=()):
    head = "version: '2.0'\n%s:\n" % name
    if inputs:
        head += '  input: [%s]\n' % ', '.join(inputs)
    return head + '  tasks:\n    t1:\n%s\n' % body


def yaml_bomb(levels):
    """Nested aliases: 9**levels copies of "lol" from a few hundred bytes."""
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels + 1):
        lines.append('a%d: &a%d [%s]' % (i, i, ', '.join(['*a%d' % (i - 1)] * 9)))
    return '\n'.join(lines) + '\n'


def failed_task(r, mistral):
    ex = mistral.wait_for_execution(r.id)
    (task,) = r.client.tasks.list(workflow_execution_id=r.id)
    assert ex.state == 'ERROR' and task.state == 'ERROR', (ex.state, ex.state_info)
    return ex, task


# -- finding 3 ---------------------------------------------------------------


def test_yaml_alias_bomb_fails_the_task_with_a_clean_error(mistral, st2, run):
    name = unique('sec_yaml_bomb')
    began = time.monotonic()
    r = run(one_task(name, '      action: std.echo output=<% from_yaml_string($.doc) %>',
                     inputs=['doc']), name, workflow_input={'doc': yaml_bomb(5)},
            parent=PARENT)
    ex, task = failed_task(r, mistral)
    first = task.state_info.split('\n', 1)[0]
    assert 'from_yaml_string: YAML aliases (*name) are not allowed' in first
    assert time.monotonic() - began < 20
    # The publisher still tells st2 the workflow failed.
    assert st2.wait_for_status(r.st2_id, 'failed')


# -- finding 11 --------------------------------------------------------------


@pytest.mark.parametrize('expression, message', [
    ("jsonpath_query($.doc, '$' + '.a' * 1500)",
     'jsonpath_query: the query or the value is nested too deeply'),
    ("jsonpath_query($.doc, '$[' + '9' * 5000 + ']')",
     "jsonpath_query: the query is 5003 characters long"),
    ("regex_search('a' * 60 + '!', '(a|aa)+$')",
     "regex_search: pattern '(a|aa)+$' took longer than 1.0 s"),
], ids=['deep-jsonpath', 'huge-index', 'catastrophic-regex'])
def test_hostile_queries_end_in_a_short_expression_error(mistral, st2, run, expression,
                                                          message):
    name = unique('sec_expr')
    r = run(one_task(name, '      action: std.echo output=<%% %s %%>' % expression,
                     inputs=['doc']), name, workflow_input={'doc': {'a': [1, 2]}},
            parent=PARENT)
    ex, task = failed_task(r, mistral)
    first = task.state_info.split('\n', 1)[0]
    assert message in first, first
    assert len(first) < 600
    assert TOKEN not in ex.state_info


# -- finding 5 ---------------------------------------------------------------

DEEP = '[' * 5000 + ']' * 5000


def test_deeply_nested_task_result_still_completes_the_st2_execution(mistral, st2, run):
    name = unique('sec_deep_result')
    r = run(one_task(name, '      action: std.echo output=<% $.deep %>', inputs=['deep']),
            name, workflow_input={'deep': DEEP}, parent=PARENT)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    st2.wait_for_status(r.st2_id, 'succeeded', timeout=20)
    (only,) = st2.execution(r.st2_id)['result']['tasks']
    assert only['result'] == DEEP          # kept as the string it is
