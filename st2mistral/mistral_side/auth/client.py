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

"""``mistralclient.auth: st2``: python-mistralclient sends an st2 token.

The token is not checked here: Mistral's st2 auth handler
(:mod:`st2mistral.mistral_side.auth.server`) asks st2. Example::

    from mistralclient.api.v2 import client
    mistral = client.Client(auth_type='st2', auth_url='https://st2.example.com/auth/v1',
                            mistral_url='https://mistral.example.com:8989/v2',
                            auth_token='<st2 token>')

python-mistralclient calls an auth plugin only when ``auth_url`` is given;
the token comes from ``auth_token`` or, when that is empty, from the
``ST2_AUTH_TOKEN`` environment variable.
"""

import os

from mistralclient import auth

ENV_TOKEN = 'ST2_AUTH_TOKEN'


class St2AuthHandler(auth.AuthHandler):

    def authenticate(self, req, session=None):
        """Return the client settings: Mistral URL, token, TLS options.

        :param req: the keyword arguments given to the mistralclient Client.
        :param session: unused (no Keystone session with st2 tokens).
        """
        if not isinstance(req, dict):
            raise TypeError('The input "req" is not typeof dict.')
        token = req.get('auth_token') or os.environ.get(ENV_TOKEN)
        if not token:
            raise ValueError('No st2 token: pass auth_token or set %s.' % ENV_TOKEN)
        return {
            'mistral_url': req.get('mistral_url'),
            'auth_token': token,
            'cacert': req.get('cacert'),
            'insecure': req.get('insecure', False),
        }
