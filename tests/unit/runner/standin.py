"""Puts the st2common stand-in (see st2common_standin/st2common/__init__.py) on sys.path."""

import os
import sys

STANDIN = os.path.join(os.path.dirname(__file__), 'st2common_standin')


def install():
    if STANDIN not in sys.path:
        sys.path.insert(0, STANDIN)
    import st2common

    assert st2common.__file__.startswith(STANDIN), 'a real st2common is importable'
    return st2common
