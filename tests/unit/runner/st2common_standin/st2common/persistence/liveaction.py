"""st2common.persistence.liveaction (stand-in)."""

from st2common.util import action_db


class LiveAction:
    @staticmethod
    def get(id=None):
        return action_db.LIVEACTIONS.get(id)
