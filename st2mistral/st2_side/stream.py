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

"""Following st2's public execution stream (server-sent events).

``GET {stream_url}/stream?events=st2.execution__update`` sends one event per
execution update: ``event: st2.execution__update`` and ``data: <execution JSON>``,
events separated by a blank line, heartbeats as bare newlines. It needs no st2
internals, only an API key (or token).

Redirects are not followed: requests would send the key to wherever one points.
"""

import json
import logging
import socket
import threading

import requests

from st2mistral.core import retry
from st2mistral.core import st2api

LOG = logging.getLogger(__name__)

EXECUTION_UPDATE = 'st2.execution__update'


def parse(lines):
    """Server-sent event lines -> (event, data) pairs (the SSE wire format)."""
    event, data = None, []
    for raw in lines:
        line = raw.decode('utf-8', 'replace') if isinstance(raw, bytes) else raw
        line = line.rstrip('\r')
        if not line:
            if data:
                yield event or 'message', '\n'.join(data)
            event, data = None, []
        elif line.startswith(':'):
            continue  # comment
        else:
            field, _, value = line.partition(':')
            value = value[1:] if value.startswith(' ') else value
            if field == 'event':
                event = value
            elif field == 'data':
                data.append(value)
    if data:
        yield event or 'message', '\n'.join(data)


def _interrupt(response):
    """Wake a read blocked on the stream from another thread.

    close() alone does not: the follower would wait for st2's next heartbeat
    (25 s) before it noticed the stop.
    """
    try:
        shutdown = getattr(response.raw, 'shutdown', None)  # urllib3 >= 2.3
        if shutdown is not None:
            shutdown()
            return
        sock = getattr(getattr(response.raw, 'connection', None), 'sock', None)
        if sock is not None:
            sock.shutdown(socket.SHUT_RD)
    except (OSError, ValueError, RuntimeError):
        pass  # already closed or released: nothing blocks on it


class StreamFollower:
    """Calls ``handler(execution_dict)`` for every execution update, reconnecting
    with backoff until ``stop()``."""

    def __init__(self, stream_url, headers, handler, verify=True, connect_timeout=5.0,
                 read_timeout=90.0, max_backoff=30.0, session=None):
        self._url = stream_url.rstrip('/') + '/stream'
        self._headers = dict(headers)
        self._handler = handler
        self._verify = verify
        self._timeout = (connect_timeout, read_timeout)
        self._max_backoff = max_backoff
        self._session = session or requests.Session()
        self._stopping = threading.Event()
        self._response = None
        self.connected = threading.Event()

    def stop(self):
        self._stopping.set()
        response = self._response
        if response is not None:
            _interrupt(response)
            response.close()

    def run(self):
        """Follow the stream until ``stop()``, reconnecting by the retry policy."""
        attempts = retry.stream_reconnect(self._max_backoff).attempts(sleep=self._stopping.wait)
        attempts.run(lambda: self._connect(attempts), on_wait=self._before_reconnecting)

    def _connect(self, attempts):
        """Follow the stream once: returns only when stopping, else raises retry.TryAgain."""
        if self._stopping.is_set():
            return None
        try:
            self._follow_once()
        except Exception as e:
            if self._stopping.is_set():
                return None
            raise retry.TryAgain(e) from None
        attempts.reset()                # the stream ended cleanly: reconnect soon
        raise retry.TryAgain(None)

    def _before_reconnecting(self, error, wait):
        if error is not None:
            LOG.warning('The st2 stream at %s failed (%s: %s); reconnecting in %.1f s.',
                        self._url, type(error).__name__, error, wait)
        self.connected.clear()

    def _follow_once(self):
        headers = dict(self._headers, Accept='text/event-stream')
        with self._session.get(self._url, params={'events': EXECUTION_UPDATE},
                               headers=headers, stream=True, timeout=self._timeout,
                               verify=self._verify, allow_redirects=False) as response:
            self._response = response
            if self._stopping.is_set():
                return  # stop() ran before the response could be interrupted
            if response.is_redirect:
                location = st2api.redact(response.headers.get('Location', ''),
                                         self._headers.values())
                raise RuntimeError(
                    'HTTP %s, a redirect to %s, not followed with st2 credentials; set '
                    '[mistral] st2_stream_url to the URL st2 answers on'
                    % (response.status_code, location[:200]))
            if response.status_code != 200:
                raise RuntimeError('HTTP %s' % response.status_code)
            LOG.info('Following the st2 execution stream at %s.', self._url)
            self.connected.set()
            for event, data in parse(response.iter_lines(chunk_size=None)):
                if self._stopping.is_set():
                    return
                if event != EXECUTION_UPDATE:
                    continue
                try:
                    execution = json.loads(data)
                except (ValueError, RecursionError):
                    LOG.warning('Ignoring an st2 stream event that is not JSON (or nests '
                                'too deeply to read).')
                    continue
                try:
                    self._handler(execution)
                except Exception:
                    LOG.exception('Handling st2 execution %s from the stream failed.',
                                  execution.get('id') if isinstance(execution, dict) else '?')
