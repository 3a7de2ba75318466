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

"""st2common.runners.base (stand-in): the runner base classes, as in st2 3.x."""

import abc


class ActionRunner(abc.ABC):
    def __init__(self, runner_id):
        self.runner_id = runner_id
        self.runner_type = None
        self.runner_parameters = None
        self.action = None
        self.action_name = None
        self.liveaction = None
        self.liveaction_id = None
        self.execution = None
        self.execution_id = None
        self.entry_point = None
        self.libs_dir_path = None
        self.context = None
        self.auth_token = None
        self.rerun_ex_ref = None

    def pre_run(self):
        if not getattr(self.runner_type, 'enabled', True):
            raise ValueError('Runner "%s" has been disabled by the administrator.'
                             % getattr(self.runner_type, 'name', 'unknown'))

    @abc.abstractmethod
    def run(self, action_parameters):
        raise NotImplementedError()

    def pause(self):
        raise NotImplementedError('Pause is not supported.')

    def resume(self):
        raise NotImplementedError('Resume is not supported.')

    def cancel(self):
        return 'canceled', self.liveaction.result, self.liveaction.context

    def post_run(self, status, result):
        return None  # st2 3.4+: a no-op


class AsyncActionRunner(ActionRunner):
    pass


class PollingAsyncActionRunner(AsyncActionRunner):
    @classmethod
    def is_polling_enabled(cls):
        return True
