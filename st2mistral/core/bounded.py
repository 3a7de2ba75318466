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

"""A dict that forgets its oldest entries: the memories a long-running process keeps."""

import collections


class BoundedDict(collections.OrderedDict):
    """An OrderedDict of at most ``maxsize`` entries; ``put`` makes an entry the newest
    and drops the oldest beyond the bound. Not locked: callers that share one lock it."""

    def __init__(self, maxsize):
        super().__init__()
        self.maxsize = maxsize

    def put(self, key, value, maxsize=None):
        """Store ``key`` as the newest entry; ``maxsize`` overrides the bound (a
        setting read at each call)."""
        self[key] = value
        self.move_to_end(key)
        limit = self.maxsize if maxsize is None else maxsize
        while len(self) > limit:
            self.popitem(last=False)
