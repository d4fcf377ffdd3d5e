"""The exception tree of glide-memory.

Every error the toolkit raises derives from :class:`GlideMemoryError`::

    GlideMemoryError
    ├── SessionNotFoundError
    ├── SessionExistsError
    ├── InvalidInputError (also ValueError)
    │   ├── InvalidIdError
    │   ├── InvalidRoleError
    │   ├── InvalidTokensError
    │   ├── InvalidContentError
    │   └── InvalidFieldError
    ├── CorruptedEntryError
    ├── StoreClosedError
    ├── ServerError
    │   ├── ServerUnavailableError
    │   └── ServerTimeoutError
    ├── EmbeddedServerError
    └── MissingDependencyError (also ImportError)

Each error carries the ``session_id`` it concerns (``None`` when it concerns
no single session). Errors raised for bad input are raised before anything is
sent to the server, so stored data is left as it was.
"""

from __future__ import annotations


class GlideMemoryError(Exception):
    """Base class of every error raised by glide-memory."""

    def __init__(self, message: str, *, session_id: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id


class SessionNotFoundError(GlideMemoryError):
    """Raised when a session does not exist, never existed or has expired."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} does not exist or has expired", session_id=session_id)


class SessionExistsError(GlideMemoryError):
    """Raised by ``create_session`` when the requested session id is taken."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} already exists", session_id=session_id)


class InvalidInputError(GlideMemoryError, ValueError):
    """Raised when an argument is rejected before anything is written."""


class InvalidIdError(InvalidInputError):
    """Raised for an empty, overlong or otherwise unusable session or user id."""


class InvalidRoleError(InvalidInputError):
    """Raised for a message role outside ``system``, ``user``, ``assistant``, ``tool``."""


class InvalidTokensError(InvalidInputError):
    """Raised for a token count that is not a non-negative integer."""


class InvalidContentError(InvalidInputError):
    """Raised for message content, tool calls or metadata that JSON cannot hold exactly."""


class InvalidFieldError(InvalidInputError):
    """Raised for a session metadata field that is reserved or not a string."""


class CorruptedEntryError(GlideMemoryError):
    """Raised when a stored entry cannot be decoded.

    ``key`` names the server key and ``index`` the entry's position in it
    (``None`` for a hash field), so the entry can be inspected or repaired;
    the other entries remain readable one by one.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str,
        index: int | None = None,
        session_id: str | None = None,
    ) -> None:
        where = key if index is None else f"{key}[{index}]"
        super().__init__(f"corrupted entry at {where}: {message}", session_id=session_id)
        self.key = key
        self.index = index


class StoreClosedError(GlideMemoryError):
    """Raised when a store or history is used after ``close()``."""


class ServerError(GlideMemoryError):
    """Raised when the server or the client fails a request; wraps glide's error."""


class ServerUnavailableError(ServerError):
    """Raised when the server cannot be reached or the connection was closed."""


class ServerTimeoutError(ServerError):
    """Raised when a request does not complete within the client's timeout."""


class EmbeddedServerError(GlideMemoryError):
    """Raised when the embedded valkey-server cannot be found or started."""


class MissingDependencyError(GlideMemoryError, ImportError):
    """Raised when an optional integration is imported without its extra."""
