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

"""``st2.action``: run an st2 action as a Mistral task, completed by st2's callback.

A workflow task::

    my_task:
      action: st2.action
      input:
        ref: core.local
        parameters: {cmd: date}

makes this action ``POST {api_url}/executions`` to st2 (docs/contracts.rst, section 5.5)
and returns without a result: the action is asynchronous (``is_sync()`` False), so
Mistral keeps the action execution RUNNING until st2 calls
``PUT /v2/action_executions/<id>`` with the child's outcome.

Where its inputs come from: ``ref`` and ``parameters`` from the task; the st2
context (api_url, auth_token, parent, notify, skip_notify_tasks) from the
workflow env, ``__actions.st2.action.st2_context``, which st2's mistral-v2
runner fills and Mistral merges into the input of every ``st2.action`` task
(``mistral.engine.tasks.RegularTask._get_action_defaults``). Mistral 23 starts
a sub-workflow without an env, so a sub-workflow's st2.action takes the ROOT
execution's st2 context, read from Mistral's DB once the lineage the engine
recorded holds (:mod:`lineage`: a lineage named in an API request gets
nothing). st2 3.2's Mistral passed the env down; its packs rely on that.

``inquiry: true`` (set by the st2 side's runner on a task whose st2 action runs
on st2's inquirer runner, e.g. ``core.ask``) starts the child without st2's
``parent`` (docs/st2-side.rst, "Inquiries"): st2 3.3+ would fail it otherwise.

Mistral 23 gives the action a RELATIVE callback path only; the absolute URL
st2 calls back is ``[st2] mistral_api_url`` + ``/action_executions/<id>``
(see :func:`mistral_api_base_url` for the default). Mistral 23 does not give
actions their task's name either: it is read from Mistral's DB (for the
st2-context header and ``skip_notify_tasks``).

No duplicate children: st2 has no idempotency key, so a POST is sent again
only after a failure proving st2 did not take it (connection refused, connect
timeout, HTTP 429 or 503). After any other failure (read timeout, connection
cut, 502/504) the child may exist: the action never posts again, it asks st2
(``GET {api_url}/executions?action=<ref>&parent=<st2 parent>``, matched on
``context.mistral.action_execution_id``) until the child shows up, which it
adopts, or ``[st2] action_retry_give_up_after`` passes, which fails the task.
If st2 cannot answer that question (an error answer), the task fails at once.

Whose identity: the child is created with the workflow's st2 token (its
user's own rights in st2). The site's ``[st2] api_key`` is used only when that
token is missing or refused (HTTP 401) AND st2 vouches for the workflow: the
st2 execution in ``st2_context.parent.execution_id`` names this workflow's
root Mistral execution in its ``context.mistral.execution_id``
(:mod:`st2mistral.mistral_side.binding`). st2 then records the key's user as the child's
user. Otherwise the task fails and nothing is created.

Secrets: the st2 token is sent as a header only; no log line, error message
or task result here holds it, and the action parameters are never logged.
(Mistral itself stores the action input, st2_context included, with the
action execution, as it does for every action.)
"""

import json
import time

from mistral_lib import actions
from oslo_config import cfg
from oslo_log import log as logging

from st2mistral.core import contract
from st2mistral.core import opts
from st2mistral.core import retry
from st2mistral.core import st2api
from st2mistral.mistral_side import binding
from st2mistral.mistral_side import targets
from st2mistral.mistral_side.actions import lineage

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

CONTEXT_HEADER = 'st2-context'

# Of the answers that say "try again later" (retry.is_transient for a request
# that must not run twice; every other non-2xx answer fails the task), the ones
# that mean "not processed" (RFC 9110); 502/504 may hide a request that a proxy
# did forward.
_REJECTED_STATUSES = frozenset({429, 503})
# st2 lists this many executions per page by default; the lookup reads one page.
_LOOKUP_LIMIT = 100
_WILDCARD_HOSTS = frozenset({'', '0.0.0.0', '::', '[::]'})


class StartFailed(Exception):
    """The st2 child could not be started; the message is safe to show."""


# --------------------------------------------------------------------- pure


