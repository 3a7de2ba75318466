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

"""st2common.services.coordination (stand-in): ``get_coordinator().get_lock(name)``, a
lock per name as st2's tooz coordinator gives (st2common/st2common/services/
coordination.py @ v3.9.0); names taken are recorded."""

import threading

LOCKS = {}
TAKEN = []      # names, in the order the locks were taken
_GUARD = threading.Lock()


class _Lock:
    def __init__(self, name):
        self.name = name
        with _GUARD:
            self._lock = LOCKS.setdefault(name, threading.Lock())

    def __enter__(self):
        self._lock.acquire()
        TAKEN.append(self.name)
        return self

    def __exit__(self, *exc_info):
        self._lock.release()


class _Coordinator:
    def get_lock(self, name):
        return _Lock(name)


def get_coordinator(start_heart=True, use_cache=True):
    return _Coordinator()
