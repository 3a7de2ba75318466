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

"""The operator's trace of st2 updates (docs/contracts.rst, section 9.1): every line.

An operator follows one execution with ``grep stackstorm_notifier ... | grep
<root execution id>``: every line comes from the notifier's logger and starts
with ``[<root execution id>]``. The lines are the product's interface, so they
are written here only, one function per line: first the sender's (``item`` is
an :class:`~st2mistral.mistral_side.delivery.outgoing.Outgoing`: its
``root_id``, ``event``, ``ex_id`` and ``target``), then the notifier's (which
Mistral events become st2 updates).
"""

from oslo_log import log as logging

# The notifier's logger name, which the operator greps for.
LOGGER_NAME = 'st2mistral.mistral_side.notifiers.stackstorm_notifier'
TRACE = logging.getLogger(LOGGER_NAME)


def reconcile_hint(execution_id):
    """What the operator runs on an st2 host to reconcile one execution."""
    return ('run "st2-track-result %s --config-dir /etc/st2" on an st2 host to reconcile '
            'it (on st2 3.4+ the st2mistral relay service acts on it; it also reconciles '
            'every active mistral-v2 execution every [mistral] reconcile_interval '
            'seconds).' % execution_id)


def unreadable_spool_row(data):
    TRACE.error('A spooled st2 update is unreadable and is dropped: st2 execution %s.',
                (data.get('target') or {}).get('execution_id', 'unknown'))


def dropped_as_regression(item, st2_status):
    TRACE.info('[%s] The workflow event %s for %s is not published to st2: st2 execution %s '
               'is already %s, and st2 keeps completed executions as they are.',
               item.root_id, item.event, item.ex_id, item.target.execution_id, st2_status)


def superseded(item, newer_event):
    TRACE.info('[%s] The workflow event %s for %s is superseded by %s and will not be '
               'published separately.', item.root_id, item.event, item.ex_id, newer_event)


def published(item):
    TRACE.info('[%s] The workflow event %s for %s is published to st2.',
               item.root_id, item.event, item.ex_id)


def kept_while_children_active(item, st2_status):
    TRACE.info('[%s] st2 keeps execution %s %s while its children are active.',
               item.root_id, item.target.execution_id, st2_status)


def token_refused(item):
    TRACE.info('[%s] st2 refused the token of %s for st2 execution %s (HTTP 401); the API key '
               'is used if st2 says that execution is this workflow\'s.',
               item.root_id, item.ex_id, item.target.execution_id)


def held_by_relay(item, st2_status):
    TRACE.info('[%s] The workflow event %s for %s is not published to st2: st2 execution %s '
               'is held %s by the st2mistral relay service, which completes it.',
               item.root_id, item.event, item.ex_id, item.target.execution_id, st2_status)


def already_completed(item):
    TRACE.info('[%s] The workflow event %s for %s is not published to st2: st2 execution %s '
               'is already completed.', item.root_id, item.event, item.ex_id,
               item.target.execution_id)


def pause_refused(item):
    TRACE.info('[%s] The workflow event %s for %s is not published to st2: st2 (3.3 and '
               'later) cannot hold a mistral-v2 execution %s through its API; the st2mistral '
               'relay service reflects it in st2 execution %s.', item.root_id, item.event,
               item.ex_id, item.status, item.target.execution_id)


def will_retry(item, error):
    TRACE.warning('[%s] The workflow event %s for %s is not yet published to st2 (try %d): '
                  '%s. Will retry.', item.root_id, item.event, item.ex_id, item.attempts, error)


def request_not_made(item, error):
    """Logged outside any except block: oslo.log appends the exception being
    handled to ERROR lines, and some texts quote a header value (the token)."""
    TRACE.error('[%s] The workflow event %s for %s could not be published to st2 execution '
                '%s: the request could not be made (%s). %s', item.root_id, item.event,
                item.ex_id, item.target.execution_id, type(error).__name__,
                reconcile_hint(item.target.execution_id))


