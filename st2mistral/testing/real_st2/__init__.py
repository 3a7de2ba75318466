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

"""StackStorm's own code as a test fixture: build.py (cached venv), launcher.py (one process).

settings.py reads which st2 source, tags and Pythons to use from the environment;
server.py runs inside st2's venv. Used by tests/contract and tests/functional/real_st2.
"""
