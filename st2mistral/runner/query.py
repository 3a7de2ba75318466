"""``st2common.runners.query: mistral-v2`` (st2 <= 3.3): st2resultstracker calls
``get_instance()`` for the querier that reconciles tracked executions with Mistral.
The implementation lives in st2_adapter (the only module importing st2common)."""

from st2mistral.runner.st2_adapter import get_querier as get_instance

__all__ = ['get_instance']
