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

"""Issue 9, finding 7: no redirect is followed with a credential.

requests re-sends custom headers (St2-Api-Key, X-Auth-Token) to wherever a
redirect points, even another host. The relay's stream follower followed them.
"""

import logging
import threading

from st2mistral.st2_side import stream
from st2mistral.testing.st2_emulator import St2Emulator

KEY = 'relay-key-0123456789'


def test_stream_follower_does_not_follow_a_redirect_with_its_key(caplog):
    caplog.set_level(logging.WARNING)
    with St2Emulator(api_keys=(KEY,)) as st2, St2Emulator(api_keys=('other',)) as elsewhere:
        st2.misbehave_next('redirect', location=elsewhere.stream_url + '/stream')
        follower = stream.StreamFollower(st2.stream_url, {'St2-Api-Key': KEY}, lambda ex: None,
                                         max_backoff=0.05)
        thread = threading.Thread(target=follower.run, daemon=True)
        thread.start()
        try:
            # The second attempt (the fault is used up) reaches st2's own stream.
            assert follower.connected.wait(10)
        finally:
            follower.stop()
            thread.join(5)
        assert elsewhere.requests == []
        (first, second) = st2.requests_for('GET', '/stream/v1/stream')[:2]
        assert first.status == 302 and second.status == 200
    warning = [r.getMessage() for r in caplog.records if 'redirect' in r.getMessage()]
    assert warning and 'not followed' in warning[0] and KEY not in caplog.text
