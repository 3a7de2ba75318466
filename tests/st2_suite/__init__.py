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

"""st2 v3.2.0's OWN Mistral integration suite, run unmodified against real st2 + Mistral 23.

``python -m tests.st2_suite.run --tag v3.9.0`` (tox: ``st2suite-v39``,
``st2suite-v32``): see :mod:`tests.st2_suite.run` and docs/st2-side.rst, "st2's
own Mistral suite". st2's files are extracted from ``ST2MISTRAL_ST2_SRC`` at run
time into a temporary folder; nothing of st2 is copied into this repository.
"""
