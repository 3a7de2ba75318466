
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

"""Expression functions for Mistral workflows (entry points mistral.expression.functions).

Mistral imports them when a process starts, before any workflow event: that
import arms the replay of a spool a stopped process left (mistral_side/startup.py)
and, on Mistral 18-22, keeps st2 tokens out of the state_info of a failed
expression (mistral_side/state_info.py) before the process evaluates any.
"""

import logging

from st2mistral.mistral_side import startup
from st2mistral.mistral_side import state_info

startup.arm()
try:
    state_info.guard()
except Exception:   # never stop Mistral loading its functions; say what is lost
    logging.getLogger(__name__).exception(
        'st2 tokens may reach the state_info of a task whose expression fails: the '
        'guard could not be registered on Mistral\'s models')
