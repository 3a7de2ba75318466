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

"""Time formatting functions, as st2's Jinja filter of the same name."""

import math

from st2mistral.mistral_side.functions._common import FunctionError
from st2mistral.mistral_side.functions._common import expression_function

_UNITS = (('y', 365 * 24 * 3600), ('d', 24 * 3600), ('h', 3600), ('m', 60), ('s', 1))


@expression_function
def to_human_time_from_seconds(context, seconds):
    """A duration in seconds as a short string: 3725 -> '1h2m5s', 0 -> '0s'.

    Like st2, units start at the largest non-zero one and every smaller unit is
    shown ('1d0h0m5s'); fractions of a second above 1 s are rounded away.
    Two st2 bugs are not kept: st2 lost whole months from the day count
    (its days came from a calendar date), and printed 0.5 s as '0.5μs'
    instead of '500000μs'.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise FunctionError('to_human_time_from_seconds: seconds must be a number, got %s'
                            % type(seconds).__name__)
    if not math.isfinite(seconds) or seconds < 0:
        raise FunctionError('to_human_time_from_seconds: seconds must be a finite number '
                            '>= 0, got %r' % seconds)

    if 0 < seconds < 1:
        micros = round(seconds * 1_000_000)
        if micros < 1_000_000:
            return '%dμs' % micros if micros else '0s'
    return _format_whole_seconds(int(round(seconds)))


def _format_whole_seconds(total):
    parts = []
    for suffix, size in _UNITS:
        count, total = divmod(total, size)
        if count or parts:
            parts.append('%d%s' % (count, suffix))
    return ''.join(parts) or '0s'
