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

"""Issue 9 against the shared st2 client (st2mistral.core.st2api): findings 4, 6, 7, 8 and 10.

The allow-list decides where a token or the site's API key may go; an answer
st2 did not give (a proxy's page, a redirect, nothing) is never a success;
and text that came from the network never carries a secret into a log line.
"""

import logging

from oslo_config import cfg
import pytest

from st2mistral.core import opts
from st2mistral.core import st2api

API = 'https://st2.example.com/api/v1'
AUTH = 'https://st2.example.com/auth/v1'
TOKEN = 'tok-0123456789abcdef'
KEY = 'key-fedcba9876543210'


def make_conf(**overrides):
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf([], project='st2mistral-tests')
    for name, value in dict(retry_initial_delay=0.0, retry_max_delay=0.0,
                            retry_give_up_after=0.0, **overrides).items():
        conf.set_override(name, value, group='st2')
    return conf


@pytest.fixture
def conf():
    return make_conf(api_url=API, auth_url=AUTH)


@pytest.fixture
def client(conf):
    return st2api.St2Client(conf=conf, sleep=lambda s: None)


# -- finding 6: an option left at its default allows nothing -------------------


def test_default_auth_url_is_not_allow_listed_when_api_url_points_elsewhere():
    conf = make_conf(api_url=API)                    # auth_url left at 127.0.0.1:9100
    for url in ('http://127.0.0.1:9100/executions', 'http://127.0.0.1:9100/anything/x'):
        with pytest.raises(st2api.DestinationNotAllowed):
            st2api.check_destination(url, conf)
    st2api.check_destination(API + '/executions', conf)


def test_nothing_is_allowed_when_no_st2_url_is_set():
    conf = make_conf()
    with pytest.raises(st2api.DestinationNotAllowed, match=r'\[st2\] api_url'):
        st2api.check_destination('http://127.0.0.1:9101/v1/executions', conf)


def test_an_explicit_setting_equal_to_the_default_is_allowed():
    conf = make_conf(api_url='http://127.0.0.1:9101/v1', auth_url='http://127.0.0.1:9100')
    st2api.check_destination('http://127.0.0.1:9101/v1/executions', conf)
    st2api.check_destination('http://127.0.0.1:9100/tokens/validate', conf)


def test_a_value_from_the_config_file_counts_as_set(tmp_path):
    conf_file = tmp_path / 'mistral.conf'
    conf_file.write_text('[st2]\napi_url = %s\n' % API)
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf(['--config-file', str(conf_file)], project='st2mistral-tests')
    st2api.check_destination(API + '/executions', conf)
    with pytest.raises(st2api.DestinationNotAllowed):
        st2api.check_destination('http://127.0.0.1:9100/tokens/validate', conf)


# -- finding 8: the path is normalised before it is checked --------------------


@pytest.mark.parametrize('url', [
    API + '/../../elsewhere/executions',
    API + '/executions/../../../elsewhere',
    API + '/%2e%2e/%2e%2e/elsewhere/executions',
    API + '/%2E%2E/x',
    API + '/executions/..%2f..%2f..%2felsewhere',
    API + '/executions/e1#/../../x',
    API + '/executions/e1#frag',
    API + '\\..\\..\\elsewhere',
    'https://user@st2.example.com/api/v1/executions',
    'https://st2.example.com/api/v10/executions',
    'https://st2.example.com/api/v1x',
    'http://st2.example.com/api/v1/executions',            # other scheme
    'https://st2.example.com:8443/api/v1/executions',      # other port
])
def test_paths_that_leave_the_allowed_base_are_refused(client, requests_mock, url):
    with pytest.raises(st2api.DestinationNotAllowed):
        client.send('GET', url, st2api.Credentials(token=TOKEN))
    assert requests_mock.call_count == 0


