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

"""The jobs of ``st2mistral-relay``, one per file; relay_service.py schedules them.

- children.py: follows st2's execution stream and sends the result of every
  finished child of a Mistral task to Mistral;
- tracked.py: reconciles the executions st2's ``st2-track-result`` tracks;
- sweep.py: reconciles every active mistral-v2 execution st2 lists;
- pauses.py: reflects in st2 the pauses and resumes made in Mistral;
- progress.py: writes a running workflow's tasks into its st2 execution.

A job is a class built as ``Job(relay)`` (relay_service.Relay: the clients,
st2's records, the reconciler, ``poll`` and ``map``), a subclass of
``job.Job`` (it keeps the relay; ``continuous`` and ``in_once`` are False
unless the job says otherwise), with:

- ``name``: its thread is ``st2mistral-<name>``, the relay's log names it;
- ``interval()``: seconds between two passes, or None when it is off;
- ``run_once()``: one pass, returning {id: outcome};
- ``in_once``: whether ``st2mistral-relay --once`` runs it.

A job that runs without pause (the stream) has ``continuous = True`` and
``run()`` / ``stop()``; the relay runs it only when it follows the stream.
"""
