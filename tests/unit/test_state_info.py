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

"""The state_info guard's redaction (on the engine: test_functions_in_mistral.py)."""

from st2mistral.mistral_side import state_info

DUMP = ("Can not evaluate YAQL expression [expression=x, error=y, data={'__env': "
        "{'__actions': {'st2.action': {'st2_context': {'auth_token': 'tok-1', 'api_url': "
        "'http://st2'}}}}, 'openstack': {\"auth_token\": \"tok-2\"}}]")


def test_every_token_item_is_replaced_and_the_rest_kept():
    text = state_info.redact(DUMP + '\nTraceback ...\n' + DUMP)
    assert 'tok-1' not in text and 'tok-2' not in text
    assert text == (DUMP.replace('tok-1', '***').replace('tok-2', '***') + '\nTraceback ...\n'
                    + DUMP.replace('tok-1', '***').replace('tok-2', '***'))


def test_a_token_cut_by_mistrals_size_limit_is_replaced_too():
    # Mistral's own listener (utils.cut, 65500 characters) runs first.
    cut = "data={'auth_token': 'tok-12345', 'x': 1}, more {'auth_token': 'tok-9..."
    assert state_info.redact(cut) == "data={'auth_token': '***', 'x': 1}, more {'auth_token': '***"


def test_other_values_pass_unchanged():
    for value in (None, '', 'Task failed: no token here', {'auth_token': 'x'}):
        assert state_info.redact(value) is value


def test_nothing_is_registered_on_mistral_23_or_an_unknown_mistral(monkeypatch):
    monkeypatch.setattr(state_info, '_guarded', [])
    monkeypatch.setattr(state_info.params_log, 'mistral_major', lambda: None)
    assert state_info.guard(major=23) is False
    assert state_info.guard() is False
    assert state_info._guarded == []
