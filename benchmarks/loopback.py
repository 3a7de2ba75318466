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

"""A minimal, fast HTTP/1.1 server on 127.0.0.1, in its own process, for throughput.

    python -m benchmarks.loopback        # prints the port, serves until stdin closes

It answers what the two publishers under test need, and nothing else:

- ``PUT /api/v1/executions/<id>`` -> 200 ``{"id": <id>, "status": <status sent>}``
  (st2's answer carries the execution's new status; the sender reads it);
- ``POST <any path>`` -> 200 ``{}`` (Mistral's webhook publisher);
- ``GET /stats`` -> ``{"PUT": n, "POST": n}`` requests answered so far.

Keep-alive, Content-Length bodies only. It runs in a separate process so that
it does not share the benchmark process's GIL with the client under test.
"""

import asyncio
import json
import sys

_REASONS = {200: b'OK', 400: b'Bad Request', 404: b'Not Found'}


def answer(method, path, body):
    """(status, JSON-able answer) for one request. Pure."""
    if method == 'PUT' and path.startswith('/api/v1/executions/'):
        try:
            status = json.loads(body or b'{}').get('status')
        except (ValueError, AttributeError):
            return 400, {'faultstring': 'bad body'}
        return 200, {'id': path.rsplit('/', 1)[1], 'status': status}
    if method == 'POST':
        return 200, {}
    return 404, {'faultstring': 'The resource could not be found.'}


class Server:
    def __init__(self):
        self.counts = {'PUT': 0, 'POST': 0}

    async def handle(self, reader, writer):
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                method, path, _ = request_line.decode('latin-1').split(' ', 2)
                length, close = 0, False
                while True:
                    line = await reader.readline()
                    if line in (b'\r\n', b'\n', b''):
                        break
                    name, _, value = line.decode('latin-1').partition(':')
                    name = name.strip().lower()
                    if name == 'content-length':
                        length = int(value)
                    elif name == 'connection' and value.strip().lower() == 'close':
                        close = True
                body = await reader.readexactly(length) if length else b''
                if method == 'GET' and path == '/stats':
                    status, doc = 200, dict(self.counts)
                else:
                    status, doc = answer(method, path, body)
                    if status == 200 and method in self.counts:
                        self.counts[method] += 1
                data = json.dumps(doc).encode()
                writer.write(b'HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n'
                             b'Content-Length: %d\r\n\r\n%s' % (
                                 status, _REASONS.get(status, b'X'), len(data), data))
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError,
                asyncio.CancelledError):
            pass   # client gone, bad request, or shutting down
        finally:
            writer.close()


async def serve():
    server = Server()
    listener = await asyncio.start_server(server.handle, '127.0.0.1', 0, backlog=1024)
    print(listener.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    # Stop when the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    listener.close()


if __name__ == '__main__':
    asyncio.run(serve())
