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

"""No st2 token in Mistral's log, on every Mistral release (issue 16).

Mistral 18-22 write a workflow execution's params (the env with st2's token) at
INFO; the configuration the README and the devstack plugin give (the launcher's)
stops it, and without it the publisher says so once at WARNING.
"""

import uuid

from st2mistral.mistral_side import params_log
from st2mistral.testing import mistral_launcher
from tests.functional.conftest import TOKEN
from tests.functional.conftest import Run
from tests.functional.conftest import fast_retry_config
from tests.functional.conftest import unique

WARNING = 'writes each workflow execution\'s params, which hold the st2 auth token'


def test_with_the_documented_configuration_no_token_reaches_the_log(mistral, st2):
    token = 'st2-token-%s' % uuid.uuid4().hex
    r = _start(mistral, st2, token)
    assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
    assert mistral.log_lines(r.id), 'the log holds lines of this execution'
    assert mistral.log_lines(token) == []
    assert mistral.log_lines(WARNING) == []


def test_a_failed_expression_writes_no_token_to_the_log(mistral, st2):
    # Mistral < 23 logs the task's data context (the env, with the token) at ERROR
    # and INFO when an expression fails; the publisher's TokenFilter redacts it.
    name = unique('wf_bad_expr')
    r = Run(mistral, st2, "version: '2.0'\n%s:\n  tasks:\n    t0:\n"
            "      action: std.echo output=<%% $.no_such_key.deeper %%>\n" % name, name)
    assert mistral.wait_for_execution(r.id).state == 'ERROR'
    st2.wait_for_status(r.st2_id, 'failed')
    failed = [line for line in mistral.log_lines('Failed to run task') if name in line]
    assert failed, 'Mistral logged the failed task'
    assert mistral.log_lines(TOKEN) == []
    if mistral_launcher.mistral_major() < params_log.FIRST_QUIET_RELEASE:
        assert "'auth_token': '***'" in failed[0]


def test_without_it_mistral_before_23_logs_the_token_and_the_publisher_says_so_once(
        st2_emulator, tmp_path):
    # oslo.log's own defaults, as a mistral.conf that sets nothing writes.
    levels = mistral_launcher.default_log_levels()
    major = mistral_launcher.mistral_major()
    config = fast_retry_config(st2_emulator)
    config['DEFAULT'] = {'default_log_levels': ','.join(levels)}
    with mistral_launcher.MistralServer(tmp_path, config=config) as mistral:
        st2_emulator.reset()
        tokens = ['st2-token-%s' % uuid.uuid4().hex for _ in range(2)]
        for token in tokens:
            r = _start(mistral, st2_emulator, token)
            assert mistral.wait_for_execution(r.id).state == 'SUCCESS'
        warnings = mistral.log_lines(WARNING)
        if major < params_log.FIRST_QUIET_RELEASE:
            # Mistral's three INFO lines per workflow (the test can fail: they are there).
            assert len(mistral.log_lines(tokens[0])) >= 2
            assert len(warnings) == 1, warnings
            assert ' WARNING st2mistral.mistral_side.params_log ' in warnings[0]
            assert params_log.SETTING in warnings[0]
        else:
            assert mistral.log_lines(tokens[0]) == []
            assert warnings == []


def _start(mistral, st2, token):
    name = unique('wf_params')
    return Run(mistral, st2, "version: '2.0'\n%s:\n  tasks:\n    t0:\n      action: std.noop\n"
               % name, name, token=token)
