"""st2common.constants.action (stand-in): the statuses the stand-in services use."""

LIVEACTION_COMPLETED_STATES = ['succeeded', 'failed', 'timeout', 'abandoned', 'canceled']
LIVEACTION_STATUS_PAUSING = 'pausing'
LIVEACTION_STATUS_CANCELING = 'canceling'
