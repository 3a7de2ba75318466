"""st2common.util.action_db (stand-in): lookups in records a test fills."""

ACTIONS = {}        # ref -> object with .ref, .pack, .name, .parameters, .runner_type
RUNNER_TYPES = {}   # name -> object with .runner_parameters
LIVEACTIONS = {}    # id -> object with .id, .status, .result, .context, ...


def get_action_by_ref(ref):
    return ACTIONS.get(ref)


def get_runnertype_by_name(name):
    return RUNNER_TYPES.get(name)


def get_liveaction_by_id(liveaction_id):
    return LIVEACTIONS[liveaction_id]
