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

"""The st2 users of the trust tests (test_trust_auth.py,
test_trust_subworkflow_context.py) and a Mistral that authenticates them
(``auth_type = st2``: one Mistral project per st2 user)."""

from st2mistral.testing import mistral_launcher
from st2mistral.testing.st2_emulator import St2Emulator

ALICE, BOB, SERVICE = 'alice-token', 'bob-token', 'service-token'
# Mistral before 21 ignores is_admin in get_action_execution, 21.0.0 in
# load_workflow_execution (docs/mistral-versions.rst [3]): the first releases
# where the admin service user completes another user's action, and its workflow.
FIRST_ADMIN_READING_ACTIONS = 21
FIRST_ADMIN_COMPLETING_WORKFLOWS = 22
# SERVICE's user is mistral.conf's [st2] admin_users.
USERS = {ALICE: 'alice', BOB: 'bob', SERVICE: 'st2mistral-service'}


def st2_of_the_users():
    """An st2 emulator that knows the three users' tokens (a context manager)."""
    return St2Emulator(tokens=USERS, api_keys=('st2-key',))


def mistral_with_st2_auth(st2, workdir, **st2_options):
    """A Mistral with ``auth_type = st2`` on ``st2`` (a context manager);
    ``st2_options`` go into its [st2] group too."""
    group = {'api_url': st2.api_url, 'auth_url': st2.auth_url,
             'admin_users': USERS[SERVICE]}
    group.update(st2_options)
    config = {'DEFAULT': {'auth_type': 'st2'}, 'st2': group}
    return mistral_launcher.MistralServer(workdir, config=config, auth_enable=True)


def client_of(mistral, st2, token):
    """A Mistral client that authenticates with the st2 ``token``."""
    return mistral.client(auth_type='st2', auth_url=st2.auth_url, auth_token=token)
