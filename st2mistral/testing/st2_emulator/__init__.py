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

"""A strict, recording emulator of the StackStorm (st2) REST API, for tests.

A real HTTP server on 127.0.0.1 that answers the endpoints st2mistral uses the way st2
answers them (per st2 version), records every request and misbehaves on demand.
docs/st2-emulator.rst describes the rules it follows and the st2 sources they come from.

Modules: ``rules`` (st2's rules: constants and pure functions), ``server`` (the HTTP
server and :class:`St2Emulator`), ``stream`` (the event stream), ``faults`` (the fault
controls). Every public name is re-exported here, so ``st2_emulator.St2Emulator`` and the
like keep working.

Example::

    with St2Emulator() as st2:
        ex_id = st2.add_execution()
        ...  # run the code under test against st2.api_url with token 'st2-token'
        st2.wait_for_status(ex_id, 'succeeded')
"""

from st2mistral.testing.st2_emulator.faults import PROXY_PAGE  # noqa: F401
from st2mistral.testing.st2_emulator.rules import ALLOWED_SCOPES  # noqa: F401
from st2mistral.testing.st2_emulator.rules import CANCELABLE_STATUSES  # noqa: F401
from st2mistral.testing.st2_emulator.rules import CHILD_INACTIVE_STATUSES  # noqa: F401
from st2mistral.testing.st2_emulator.rules import CHILD_RUNNER  # noqa: F401
from st2mistral.testing.st2_emulator.rules import COMPLETED_STATUSES  # noqa: F401
from st2mistral.testing.st2_emulator.rules import DEFAULT_CHILD_OUTCOME  # noqa: F401
from st2mistral.testing.st2_emulator.rules import DEFAULT_LIST_LIMIT  # noqa: F401
from st2mistral.testing.st2_emulator.rules import DEFAULT_STREAM_EVENTS  # noqa: F401
from st2mistral.testing.st2_emulator.rules import DEFAULT_VERSION  # noqa: F401
from st2mistral.testing.st2_emulator.rules import EXECUTION_CREATE  # noqa: F401
from st2mistral.testing.st2_emulator.rules import EXECUTION_DB_FIELDS  # noqa: F401
from st2mistral.testing.st2_emulator.rules import EXECUTION_UPDATE  # noqa: F401
from st2mistral.testing.st2_emulator.rules import FULL_SYSTEM_SCOPE  # noqa: F401
from st2mistral.testing.st2_emulator.rules import FULL_USER_SCOPE  # noqa: F401
from st2mistral.testing.st2_emulator.rules import HEARTBEAT  # noqa: F401
from st2mistral.testing.st2_emulator.rules import INTERNAL_SERVER_ERROR  # noqa: F401
from st2mistral.testing.st2_emulator.rules import LIST_FILTERS  # noqa: F401
from st2mistral.testing.st2_emulator.rules import LIVEACTION_STATUSES  # noqa: F401
from st2mistral.testing.st2_emulator.rules import MANDATORY_INCLUDE_FIELDS  # noqa: F401
from st2mistral.testing.st2_emulator.rules import MAX_PAGE_SIZE  # noqa: F401
from st2mistral.testing.st2_emulator.rules import MISTRAL_STATES  # noqa: F401
from st2mistral.testing.st2_emulator.rules import NOT_FOUND  # noqa: F401
from st2mistral.testing.st2_emulator.rules import STREAM_CONTENT_TYPE  # noqa: F401
from st2mistral.testing.st2_emulator.rules import STREAM_HEARTBEAT  # noqa: F401
from st2mistral.testing.st2_emulator.rules import UNEXPECTED_UPDATE_ERROR  # noqa: F401
from st2mistral.testing.st2_emulator.rules import UNSUPPORTED_LIST_PARAMS  # noqa: F401
from st2mistral.testing.st2_emulator.rules import UNSUPPORTED_STREAM_PARAMS  # noqa: F401
from st2mistral.testing.st2_emulator.rules import VALID_EXCLUDE_ATTRIBUTES  # noqa: F401
from st2mistral.testing.st2_emulator.rules import WORKFLOW_RUNNERS  # noqa: F401
from st2mistral.testing.st2_emulator.rules import ListQuery  # noqa: F401
from st2mistral.testing.st2_emulator.rules import StreamFilter  # noqa: F401
from st2mistral.testing.st2_emulator.rules import UpdatePlan  # noqa: F401
from st2mistral.testing.st2_emulator.rules import api_key_hash  # noqa: F401
from st2mistral.testing.st2_emulator.rules import check_list_limit  # noqa: F401
from st2mistral.testing.st2_emulator.rules import context_header_error  # noqa: F401
from st2mistral.testing.st2_emulator.rules import format_event  # noqa: F401
from st2mistral.testing.st2_emulator.rules import full_scope  # noqa: F401
from st2mistral.testing.st2_emulator.rules import list_executions  # noqa: F401
from st2mistral.testing.st2_emulator.rules import new_object_id  # noqa: F401
from st2mistral.testing.st2_emulator.rules import parse_bool_param  # noqa: F401
from st2mistral.testing.st2_emulator.rules import parse_json_body  # noqa: F401
from st2mistral.testing.st2_emulator.rules import parse_list_query  # noqa: F401
from st2mistral.testing.st2_emulator.rules import parse_stream_query  # noqa: F401
from st2mistral.testing.st2_emulator.rules import parse_version  # noqa: F401
from st2mistral.testing.st2_emulator.rules import plan_update  # noqa: F401
from st2mistral.testing.st2_emulator.rules import shape_item  # noqa: F401
from st2mistral.testing.st2_emulator.rules import validate_create_body  # noqa: F401
from st2mistral.testing.st2_emulator.rules import validate_update_body  # noqa: F401
from st2mistral.testing.st2_emulator.rules import workflow_runners  # noqa: F401
from st2mistral.testing.st2_emulator.server import St2Emulator  # noqa: F401
from st2mistral.testing.st2_emulator.wire import Headers  # noqa: F401
from st2mistral.testing.st2_emulator.wire import RecordedRequest  # noqa: F401

__all__ = [
    'COMPLETED_STATUSES',
    'LIVEACTION_STATUSES',
    'Headers',
    'ListQuery',
    'RecordedRequest',
    'St2Emulator',
    'StreamFilter',
]
