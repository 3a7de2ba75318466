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

from st2mistral.core import bounded


def test_put_keeps_the_newest_entries_and_refreshes_a_repeated_key():
    memory = bounded.BoundedDict(2)
    memory.put('a', 1)
    memory.put('b', 2)
    memory.put('a', 3)      # 'a' is the newest again
    memory.put('c', 4)      # drops 'b', the oldest

    assert list(memory.items()) == [('a', 3), ('c', 4)]
    memory.put('d', 5, maxsize=1)
    assert list(memory.items()) == [('d', 5)]
