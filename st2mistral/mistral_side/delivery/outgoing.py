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

"""One st2 update waiting for delivery, as the spool keeps it."""

import dataclasses
import itertools
import time

from st2mistral.mistral_side import targets

# Unique across restarts too, so a replayed spool row never clashes with a new one.
_seq = itertools.count(time.time_ns())


@dataclasses.dataclass
class Outgoing:
    """One st2 update waiting for delivery, with what the trace needs."""

    target: object            # targets.Target
    status: str
    result: dict | None
    root_id: str               # root Mistral workflow execution id (trace prefix)
    event: str                 # the Mistral event that produced it
    ex_id: str                 # the Mistral execution the event was about
    accepted_at: float = dataclasses.field(default_factory=time.time)
    seq: int = dataclasses.field(default_factory=lambda: next(_seq))
    attempts: int = 0
    # When st2 first did not know the execution as this workflow's (HTTP 404, or
    # no record naming the workflow yet): [st2] unknown_execution_grace runs from it.
    unknown_since: float | None = None
    due: float | None = None            # when a retry is scheduled
    # Why the last try failed (no secret in it: deliverer.describe_failure); for
    # ``st2mistral-spool`` and the given-up rows.
    last_error: str | None = None

    @property
    def key(self):
        return (self.target.api_url, self.target.execution_id)

    def to_dict(self):
        # Shallow on purpose: asdict() would deep-copy the result just to dump it.
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != 'due'}
        data['target'] = dataclasses.asdict(self.target)
        return data

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        data['target'] = targets.Target(**data['target'])
        if 'first_404_at' in data:          # spooled by st2mistral before this name
            data['unknown_since'] = data.pop('first_404_at')
        return cls(**data)
