"""GlideChatStore: LlamaIndex's ``BaseChatStore`` on Valkey, for ChatMemoryBuffer and friends."""

from __future__ import annotations

from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.llms import ChatMessage
from llama_index.core.storage.chat_store.base import BaseChatStore

from glide_memory import TTL, UNSET, KeySchema, SessionStore, Unset
from glide_memory.integrations._bridge import DEFAULT_CALL_TIMEOUT, Binding
from glide_memory.integrations.llama_index._binding import bind
from glide_memory.integrations.llama_index._chats import LlamaIndexChats

T = TypeVar("T")


class GlideChatStore(BaseChatStore):
    """LlamaIndex's ``BaseChatStore`` on Valkey: each key is a toolkit session.

    Every method works from any thread or event loop: sync ones wait for the
    store's loop, async ones (``aget_messages``, ``async_add_message``, ...)
    are carried out on it. Each write is one atomic store call, applied
    exactly once even when the store retries it; a key's session is created
    on its first write. Missing keys read as empty, as in ``SimpleChatStore``.

    Args:
        store: A store to share (one app's LlamaIndex, Strands and toolkit
            memory in one place); it stays yours, and its loop must keep
            running while other threads use the chat store. Sync methods
            cannot be called on that loop itself (they raise BridgeError).
        url: A ``valkey://`` URL; the chat store then owns a store on a
            background loop and :meth:`close` closes it. With neither
            ``store`` nor ``url``: ``VALKEY_URL``, else an embedded server.
        user_id: Owner of the keys' sessions: every call goes through
            ``store.for_user(user_id)`` (ownership checked on the server), new
            sessions are indexed under the user, and :meth:`get_keys` lists
            this user's keys only.
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
        """Get class name."""
        return "GlideChatStore"

    @property
    def store(self) -> SessionStore:
        """The store the chat store works through (the user's view with ``user_id``)."""
        return self._chats.store

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the store's event loop and return its result, from synchronous code.

        For reading what the chat store keeps through the toolkit, e.g.
        ``chat_store.run(chat_store.store.get_messages(key))``.
        """
        return self._binding.run(coro)

    # -- BaseChatStore ----------------------------------------------------

    def set_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Replace the messages of ``key``, atomically."""
        self._binding.run(self._chats.replace(key, messages))

    def get_messages(self, key: str) -> list[ChatMessage]:
        """Get the messages of ``key``, oldest first; ``[]`` if it has none."""
        return self._binding.run(self._chats.get(key))

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Append a message to ``key`` (exactly once), or insert it before position ``idx``."""
        self._binding.run(self._add(key, message, idx))

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        """Delete ``key`` with its messages and return them; ``None`` if it does not exist."""
        return self._binding.run(self._chats.delete_chat(key))

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete the message at position ``idx`` (negative from the end) and return it; ``None`` if none is there."""
        return self._binding.run(self._chats.delete_at(key, idx))

    def delete_last_message(self, key: str) -> ChatMessage | None:
        """Delete the newest message of ``key`` (exactly once) and return it; ``None`` if it has none."""
        return self._binding.run(self._chats.pop(key))

    def get_keys(self) -> list[str]:
        """Get every key, in order of first write, without SCAN."""
        return self._binding.run(self._chats.keys())

    async def aset_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Replace the messages of ``key``, atomically."""
        await self._binding.call(self._chats.replace(key, messages))

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        """Get the messages of ``key``, oldest first; ``[]`` if it has none."""
        return await self._binding.call(self._chats.get(key))

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Append a message to ``key`` (exactly once), or insert it before position ``idx``."""
        await self._binding.call(self._add(key, message, idx))

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        """Delete ``key`` with its messages and return them; ``None`` if it does not exist."""
        return await self._binding.call(self._chats.delete_chat(key))

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete the message at position ``idx`` and return it; ``None`` if none is there."""
        return await self._binding.call(self._chats.delete_at(key, idx))

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        """Delete the newest message of ``key`` (exactly once) and return it; ``None`` if it has none."""
        return await self._binding.call(self._chats.pop(key))

    async def aget_keys(self) -> list[str]:
        """Get every key, in order of first write, without SCAN."""
        return await self._binding.call(self._chats.keys())

    async def _add(self, key: str, message: ChatMessage, idx: int | None) -> None:
        if idx is None:
            await self._chats.add(key, [message])
        else:
            await self._chats.insert(key, message, idx)

    # -- lifecycle --------------------------------------------------------

    def close(self) -> None:
        """Close the store the chat store created; idempotent. A store you passed in stays open."""
        self._binding.close()

    async def aclose(self) -> None:
        """Close the store the chat store created, from async code; idempotent."""
        await self._binding.aclose()

    def __enter__(self) -> GlideChatStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> GlideChatStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