def check_inputs(ref, parameters):
    if not isinstance(ref, str) or '.' not in ref.strip('.'):
        raise targets.InvalidSt2Context('ref must name an st2 action as "pack.action", '
                                        'got %r' % (ref,))
    if parameters is not None and not isinstance(parameters, dict):
        raise targets.InvalidSt2Context('parameters must be an object, got %s'
                                % type(parameters).__name__)


def default_mistral_api_url(host, port, ssl=False):
    """Mistral's API URL from ``[api] host/port``.

    A wildcard bind address is no address to call: it becomes 127.0.0.1,
    which is right when st2 runs on the Mistral host (st2's own default,
    ``[mistral] v2_base_url = http://127.0.0.1:8989/v2``).
    """
    host = (host or '').strip()
    if host in _WILDCARD_HOSTS:
        host = '127.0.0.1'
    if ':' in host and not host.startswith('['):
        host = '[%s]' % host  # IPv6 literal
    return '%s://%s:%s/v2' % ('https' if ssl else 'http', host, port)


def mistral_api_base_url(conf=CONF):
    """``[st2] mistral_api_url``, or the default from ``[api]``."""
    configured = conf[opts.GROUP].mistral_api_url
    if configured:
        return configured.rstrip('/')
    api = conf.api
    return default_mistral_api_url(api.host, api.port, getattr(api, 'enable_ssl_api', False))


def callback_url(base_url, action_execution_id):
    return '%s/action_executions/%s' % (base_url.rstrip('/'), action_execution_id)


def build_request(ref, parameters, ctx, execution, task_name, absolute_callback_url,
                  inquiry=False):
    """The st2-context header and the body of ``POST /executions``.

    ``execution`` is Mistral's ``context.execution`` (ExecutionContext). An
    ``inquiry`` (contract.ST2_ACTION_INQUIRY) goes without st2's ``parent``: with
    one, st2 3.3+ fails it (it asks to pause the root mistral-v2 workflow, which
    st2 refuses); without, it stays pending, this task RUNNING, until answered.
    """
    mistral = {
        'workflow_execution_id': execution.workflow_execution_id,
        'workflow_name': execution.workflow_name,
        'task_execution_id': execution.task_execution_id,
        'task_name': task_name,
        'action_execution_id': execution.action_execution_id,
        'callback_url': absolute_callback_url,
    }
    st2_context = {'mistral': mistral} if inquiry else {'parent': ctx.parent,
                                                         'mistral': mistral}
    headers = {CONTEXT_HEADER: json.dumps(st2_context)}
    body = {
        'action': ref,
        'parameters': parameters or {},
        'callback': {'source': contract.CALLBACK_SOURCE, 'url': absolute_callback_url},
    }
    if ctx.notify and task_name not in ctx.skip_notify_tasks:
        body['notify'] = ctx.notify
    return headers, body


def lookup_params(ref, ctx, linked=True):
    """Query of ``GET /executions`` that lists the children this action may have made
    (``linked``: posted with st2's ``parent``, which an inquiry is not)."""
    params = {'action': ref, 'limit': _LOOKUP_LIMIT, 'exclude_attributes': 'result'}
    if linked and ctx.parent_execution_id:
        params['parent'] = ctx.parent_execution_id
    return params


def find_child(executions, action_execution_id):
    """The st2 execution made for this Mistral action execution, or None."""
    for ex in executions:
        if not isinstance(ex, dict) or not isinstance(ex.get('id'), str):
            continue
        context = ex.get('context')
        if contract.mistral_context(context).get('action_execution_id') == action_execution_id:
            return ex
    return None


def execution_id_of(answer, api_url):
    """The id in st2's answer to ``POST /executions``; UnexpectedAnswer without one."""
    execution_id = answer.get('id')
    if not isinstance(execution_id, str) or not execution_id:
        raise st2api.UnexpectedAnswer(
            'POST %s/executions was answered with a JSON object that holds no execution '
            'id, not st2\'s execution: a proxy or another server may be in the way' % api_url,
            retryable=True)
    return execution_id


