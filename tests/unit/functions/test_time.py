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

import re

from hypothesis import given
from hypothesis import strategies as st
import pytest

from st2mistral.mistral_side.functions._common import FunctionError
from st2mistral.mistral_side.functions.time import to_human_time_from_seconds as human

DAY = 86400


@pytest.mark.parametrize('seconds, expected', [
    (0, '0s'), (0.0, '0s'), (1, '1s'), (59, '59s'), (60, '1m0s'), (61, '1m1s'),
    (3600, '1h0m0s'), (3725, '1h2m5s'), (DAY + 5, '1d0h0m5s'),
    (40 * DAY, '40d0h0m0s'),            # st2 dropped the month: '9d0h0m0s'
    (365 * DAY + 1, '1y0d0h0m1s'),
    (1.4, '1s'), (1.6, '2s'), (59.6, '1m0s'),
    (0.5, '500000μs'), (0.000001, '1μs'), (0.9999999, '1s'), (1e-9, '0s'),
])
def test_examples(seconds, expected):
    assert human(None, seconds) == expected


def _parse(text):
    sizes = {'y': 365 * DAY, 'd': DAY, 'h': 3600, 'm': 60, 's': 1}
    return sum(int(n) * sizes[u] for n, u in re.findall(r'(\d+)([ydhms])', text))


@given(st.integers(min_value=1, max_value=200 * 365 * DAY))
def test_round_trips_and_starts_with_a_non_zero_unit(seconds):
    text = human(None, seconds)
    assert re.fullmatch(r'(\d+y)?(\d+d)?(\d+h)?(\d+m)?\d+s', text)
    assert _parse(text) == seconds
    assert not text.startswith('0')


@pytest.mark.parametrize('value, kind', [
    (None, 'NoneType'), ('60', 'str'), (True, 'bool'), ([1], 'list')])
def test_refuses_non_numbers(value, kind):
    with pytest.raises(FunctionError) as e:
        human(None, value)
    assert str(e.value) == (
        'to_human_time_from_seconds: seconds must be a number, got %s' % kind)


@pytest.mark.parametrize('value', [-1, -0.5, float('inf'), float('nan')])
def test_refuses_negative_and_non_finite(value):
    with pytest.raises(FunctionError, match='must be a finite number >= 0'):
        human(None, value)
