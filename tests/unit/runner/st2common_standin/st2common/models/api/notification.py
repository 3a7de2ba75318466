"""st2common.models.api.notification (stand-in)."""


class NotificationsHelper:
    @staticmethod
    def from_model(notify_model):
        return dict(notify_model)