def is_transient(error):
    """Whether st2 may take the POST later: the one rule, for a request that must not run twice."""
    return retry.is_transient(error.status_code, idempotent=False)


def may_have_reached_st2(error):
    """False only when the failed request provably never reached st2."""
    if error.status_code is not None:
        return error.status_code not in _REJECTED_STATUSES
    return not error.never_sent


def _unanswered(refusal, error):
    return '%s: st2 cannot say whether it does: %s' % (refusal, error)


# ------------------------------------------------------------------- I/O


class _Progress:
    """What ChildStarter.start knows between its tries."""

    def __init__(self, credentials):
        self.credentials = credentials
        self.posted_maybe = False   # a failed POST may have reached st2: never POST again
        self.last_error = None


class ChildStarter:
    """Creates the st2 child at most once.

    A POST is sent again only after a failure that proves st2 did not take
    the request. After any other failure the child may exist: st2 is then
    asked for it until it shows up (adopted) or the time is up (task fails).
    """

    def __init__(self, client, conf=CONF, sleep=time.sleep, clock=time.monotonic,
                 verifier=None, root_id=None, linked=True):
        self._client = client
        self._linked = linked
        self._conf = conf
        self._sleep = sleep
        self._clock = clock
        self._verifier = verifier or binding.Verifier(client, conf)
        # () -> the root Mistral execution id of this action's workflow (a DB read,
        # made only when the API key is wanted).
        self._root_id = root_id

    def start(self, ref, ctx, headers, body, action_execution_id):
        """Return the st2 execution id of the child; raise StartFailed."""
        group = self._conf[opts.GROUP]
        deadline = self._clock() + group.action_retry_give_up_after
        if ctx.auth_token:
            credentials = st2api.Credentials(token=ctx.auth_token)
        else:
            credentials = self._key_credentials(ctx, 'the workflow has no st2 token', deadline)
        progress = _Progress(credentials)

        def on_wait(error, delay):
            LOG.warning('st2.action %s for action execution %s: %s; %s in %.1f s.',
                        ref, action_execution_id, error or 'st2 has no such execution yet',
                        'looking for it again' if progress.posted_maybe else 'trying again',
                        delay)

        try:
            return self._attempts(deadline).run(
                lambda: self._try_once(ref, ctx, headers, body, action_execution_id, progress,
                                       deadline),
                on_wait=on_wait)
        except retry.GaveUp:
            pass
        if progress.posted_maybe:
            raise StartFailed(
                'st2 may have received the request but did not confirm it within %.1f s '
                '([st2] action_retry_give_up_after); not posting again, to avoid a duplicate '
                'execution. Look in st2 for an execution of %s whose context.mistral.'
                'action_execution_id is %s. Last error: %s' % (
                    group.action_retry_give_up_after, ref, action_execution_id,
                    progress.last_error or 'none'))
        raise StartFailed(
            'st2 could not be reached; gave up after %.1f s ([st2] action_retry_give_up_after). '
            'Last error: %s' % (group.action_retry_give_up_after, progress.last_error))

    def _attempts(self, deadline):
        return retry.st2_action(self._conf[opts.GROUP]).attempts(
            clock=self._clock, sleep=self._sleep, deadline=deadline)

    def _try_once(self, ref, ctx, headers, body, action_execution_id, progress, deadline):
        """One POST, or one look for the child an earlier POST may have made: the
        child's id, or retry.TryAgain (at once when the next try differs)."""
        try:
            if not progress.posted_maybe:
                answer = self._client.send('POST', ctx.api_url + '/executions',
                                           progress.credentials, json_body=body,
                                           headers=headers, expect=dict)
                return execution_id_of(answer, ctx.api_url)
            found = self._find(ref, ctx, progress.credentials, action_execution_id)
        except st2api.St2Error as e:
            raise self._next_try(ref, ctx, e, progress, deadline) from None
        if found is None:
            raise retry.TryAgain(progress.last_error)
        return found

    def _next_try(self, ref, ctx, error, progress, deadline):
        """The TryAgain after ``error``; raises StartFailed when no try can help."""
        if isinstance(error, st2api.UnexpectedAnswer) and not progress.posted_maybe:
            # Something took the POST but gave no execution back (a proxy's
            # page, a redirect, an empty 200): st2 may still have made the
            # child, so ask st2 for it rather than post again or give up.
            progress.last_error, progress.posted_maybe = error, True
            return retry.TryAgain(error, at_once=True)
        if error.status_code == 401 and progress.credentials.token:
            # st2 took nothing (it refused the credential): send it again
            # with the key, if st2 vouches for this workflow.
            progress.credentials = self._key_credentials(
                ctx, "st2 refused the workflow's st2 token (HTTP 401)", deadline)
            return retry.TryAgain(error, at_once=True)
        if not is_transient(error):
            raise StartFailed(self._refusal(ref, error, progress.posted_maybe)) from None
        progress.last_error = error
        if not progress.posted_maybe and may_have_reached_st2(error):
            progress.posted_maybe = True
            # Ask st2 at once: usually the child exists and only the answer was lost.
            return retry.TryAgain(error, at_once=True)
        return retry.TryAgain(error)

    def _key_credentials(self, ctx, why, deadline):
        """The API key, once st2 vouches that this workflow is its parent execution's.

        ``why`` says why the token cannot be used; raise StartFailed naming it
        when st2 does not vouch. A record that names no workflow yet (st2
        stores the runner's context only after the runner has started the
        workflow) is read again until ``deadline``, waiting by the retry policy.
        """
        refusal = ('%s, and the API key ([st2] api_key) acts only for a workflow whose st2 '
                   'execution names it' % why)
        parent_id = ctx.parent_execution_id
        if not isinstance(parent_id, str) or not parent_id:
            raise StartFailed('%s: st2_context.parent.execution_id is missing' % refusal)
        try:
            root_id = self._root_id()
        except lineage.Untrusted as e:
            raise StartFailed('%s: the lineage of this workflow cannot be trusted (%s)'
                              % (refusal, e)) from None
        except Exception as e:
            raise StartFailed('%s: the root workflow execution cannot be read from Mistral '
                              '(%s)' % (refusal, type(e).__name__)) from None

        def verify_once():
            try:
                self._verifier.verify(ctx.api_url, parent_id, root_id)
            except binding.NotBound as e:
                if e.final:
                    raise StartFailed('%s: %s' % (refusal, e)) from None
                raise retry.TryAgain(e) from None
            except st2api.St2Error as e:
                if not is_transient(e):
                    raise StartFailed(_unanswered(refusal, e)) from None
                raise retry.TryAgain(e) from None

        try:
            self._attempts(deadline).run(verify_once, on_wait=lambda problem, delay: LOG.info(
                'st2.action: asking st2 again whether st2 execution %s names workflow %s '
                '(%s).', parent_id, root_id, problem))
        except retry.GaveUp as gave_up:
            problem = gave_up.reason
            if isinstance(problem, binding.NotBound):
                raise StartFailed('%s: %s' % (refusal, problem)) from None
            raise StartFailed(_unanswered(refusal, problem)) from None
        LOG.info('st2.action for workflow %s: %s; st2 execution %s names this workflow, so '
                 'the API key is used (st2 records its user as the child\'s user).',
                 root_id, why, parent_id)
        return self._verifier.key_credentials()

    @staticmethod
    def _refusal(ref, error, posted_maybe):
        if posted_maybe:
            return ('st2 may have received the request but cannot be asked whether it created '
                    'the execution (%s); not posting again, to avoid a duplicate execution'
                    % error)
        return 'st2 refused to start %s: %s' % (ref, error)

    def _find(self, ref, ctx, credentials, action_execution_id):
        """The id of the child an earlier POST made, or None (yet)."""
        listed = self._client.send('GET', ctx.api_url + '/executions', credentials,
                                   params=lookup_params(ref, ctx, self._linked),
                                   expect=list)
        child = find_child(listed, action_execution_id)
        if child is None:
            return None
        LOG.info('st2.action %s: the earlier request did create st2 execution %s for action '
                 'execution %s.', ref, child.get('id'), action_execution_id)
        return child.get('id')


