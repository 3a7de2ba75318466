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

"""st2common.query.base (stand-in, st2 <= 3.3): the results tracker's querier base."""

import abc


class Querier(abc.ABC):
    def __init__(self, empty_q_sleep_time=5, no_workers_sleep_time=1, container_service=None):
        self._empty_q_sleep_time = empty_q_sleep_time
        self._no_workers_sleep_time = no_workers_sleep_time

    @abc.abstractmethod
    def query(self, execution_id, query_context, last_query_time=None):
        raise NotImplementedError()
