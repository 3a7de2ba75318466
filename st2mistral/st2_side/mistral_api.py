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

"""A small client of Mistral's v2 REST API for the st2 side, built on requests.

Why not python-mistralclient: it brings cliff, keystoneauth1 and osc-lib, which
need newer releases of packages st2 pins (stevedore...), so installing it
would change st2's own virtualenv. The st2 side needs a dozen calls; this
module makes them with the same method names, arguments, request bodies and
answers (objects whose attributes are the JSON fields, with ``to_dict()``)
that python-mistralclient's v2 managers use, so callers read the same.

Every request has a timeout and verifies TLS unless told not to. A Mistral
error answer raises ``MistralError`` with the status code and Mistral's
message; nothing here logs, and no token ever goes into a message.
"""

from __future__ import annotations

import copy
import json
import uuid

import requests

from st2mistral.core import contract
from st2mistral.core import st2api


class MistralError(Exception):
    """Mistral answered with an error: ``error_code`` (HTTP status) and its message."""

    def __init__(self, error_code=None, error_message=None):
        super().__init__(error_message)
        self.error_code = error_code
        self.error_message = error_message


class Resource:
    """One row of Mistral's answer: each JSON field is an attribute."""

    def __init__(self, data):
        self._data = data
        for name, value in data.items():
            setattr(self, name, value)

    def to_dict(self):
        return copy.deepcopy(self._data)

    def __repr__(self):
        return '<%s %s>' % (type(self).__name__, self._data.get('id') or self._data.get('name'))


def _is_uuid(value):
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _query(marker=None, limit=None, sort_keys=None, sort_dirs=None, fields=None, filters=None):
    """Query parameters of a list call, as python-mistralclient builds them."""
    params = {}
    if marker:
        params['marker'] = marker
    if limit and limit > 0:
        params['limit'] = limit
    if sort_keys:
        params['sort_keys'] = sort_keys
    if sort_dirs:
        params['sort_dirs'] = sort_dirs
    if fields:
        params['fields'] = ','.join(fields)
    params.update(filters or {})
    return params


def _not_empty(**values):
    for name, value in values.items():
        if value is None or value == '':
            raise MistralError(400, 'missing field "%s"' % name)


class KeystoneToken:
    """A project-scoped Keystone v3 token for ``[mistral] keystone_*`` (password auth)."""

    def __init__(self, session, auth_url, username, password, project_name, timeout,
                 verify=True):
        base = auth_url.rstrip('/')
        self._url = (base if base.endswith('/v3') else base + '/v3') + '/auth/tokens'
        self._session = session
        self._body = {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': username, 'password': password, 'domain': {'id': 'default'}}}},
            'scope': {'project': {'name': project_name, 'domain': {'id': 'default'}}}}}
        self._timeout = timeout
        self._verify = verify
        self.password = password
        self.token = None

    def get(self, renew=False):
        if self.token is None or renew:
            # No redirect is followed: the password would go along.
            response = self._session.post(self._url, json=self._body, timeout=self._timeout,
                                          verify=self._verify, allow_redirects=False)
            if response.status_code != 201 or not response.headers.get('X-Subject-Token'):
                raise MistralError(response.status_code,
                                   'Keystone refused the [mistral] keystone_* credentials '
                                   '(%s %s)' % (response.status_code, response.reason))
            self.token = response.headers['X-Subject-Token']
        return self.token


