"""st2common.query.base (stand-in, st2 <= 3.3): the results tracker's querier base."""

import abc


class Querier(abc.ABC):
    def __init__(self, empty_q_sleep_time=5, no_workers_sleep_time=1, container_service=None):
        self._empty_q_sleep_time = empty_q_sleep_time
        self._no_workers_sleep_time = no_workers_sleep_time

    @abc.abstractmethod
    def query(self, execution_id, query_context, last_query_time=None):
        raise NotImplementedError()
