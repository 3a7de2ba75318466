"""Benchmarks of st2mistral on a real Mistral 23: ``python -m benchmarks``.

Four figures, each measured beside its baseline in the same run, on the
single-process Mistral (SQLite, in-process transport) and the strict st2
emulator:

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

mistral_child.py is the Mistral process (timestamps + the sync publisher),
marks.py the timestamps, report.py the table.
"""
