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

"""st2mistral-relay checks st2.conf before it starts: it refuses what cannot work,
says which endpoints it uses, and its --help lists only real options."""

import logging
import sys

import pytest

from st2mistral import st2_side
from st2mistral.st2_side import relay_service


def _st2_conf(tmp_path, text):
    path = tmp_path / 'st2.conf'
    path.write_text(text)
    return ['--config-file', str(path)]


def _without_st2common(monkeypatch):
    """As outside st2's venv: importing st2_adapter fails. Also unbind it from its package:
    after another test imported it (the st2common stand-in), ``from st2mistral.st2_side
    import st2_adapter`` takes the package's attribute without looking at sys.modules, and
    main() went on to run a relay for ever (seen in a full run)."""
    monkeypatch.setitem(sys.modules, 'st2mistral.st2_side.st2_adapter', None)
    monkeypatch.delattr(st2_side, 'st2_adapter', raising=False)


def test_help_lists_only_real_options(capsys):
    with pytest.raises(SystemExit):
        relay_service.main(['--help'])
    out = capsys.readouterr().out
    assert '--once' in out and '--no-stream' in out and '--debug' in out
    for artefact in ('--nono-stream', '--noonce', '--nodebug'):
        assert artefact not in out


@pytest.mark.parametrize('text,named', [
    ('[mistral]\nv2_base_url = mistral.example.com:8989/v2\n', '[mistral] v2_base_url'),
    ('[auth]\napi_url = st2.example.com/api\n', '[auth] api_url'),
    ('[mistral]\nst2_stream_url = /stream/v1\n', '[mistral] st2_stream_url'),
    ('[mistral]\nuse_st2_token = True\n', 'st2_service_token'),
    ('[mistral]\nst2_cacert = /nonexistent/ca.pem\n', '[mistral] st2_cacert'),
])
def test_what_cannot_work_is_refused_before_anything_starts(tmp_path, caplog, capsys,
                                                            monkeypatch, text, named):
    _without_st2common(monkeypatch)  # not reached
    assert relay_service.main(_st2_conf(tmp_path, text)) == 2
    (error,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert named in error and 'cannot start' in error
    assert 'mistake' in capsys.readouterr().err


def test_the_endpoints_are_logged_at_info(tmp_path, caplog, monkeypatch):
    _without_st2common(monkeypatch)
    caplog.set_level(logging.INFO)
    argv = _st2_conf(tmp_path, '[auth]\napi_url = https://st2.example.com/api\n'
                               '[mistral]\nst2_stream_url = https://st2.example.com/stream/v1\n'
                               'st2_api_key = k3y-not-logged\n')
    # st2common is absent here: main() stops right after the check, with its clear line.
    assert relay_service.main(argv) == 2
    (info,) = [r.getMessage() for r in caplog.records if 'st2mistral-relay uses' in
               r.getMessage()]
    assert 'Mistral http://127.0.0.1:8989/v2 (the default' in info
    assert 'the st2 API https://st2.example.com/api/v1' in info
    assert 'the st2 stream https://st2.example.com/stream/v1' in info
    assert not any('k3y-not-logged' in m for m in caplog.messages)
