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

"""What every job of the relay has (the jobs' protocol: __init__.py)."""

from st2mistral.st2_side import config


class Job:
    """Built with its relay; by default it does not follow the stream
    (``continuous``) and ``st2mistral-relay --once`` does not run it (``in_once``)."""

    continuous = False
    in_once = False

    def __init__(self, relay):
        self._relay = relay

    def _every(self, option):
        """``[mistral] <option>`` as an ``interval()``: None (off) when it is 0."""
        interval = getattr(self._relay.conf[config.MISTRAL], option)
        return interval if interval > 0 else None
