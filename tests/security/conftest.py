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

"""The trust tests' st2 and Mistral (tests/security/users.py), one of each per module.

A module that defines (or imports) its own ``st2`` or ``mistral`` fixture uses
that one instead, as the hardening tests do with the functional suite's.
"""

import pytest

from tests.security.users import mistral_with_st2_auth
from tests.security.users import st2_of_the_users


@pytest.fixture(scope='module')
def st2():
    """An st2 emulator that knows the three users' tokens."""
    with st2_of_the_users() as emulator:
        yield emulator


@pytest.fixture(scope='module')
def mistral(st2, tmp_path_factory, request):
    """A Mistral with ``auth_type = st2`` on that st2; the module's
    ``MISTRAL_ST2_OPTIONS`` (a dict) go into its [st2] group."""
    name = request.module.__name__.rsplit('.', 1)[-1]
    workdir = str(tmp_path_factory.mktemp('mistral_' + name))
    options = getattr(request.module, 'MISTRAL_ST2_OPTIONS', {})
    with mistral_with_st2_auth(st2, workdir, **options) as server:
        yield server
