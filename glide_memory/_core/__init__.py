"""L4, the collaborators: one concern each, over the request path and the key schema, never the store itself."""

from glide_memory._core._context import Context
from glide_memory._core._index import Reindexed, UserIndex, UserSessions
from glide_memory._core._messages import Messages
from glide_memory._core._parts import Parts, Scope, Settings
from glide_memory._core._recall import Recall, RecallSettings, RecallState
from glide_memory._core._records import Records
from glide_memory._core._sessions import Sessions
from glide_memory._core._transfer import Transfer
from glide_memory._core._users import Users

__all__ = [
    "Context",
    "Messages",
    "Parts",
    "Recall",
    "RecallSettings",
    "RecallState",
    "Records",
    "Reindexed",
    "Scope",
    "Sessions",
    "Settings",
    "Transfer",
    "UserIndex",
    "UserSessions",
    "Users",
]
