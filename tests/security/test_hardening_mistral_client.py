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

"""The st2 side's Mistral client: no credential follows a redirect, and no
secret comes back in an error text (issue 9 findings 7 and 10, st2 side)."""

import http.server
import threading

import pytest

from st2mistral.st2_side import mistral_api

TOKEN = 'st2-service-token-7f3a'


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request as ``answer(handler)`` says; records the headers."""

    answer = None
    seen = None

    def _handle(self):
        type(self).seen.append((self.command, self.path, dict(self.headers)))
        type(self).answer(self)

    do_GET = do_POST = do_PUT = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    started = []

    def start(answer):
        handler = type('Handler', (_Recorder,), {'answer': staticmethod(answer), 'seen': []})
        httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return 'http://127.0.0.1:%d' % httpd.server_port, handler.seen

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def _redirect_to(location):
    def answer(handler):
        handler.send_response(302)
        handler.send_header('Location', location)
        handler.send_header('Content-Length', '0')
        handler.end_headers()
    return answer


def _echo_headers(handler):
    body = ('{"faultstring": "bad request from %s"}'
            % handler.headers.get('X-Auth-Token')).encode()
    handler.send_response(400)
    handler.send_header('Content-Type', 'application/json')
    handler.send_header('Content-Length', str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_a_redirect_is_not_followed_with_the_token(server):
    elsewhere, elsewhere_seen = server(_echo_headers)
    mistral, _ = server(_redirect_to(elsewhere + '/v2/executions/x'))
    client = mistral_api.Client(mistral + '/v2', auth_token=TOKEN)
    with pytest.raises(mistral_api.MistralError) as raised:
        client.executions.get('x')
    assert elsewhere_seen == []
    assert raised.value.error_code == 302
    assert 'redirect' in str(raised.value) and 'not followed' in str(raised.value)


def test_keystone_token_request_does_not_follow_a_redirect(server):
    elsewhere, elsewhere_seen = server(_echo_headers)
    keystone, _ = server(_redirect_to(elsewhere + '/v3/auth/tokens'))
    token = mistral_api.KeystoneToken(mistral_api.requests.Session(), keystone + '/v3', 'st2',
                                      's3cret-password', 'service', timeout=(2, 2))
    with pytest.raises(mistral_api.MistralError):
        token.get()
    assert elsewhere_seen == []


def test_an_error_text_echoing_the_token_does_not_carry_it(server):
    mistral, _ = server(_echo_headers)
    client = mistral_api.Client(mistral + '/v2', auth_token=TOKEN)
    with pytest.raises(mistral_api.MistralError) as raised:
        client.executions.get('x')
    assert TOKEN not in str(raised.value)
    assert TOKEN not in repr(raised.value.error_message)
    assert 'bad request from ***' in str(raised.value)