class Client:
    """Mistral v2 API at ``base_url`` (e.g. http://mistral:8989/v2).

    ``verify``: True, a CA bundle path, or False; ``timeout``: (connect, read)
    seconds; ``auth_token``: sent as X-Auth-Token; ``keystone``: a
    KeystoneToken (a fresh token is fetched once when Mistral answers 401).
    """

    def __init__(self, base_url, verify=True, timeout=(5.0, 60.0), auth_token=None,
                 keystone=None, session=None):
        self.base_url = base_url.rstrip('/')
        self.session = session or requests.Session()
        # Given with each request: a session's own ``verify`` loses to
        # REQUESTS_CA_BUNDLE in the environment (requests merges them so).
        self.verify = verify
        self.timeout = timeout
        self._auth_token = auth_token
        self._keystone = keystone
        self.executions = Executions(self)
        self.tasks = Tasks(self)
        self.action_executions = ActionExecutions(self)
        self.workflows = Workflows(self)
        self.workbooks = Workbooks(self)

    def request(self, method, path, params=None, body=None, text=None, headers=None):
        """One call; the decoded JSON answer (None when empty) or MistralError."""
        # No Accept header, as python-mistralclient: Mistral answers a workflow
        # definition POST that asks for application/json with 406.
        headers = dict(headers or {})
        if text is not None:
            data = text.encode('utf-8')
            headers['Content-Type'] = 'text/plain'
        else:
            data = None if body is None else json.dumps(body)
            headers['Content-Type'] = 'application/json'
        response = self._send(method, path, params, data, headers, renew=False)
        if response.status_code == 401 and self._keystone is not None:
            response = self._send(method, path, params, data, headers, renew=True)
        if response.is_redirect or response.status_code >= 400:
            raise MistralError(response.status_code, self._error_message(response))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _error_message(self, response):
        """Mistral's error text, with no credential in it (a proxy may echo headers)."""
        if response.is_redirect:
            text = ('a redirect (HTTP %d to %s), not followed: set [mistral] v2_base_url to '
                    'the URL Mistral answers on' % (response.status_code,
                                                    response.headers.get('Location')))
        else:
            text = _error_message(response)
        secrets = [self._auth_token]
        if self._keystone is not None:
            secrets += [self._keystone.token, self._keystone.password]
        return st2api.redact(text, secrets)

    def _send(self, method, path, params, data, headers, renew):
        headers = dict(headers)
        token = self._keystone.get(renew) if self._keystone is not None else self._auth_token
        if token:
            headers['X-Auth-Token'] = token
        # No redirect is followed: the token would go along to wherever it points.
        return self.session.request(method, self.base_url + path, params=params, data=data,
                                    headers=headers, timeout=self.timeout, verify=self.verify,
                                    allow_redirects=False)


def _error_message(response):
    """Mistral's own text for an error, where python-mistralclient finds it."""
    message = response.headers.get('Server-Error-Message')
    if message:
        return message
    try:
        return response.json().get('faultstring') or response.text
    except (ValueError, AttributeError):
        return response.text


class _Manager:
    def __init__(self, client):
        self._client = client

    def _one(self, method, path, **kwargs):
        return Resource(self._client.request(method, path, **kwargs))

    def _many(self, method, path, key, **kwargs):
        answer = self._client.request(method, path, **kwargs)
        return [Resource(row) for row in answer[key]]


class Executions(_Manager):
    def create(self, wf_identifier='', namespace='', workflow_input=None, description='',
               source_execution_id=None, **params):
        _not_empty(workflow_identifier=wf_identifier or source_execution_id)
        data = {'description': description}
        if source_execution_id and _is_uuid(source_execution_id):
            data['source_execution_id'] = source_execution_id
        if wf_identifier:
            data['workflow_id' if _is_uuid(wf_identifier) else 'workflow_name'] = wf_identifier
        if namespace:
            data['workflow_namespace'] = namespace
        if workflow_input:
            data['input'] = (workflow_input if isinstance(workflow_input, str)
                             else json.dumps(workflow_input))
        if params:
            data['params'] = json.dumps(params)
        return self._one('POST', '/executions', body=data)

    def update(self, id, state, description=None, env=None):
        data = {}
        if state:
            data['state'] = state
        if description:
            data['description'] = description
        if env:
            data['params'] = {'env': env}
        return self._one('PUT', '/executions/%s' % id, body=data)

    def get(self, id):
        _not_empty(id=id)
        return self._one('GET', '/executions/%s' % id)

    def list(self, task=None, marker='', limit=None, sort_keys='', sort_dirs='', fields='',
             **filters):
        if task:
            filters['task_execution_id'] = task
        return self._many('GET', '/executions', 'executions', params=_query(
            marker, limit, sort_keys, sort_dirs, fields, filters))

    def delete(self, id, force=None):
        _not_empty(id=id)
        self._client.request('DELETE', '/executions/%s' % id,
                             params={'force': True} if force else None)


