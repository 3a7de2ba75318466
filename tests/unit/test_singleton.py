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

import threading

from st2mistral.core import singleton
from st2mistral.core import st2api
from st2mistral.mistral_side import binding


def test_the_factory_runs_once_for_all_threads():
    made = []
    barrier = threading.Barrier(8)

    @singleton.process_wide
    def get():
        made.append(object())
        return made[-1]

    seen = []

    def worker():
        barrier.wait()
        seen.append(get())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and all(value is made[0] for value in seen)
    assert get.__name__ == 'get'


def test_the_st2_client_and_the_verifier_are_one_per_process():
    assert st2api.get_client() is st2api.get_client()
    assert isinstance(st2api.get_client(), st2api.St2Client)
    assert binding.get_verifier() is binding.get_verifier()