def root_execution_id_of(workflow_execution_id):
    """The root workflow execution of ``workflow_execution_id``, from Mistral's DB,
    through the lineage the engine recorded (lineage.Untrusted otherwise)."""
    return lineage.root_of(workflow_execution_id).id


def inherited_st2_context(workflow_execution_id):
    """The st2 context of the workflow's ROOT execution, for a sub-workflow (Mistral 23
    gives sub-workflows no env); None for a root. InvalidSt2Context when the lineage
    the workflow names does not hold."""
    try:
        root = lineage.root_of(workflow_execution_id)
    except lineage.Untrusted as e:
        raise targets.InvalidSt2Context(
            'the workflow has no st2 context of its own, and the lineage it names cannot '
            'be trusted (%s): only a sub-workflow the engine started takes its root\'s st2 '
            'context' % e) from None
    if root.id == workflow_execution_id:
        return None
    return targets.st2_context(root.env) or None


def task_name_of(task_execution_id):
    """The task's name from Mistral's DB (Mistral 23 does not give it to actions)."""
    if not task_execution_id:
        return None
    from mistral.db.v2 import api as db_api

    try:
        with db_api.transaction(read_only=True):
            return db_api.get_task_execution(task_execution_id).name
    except Exception as e:  # notify is then sent: st2's default
        LOG.warning('st2.action could not read the name of task execution %s (%s); '
                    'skip_notify_tasks cannot apply to it.', task_execution_id,
                    type(e).__name__)
        return None


