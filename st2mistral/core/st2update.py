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

"""The one way an st2 execution's status is updated through st2's API.

Used by the publisher in Mistral (mistral_side/delivery/deliverer.py, push) and by the relay
on the st2 side (st2_side/reconcile.py, pull), so both send the same request,
confirm a pause or cancel the same way and read st2's refusals the same way.
Each caller keeps its own logging and outcome handling. Pure apart from the
``send`` callable it is given; runs on Python 3.8 without oslo.log.
"""

from __future__ import annotations

from st2mistral.core import contract

# What st2 answers while a pause or cancel request is still in progress.
REQUESTED = {'paused': 'pausing', 'canceled': 'canceling'}

# st2's answer (HTTP 400) to an update of a completed execution
# (st2api/controllers/v1/actionexecutions.py @ v3.9.0).
ALREADY_COMPLETED_TEXT = 'already in completed state'
# st2 3.3+ refuses to pause a mistral-v2 execution through its API
# (request_pause, st2common/services/action.py @ v3.9.0).
RUNNER_REFUSED_TEXT = 'because it is not supported by the "mistral-v2" runner'

# What refusal() finds in an error.
ALREADY_COMPLETED = 'completed'
RUNNER_REFUSED = 'refused'


def put(send, api_url, execution_id, status, result, credentials, **kwargs):
    """One ``PUT /executions/<id>`` with st2's {status, result} body through ``send``
    (a client's ``send`` for one attempt, or its ``call`` for one with backoff)."""
    body = {'status': status}
    if result is not None:
        body['result'] = result
    return send('PUT', contract.execution_url(api_url, execution_id), credentials, json_body=body,
                **kwargs)


def answered_status(answer, status):
    """The status st2's answer shows (the one asked for when it shows none)."""
    return answer.get('status', status) if isinstance(answer, dict) else status


def update(put_once, status):
    """Set ``status`` with ``put_once()`` (one PUT of it); returns the status st2 shows.

    st2 takes pause and cancel in two steps: the first PUT is a request
    (pausing/canceling), a second confirms it once nothing is active.
    """
    st2_status = answered_status(put_once(), status)
    if st2_status == REQUESTED.get(status):
        st2_status = answered_status(put_once(), status)
    return st2_status


def refusal(error):
    """ALREADY_COMPLETED or RUNNER_REFUSED when ``error`` is that answer of st2, else None."""
    if getattr(error, 'status_code', None) != 400:
        return None
    text = str(error)
    if ALREADY_COMPLETED_TEXT in text:
        return ALREADY_COMPLETED
    if RUNNER_REFUSED_TEXT in text:
        return RUNNER_REFUSED
    return None
