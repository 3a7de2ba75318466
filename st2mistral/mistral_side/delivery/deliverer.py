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

"""One try at one st2 update, and what came of it (an :class:`Outcome`).

Credentials: the workflow's own st2 token. The site's ``[st2] api_key`` is
used only when there is no token or st2 refuses it (HTTP 401), and only for an
st2 execution whose record names this workflow (:mod:`st2mistral.mistral_side.binding`);
otherwise nothing is sent and one ERROR line says why.

Every outcome is traced (trace.py); the caller only acts on it.
"""

import enum
import threading

from st2mistral.core import bounded
from st2mistral.core import contract
from st2mistral.core import opts
from st2mistral.core import st2api
from st2mistral.core import st2update
from st2mistral.mistral_side import binding
from st2mistral.mistral_side.delivery import trace

# Executions whose pause st2's API refused, remembered (st2 3.3+: the relay holds them).
_PAUSE_REFUSED_MEMORY = 10000


class Outcome(enum.Enum):
    DELIVERED = 'delivered'                  # st2 took the update
    ALREADY_COMPLETED = 'already completed'  # st2 keeps the execution completed as it is
    HELD_BY_RELAY = 'held by the relay'      # the relay completes the execution instead
    PAUSE_REFUSED = 'pause refused'          # st2 3.3+: the relay reflects the pause
    RETRY = 'retry'                          # try again later
    GIVE_UP = 'give up'                      # never sent; the trace said why


def describe_failure(item, failure, api_key=None):
    """Why a try failed, as ``st2mistral-spool`` shows it (None: it did not). Only
    texts the trace logs as they are (st2's answers are redacted by st2api); any
    other exception by its type alone, as trace.request_not_made does."""
    if failure is None:
        return None
    if isinstance(failure, st2api.St2Error):
        text = 'HTTP %s: %s' % (failure.status_code or 'none', failure)
    elif isinstance(failure, binding.NotBound):
        text = 'not bound: %s' % failure
    else:
        return 'the request could not be made (%s)' % type(failure).__name__
    return st2api.redact(text, [s for s in (item.target.token, api_key) if s])[:500]


class Deliverer:
    """Sends one st2 update once (a pause or cancel in two PUTs) and classifies the answer."""

    def __init__(self, client, verifier, conf, clock):
        self._client = client
        self._verifier = verifier
        self._conf = conf
        self._clock = clock
        self._lock = threading.Lock()
        self._pause_refused = bounded.BoundedDict(_PAUSE_REFUSED_MEMORY)

    @property
    def _group(self):
        return self._conf[opts.GROUP]

    def deliver(self, item):
        """One try: (Outcome, the status st2 shows when DELIVERED, else None)."""
        item.attempts += 1
        failure = None
        try:
            status = self._update(item)
        except Exception as e:
            failure = e
        item.last_error = describe_failure(item, failure, self._group.api_key)
        # Traced outside the except block: oslo.log appends the exception being
        # handled to ERROR lines, and some texts quote a header value (the token).
        if isinstance(failure, binding.NotBound):
            return self._outcome_of_not_bound(item, failure), None
        if isinstance(failure, st2api.St2Error):
            return self._outcome_of_st2_error(item, failure), None
        if failure is not None:
            # Not an st2 answer: the request could not even be built (a result
            # holding NaN, a token with a line break...). Trying again would
            # fail the same way; letting it escape would kill the sender's
            # worker and leave the execution in flight for ever.
            trace.request_not_made(item, failure)
            return Outcome.GIVE_UP, None
        if status is Outcome.HELD_BY_RELAY:
            return Outcome.HELD_BY_RELAY, None
        trace.published(item)
        if status == st2update.REQUESTED.get(item.status):
            trace.kept_while_children_active(item, status)
        return Outcome.DELIVERED, status

    def _update(self, item):
        """With the workflow's token, or with the key for a workflow st2 vouches for."""
        token = item.target.token
        if token:
            try:
                return self._update_unless_held(item, st2api.Credentials(token=token))
            except st2api.St2Error as e:
                if e.status_code != 401:
                    raise
            trace.token_refused(item)
        self._verifier.verify(item.target.api_url, item.target.execution_id, item.root_id)
        return self._update_unless_held(item, self._verifier.key_credentials())

    def _update_unless_held(self, item, credentials):
        """The status st2 shows after the update (st2update.update: a second PUT
        confirms a pause or cancel), or HELD_BY_RELAY, sending nothing."""
        if item.status in contract.ST2_COMPLETED and self._held_by_relay(item, credentials):
            return Outcome.HELD_BY_RELAY
        return st2update.update(lambda: self._client.update_execution(
            item.target.api_url, item.target.execution_id, item.status, item.result,
            credentials), item.status)

    def _held_by_relay(self, item, credentials):
        """Whether st2 shows paused an execution whose pause its API refused: the relay
        set it through st2's update_status and completes it the same way, with the
        workflow's result (through the API, st2 would cancel a paused execution at once
        with its own {message, user} result)."""
        if item.key not in self._pause_refused:
            return False
        answer = self._client.send('GET', contract.execution_url(
            item.target.api_url, item.target.execution_id), credentials)
        if (answer or {}).get('status') not in ('paused', 'pausing'):
            return False
        trace.held_by_relay(item, answer.get('status'))
        return True

    def _outcome_of_st2_error(self, item, error):
        refusal = st2update.refusal(error)
        if refusal == st2update.ALREADY_COMPLETED:
            trace.already_completed(item)
            return Outcome.ALREADY_COMPLETED
        if refusal == st2update.RUNNER_REFUSED:
            trace.pause_refused(item)
            with self._lock:
                self._pause_refused.put(item.key, True)
            return Outcome.PAUSE_REFUSED
        now = self._clock()
        expired = now - item.accepted_at > self._group.delivery_expire_after
        if error.status_code == 404:
            again = self._in_grace(item, now)
        else:
            again = error.retryable
        if again and not expired:
            trace.will_retry(item, error)
            return Outcome.RETRY
        trace.given_up(item, error)
        return Outcome.GIVE_UP

    def _outcome_of_not_bound(self, item, error):
        """No token st2 accepts, and st2 does not (yet) say the execution is this workflow's."""
        # st2 stores the runner's context once the runner has started the
        # workflow: the first events can come before it. Wait as for a 404.
        if not error.final and self._in_grace(item, self._clock()):
            trace.will_retry(item, error)
            return Outcome.RETRY
        if error.repeated:
            trace.not_bound_again(item, error)
        else:
            trace.not_bound(item, error)
        return Outcome.GIVE_UP

    def _in_grace(self, item, now):
        """Whether st2 may still come to know the execution ([st2] unknown_execution_grace
        from the first try it did not)."""
        if item.unknown_since is None:
            item.unknown_since = now
        return now - item.unknown_since < self._group.unknown_execution_grace
