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

"""The URLs of an st2 on loopback, as nginx lays them out in front of st2's APIs:
shared by the emulator and the real-st2 fixture, so tests address both alike."""


class St2Urls:
    """Needs a ``port`` attribute or property."""

    @property
    def base_url(self):
        return 'http://127.0.0.1:%d' % self.port

    @property
    def api_url(self):
        return self.base_url + '/api/v1'

    @property
    def auth_url(self):
        return self.base_url + '/auth/v1'

    @property
    def stream_url(self):
        """st2's stream API; the event stream is ``stream_url + '/stream'``."""
        return self.base_url + '/stream/v1'