def evicted(item, unknown_for):
    TRACE.warning('[%s] The workflow event %s for %s is not published to st2 execution %s: '
                  'st2 does not know that execution (HTTP 404, or no record naming this '
                  'workflow, for %.0f s) and the st2 delivery queue is full, so this update '
                  'is given up to make room for updates st2 can take ([st2] spool_max_count, '
                  'spool_max_bytes). If the execution does exist: %s', item.root_id,
                  item.event, item.ex_id, item.target.execution_id, unknown_for,
                  reconcile_hint(item.target.execution_id))


def given_up(item, error):
    TRACE.error('[%s] The workflow event %s for %s could not be published to st2 execution '
                '%s (HTTP %s): %s. When st2 is reachable again: %s', item.root_id, item.event,
                item.ex_id, item.target.execution_id, error.status_code or 'none', error,
                reconcile_hint(item.target.execution_id))


def not_bound_again(item, error):
    TRACE.info('[%s] The workflow event %s for %s is not published to st2 execution %s '
               'either: %s.', item.root_id, item.event, item.ex_id,
               item.target.execution_id, error)


def not_bound(item, error):
    TRACE.error('[%s] The workflow event %s for %s is not published to st2 execution %s: the '
                'workflow has no st2 token st2 accepts, and %s. The API key ([st2] api_key) '
                'acts only for a workflow whose st2 execution names it; see docs/security.rst '
                'in st2mistral.', item.root_id, item.event, item.ex_id,
                item.target.execution_id, error)


# -- the notifier: which Mistral events become st2 updates --------------------------


def subworkflow_not_published(root_id, event, ex_id):
    TRACE.info('[%s] The workflow event %s for subworkflow %s is not published to st2. This '
               'is expected because it does not have a corresponding execution record in '
               'st2.', root_id, event, ex_id)


def workflow_gone(root_id, event, ex_id):
    TRACE.warning('[%s] The workflow event %s for %s is not published to st2: the workflow '
                  'execution is no longer in Mistral.', root_id, event, ex_id)


def stale_event(root_id, event, ex_id, state_now):
    TRACE.info('[%s] The workflow event %s for %s is not published to st2: the workflow is '
               '%s now, and that event is published instead.', root_id, event, ex_id,
               state_now)


def invalid_target(root_id, event, ex_id, error):
    TRACE.error('[%s] The workflow event %s for %s is not published to st2: %s',
                root_id, event, ex_id, error)


def no_st2_context(root_id, event, ex_id):
    TRACE.info('[%s] The workflow event %s for %s is not published to st2: the workflow has '
               'no st2 context (no st2_execution_id in its env or notify entry).',
               root_id, event, ex_id)


def no_st2_status(root_id, event, ex_id, state):
    TRACE.info('[%s] The workflow event %s for %s is not published to st2: st2 has no status '
               'for Mistral state %s.', root_id, event, ex_id, state)


def result_without_output(root_id, ex_id, execution_id, problem):
    TRACE.error('[%s] The result of %s for st2 execution %s is sent without its output and '
                'tasks: %s.', root_id, ex_id, execution_id, problem)


def result_truncated(root_id, ex_id, execution_id, original_bytes, max_bytes):
    TRACE.warning('[%s] The result of %s for st2 execution %s is %d bytes, over [st2] '
                  'max_result_size (%d): its largest values were cut.', root_id, ex_id,
                  execution_id, original_bytes, max_bytes)


def will_be_published(root_id, event, ex_id):
    TRACE.info('[%s] The workflow event %s for %s will be published to st2.',
               root_id, event, ex_id)


def task_workflow_missing(event, ex_id, wf_ex_id):
    TRACE.warning('The task event %s for %s is not processed for st2: its workflow execution '
                  '%s is not in Mistral.', event, ex_id, wf_ex_id)


def task_will_be_processed(root_id, event, ex_id):
    TRACE.info('[%s] The task event %s for %s will be processed for st2.',
               root_id, event, ex_id)


def task_processed(root_id, event, ex_id):
    TRACE.info('[%s] The task event %s for %s is processed for st2.', root_id, event, ex_id)


def task_triggers(root_id, event, ex_id, wf_event, wf_id):
    TRACE.info('[%s] The task event %s for %s triggers workflow event %s for %s to st2.',
               root_id, event, ex_id, wf_event, wf_id)
