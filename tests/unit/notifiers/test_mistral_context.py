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

"""mistral_db.use_context relies on a private name of Mistral's: if an upgrade
renames it, these tests fail here, not as untagged trace lines in production."""

import threading

from mistral import context as mistral_context
from oslo_context import context as oslo_context

from st2mistral.mistral_side.notifiers import mistral_db


def _in_a_thread(target):
    outcome = {}

    def run():
        try:
            outcome['value'] = target()
        except Exception as e:  # noqa: BLE001 - reported to the test below
            outcome['error'] = e

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert 'error' not in outcome, outcome.get('error')
    return outcome['value']


def test_mistral_still_names_its_thread_local_context():
    assert isinstance(getattr(mistral_context, '_CTX_THREAD_LOCAL_NAME', None), str), (
        'Mistral no longer has mistral.context._CTX_THREAD_LOCAL_NAME: update '
        'st2mistral.mistral_side.notifiers.mistral_db.use_context for this Mistral release')


def test_use_context_sets_mistrals_context_and_leaves_the_log_context_alone():
    def run():
        engine_ctx = oslo_context.RequestContext(request_id='req-engine')  # the thread's
        ours = mistral_db.admin_context()
        mistral_db.use_context(ours)
        return engine_ctx, ours, mistral_context.ctx(), oslo_context.get_current()

    engine_ctx, ours, mistral_ctx, log_ctx = _in_a_thread(run)
    assert mistral_ctx is ours and ours.is_admin
    assert log_ctx is engine_ctx
