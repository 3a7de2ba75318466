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

"""How the emulator runs the children Mistral's st2.action starts, and returns them to
Mistral through the callback as st2 3.2 did."""

import copy
import json
import time

import requests as http_lib

from st2mistral.testing.st2_emulator.rules import _CALLBACK_URL
from st2mistral.testing.st2_emulator.rules import COMPLETED_STATUSES
from st2mistral.testing.st2_emulator.rules import MISTRAL_STATES


class ChildRunner:
    """Mixin of St2Emulator: child executions in the background and their callbacks."""

    # -- background work --------------------------------------------------------------------------

    def _run_child(self, execution_id, outcome, generation):
        status, result, delay = outcome
        for step in ('scheduled', 'running'):
            if not self._set_if_current(execution_id, step, None, generation):
                return
        if delay:
            time.sleep(delay)
        self._set_if_current(execution_id, status, result, generation)

    def _set_if_current(self, execution_id, status, result, generation):
        with self._lock:
            ex = self._executions.get(execution_id)
            if generation != self._generation or ex is None or ex.status in COMPLETED_STATUSES:
                return False
            if ex.status == 'canceling':
                status, result = 'canceled', None  # the runner honours the cancellation
            self._apply_status(ex, status, result)
            return True

    def _send_callback(self, execution_id, url, status, result, generation):
        match = _CALLBACK_URL.search(url)
        if not match:
            self._record_callback(generation, execution_id, url, None, 0, None,
                                  'Unable to extract the action execution ID from the '
                                  'callback URL (%s).' % url)
            return
        target = url
        if self.mistral_url:
            target = '%s/action_executions/%s' % (self.mistral_url.rstrip('/'), match.group(2))
        if self.callback_output == 'object':
            output = result
        else:
            output = json.dumps(result) if isinstance(result, (dict, list)) else str(result)
        body = {'state': MISTRAL_STATES[status], 'output': output}

        # loop-ok: st2 3.2's callback retries, emulated (not a test waiting)
        for attempt in range(1, self.callback_attempts + 1):
            if self._stopped or generation != self._generation:
                return
            try:
                answer = http_lib.put(target, json=body, timeout=self.callback_timeout)
            except http_lib.ConnectionError as exc:
                self._record_callback(generation, execution_id, target, body, attempt, None,
                                      '%s: %s' % (type(exc).__name__, exc))
                time.sleep(self.callback_retry_wait * attempt)
                continue
            except http_lib.RequestException as exc:  # e.g. a read timeout: st2 gives up
                self._record_callback(generation, execution_id, target, body, attempt, None,
                                      '%s: %s' % (type(exc).__name__, exc))
                return
            self._record_callback(generation, execution_id, target, body, attempt,
                                  answer.status_code, None)
            return

    def _record_callback(self, generation, execution_id, url, body, attempt, status, error):
        with self._lock:
            if generation != self._generation:
                return
            self._callbacks.append({'execution_id': execution_id, 'url': url,
                                    'body': copy.deepcopy(body), 'attempt': attempt,
                                    'status': status, 'error': error, 'at': time.monotonic()})
