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

"""Level-triggered self-healing: with the publisher off, the relay's sweep makes st2 show
what Mistral shows within one ``[mistral] reconcile_interval`` (plus 5 s), without an
operator, and two relays at once (an st2 HA pair) do no harm. Real Mistral 23, st2
emulator as st2 3.9, the real relay service in threads.
"""

import logging
import time

import pytest

from tests.functional.runner.conftest import RelayThread
from tests.functional.runner.conftest import unique

INTERVAL = 3.0
COUNT = 20

# One st2 child (relayed to Mistral through the stream) and one Mistral task each.
WORKFLOW = """
version: '2.0'
%s:
  output:
    said: <%% $.said %%>
  tasks:
    say:
      action: examples.echo msg=healed
      publish:
        said: <%% task().result.stdout %%>
      on-success: [done]
    done:
      action: std.noop
"""


class Errors(logging.Handler):
    """ERROR lines of st2mistral's loggers while the relays run."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.lines = []

    def emit(self, record):
        if record.name.startswith('st2mistral'):
            self.lines.append(record.getMessage())


@pytest.fixture
def errors():
    handler = Errors()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize('relays', [1, 2])
def test_workflows_finished_without_push_are_healed_within_one_interval(side, st2, errors,
                                                                        relays):
    side.conf.set_override('reconcile_interval', INTERVAL, group='mistral')
    st2.set_child_outcome('examples.echo', 'succeeded', {'stdout': 'healed ✓'})
    threads = [RelayThread(side.relay(), st2).start() for _ in range(relays)]
    try:
        started = []
        for _ in range(COUNT):
            name = unique('examples.heal')
            st2_id, _, context = side.start(WORKFLOW % name, name, push=False)
            started.append((st2_id, context['mistral']['execution_id']))
        for _, ex_id in started:
            assert side.wait_state(ex_id, timeout=60).state == 'SUCCESS'
        finished = time.monotonic()
        st2.wait_for(lambda e: all(e.execution(i)['status'] == 'succeeded'
                                   for i, _ in started), timeout=INTERVAL + 5)
        print('\n%d relay(s): %d workflows healed %.2f s after the last finished in Mistral '
              '(interval %.0f s)' % (relays, COUNT, time.monotonic() - finished, INTERVAL))
    finally:
        for thread in threads:
            thread.stop(timeout=10)

    for st2_id, _ in started:
        execution = st2.execution(st2_id)
        assert execution['result']['said'] == 'healed ✓'
        assert [t['name'] for t in execution['result']['tasks']] == ['say', 'done']
        assert execution['result']['extra'] == {'state': 'SUCCESS', 'state_info': None}
        # No flap: st2 went from running to succeeded once.
        assert [h['status'] for h in execution['history']] == ['running', 'succeeded']
    # Each child reached Mistral (once accepted); a second relay's delivery is no error.
    assert len(st2.executions('examples.echo')) == COUNT
    assert errors.lines == []
