"""st2common.callback.base (stand-in, st2 <= 3.3)."""

import abc


class AsyncActionExecutionCallbackHandler(abc.ABC):
    @classmethod
    @abc.abstractmethod
    def callback(cls, liveaction):
        raise NotImplementedError()
