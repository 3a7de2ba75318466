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

"""Test doubles for the notifier: Mistral's DB reads and the Sender."""

from st2mistral.core import results


class FakeMistralDB:
    """The three reads the notifier makes, from dicts."""

    def __init__(self):
        self.workflows, self.snapshots, self.tasks = {}, {}, {}

    def add(self, info, snapshot):
        self.workflows[info.id] = info
        self.snapshots[info.id] = snapshot

    def workflow_info(self, wf_ex_id):
        return self.workflows.get(wf_ex_id) if isinstance(wf_ex_id, str) else None

    def load_snapshot(self, wf_ex_id):
        snapshot = self.snapshots.get(wf_ex_id)
        return None if snapshot is None else results.Snapshot(
            snapshot.state, snapshot.state_info, snapshot.output,
            [dict(task) for task in snapshot.tasks])

    def task_workflow_execution_id(self, task_ex_id):
        return self.tasks.get(task_ex_id) if isinstance(task_ex_id, str) else None


class RecordingSender:
    def __init__(self):
        self.items = []

    def start(self):
        return self

    def submit(self, item):
        self.items.append(item)
        return True

    def flush(self, timeout=0):
        return True
