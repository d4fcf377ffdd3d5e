"""The exception tree of glide-memory.

Every error the toolkit raises derives from :class:`GlideMemoryError`::

    GlideMemoryError                     .retryable, .session_id, .user_id
    ├── SessionNotFoundError
    ├── SessionExistsError
    ├── MessageConflictError
    ├── SummaryConflictError             retryable
    ├── DurabilityError                  retryable
    ├── PermissionDeniedError
    ├── ConfigurationError
    ├── InvalidInputError (also ValueError)
    │   ├── InvalidIdError
    │   ├── InvalidRoleError
    │   ├── InvalidTokensError
    │   ├── InvalidContentError
    │   └── InvalidFieldError
    ├── CorruptedEntryError
    ├── StoreClosedError
    ├── EventLoopError
    │   └── BridgeError
    ├── ServerError
    │   ├── ServerUnavailableError       retryable
    │   │   └── ServerTimeoutError       retryable
    │   ├── OutOfMemoryError
    │   └── TlsError
    ├── EmbeddedServerError
    └── MissingDependencyError (also ImportError)

``retryable`` says whether the same call may succeed if made again later.
The store already retries retryable failures by itself until its deadline
is spent, so a retryable error reaching the caller means the server stayed
unreachable for the whole budget. Errors carry the ``session_id`` (and
``user_id``) they concern and never a password. Bad input is refused before
anything is sent, so stored data is left exactly as it was.
"""

from __future__ import annotations

from typing import ClassVar


class GlideMemoryError(Exception):
    """Base class of every error raised by glide-memory.

    Attributes:
        retryable: Whether making the same call again later may succeed.
        session_id: The session concerned, or ``None``.
        user_id: The user concerned, or ``None``.
        message_ids: For a failed append, the ids its messages were sent
            with (generated ones included): pass them again to retry
            without risking a duplicate.
    """

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, session_id: str | None = None, user_id: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id
        self.user_id = user_id
        self.message_ids: tuple[str, ...] = ()


class SessionNotFoundError(GlideMemoryError):
    """Raised when a session does not exist, never existed or has expired."""

    def __init__(self, session_id: str, *, user_id: str | None = None) -> None:
        super().__init__(
            f"session {session_id!r} does not exist or has expired", session_id=session_id, user_id=user_id
        )


class SessionExistsError(GlideMemoryError):
    """Raised by ``create_session`` when the id is taken by another session."""

    def __init__(self, session_id: str, *, user_id: str | None = None, reason: str = "") -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"session {session_id!r} already exists{detail}", session_id=session_id, user_id=user_id)


class MessageConflictError(GlideMemoryError):
    """Raised when a message id was already used in the session for a different message.

    A repeat of the same id with the same message is a successful no-op; a
    different message under a used id is refused and nothing is written.
    ``message_id`` names the id.
    """

    def __init__(self, message_id: str, *, session_id: str) -> None:
        super().__init__(
            f"message id {message_id!r} is already stored in session {session_id!r} with different content",
            session_id=session_id,
        )
        self.message_id = message_id


class SummaryConflictError(GlideMemoryError):
    """Raised by ``summarize`` when another summary or a trim changed the session while the summarizer ran.

    Nothing was stored; the other summary stands. Summarizing again covers
    what is left.
    """

    retryable = True


class DurabilityError(GlideMemoryError):
    """Raised when a write was applied on the primary but not confirmed as durable in time.

    The write is on the primary (and may reach its replicas later); what is
    missing is the confirmation a :class:`~glide_memory.models.Durability`
    asked for. The store never retries it as a new write. Retrying the call
    with the same ``message_ids`` is safe: the repeat writes nothing twice
    and waits for the confirmation again.

    Attributes:
        replicas_acknowledged: Replicas that confirmed the write in time.
        replicas_requested: Replicas the durability asked for.
        fsync_confirmed: With ``fsync``, whether the primary's append-only
            file confirmed it (``None`` without ``fsync``).
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        replicas_acknowledged: int,
        replicas_requested: int,
        fsync_confirmed: bool | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        super().__init__(message, session_id=session_id, user_id=user_id)
        self.replicas_acknowledged = replicas_acknowledged
        self.replicas_requested = replicas_requested
        self.fsync_confirmed = fsync_confirmed


class PermissionDeniedError(GlideMemoryError):
    """Raised when the server refuses the credentials or an ACL permission, or the session belongs to another user."""


class ConfigurationError(GlideMemoryError):
    """Raised for a setup that cannot work: keys in different cluster slots, a client of the wrong kind, bad options."""


class InvalidInputError(GlideMemoryError, ValueError):
    """Raised when an argument is rejected before anything is sent."""


class InvalidIdError(InvalidInputError):
    """Raised for an empty, overlong or otherwise unusable session, user or message id."""


class InvalidRoleError(InvalidInputError):
    """Raised for a message role outside ``system``, ``user``, ``assistant``, ``tool``."""


class InvalidTokensError(InvalidInputError):
    """Raised for a token count that is not an int in 0..2**63-1, or that would overflow a counter."""


class InvalidContentError(InvalidInputError):
    """Raised for message content, tool calls or metadata that JSON cannot hold exactly."""


class InvalidFieldError(InvalidInputError):
    """Raised for a session metadata field that is reserved, not a string, or not storable."""


class CorruptedEntryError(GlideMemoryError):
    """Raised when stored data cannot be read: an entry that does not decode, or a key of the wrong type.

    ``key`` names the server key and ``index`` the entry's position in it
    (negative: counted from the end; ``None`` for a whole key or a hash
    field), so it can be inspected or repaired; the other entries remain
    readable one by one.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str,
        index: int | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        where = key if index is None else f"{key}[{index}]"
        super().__init__(f"corrupted data at {where}: {message}", session_id=session_id, user_id=user_id)
        self.key = key
        self.index = index


class StoreClosedError(GlideMemoryError):
    """Raised when a store or history is used after ``close()``."""


class EventLoopError(GlideMemoryError):
    """Raised instead of hanging when glide could not deliver the reply on this event loop.

    glide 2.6 reads every reply of the process through the first event loop
    that used glide (valkey-glide issue #7122) and binds each client to the
    loop that created it. The message names the loop at fault and the fix.
    """


class BridgeError(EventLoopError):
    """Raised when a synchronous call cannot be carried out on the store's event loop."""


class ServerError(GlideMemoryError):
    """Raised when the server or the client fails a request; glide's error is the ``__cause__``."""


class ServerUnavailableError(ServerError):
    """Raised when the server stayed unreachable, failing over, loading or migrating for the whole retry budget."""

    retryable = True


class ServerTimeoutError(ServerUnavailableError):
    """Raised when requests kept timing out for the whole retry budget; a timed-out write may have been applied."""


class OutOfMemoryError(ServerError):
    """Raised when the server refuses a write because its memory is above ``maxmemory``; nothing was written."""


class TlsError(ServerError):
    """Raised when the TLS handshake fails: certificate verification, or one side not speaking TLS."""


class EmbeddedServerError(GlideMemoryError):
    """Raised when the embedded valkey-server cannot be found, started or stopped."""


class MissingDependencyError(GlideMemoryError, ImportError):
    """Raised when an optional integration is imported without its extra."""
