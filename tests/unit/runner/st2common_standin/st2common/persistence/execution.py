"""st2common.persistence.execution (stand-in)."""

EXECUTIONS = {}     # id -> object with .id, .status, .runner, .liveaction, .children


class ActionExecution:
    @staticmethod
    def get(id=None, liveaction__id=None, raise_exception=False):
        if id is not None:
            found = EXECUTIONS.get(id)
        else:
            found = next((e for e in EXECUTIONS.values()
                          if e.liveaction['id'] == liveaction__id), None)
        if found is None and raise_exception:
            raise KeyError(id or liveaction__id)
        return found
