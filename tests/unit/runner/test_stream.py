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

"""The st2 stream follower against a real local server speaking server-sent events."""

import http.server
import json
import threading

from st2mistral.st2_side import stream


def test_parse_sse():
    lines = ['event: st2.execution__update', 'data: {"id": 1,', 'data:  "x": 2}', '',
             ': comment', '', '', 'data: plain', '', 'event: other', 'data: z']
    assert list(stream.parse(lines)) == [
        ('st2.execution__update', '{"id": 1,\n "x": 2}'), ('message', 'plain'), ('other', 'z')]
    assert list(stream.parse([b'event: e\r', b'data: d\r', b'\r'])) == [('e', 'd')]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, dict(self.headers)))
        if len(server.requests) == 1:
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header('Content-Type', 'text/event-stream')
        self.end_headers()
        for event in server.events:
            self.wfile.write(event.encode('utf-8'))
            self.wfile.flush()


def test_follower_reconnects_and_hands_over_execution_updates():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    server.requests = []
    doc = {'id': 'e1', 'status': 'succeeded', 'result': {'s': 'é'}}
    server.events = ['\n', 'event: st2.announcement__x\ndata: {}\n\n',
                     'event: st2.execution__update\ndata: %s\n\n' % json.dumps(doc),
                     'event: st2.execution__update\ndata: not json\n\n']
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got = []
    done = threading.Event()

    def handler(execution):
        got.append(execution)
        done.set()

    follower = stream.StreamFollower('http://127.0.0.1:%d/v1/' % server.server_address[1],
                                     {'St2-Api-Key': 'k'}, handler, max_backoff=0.05)
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()
    try:
        assert done.wait(10)
    finally:
        follower.stop()
        server.shutdown()
        server.server_close()
    thread.join(5)
    assert got[0] == doc
    path, headers = server.requests[-1]
    assert path == '/v1/stream?events=st2.execution__update'
    assert headers['St2-Api-Key'] == 'k'
    assert len(server.requests) >= 2  # the 503 was followed by a reconnect
