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

"""Benchmarks of st2mistral on a real Mistral 23: ``python -m benchmarks``.

Four figures, each measured beside its baseline in the same run, on the
single-process Mistral (SQLite, in-process transport) and the strict st2
emulator (``--mistral-python`` runs another Mistral release, e.g. 20.2.0 on
eventlet, and there figure 5 with ``--only hub``):

1. engine drag (engine_drag.py): workflow wall time with the st2 publisher
   while st2 answers in 500 ms, over the same without notify; baseline: a
   synchronous publisher doing the same PUT inline (publishers.py).
2. status lag (status_lag.py): SUCCESS committed in Mistral's DB -> st2
   receives ``succeeded``; baseline: Mistral's own hand-off and the
   synchronous publisher.
3. throughput (throughput.py): st2 updates per second through the delivery
   layer of one process; baseline: Mistral's ``webhook`` publisher.
4. completion cost (completion_cost.py): DB reads and time to build the
   completed update at 10, 100 and 1,000 tasks; baseline: Mistral's ORM.
5. hub blocking (hub_block.py; Mistral <= 20 only): how many spool writes
   the st2 publisher makes in one greenlet slice (the hub held without a
   switch) and how long they take; baseline: the engine's own slices.
   hub_watch.py records the slices in the Mistral process.

mistral_child.py is the Mistral process (timestamps + the sync publisher),
marks.py the timestamps, report.py the table.
"""
