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

"""Process-wide objects made on first use (not at import: the config is read then)."""

import functools
import threading


def process_wide(factory):
    """Decorate a no-argument factory: its first call makes the object, every
    later call (from any thread) returns that same object."""
    lock = threading.Lock()
    made = []

    @functools.wraps(factory)
    def get():
        with lock:
            if not made:
                made.append(factory())
            return made[0]
    return get
