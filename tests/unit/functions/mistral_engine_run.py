"""Run workflows that use our functions in a real, in-process Mistral 23 engine.

Started as a subprocess by test_in_mistral_engine.py so Mistral's global
state (config, RPC transport, engine threads) never leaks into other tests.
SQLite in a temp dir, fake:/ transport, local executor. A tiny st2 key API on
127.0.0.1 answers st2kv. Prints one JSON document: per workflow its state,
state_info, tasks and published variables, plus the requests st2 received.
"""

from http import server
import json
import os
import sys
import tempfile
import threading
import time
from urllib import parse
import warnings

warnings.simplefilter('ignore')

from mistral import config  # noqa: E402,F401
from mistral.db.v2 import api as db_api  # noqa: E402
from oslo_config import cfg  # noqa: E402
import oslo_messaging  # noqa: E402

TOKEN = 'tok-SECRET-42'
KEYS = {('user', 'alice', 'greeting'): 'hello', ('system', None, 'db_pass'): 's3cr3t'}

WORKFLOWS = """
version: '2.0'
wf_ok:
  tasks:
    t1:
      action: std.echo output='ok'
      publish:
        yaql_kv: <% st2kv('greeting') %>
        jinja_kv: "{{ st2kv('system.db_pass', true) }}"
        filter_kv: "{{ 'greeting' | st2kv }}"
        version: <% version_bump_minor('1.2.3') %>
        json: "{{ {'a': 1} | to_json_string(none) }}"
wf_bad_yaql:
  tasks:
    t1:
      action: std.echo output=<% regex_match('a1', 'a(') %>
wf_bad_jinja:
  tasks:
    t1:
      action: std.echo output="{{ regex_match('a1', 'a(') }}"
wf_missing_key:
  tasks:
    t1:
      action: std.echo output=<% st2kv('nope') %>
"""


class St2Keys(server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):  # noqa: N802
        url = parse.urlsplit(self.path)
        query = dict(parse.parse_qsl(url.query))
        St2Keys.seen.append({'path': url.path, 'query': query,
                             'token_ok': self.headers.get('X-Auth-Token') == TOKEN})
        name = parse.unquote(url.path.rpartition('/')[2])
        if self.headers.get('X-Auth-Token') != TOKEN:
            return self._answer(401, {'faultstring': 'Unauthorized'})
        value = KEYS.get((query.get('scope'), query.get('user'), name))
        if value is None:
            return self._answer(404, {'faultstring': 'The key "%s" does not exist' % name})
        self._answer(200, {'name': name, 'value': value})

    def _answer(self, status, body):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def configure(tmp):
    cfg.CONF([], default_config_files=[])
    oslo_messaging.get_transport(cfg.CONF)  # registers transport_url
    cfg.CONF.set_override('transport_url', 'fake:/')
    cfg.CONF.set_override('connection', 'sqlite:///%s/mistral.db' % tmp, 'database')
    cfg.CONF.set_override('auth_enable', False, 'pecan')
    cfg.CONF.set_override('type', 'local', 'executor')
    cfg.CONF.set_override('type', 'local', 'notifier')
    db_api.setup_db()


def wait_done(wf_ex_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db_api.transaction():
            wf_ex = db_api.get_workflow_execution(wf_ex_id)
            if wf_ex.state in ('SUCCESS', 'ERROR'):
                return {
                    'state': wf_ex.state, 'state_info': wf_ex.state_info,
                    'tasks': {t.name: {'state': t.state, 'state_info': t.state_info,
                                       'published': t.published}
                              for t in wf_ex.task_executions},
                }
        time.sleep(0.05)
    raise TimeoutError('workflow %s did not finish in %ss' % (wf_ex_id, timeout))


def main():
    st2 = server.ThreadingHTTPServer(('127.0.0.1', 0), St2Keys)
    threading.Thread(target=st2.serve_forever, daemon=True).start()
    api_url = 'http://127.0.0.1:%d/v1' % st2.server_address[1]

    configure(tempfile.mkdtemp(prefix='st2mistral-fn-'))

    from mistral import context as auth_ctx
    from mistral.engine import engine_server
    from mistral.rpc import clients as rpc_clients
    from mistral.services import actions as action_service
    from mistral.services import security
    from mistral.services import workflows as wf_service

    auth_ctx.set_ctx(auth_ctx.MistralContext.from_dict(
        {'user': 'u', 'project_id': security.DEFAULT_PROJECT_ID,
         'tenant': security.DEFAULT_PROJECT_ID}))
    engine = engine_server.get_oslo_service(setup_profiler=False)
    engine.start()
    action_service.get_system_action_provider()
    engine.wait_started()

    # What the st2 mistral-v2 runner puts in the env (CONTRACTS.md section 5).
    env = {'st2_execution_id': 'e1', '__actions': {'st2.action': {'st2_context': {
        'api_url': api_url, 'auth_token': TOKEN, 'parent': {'user': 'alice'},
        'notify': {}, 'skip_notify_tasks': []}}}}

    wf_service.create_workflows(WORKFLOWS)
    client = rpc_clients.get_engine_client()
    results = {}
    for name in ('wf_ok', 'wf_bad_yaql', 'wf_bad_jinja', 'wf_missing_key'):
        wf_ex = client.start_workflow(name, '', None, {}, '', env=env)
        results[name] = wait_done(wf_ex['id'])

    json.dump({'workflows': results, 'st2_requests': St2Keys.seen}, sys.stdout)
    sys.stdout.flush()
    # Engine threads are not worth a clean shutdown in a throwaway process.
    os._exit(0)


if __name__ == '__main__':
    main()
