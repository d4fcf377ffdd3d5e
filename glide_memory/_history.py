"""ChatHistory: one conversation of a session as an object."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from glide_memory.keys import thread_companion
from glide_memory.models import Content, Message, Role, SessionInfo

if TYPE_CHECKING:
    from glide_memory._store import SessionStore


class ChatHistory:
    """The messages of one session (its main conversation, or a named thread), bound to a store.

    Get one with ``store.history(session_id)``; every method is one round
    trip and raises :class:`SessionNotFoundError` once the session is gone::

        history = store.history(session_id)
        await history.append("user", "Hello", tokens_used=2)
        recent = await history.window(max_tokens=4000)
        async for message in history:
            ...
    """

    def __init__(self, store: SessionStore, session_id: str, *, thread: str | None = None) -> None:
        store.schema.keys(session_id)  # validate now, not on first use
        if thread is not None:
            thread_companion(thread, session_id=session_id)
        self._store = store
        self.session_id = session_id
        self.thread = thread

    def __repr__(self) -> str:
        where = "" if self.thread is None else f", thread={self.thread!r}"
        return f"ChatHistory(session_id={self.session_id!r}{where})"

    async def append(
        self, role: Role | str, content: Content, tokens_used: int | None = None, **options: Any
    ) -> Message:
        """Append a message; ``tokens_used`` and ``options`` are those of :meth:`SessionStore.add_message`.

        Left out, ``tokens_used`` is counted by the store's ``token_counter`` (0 without one).
        """
        return await self._store.add_message(self.session_id, role, content, tokens_used, thread=self.thread, **options)

    async def extend(self, messages: Iterable[Message], *, max_messages: int | None = None) -> list[Message]:
        """Append several messages in one atomic round trip."""
        return await self._store.add_messages(self.session_id, messages, max_messages=max_messages, thread=self.thread)

    async def messages(self, last: int | None = None) -> list[Message]:
        """Return the messages, oldest first (the newest ``last`` if given)."""
        return await self._store.get_messages(self.session_id, last=last, thread=self.thread)

    async def window(self, *, max_tokens: int, last: int | None = None) -> list[Message]:
        """Return the newest messages whose token counts fit ``max_tokens``, in order."""
        return await self._store.get_window(self.session_id, max_tokens=max_tokens, last=last, thread=self.thread)

    async def get(self, index: int) -> Message | None:
        """Return the message at ``index`` (negative from the end), or ``None``."""
        return await self._store.get_message(self.session_id, index, thread=self.thread)

    async def length(self) -> int:
        """Return how many messages are stored now."""
        return await self._store.count_messages(self.session_id, thread=self.thread)

    async def clear(self) -> int:
        """Remove every message, keeping the session; return how many were removed."""
        return await self._store.clear_messages(self.session_id, thread=self.thread)

    async def info(self) -> SessionInfo:
        """Return the session's :class:`SessionInfo`."""
        return await self._store.get_session_info(self.session_id)

    async def __aiter__(self) -> AsyncIterator[Message]:
        """Yield the messages oldest first, reading them a page at a time.

        Pages are read by position: messages trimmed by a sliding window
        while the iteration runs may be skipped.
        """
        async for message in self._store.iter_messages(self.session_id, thread=self.thread):
            yield message
