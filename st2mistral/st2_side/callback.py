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

"""``st2common.runners.callback: mistral-v2`` (st2 <= 3.3): st2 calls
``get_instance().callback(liveaction)`` when a child started by ``st2.action``
finishes. The implementation lives in st2_adapter (the only module importing
st2common); on st2 3.4+ run ``st2mistral-relay`` instead."""

from st2mistral.st2_side.st2_adapter import get_callback_handler as get_instance

__all__ = ['get_instance']