class St2Action(actions.Action):
    """Runs st2 action ``ref`` with ``parameters``; st2 completes it later."""

    def __init__(self, ref, parameters=None, st2_context=None, inquiry=False):
        super().__init__()
        self.ref = ref
        self.parameters = parameters
        self.st2_context = st2_context
        self.inquiry = inquiry

    def is_sync(self):
        return False

    def run(self, context):
        return run(self.ref, self.parameters, self.st2_context, context.execution,
                   inquiry=self.inquiry)


def run(ref, parameters, raw_st2_context, execution, client=None, conf=CONF,
        task_name_lookup=task_name_of, sleep=time.sleep, clock=time.monotonic,
        verifier=None, root_lookup=root_execution_id_of,
        context_lookup=inherited_st2_context, inquiry=False):
    """Start the st2 child; None on success, a Mistral error Result otherwise.

    Without an st2 context of its own (a sub-workflow's task), the root's is
    used: ``context_lookup(workflow_execution_id)``.
    """
    try:
        check_inputs(ref, parameters)
        if not raw_st2_context:
            raw_st2_context = context_lookup(execution.workflow_execution_id)
        ctx = targets.parse_st2_context(raw_st2_context)
        st2api.check_destination(ctx.api_url + '/executions', conf)
        task_name = task_name_lookup(execution.task_execution_id)
        url = callback_url(mistral_api_base_url(conf), execution.action_execution_id)
        inquiry = inquiry is True
        headers, body = build_request(ref, parameters, ctx, execution, task_name, url,
                                      inquiry=inquiry)
        if verifier is None:   # one process-wide cache of verified bindings
            verifier = (binding.get_verifier() if client is None and conf is CONF
                        else binding.Verifier(client, conf))
        client = client or st2api.get_client()
        starter = ChildStarter(client, conf=conf, sleep=sleep, clock=clock, verifier=verifier,
                               root_id=lambda: root_lookup(execution.workflow_execution_id),
                               linked=not inquiry)
        child_id = starter.start(ref, ctx, headers, body, execution.action_execution_id)
    except (targets.InvalidSt2Context, st2api.DestinationNotAllowed, StartFailed) as e:
        message = 'st2.action %s cannot run: %s' % (ref, e)
        LOG.error('[%s] %s (action execution %s)', execution.workflow_execution_id, message,
                  execution.action_execution_id)
        return actions.Result(error=message)

    LOG.info('[%s] st2.action %s started st2 execution %s for task %s (action execution %s); '
             'st2 calls back %s.', execution.workflow_execution_id, ref, child_id, task_name,
             execution.action_execution_id, url)
    return None
