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

"""The emulator's HTTP plumbing: recorded requests, the threaded server and handler,
reading bodies (chunked too) and sending answers."""

import collections
import collections.abc
import dataclasses
import http
import http.server
import json

from st2mistral.testing.st2_emulator.rules import _SECRET_HEADERS

# --------------------------------------------------------------------------------------------
# Recorded requests
# --------------------------------------------------------------------------------------------

class Headers(collections.abc.Mapping):
    """Read-only, case-insensitive header mapping; secrets are masked in its repr."""

    def __init__(self, items=()):
        self._items = {}
        for key, value in items:
            self._items[key.lower()] = (key, value)

    def __getitem__(self, key):
        return self._items[key.lower()][1]

    def __iter__(self):
        return (key for key, _ in self._items.values())

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        shown = {key: ('***' if key.lower() in _SECRET_HEADERS else value)
                 for key, value in self._items.values()}
        return 'Headers(%r)' % shown


@dataclasses.dataclass
class RecordedRequest:
    """One request as received. ``status`` is the answer sent (0: none, e.g. hung or cut)."""

    method: str
    path: str
    query: dict
    headers: Headers
    body: object
    raw: bytes
    status: int = 0
    at: float = 0.0

    def __str__(self):
        return '%s %s -> %s' % (self.method, self.path, self.status or 'no answer')


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    # Headers and body go out in separate writes: without TCP_NODELAY every
    # keep-alive answer would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server_version = 'st2-emulator'

    def setup(self):
        super().setup()
        self.server.emulator._track_connection(self.connection, open_=True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.emulator._track_connection(self.connection, open_=False)

    def log_message(self, format, *args):
        pass  # quiet, and never writes tokens anywhere

    def _dispatch(self):
        self.server.emulator._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch



def read_body(handler):
    if 'chunked' in handler.headers.get('Transfer-Encoding', '').lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b';')[0].strip() or b'0', 16)
            if size == 0:
                while handler.rfile.readline().strip():
                    pass  # trailers
                return b''.join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get('Content-Length') or 0)
    if length < 0:
        raise ValueError('negative Content-Length')
    return handler.rfile.read(length) if length else b''

def send_answer(handler, status, answer, headers=None):
    if isinstance(answer, (bytes, str)):
        data = answer.encode('utf-8') if isinstance(answer, str) else answer
    else:
        data = json.dumps(answer).encode('utf-8')
    headers = dict(headers or {})
    content_type = headers.pop('Content-Type', 'application/json')
    try:
        handler.send_response(status)
        if status != 204:
            handler.send_header('Content-Type', content_type)
            handler.send_header('Content-Length', str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command != 'HEAD':
            handler.wfile.write(data)
    except OSError:
        handler.close_connection = True  # cut by go_down() or the client went away
