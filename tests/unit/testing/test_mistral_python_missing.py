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

import pytest

from st2mistral.testing import mistral_launcher


def test_a_missing_mistral_python_is_named_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(mistral_launcher.MISTRAL_PYTHON_ENV, str(tmp_path / 'no' / 'python'))
    server = mistral_launcher.MistralServer(str(tmp_path))
    with pytest.raises(mistral_launcher.MistralStartError) as raised:
        server.start()
    assert 'tools/test.sh -e py311 --notest' in str(raised.value)
    assert server.pid is None
