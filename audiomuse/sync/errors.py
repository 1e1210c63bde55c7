"""Why a collection sync cannot run."""


class SyncError(RuntimeError):
    """Sync cannot run; the message says why and never contains a secret."""


class SyncPolicyNotAccepted(SyncError):
    """The user has not accepted the sync policy: nothing was sent or received."""


class SyncNotConfigured(SyncError):
    """No remote database is configured (``SYNC_DATABASE_URL``)."""
