"""Small statistics for the benchmarks. Pure."""

import math


def median(values):
    return percentile(values, 50)


def percentile(values, p):
    """The p-th percentile (0-100) with linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError('no values')
    if not 0 <= p <= 100:
        raise ValueError('percentile must be within 0 and 100')
    rank = (len(ordered) - 1) * p / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
