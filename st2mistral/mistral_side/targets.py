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

"""Where a Mistral workflow's status goes in st2. Pure: no I/O.

st2's mistral-v2 runner puts the st2 execution id and the st2 context into
the root workflow's env (docs/contracts.rst, section 7). A notify entry may name
the target itself (``{"type": "st2", "st2_execution_id": ..., "api_url": ...}``),
which wins over the env.
"""

from __future__ import annotations

import dataclasses
import re

from st2mistral.core import contract

# st2 execution ids are Mongo ObjectIds; accept any plain id, never a path.
_EXECUTION_ID = re.compile(r'[A-Za-z0-9_-]{1,64}')


class InvalidSt2Context(ValueError):
    """The workflow carries an st2 context that cannot be used."""


@dataclasses.dataclass(frozen=True)
class Target:
    execution_id: str
    api_url: str
    token: str | None = dataclasses.field(default=None, repr=False)


def st2_context(env):
    """The ``st2_context`` st2 put into the env, or {}."""
    return contract.env_st2_context(env)


def is_http_url(value):
    return isinstance(value, str) and value.startswith(('http://', 'https://'))


def context_token(ctx):
    """``st2_context.auth_token``, checked: a string, or None."""
    token = ctx.get('auth_token')
    if token is not None and not isinstance(token, str):
        raise InvalidSt2Context('st2_context.auth_token must be a string')
    return token


@dataclasses.dataclass(frozen=True)
class St2Context:
    """The ``st2_context`` st2 put into the workflow env, validated."""

    api_url: str
    auth_token: str | None = dataclasses.field(default=None, repr=False)
    parent: dict = dataclasses.field(default_factory=dict)
    notify: dict | None = None
    skip_notify_tasks: tuple = ()

    @property
    def parent_execution_id(self):
        return self.parent.get('execution_id')


def parse_st2_context(raw):
    """Validate the raw ``st2_context``; InvalidSt2Context names what is wrong."""
    if not raw:
        raise InvalidSt2Context(
            'the workflow has no st2 context: the input st2_context (from the workflow env '
            '__actions.st2.action.st2_context, which st2 sets when it starts the workflow) '
            'is missing')
    if not isinstance(raw, dict):
        raise InvalidSt2Context('st2_context must be an object, got %s' % type(raw).__name__)

    api_url = raw.get('api_url')
    if not api_url:
        raise InvalidSt2Context('st2_context.api_url is missing')
    if not is_http_url(api_url):
        raise InvalidSt2Context('st2_context.api_url %r is not an http(s) URL' % (api_url,))

    token = context_token(raw)

    parent = raw.get('parent') or {}
    if not isinstance(parent, dict):
        raise InvalidSt2Context('st2_context.parent must be an object')

    notify = raw.get('notify') or None
    if notify is not None and not isinstance(notify, dict):
        raise InvalidSt2Context('st2_context.notify must be an object')

    skip = raw.get('skip_notify_tasks') or []
    if not isinstance(skip, (list, tuple)) or not all(isinstance(t, str) for t in skip):
        raise InvalidSt2Context('st2_context.skip_notify_tasks must be a list of task names')

    return St2Context(api_url=api_url.rstrip('/'), auth_token=token or None, parent=parent,
                      notify=notify, skip_notify_tasks=tuple(skip))


def parent_workflow_execution_id(env):
    """The Mistral workflow that started this one through st2, if any."""
    parent = st2_context(env).get('parent') or {}
    return contract.mistral_context(parent).get('workflow_execution_id')


def resolve(notify_kwargs, env, default_api_url):
    """The st2 target of a root workflow execution, or None without st2 context.

    Raises InvalidSt2Context naming what is wrong when the context is there
    but unusable.
    """
    env = env if isinstance(env, dict) else {}
    ctx = st2_context(env)
    execution_id = (notify_kwargs.get(contract.ENV_EXECUTION_ID)
                    or contract.env_execution_id(env))
    if execution_id is None:
        return None
    if not isinstance(execution_id, str) or not _EXECUTION_ID.fullmatch(execution_id):
        raise InvalidSt2Context(
            'st2_execution_id %r is not a valid st2 execution id' % (execution_id,))

    api_url = (notify_kwargs.get('api_url') or env.get(contract.ENV_API_URL)
               or ctx.get('api_url') or default_api_url)
    if not is_http_url(api_url):
        raise InvalidSt2Context('st2 API URL %r is not an http(s) URL' % (api_url,))

    token = context_token(ctx)

    return Target(execution_id=execution_id, api_url=api_url.rstrip('/'), token=token)
