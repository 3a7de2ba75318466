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

"""Replay at start (mistral_side/startup.py): a slot a stopped process left entries
in is adopted without a workflow event; a live or empty slot is not."""

import threading
import types

from oslo_config import cfg
import pytest

from st2mistral.core import retry
from st2mistral.mistral_side import startup
from st2mistral.mistral_side.delivery import spool as spool_mod
from st2mistral.mistral_side.notifiers import config_check
from st2mistral.mistral_side.notifiers import stackstorm_notifier as notifier
from tests.unit.notifiers.fakes import RecordingSender


@pytest.fixture(autouse=True)
def fresh_reports():
    """config_check logs the same mistakes once per process: once per test here."""
    config_check._reported.clear()
    yield
    config_check._reported.clear()


@pytest.fixture
def state_dir(tmp_path):
    path = str(tmp_path / 'state')
    cfg.CONF.set_override('state_dir', path, group='st2')
    yield path
    cfg.CONF.clear_override('state_dir', group='st2')


def _left_behind(state_dir, events):
    spool = spool_mod.Spool(state_dir, 100, 1 << 20).open()
    for i in range(events):
        spool.add_event({'ex_id': 'x%d' % i, 'data': {}, 'event': 'WORKFLOW_SUCCEEDED',
                         'notify_kwargs': {}})
    return spool


def test_adopt_only_takes_the_slot_with_entries_not_the_first_free_one(state_dir):
    _left_behind(state_dir, 0).close()                 # slot 0: empty
    live = _left_behind(state_dir, 0)                  # slot 0 again, held (live)
    other = spool_mod.Spool(state_dir, 100, 1 << 20).open()   # slot 1
    other.add_event({'n': 1})
    other.close()                                      # slot 1: left with one entry
    adopted = spool_mod.Spool(state_dir, 100, 1 << 20).open(adopt_only=True)
    assert adopted.path.endswith('spool-1.sqlite') and adopted.usage()[0] == 1
    with pytest.raises(spool_mod.NothingToAdopt):
        spool_mod.Spool(state_dir, 100, 1 << 20).open(adopt_only=True)
    adopted.close()
    live.close()


def test_nothing_left_starts_nothing(state_dir, monkeypatch):
    _left_behind(state_dir, 0).close()
    made = []
    monkeypatch.setattr(notifier, 'process_publisher', lambda: made.append(1))
    assert startup.replay_now() is False and made == []


def test_a_left_spool_is_replayed_without_an_event(state_dir, monkeypatch):
    _left_behind(state_dir, 2).close()
    replayed = []
    publisher = notifier.St2Publisher(sender=RecordingSender())
    monkeypatch.setattr(publisher, '_replay_events', lambda: replayed.append(
        [f['ex_id'] for _, f in publisher._spool.events()]))
    monkeypatch.setattr(notifier, 'process_publisher', lambda: publisher)
    assert startup.replay_now() is True
    assert replayed == [['x0', 'x1']]
    assert publisher.start_adopting() is False          # started once
    publisher._spool.close()


def test_the_thread_waits_for_mistrals_configuration_and_skips_a_launcher(monkeypatch):
    calls = []
    monkeypatch.setattr(startup, 'replay_now', calls.append)
    monkeypatch.setattr(startup, 'SETTLE', 0)
    conf = types.SimpleNamespace(project='mistral')
    monkeypatch.setitem(startup._state, 'forked', True)     # forked: the launcher
    startup._wait_and_replay(conf, threading.Event())
    assert calls == []
    monkeypatch.setitem(startup._state, 'forked', False)
    startup._wait_and_replay(conf, threading.Event())
    assert calls == [conf]
    stopped = threading.Event()
    stopped.set()
    startup._wait_and_replay(types.SimpleNamespace(project=None), stopped)
    assert calls == [conf]                                   # never parsed: nothing


class StopAfter:
    """A ``stop`` event whose waits are recorded; Mistral parses its configuration
    (``conf.project``) during wait number ``parsed_at``."""

    def __init__(self, conf, parsed_at):
        self.conf, self.parsed_at, self.waits = conf, parsed_at, []

    def wait(self, seconds):
        self.waits.append(seconds)
        if len(self.waits) == self.parsed_at:
            self.conf.project = 'mistral'
        return False


def test_the_thread_looks_for_the_configuration_every_fifth_of_a_second(monkeypatch):
    calls = []
    monkeypatch.setattr(startup, 'replay_now', calls.append)
    monkeypatch.setitem(startup._state, 'forked', False)
    monkeypatch.setitem(startup._state, 'child', True)
    conf = types.SimpleNamespace(project=None)
    stop = StopAfter(conf, parsed_at=3)
    startup._wait_and_replay(conf, stop)
    assert stop.waits == [0.2, 0.2, 0.2, startup.SETTLE]
    assert calls == [conf]


def test_the_thread_gives_up_on_a_process_that_never_parses_it(monkeypatch):
    calls = []
    monkeypatch.setattr(startup, 'replay_now', calls.append)
    monkeypatch.setitem(startup._state, 'child', True)
    monkeypatch.setattr(retry, 'MISTRAL_CONFIG',
                        retry.Backoff(0.2, 0.2, give_up_after=600.0, tries=4))
    conf = types.SimpleNamespace(project=None)
    stop = StopAfter(conf, parsed_at=None)
    startup._wait_and_replay(conf, stop)
    assert stop.waits == [0.2, 0.2, 0.2] and calls == []


def test_with_nothing_to_replay_the_mistakes_are_still_logged_at_start(
        tmp_path, monkeypatch, caplog):
    path = tmp_path / 'mistral.conf'
    path.write_text('[st2]\napi_url = st2.example.com/api/v1\nstate_dir = %s\n'
                    % (tmp_path / 'state'))
    conf = cfg.ConfigOpts()
    from st2mistral.core import opts
    opts.register_opts(conf)
    conf(['--config-file', str(path)], project='st2mistral-tests')
    made = []
    monkeypatch.setattr(notifier, 'process_publisher', lambda: made.append(1))
    assert startup.replay_now(conf) is False and made == []
    (error,) = [r.getMessage() for r in caplog.records if r.levelname == 'ERROR']
    assert '[st2] api_url' in error and 'https://st2.example.com/api/v1' in error


def test_mistral_servers_launcher_never_replays_even_before_it_forks(monkeypatch):
    """mistral-server forks its services after the settle time on a loaded host: the
    launcher must still leave the spool to its children (seen: it adopted it)."""
    calls = []
    monkeypatch.setattr(startup, 'replay_now', calls.append)
    monkeypatch.setattr(startup, 'SETTLE', 0)
    monkeypatch.setitem(startup._state, 'forked', False)
    monkeypatch.setitem(startup._state, 'child', False)
    monkeypatch.setattr(startup.sys, 'argv',
                        ['/opt/mistral/bin/mistral-server', '--server', 'all'])
    conf = types.SimpleNamespace(project='mistral')
    startup._wait_and_replay(conf, threading.Event())
    assert calls == []
    monkeypatch.setitem(startup._state, 'child', True)       # a forked service process
    startup._wait_and_replay(conf, threading.Event())
    assert calls == [conf]
    assert startup.is_launcher('/usr/bin/python') is False