@pytest.mark.parametrize('url', [
    API + '/executions',
    API + '/executions/5f0c%20x',
    'https://ST2.example.com/api/v1/executions',
    'https://st2.example.com:443/api/v1/executions/e1',
    API + '/keys/a.b..c',
])
def test_ordinary_urls_under_the_base_pass(conf, url):
    st2api.check_destination(url, conf)


def test_an_execution_id_cannot_climb_out_of_the_api(client, requests_mock):
    with pytest.raises(st2api.DestinationNotAllowed):
        client.update_execution(API, '../../auth/v1/tokens', 'succeeded', None,
                                st2api.Credentials(token=TOKEN))
    assert requests_mock.call_count == 0


# -- finding 4 (client): only a JSON answer of st2 is an answer ----------------


@pytest.mark.parametrize('kwargs, what', [
    ({'status_code': 200, 'text': '<html>Login</html>',
      'headers': {'Content-Type': 'text/html'}}, 'not JSON'),
    ({'status_code': 200, 'text': ''}, 'empty'),
    ({'status_code': 204}, 'empty'),
    ({'status_code': 302, 'headers': {'Location': 'https://sso.example.com/login'}},
     'redirect'),
    ({'status_code': 200, 'json': ['not', 'an', 'execution']}, 'JSON array'),
])
def test_put_answered_without_an_execution_is_an_error(client, requests_mock, kwargs, what):
    requests_mock.put(API + '/executions/e1', **kwargs)
    with pytest.raises(st2api.St2Error) as e:
        client.update_execution(API, 'e1', 'succeeded', None, st2api.Credentials(token=TOKEN))
    assert what in str(e.value)
    assert e.value.status_code == kwargs['status_code']


def test_redirect_is_not_retryable_and_a_proxy_page_is(client, requests_mock):
    requests_mock.put(API + '/executions/e1', status_code=302,
                      headers={'Location': 'https://other.example.com/'})
    with pytest.raises(st2api.St2Error) as e:
        client.update_execution(API, 'e1', 'running', None, st2api.Credentials(token=TOKEN))
    assert not e.value.retryable
    requests_mock.put(API + '/executions/e1', text='<html/>', status_code=200)
    with pytest.raises(st2api.St2Error) as e:
        client.update_execution(API, 'e1', 'running', None, st2api.Credentials(token=TOKEN))
    assert e.value.retryable


# -- finding 7 (client): no redirect is followed --------------------------------


def test_redirect_is_not_followed(client, requests_mock):
    requests_mock.get(API + '/executions/e1', status_code=307,
                      headers={'Location': 'https://evil.example.net/steal'})
    requests_mock.get('https://evil.example.net/steal', json={'id': 'x'})
    with pytest.raises(st2api.St2Error, match='redirect'):
        client.send('GET', API + '/executions/e1', st2api.Credentials(token=TOKEN))
    assert [r.url for r in requests_mock.request_history] == [API + '/executions/e1']


# -- finding 10: network text is redacted ----------------------------------------


def test_a_proxy_echoing_the_request_headers_leaks_no_secret(conf, requests_mock, caplog):
    conf.set_override('api_key', KEY, group='st2')
    client = st2api.St2Client(conf=conf, sleep=lambda s: None)
    echo = 'Bad gateway. Your request: X-Auth-Token: %s St2-Api-Key: %s' % (TOKEN, KEY)
    requests_mock.put(API + '/executions/e1', status_code=502, json={'faultstring': echo})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(st2api.St2Error) as e:
        client.update_execution(API, 'e1', 'running', None,
                                st2api.Credentials(token=TOKEN, api_key=KEY))
    text = '%s | %s | %s' % (e.value, e.value.fault, caplog.text)
    assert TOKEN not in text and KEY not in text
    assert 'X-Auth-Token: ***' in str(e.value)


def test_redact_hides_every_secret_and_keeps_the_rest():
    assert st2api.redact('a %s b %s c' % (TOKEN, KEY), [TOKEN, KEY, None, '']) == 'a *** b *** c'
    assert st2api.redact(None, [TOKEN]) is None
