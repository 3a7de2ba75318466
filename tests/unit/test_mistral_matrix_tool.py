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

"""tools/mistral_matrix.py: which pairs it runs, and how it reads a failed step."""

import pytest

from tests.unit.tool_scripts import load_tool


@pytest.fixture(scope='module')
def tool():
    return load_tool('mistral_matrix')


def test_the_pairs_are_each_release_on_each_python_it_supports(tool):
    names = [pair for pair, _, _ in tool.pairs()]
    assert names == ['m18-py38', 'm18-py39', 'm18-py310', 'm18-py311',
                     'm20-py38', 'm20-py39', 'm20-py310', 'm20-py311',
                     'm21-py310', 'm21-py311', 'm21-py312', 'm21-py313',
                     'm22-py310', 'm22-py311', 'm22-py312', 'm22-py313',
                     'm23-py310', 'm23-py311', 'm23-py312', 'm23-py313']
    assert set(tool.SERIES_LIMITS) <= set(names)


def test_every_release_has_its_series_pins_in_the_repository(tool):
    for release, series, _ in tool.RELEASES.values():
        assert (tool.PINS / ('upper-constraints-%s.txt' % series)).is_file(), release


def test_a_resolver_conflict_is_told_by_its_cause(tool):
    output = '\n'.join([
        'WARNING: Location \'file:///x\' is ignored: it is neither a file nor a directory.',
        'ERROR: Cannot install mistral==23.0.0 because these package versions have'
        ' conflicting dependencies.',
        '',
        'The conflict is caused by:',
        '    mistral 23.0.0 depends on oslo.concurrency>=3.26.0',
        '    The user requested (constraint) oslo-concurrency===7.6.1',
        '',
        'To fix this you could try to:',
        '1. loosen the range of package versions you\'ve specified',
        'ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/',
    ])
    assert tool.why(output) == ('pip: mistral 23.0.0 depends on oslo.concurrency>=3.26.0;'
                                ' The user requested (constraint) oslo-concurrency===7.6.1')


def test_changed_pins_and_other_errors_are_told_by_their_lines(tool):
    assert tool.why('Python 3.8.18\nadded: st2mistral 4.0.0\npins CHANGED (x.txt):\n'
                    '  stevedore changed 5.2.0 -> 5.10.0\n') == (
        'pins CHANGED: stevedore changed 5.2.0 -> 5.10.0')
    assert tool.why('Traceback...\nsmoke FAILED: mistral.auth st2: ImportError: no\n') == (
        'smoke FAILED: mistral.auth st2: ImportError: no')
    assert tool.why('Collecting x\nERROR: No matching distribution found for greenlet===3.0.3\n'
                    'WARNING: Location ignored\n') == (
        'ERROR: No matching distribution found for greenlet===3.0.3')


def test_a_series_limit_is_not_a_failure_only_as_recorded(tool):
    pair, pin = next(iter(tool.SERIES_LIMITS.items()))
    conflict = 'pip: mistral X depends on y; The user requested (constraint) %s' % pin
    assert tool.verdict(pair, 'mistral', conflict)[0] == 'LIMIT'
    # the same pair failing otherwise, or installing now, fails
    assert tool.verdict(pair, 'mistral', 'pip: something else')[0] == 'FAIL'
    assert tool.verdict(pair, 'smoke', 'smoke FAILED: ' + pin)[0] == 'FAIL'
    assert tool.verdict(pair, None, 'Python 3.8.18; pins unchanged')[0] == 'FAIL'
    # any other pair: OK when it installs, FAIL when it does not
    assert tool.verdict('m21-py311', None, 'pins unchanged') == ('OK', 'pins unchanged')
    assert tool.verdict('m21-py311', 'mistral', conflict)[0] == 'FAIL'


def test_a_conflict_with_no_distribution_for_this_python_says_so(tool):
    output = ('The conflict is caused by:\n'
              '    The user requested (constraint) oslo-concurrency===7.6.1\n\n'
              'Additionally, some packages in these conflicts have no matching distributions'
              ' available for your environment:\n    oslo-concurrency\n\nTo fix this...\n')
    assert tool.why(output) == ('pip: The user requested (constraint) oslo-concurrency===7.6.1;'
                                ' none of these for this Python:; oslo-concurrency')
