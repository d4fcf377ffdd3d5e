"""GlideDBChatStore: LlamaIndex's ``AsyncDBChatStore`` on Valkey, for ``Memory``.

ACTIVE messages are the session's conversation; ARCHIVED ones are its
archive, where the toolkit keeps what a summary or ``archive_messages``
moved out: readable (``store.get_archived_messages``, ``get_messages(...,
include_archived=True)``, exports) and never in a window sent to a model.
"""

from __future__ import annotations

from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus

from glide_memory import TTL, UNSET, KeySchema, SessionStore, Unset
from glide_memory.integrations._bridge import DEFAULT_CALL_TIMEOUT, Binding
from glide_memory.integrations.llama_index._binding import bind
from glide_memory.integrations.llama_index._chats import LlamaIndexChats

T = TypeVar("T")


def _archived(status: MessageStatus | None) -> bool | None:
    """Map a status filter: ``None`` (every message), ACTIVE (``False``) or ARCHIVED (``True``)."""
    if status is None:
        return None
    return MessageStatus(status) is MessageStatus.ARCHIVED


def _active_only(status: MessageStatus, operation: str) -> None:
    if MessageStatus(status) is MessageStatus.ARCHIVED:
        raise NotImplementedError(
            f"{operation} with status=ARCHIVED: the toolkit's archive is filled only by archiving active "
            "messages (archive_oldest_messages, as Memory does), never written directly"
        )


class GlideDBChatStore(AsyncDBChatStore):
    """LlamaIndex's ``AsyncDBChatStore`` on Valkey: ``Memory.from_defaults(chat_store=GlideDBChatStore())``.

    Each key is a toolkit session: its ACTIVE messages are the session's
    conversation, ARCHIVED ones its archive. Methods work from any event
    loop or thread (calls are carried out on the store's loop), each write
    is one atomic store call applied exactly once, and a key's session is
    created on its first write. Missing keys read as empty.

    Args:
        store: A store to share; it stays yours and its loop must keep
            running while other loops use the chat store.
        url: A ``valkey://`` URL; the chat store then owns a store on a
            background loop and :meth:`close` closes it. With neither:
            ``VALKEY_URL``, else an embedded server.
        user_id: Owner of the keys' sessions; every call then goes through
            ``store.for_user(user_id)`` and :meth:`get_keys` lists this
            user's keys only.
        ttl: TTL of new sessions, refreshed by every write; the store's
            default (24 h) if left out, ``None`` for never.
        schema: Key names for a store the chat store creates.
        call_timeout: Seconds a call may wait for the store's loop.
    """

    user_id: str | None = Field(default=None, description="Owner of the chat sessions, if any.")

    _binding: Binding = PrivateAttr()
    _chats: LlamaIndexChats = PrivateAttr()

    def __init__(
        self,
        *,
        store: SessionStore | None = None,
        url: str | None = None,
        user_id: str | None = None,
        ttl: TTL | Unset | None = UNSET,
        schema: KeySchema | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
    ) -> None:
        super().__init__()
        self.user_id = user_id
        self._binding, self._chats = bind(
            store=store, url=url, user_id=user_id, ttl=ttl, schema=schema, call_timeout=call_timeout
        )

    @classmethod
    def class_name(cls) -> str:
        """Return the class name."""
        return "GlideDBChatStore"

    @property
    def store(self) -> SessionStore:
        """The store the chat store works through (the user's view with ``user_id``)."""
        return self._chats.store

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the store's event loop and return its result, from synchronous code."""
        return self._binding.run(coro)

    # -- AsyncDBChatStore -------------------------------------------------

    async def get_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[ChatMessage]:
        """Get the messages of ``key`` with ``status`` (``None``: all, in time order), oldest first, paged."""
        chats = self._chats
        return await self._binding.call(chats.page(key, archived=_archived(status), limit=limit, offset=offset))

    async def count_messages(self, key: str, status: MessageStatus | None = MessageStatus.ACTIVE) -> int:
        """Count the messages of ``key`` with ``status`` (``None``: all)."""
        return await self._binding.call(self._chats.count(key, archived=_archived(status)))

    async def add_message(self, key: str, message: ChatMessage, status: MessageStatus = MessageStatus.ACTIVE) -> None:
        """Append an ACTIVE message, exactly once."""
        _active_only(status, "add_message")
        await self._binding.call(self._chats.add(key, [message]))

    async def add_messages(
        self, key: str, messages: list[ChatMessage], status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        """Append ACTIVE messages in one atomic call, each exactly once."""
        _active_only(status, "add_messages")
        await self._binding.call(self._chats.add(key, messages))

    async def set_messages(
        self, key: str, messages: list[ChatMessage], status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        """Replace the ACTIVE messages of ``key`` atomically; its archive stays."""
        _active_only(status, "set_messages")
        await self._binding.call(self._chats.replace(key, messages))

    async def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete the ACTIVE message at position ``idx`` (negative from the end) and return it; ``None`` if none."""
        return await self._binding.call(self._chats.delete_at(key, idx))

    async def delete_messages(self, key: str, status: MessageStatus | None = None) -> None:
        """Delete ``key`` entirely (``None``), or its ACTIVE messages only (its archive stays)."""
        if status is None:
            await self._binding.call(self._chats.delete_chat(key))
            return
        _active_only(status, "delete_messages")
        await self._binding.call(self._chats.clear(key))

    async def delete_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Delete the oldest ``n`` ACTIVE messages of ``key`` and return them."""
        return await self._binding.call(self._chats.delete_oldest(key, n))

    async def archive_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Move the oldest ``n`` ACTIVE messages to the archive and return what moved.

        Pinned ones among them (system messages, unless the store's
        ``pin_system`` is off) stay active; tool results right after the
        archived messages go with them.
        """
        return await self._binding.call(self._chats.archive_oldest(key, n))

    async def get_keys(self) -> list[str]:
        """Get every key, in order of first write, without SCAN."""
        return await self._binding.call(self._chats.keys())

    # -- lifecycle --------------------------------------------------------

    def close(self) -> None:
        """Close the store the chat store created; idempotent. A store you passed in stays open."""
        self._binding.close()

    async def aclose(self) -> None:
        """Close the store the chat store created, from async code; idempotent."""
        await self._binding.aclose()

    def __enter__(self) -> GlideDBChatStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> GlideDBChatStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
