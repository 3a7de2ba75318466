"""``st2common.runners.callback: mistral-v2`` (st2 <= 3.3): st2 calls
``get_instance().callback(liveaction)`` when a child started by ``st2.action``
finishes. The implementation lives in st2_adapter (the only module importing
st2common); on st2 3.4+ run ``st2mistral-relay`` instead."""

from st2mistral.runner.st2_adapter import get_callback_handler as get_instance

__all__ = ['get_instance']
