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

"""mistral.conf's [st2] group checked when the publisher is created: one ERROR
naming the option and the fix; events kept through a wrong configuration are
delivered by the process started after the fix."""

import logging
import os

from oslo_config import cfg
import pytest

from st2mistral.core import opts
from st2mistral.core import results
from st2mistral.mistral_side.delivery import spool as spool_mod
from st2mistral.mistral_side.notifiers import config_check
from st2mistral.mistral_side.notifiers import mistral_db
from st2mistral.mistral_side.notifiers import stackstorm_notifier as notifier
from st2mistral.testing.waiting import wait_until
from tests.unit.notifiers.fakes import FakeMistralDB
from tests.unit.notifiers.fakes import RecordingSender


@pytest.fixture(autouse=True)
def fresh_reports():
    """config_check logs the same mistakes once per process: once per test here."""
    config_check._reported.clear()
    yield
    config_check._reported.clear()


def _conf(tmp_path, **values):
    """A ConfigOpts parsed from a mistral.conf file with these [st2] lines."""
    path = tmp_path / 'mistral.conf'
    path.write_text('[st2]\n' + ''.join('%s = %s\n' % kv for kv in values.items()))
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf(['--config-file', str(path)], project='st2mistral-tests')
    return conf


def test_a_correct_group_has_no_problem(tmp_path):
    conf = _conf(tmp_path, api_url='https://st2.example.com/api/v1',
                 state_dir=tmp_path / 'state')
    assert config_check.problems(conf) == []


def test_api_url_without_scheme_names_the_option_and_the_fix(tmp_path):
    conf = _conf(tmp_path, api_url='st2.example.com/api/v1', state_dir=tmp_path / 'state')
    (problem,) = config_check.problems(conf)
    assert (problem.option, problem.blocking) == ('api_url', True)
    text = config_check.describe([problem])
    assert '[st2] api_url' in text and 'scheme' in text
    assert 'https://st2.example.com/api/v1' in text        # the fix, by example
    assert 'Mistral restarted' in text


def test_bad_allowed_url_and_unreadable_ca_file(tmp_path):
    conf = _conf(tmp_path, allowed_api_urls='https://ok.example/api/v1,ftp://x',
                 ca_file=tmp_path / 'missing.pem', state_dir=tmp_path / 'state')
    assert [(p.option, p.blocking) for p in config_check.problems(conf)] == [
        ('allowed_api_urls', True), ('ca_file', True)]


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes everywhere')
def test_unwritable_state_dir_is_reported_and_does_not_block(tmp_path):
    locked = tmp_path / 'locked'
    locked.mkdir(mode=0o500)
    conf = _conf(tmp_path, state_dir=locked / 'st2mistral')
    (problem,) = config_check.problems(conf)
    assert (problem.option, problem.blocking) == ('state_dir', False)
    assert 'memory only' in problem.fix


def test_state_dir_that_is_a_file_is_reported(tmp_path):
    (tmp_path / 'file').write_text('')
    conf = _conf(tmp_path, state_dir=tmp_path / 'file')
    (problem,) = config_check.problems(conf)
    assert problem.option == 'state_dir'


def test_secret_option_value_is_never_quoted(tmp_path):
    conf = _conf(tmp_path, api_key='s3cr3t-key', state_dir=tmp_path / 'state',
                 delivery_workers='many')
    (problem,) = config_check.problems(conf)
    assert problem.option == 'delivery_workers'
    assert 's3cr3t' not in config_check.describe(config_check.problems(conf))


# -- the publisher -----------------------------------------------------------

@pytest.fixture
def db(monkeypatch):
    fake = FakeMistralDB()
    for name in ('workflow_info', 'load_snapshot', 'task_workflow_execution_id'):
        monkeypatch.setattr(mistral_db, name, getattr(fake, name))
    info = mistral_db.WorkflowInfo(id='wf1', name='wf', state='SUCCESS', state_info=None,
                                   root_execution_id=None, parent_task_execution_id=None,
                                   env={'st2_execution_id': 'e1'})
    fake.add(info, results.Snapshot(state='SUCCESS', output={}, tasks=[]))
    # st2api.check_destination reads the process-wide [st2] api_url.
    cfg.CONF.set_override('api_url', 'http://st2.test/api/v1', group='st2')
    yield fake
    cfg.CONF.clear_override('api_url', group='st2')


def _publish_success(publisher):
    publisher.publish(None, 'wf1', {'id': 'wf1', 'state': 'SUCCESS',
                                    'root_execution_id': None}, 'WORKFLOW_SUCCEEDED', None)


def _spooled_events(state_dir):
    spool = spool_mod.Spool(str(state_dir), 100, 1 << 20).open()
    try:
        return [fields['event'] for _, fields in spool.events()]
    finally:
        spool.close()


def test_events_under_a_wrong_api_url_are_kept_and_sent_after_the_fix(
        tmp_path, db, monkeypatch, caplog):
    state = tmp_path / 'state'
    monkeypatch.setattr(notifier, 'CONF', _conf(tmp_path, api_url='st2.example.com/api/v1',
                                                state_dir=state))
    caplog.set_level(logging.INFO)
    broken_sender = RecordingSender()
    broken = notifier.St2Publisher(sender=broken_sender)
    assert [p.option for p in broken.check_config()] == ['api_url']
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and '[st2] api_url' in errors[0]
    _publish_success(broken)
    _publish_success(broken)                  # a second event, another data object
    assert broken_sender.items == []          # nothing sent as configured
    broken._spool.close()                     # the process ends (as a kill would)
    assert _spooled_events(state) == ['WORKFLOW_SUCCEEDED'] * 2

    fixed_dir = tmp_path / 'fixed'
    fixed_dir.mkdir()
    monkeypatch.setattr(notifier, 'CONF', _conf(fixed_dir, api_url='http://st2.test/api/v1',
                                                state_dir=state))
    sender = RecordingSender()
    fixed = notifier.St2Publisher(sender=sender)
    assert fixed.check_config() == []
    fixed._ensure_started()                   # restarted: replays the spool
    wait_until(lambda: len(sender.items) == 2, timeout=5, interval=0.01,
               message='both kept events sent')
    assert [(i.target.execution_id, i.status) for i in sender.items] == [
        ('e1', 'succeeded')] * 2
    wait_until(lambda: fixed._spool.usage()[0] == 0, timeout=5, interval=0.01,
               message='the spool emptied')


def test_a_config_error_while_processing_keeps_the_event(tmp_path, db, monkeypatch, caplog):
    state = tmp_path / 'state'
    monkeypatch.setattr(notifier, 'CONF', _conf(tmp_path, state_dir=state))

    def broken(*args):
        raise cfg.ConfigFileValueError('Value for option api_url is not valid')
    monkeypatch.setattr(notifier.targets, 'resolve', broken)
    publisher = notifier.St2Publisher(sender=RecordingSender())
    _publish_success(publisher)
    wait_until(lambda: any('stays in the spool' in m for m in caplog.messages), timeout=5,
               interval=0.01, message='the config failure logged')
    assert publisher._spool.usage()[0] == 1   # kept, not removed
    publisher._spool.close()


def test_the_same_mistakes_are_logged_once_per_process(tmp_path, caplog):
    conf = _conf(tmp_path, api_url='st2.example.com/api/v1', state_dir=tmp_path / 'state')
    log = logging.getLogger('test-config-check')
    for _ in range(2):                       # the start check, then the publisher
        config_check.report(config_check.problems(conf), log)
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
