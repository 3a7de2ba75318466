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

"""Fault controls of the st2 emulator: what a broken network, proxy or st2 would answer.

Not st2's behaviour: these answers test that clients do not take them for success.
"""

import copy
import dataclasses
import http
import time

PROXY_PAGE = b'<html><head><title>Sign in</title></head><body>Sign in to continue</body></html>'


@dataclasses.dataclass(frozen=True)
class _ProxyAnswer:
    """Not st2's answer: what a proxy or another server in front of st2 sends.

    st2 itself always answers these endpoints with JSON (an object, or a list for
    ``GET /executions``); these answers test that clients do not take anything
    else for success.
    """

    kind: str
    location: str = 'http://127.0.0.1:1/login'
    applied: bool = False     # st2 behind the proxy did act on the request

    KINDS = ('html', 'redirect', 'empty', 'no-content', 'list', 'echo-headers')

    def render(self, record):
        """``(status, body, headers)`` for ``record``."""
        if self.kind == 'html':
            return 200, PROXY_PAGE, {'Content-Type': 'text/html; charset=utf-8'}
        if self.kind == 'redirect':
            return 302, b'', {'Location': self.location, 'Content-Type': 'text/html'}
        if self.kind == 'empty':
            return 200, b'', {}
        if self.kind == 'no-content':
            return 204, b'', {}
        if self.kind == 'list':
            return 200, [], {}
        echoed = '; '.join('%s: %s' % item for item in record.headers.items())
        return 502, {'faultstring': 'Bad gateway. Your request headers: ' + echoed}, {}


class FaultControls:
    """St2Emulator's fault controls: answers that are not st2's normal ones, on demand.

    A mixin: the state it sets (``_faults``, ``_delay``, ``_hang_until``, ``_expired``) is
    created by ``St2Emulator._clear_state`` and read where requests are served (server.py).
    """

    def go_down(self):
        """Close the listening socket and cut open connections: connections are refused."""
        self._close_listener()

    def come_up(self):
        """Listen again on the same port."""
        if self._server is None:
            self._listen()

    def expire_token(self, token):
        """Make ``token`` answer 401 "Token has expired." (and validate as invalid)."""
        if token not in self._tokens:
            raise ValueError('unknown token')
        with self._lock:
            self._expired.add(token)

    # -- answers -------------------------------------------------------------------------------

    def fail_next(self, status, count=1, body=None, on=None):
        """Answer the next ``count`` requests with ``status`` (nothing is applied).

        ``on``: ``(method, path)``; only requests with that method whose path is
        ``path`` get the fault. Without it any request does, including a late one
        from an earlier test's workflow.
        """
        if not 200 <= int(status) <= 599:
            raise ValueError('status must be an HTTP status code from 200 to 599')
        if body is None:
            body = {'faultstring': http.HTTPStatus(status).phrase}
        self._add_faults(count, on, lambda: (int(status), copy.deepcopy(body)))

    def misbehave_next(self, kind, count=1, location=None, applied=False, on=None):
        """Answer the next ``count`` requests (``on`` as in fail_next) as a proxy would.

        ``kind``: ``html`` (200 text/html page), ``redirect`` (302 to ``location``),
        ``empty`` (200, no body), ``no-content`` (204), ``list`` (200 ``[]``) or
        ``echo-headers`` (502 whose faultstring quotes every request header, token included).
        ``applied``: st2 acts on the request and only its answer is replaced (a proxy
        mangling the way back); by default nothing is applied.
        """
        if kind not in _ProxyAnswer.KINDS:
            raise ValueError('kind must be one of %s' % ', '.join(_ProxyAnswer.KINDS))
        answer = _ProxyAnswer(kind, location or _ProxyAnswer.location, applied)
        self._add_faults(count, on, lambda: (None, answer))

    def clear_faults(self):
        """Drop the faults of fail_next and misbehave_next not taken yet."""
        with self._lock:
            self._faults.clear()

    def _add_faults(self, count, on, make):
        if on is not None:
            method, path = on
            on = (method.upper(), path)
        with self._lock:
            for _ in range(count):
                self._faults.append((on,) + make())

    def _take_fault(self, record):
        """``(status, answer)`` of the first fault meant for ``record``, or None."""
        with self._lock:
            for fault in self._faults:
                on = fault[0]
                if on is None or on == (record.method, record.path):
                    self._faults.remove(fault)
                    return fault[1:]
        return None

    def set_delay(self, seconds):
        """Delay every answer by ``seconds`` (the request is applied after the delay)."""
        if seconds < 0:
            raise ValueError('delay must be >= 0')
        with self._lock:
            self._delay = float(seconds)

    def hang(self, seconds):
        """For ``seconds`` from now, accept requests but never answer nor apply them."""
        with self._lock:
            self._hang_until = time.monotonic() + float(seconds)