class Tasks(_Manager):
    def get(self, id):
        _not_empty(id=id)
        return self._one('GET', '/tasks/%s' % id)

    def list(self, workflow_execution_id=None, marker='', limit=None, sort_keys='',
             sort_dirs='', fields=None, **filters):
        path = ('/executions/%s/tasks' % workflow_execution_id if workflow_execution_id
                else '/tasks')
        return self._many('GET', path, 'tasks', params=_query(
            marker, limit, sort_keys, sort_dirs, fields, filters))

    def rerun(self, task_ex_id, reset=True, env=None):
        body = {'id': task_ex_id, 'state': 'RUNNING', 'reset': reset}
        if env:
            body['env'] = json.dumps(env)
        return self._one('PUT', '/tasks/%s' % task_ex_id, body=body)


class ActionExecutions(_Manager):
    def get(self, id, project=None):
        """``project``: as in update()."""
        _not_empty(id=id)
        headers = {contract.MISTRAL_PROJECT_HEADER: project} if project else None
        return self._one('GET', '/action_executions/%s' % id, headers=headers)

    def update(self, id, state=None, output=None, project=None):
        """``project``: the st2 user's Mistral project to act in (an admin token only;
        contract.MISTRAL_PROJECT_HEADER)."""
        _not_empty(id=id)
        if not (state or output):
            raise MistralError(400, 'Please provide either state or output for action '
                                    'execution.')
        data = {}
        if state:
            data['state'] = state
        if output:
            data['output'] = output
        headers = {contract.MISTRAL_PROJECT_HEADER: project} if project else None
        return self._one('PUT', '/action_executions/%s' % id, body=data, headers=headers)

    def list(self, task_execution_id=None, limit=None, marker='', fields=None, sort_keys='',
             sort_dirs='', **filters):
        path = ('/tasks/%s/action_executions' % task_execution_id if task_execution_id
                else '/action_executions')
        return self._many('GET', path, 'action_executions', params=_query(
            marker, limit, sort_keys, sort_dirs, fields, filters))


class Workflows(_Manager):
    def get(self, identifier, namespace=''):
        _not_empty(identifier=identifier)
        return self._one('GET', '/workflows/%s' % identifier, params={'namespace': namespace})

    def create(self, definition, namespace='', scope='private'):
        _not_empty(definition=definition)
        return self._many('POST', '/workflows', 'workflows', text=definition,
                          params={'scope': scope, 'namespace': namespace})

    def update(self, definition, namespace='', scope='private'):
        _not_empty(definition=definition)
        return self._many('PUT', '/workflows', 'workflows', text=definition,
                          params={'namespace': namespace, 'scope': scope})

    def delete(self, identifier, namespace=None):
        _not_empty(identifier=identifier)
        self._client.request('DELETE', '/workflows/%s' % identifier,
                             params={'namespace': namespace} if namespace else None)

    def list(self, namespace='', marker='', limit=None, sort_keys='', sort_dirs='', fields='',
             **filters):
        if namespace:
            filters['namespace'] = namespace
        return self._many('GET', '/workflows', 'workflows', params=_query(
            marker, limit, sort_keys, sort_dirs, fields, filters))


class Workbooks(_Manager):
    @staticmethod
    def _params(namespace='', scope=None):
        params = {}
        if scope:
            params['scope'] = scope
        if namespace:
            params['namespace'] = namespace
        return params

    def get(self, name, namespace=''):
        _not_empty(name=name)
        return self._one('GET', '/workbooks/%s' % name, params=self._params(namespace))

    def create(self, definition, namespace='', scope='private'):
        _not_empty(definition=definition)
        return self._one('POST', '/workbooks', text=definition,
                         params=self._params(namespace, scope))

    def update(self, definition, namespace='', scope='private'):
        _not_empty(definition=definition)
        return self._one('PUT', '/workbooks', text=definition,
                         params=self._params(namespace, scope))

    def delete(self, name, namespace=''):
        _not_empty(name=name)
        self._client.request('DELETE', '/workbooks/%s' % name, params=self._params(namespace))

    def list(self, namespace='', marker='', limit=None, sort_keys='', sort_dirs='', fields='',
             **filters):
        params = _query(marker, limit, sort_keys, sort_dirs, fields, filters)
        params.update(self._params(namespace))
        return self._many('GET', '/workbooks', 'workbooks', params=params)
