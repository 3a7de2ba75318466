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

"""Mistral < 23 logs execution params (the st2 token): one WARNING names the fix."""

import logging

import pytest

from st2mistral.mistral_side import params_log
from st2mistral.mistral_side import state_info


@pytest.fixture
def guarded(monkeypatch):
    """The state_info guard's calls (not registered on this process's Mistral)."""
    calls = []
    monkeypatch.setattr(state_info, 'guard', lambda major=None: calls.append(major))
    return calls


@pytest.fixture
def fresh(monkeypatch, guarded):
    monkeypatch.setattr(params_log, '_warned', [])
    levels = {n: logging.getLogger(n).level for n in params_log.PARAMS_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _set(level):
    for name in params_log.PARAMS_LOGGERS:
        logging.getLogger(name).setLevel(level)


def test_mistral_22_at_info_warns_once_naming_the_setting(fresh, guarded, caplog):
    _set(logging.INFO)
    with caplog.at_level(logging.INFO, logger='st2mistral'):
        assert params_log.warn_once(major=22) is True
        assert params_log.warn_once(major=22) is False
    assert guarded == [22]      # and the state_info guard, once
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert text.startswith('Mistral 22 writes each workflow execution\'s params')
    assert ('"mistral.api.controllers.v2.execution=WARN,mistral.rpc.clients=WARN,'
            'mistral.engine.engine_server=WARN" to [DEFAULT] default_log_levels') in text


def test_only_the_loggers_still_at_info_are_named(fresh):
    _set(logging.WARNING)
    logging.getLogger('mistral.rpc.clients').setLevel(logging.INFO)
    assert params_log.loggers_writing_params(18) == ['mistral.rpc.clients']


@pytest.mark.parametrize('major', [23, 24])
def test_mistral_23_and_later_are_quiet(fresh, guarded, caplog, major):
    _set(logging.INFO)
    with caplog.at_level(logging.INFO, logger='st2mistral'):
        assert params_log.warn_once(major=major) is False
    assert guarded == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_with_the_readme_setting_nothing_is_said(fresh, caplog):
    _set(logging.WARNING)
    with caplog.at_level(logging.INFO, logger='st2mistral'):
        assert params_log.warn_once(major=20) is False
    assert not caplog.records


def test_an_unknown_mistral_names_no_logger(fresh):
    _set(logging.INFO)
    assert params_log.loggers_writing_params(None) == []


def test_the_token_filter_redacts_mistrals_data_dumps_and_their_tracebacks():
    record_logger = logging.getLogger('test.params_log.filter')
    handler = _Capture()
    record_logger.addHandler(handler)
    record_logger.propagate = False
    record_logger.setLevel(logging.INFO)
    params_log.install_token_filter(record_logger)
    params_log.install_token_filter(record_logger)     # once is enough
    assert len(handler.filters) == 1
    dump = "data={'__env': {'__actions': {'st2.action': {'st2_context': {'auth_token': 'tok-1'}}}}}"
    try:
        raise ValueError('Can not evaluate YAQL expression [%s]' % dump)
    except ValueError:
        record_logger.exception('Failed to run task [error=%s]', dump)
    try:
        raise KeyError(dump.replace('tok-1', 'tok-3'))
    except KeyError:
        # Logged while handling, without exc_info: oslo.log appends the exception's text.
        record_logger.error('Failed to run task')
    record_logger.info('json {"auth_token": "tok-2", "x": 1} and %s', 'plain')
    record_logger.info('nothing secret %s', 'here')
    text = '\n'.join(handler.lines)
    assert 'tok-1' not in text and 'tok-2' not in text and 'tok-3' not in text
    assert 'KeyError: ' in text
    assert "{'auth_token': '***'}" in text and '{"auth_token": "***", "x": 1} and plain' in text
    assert 'ValueError: Can not evaluate YAQL expression' in text     # the traceback stays
    assert handler.lines[-1] == 'nothing secret here'


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))
