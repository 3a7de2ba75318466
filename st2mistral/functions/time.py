"""Time formatting functions, as st2's Jinja filter of the same name."""

import math

from st2mistral.functions._common import FunctionError
from st2mistral.functions._common import expression_function

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
