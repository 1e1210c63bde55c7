"""Collection sync: share analysis results with a remote AudioMuse database, opt-in only.

The parts: :mod:`~audiomuse.sync.policy` (the opt-in the user accepts before anything is shared),
:mod:`~audiomuse.sync.content_key` (how a track is identified remotely without any local id),
:mod:`~audiomuse.sync.collection` (push and pull, album by album),
:mod:`~audiomuse.sync.report` (what a sync did) and :mod:`~audiomuse.sync.cli`
(``python -m audiomuse.sync``).
"""

from audiomuse.sync.collection import masked_remote, prepare_remote, remote_url, sync_collection
from audiomuse.sync.content_key import ContentKey, content_key
from audiomuse.sync.errors import SyncError, SyncNotConfigured, SyncPolicyNotAccepted
from audiomuse.sync.policy import POLICY_TEXT, accept_policy, policy_acceptance, policy_accepted, withdraw_policy
from audiomuse.sync.report import AlbumSync, SyncReport

__all__ = [
    "POLICY_TEXT", "AlbumSync", "ContentKey", "SyncError", "SyncNotConfigured", "SyncPolicyNotAccepted",
    "SyncReport", "accept_policy", "content_key", "masked_remote", "policy_acceptance", "policy_accepted",
    "prepare_remote", "remote_url", "sync_collection", "withdraw_policy",
]
