"""Values the toolkit hands out: messages, roles and session summaries."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import msgspec

from glide_memory.errors import InvalidInputError

JSONValue: TypeAlias = bool | int | float | str | list[Any] | dict[str, Any] | None
"""A value JSON holds exactly: finite floats, string keys, lists (not tuples)."""

Content: TypeAlias = str | list[dict[str, Any]]
"""Message content: plain text or a list of content blocks (text, tool use, ...)."""


class Role(enum.StrEnum):
    """Who wrote a message."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class Message(msgspec.Struct, frozen=True, kw_only=True, rename={"timestamp": "ts"}):
    """One stored chat message (an immutable value: ``message.replace(...)`` gives a changed copy).

    A frozen msgspec ``Struct``, so reads decode stored entries straight into
    it, checked, in one step.

    Attributes:
        role: Who wrote it.
        content: Text, or a list of content blocks (dicts).
        tokens: Tokens the caller accounted for this message.
        timestamp: Unix seconds when it was stored; ``None`` for entries
            written by other tools without one.
        id: An optional caller-chosen message id.
        name: An optional author name (a tool's or a participant's).
        tool_calls: Tool calls requested by an assistant message.
        tool_call_id: The call a ``tool`` message answers.
        metadata: Free-form caller data.
        pinned: Kept by every window (the count window does not count it)
            and put first by ``get_context``; system messages are pinned by
            default when stored.
    """

    role: Role
    content: Content
    tokens: int = 0
    timestamp: float | None = None
    id: str | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    metadata: dict[str, Any] | None = None
    pinned: bool = False

    def replace(self, **changes: Any) -> Message:
        """Return a copy of this message with ``changes`` applied."""
        return msgspec.structs.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Durability:
    """How far a write must have reached before it returns.

    An acknowledged write otherwise lives in one primary's memory until
    replication and the append-only file catch up, and a failover in that
    window loses it. With ``replicas`` or ``fsync`` set, the store sends
    ``WAIT`` (or ``WAITAOF`` when ``fsync``) in the same request as the write,
    to the same primary, and returns only once it is confirmed; short of that
    it raises :class:`~glide_memory.errors.DurabilityError`.

    Args:
        replicas: Replicas that must hold the write (at most the primary's
            connected replicas, or :class:`~glide_memory.errors.ConfigurationError`).
        fsync: Whether the primary must also have written it to its
            append-only file (needs ``appendonly yes``); with ``replicas``,
            each of those replicas' files too.
        timeout: Seconds to wait for the confirmations.

    ``Durability()`` (the default) asks for nothing beyond the primary's
    acknowledgement and costs nothing.
    """

    replicas: int = 0
    fsync: bool = False
    timeout: float = 1.0

    def __post_init__(self) -> None:
        if type(self.replicas) is not int or not 0 <= self.replicas <= 64:
            raise InvalidInputError(f"Durability.replicas must be an int from 0 to 64, not {self.replicas!r}")
        if type(self.fsync) is not bool:
            raise InvalidInputError(f"Durability.fsync must be a bool, not {self.fsync!r}")
        timeout = self.timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.001 <= timeout <= 3600:
            raise InvalidInputError(f"Durability.timeout must be seconds from 0.001 to 3600, not {timeout!r}")

    @property
    def required(self) -> bool:
        """Whether this asks for anything beyond the primary's acknowledgement."""
        return self.replicas > 0 or self.fsync


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionInfo:
    """A session's metadata and state, as one read returns them.

    Attributes:
        session_id: The session's id.
        user_id: Its owner (``None`` if the stored metadata lacks one).
        model: The model name recorded for it, if any.
        title: Its title, if any.
        created_at: Unix seconds of creation.
        last_active: Unix seconds of the last message or touch.
        message_count: Messages ever appended (trimmed ones included).
        token_count: Tokens ever accounted.
        messages_stored: Messages currently in the list (after trimming).
        expires_in_seconds: Time left before the session expires; ``None``
            if it does not expire.
        ttl: The TTL refreshed on activity, in seconds; ``None`` if none.
        metadata: Caller fields stored beside the standard ones.
    """

    session_id: str
    user_id: str | None
    model: str | None = None
    title: str | None = None
    created_at: float = 0.0
    last_active: float = 0.0
    message_count: int = 0
    token_count: int = 0
    messages_stored: int = 0
    expires_in_seconds: float | None = None
    ttl: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """A stored summary and what it covers."""

    message: Message
    """The summary itself, a pinned system message."""
    covered: int
    """How many messages this summary (with those before it) covers."""
    through: str | None
    """The id of the newest message it covers: its watermark."""


Summarizer: TypeAlias = Callable[[Message | None, list[Message]], Awaitable[str | Message]]
"""Your summarizer: given the previous summary (or ``None``) and the messages to cover, returns the new summary."""

Format: TypeAlias = Literal["openai", "openai_responses", "anthropic"]
"""A provider format ``get_context`` can return."""
