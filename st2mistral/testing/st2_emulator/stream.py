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

"""The st2 emulator's event stream (``GET /stream/v1/stream``): subscribers and publishing.

Follows st2stream/st2stream/controllers/v1/stream.py and
st2common/st2common/stream/listener.py; docs/st2-emulator.rst describes what a client sees.
"""

import copy
import queue
import time

from st2mistral.testing.st2_emulator.rules import HEARTBEAT
from st2mistral.testing.st2_emulator.rules import STREAM_CONTENT_TYPE
from st2mistral.testing.st2_emulator.rules import format_event
from st2mistral.testing.st2_emulator.rules import parse_stream_query

_END_OF_STREAM = object()


class _Subscriber:
    """One connected stream client: its filter and the frames waiting to be written."""

    def __init__(self, stream_filter):
        self.filter = stream_filter
        self.frames = queue.SimpleQueue()


class EventStream:
    """St2Emulator's server-sent event stream: a mixin.

    The state it uses (``_subscribers``, ``_streams_ended``, ``_stream_events``, ``_lock``,
    ``_server``, ``stream_heartbeat``) is created by ``St2Emulator.__init__`` and
    ``_clear_state``; ``_stream`` is called by ``St2Emulator._serve`` for an open stream.
    """

    def _end_streams(self, timeout=2.0):
        """Finish every stream response and wait (bounded) for their writers to exit."""
        deadline = time.monotonic() + timeout
        with self._lock:
            for subscriber in self._subscribers:
                subscriber.frames.put(_END_OF_STREAM)
            while self._subscribers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break  # a writer stuck on a full socket: the connection cut frees it
                self._streams_ended.wait(remaining)

    @property
    def stream_clients(self):
        """How many stream clients are connected now."""
        with self._lock:
            return len(self._subscribers)

    @property
    def stream_events(self):
        """Events published on the stream, in order: dicts with event, execution_id, status,
        clients (how many connected clients it was sent to; 0: nobody got it) and at."""
        with self._lock:
            return copy.deepcopy(self._stream_events)

    def _stream(self, handler, subscriber):
        """Write one client's server-sent events until its stream is ended."""
        try:
            handler.send_response(200)
            handler.send_header('Content-Type', STREAM_CONTENT_TYPE)
            handler.send_header('Transfer-Encoding', 'chunked')
            handler.end_headers()
            frame = HEARTBEAT  # st2 queues an empty message first: clients see it at once
            while frame is not _END_OF_STREAM:
                handler.wfile.write(b'%x\r\n%s\r\n' % (len(frame), frame))
                try:
                    frame = subscriber.frames.get(timeout=self.stream_heartbeat)
                except queue.Empty:
                    frame = HEARTBEAT
            handler.wfile.write(b'0\r\n\r\n')  # the last chunk: a clean end of the response
        except OSError:
            pass  # the client went away, or the connection was cut
        finally:
            handler.close_connection = True
            with self._lock:
                self._subscribers.remove(subscriber)
                self._streams_ended.notify_all()

    def _open_stream(self, record, requester, *unused):
        # Subscribed under the lock: every change applied after this is sent to the client.
        subscriber = _Subscriber(parse_stream_query(record.query))
        self._subscribers.append(subscriber)
        if self._server is None:
            subscriber.frames.put(_END_OF_STREAM)  # going down: answer, then end at once
        return 200, subscriber

    def _publish(self, event, ex):
        """Send one execution event to every connected client that wants it."""
        targets = [subscriber for subscriber in self._subscribers
                   if subscriber.filter.wants(event, ex.action, ex.id)]
        if targets:
            frame = format_event(event, ex.to_api())  # encoded once for all clients
            for subscriber in targets:
                subscriber.frames.put(frame)
        self._stream_events.append({'event': event, 'execution_id': ex.id,
                                    'status': ex.status, 'clients': len(targets),
                                    'at': time.monotonic()})
