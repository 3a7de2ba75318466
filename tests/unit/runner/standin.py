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
