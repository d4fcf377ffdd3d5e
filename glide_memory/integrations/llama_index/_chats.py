"""The adapters' operations, natively async, on a :class:`SessionStore` through its public API.

Layout:

- a chat-store key is a toolkit session of the same id, created on its first
  write (owned by ``user_id`` when one is given); its messages are the
  session's main conversation, and what a LlamaIndex ``Memory`` flushes goes
  to the session's archive (``archive:<id>``), still readable there;
- the keys a scope wrote are listed in a sorted SET outside any session,
  ``llama_index:keys`` (or ``llama_index:keys:<user_id>`` for a user's),
  scored by first write so listing keeps their order, read without SCAN and
  pruned of sessions that expired, were deleted or changed owner when
  listed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

from glide import Batch, ClusterBatch, ConditionalChange, RangeByIndex
from llama_index.core.base.llms.types import ChatMessage

from glide_memory import (
    TTL,
    UNSET,
    InvalidIdError,
    InvalidInputError,
    Message,
    SessionNotFoundError,
    SessionStore,
    Unset,
)
from glide_memory.integrations.llama_index import _codec

KIND = "llama_index"

MARK = "framework"
"""The session metadata field that says which adapter made a session (``llama_index`` here)."""
"""The extension name of the adapter's keys outside sessions (``llama_index:...``)."""


def _new_id() -> str:
    return uuid.uuid4().hex


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{what} must be a non-negative int, not {value!r}")
    return value


class LlamaIndexChats:
    """Chat-store keys as toolkit sessions.

    Args:
        store: Where chats live; a :meth:`SessionStore.for_user` view is
            taken as that user's.
        user_id: Owner of new sessions; every access then goes through
            ``store.for_user(user_id)``, which checks ownership on the server.
        ttl: TTL of new sessions, refreshed by every write; the store's
            default if left out, ``None`` for never.
    """

    def __init__(self, store: SessionStore, *, user_id: str | None = None, ttl: TTL | Unset | None = UNSET) -> None:
        if store.user_id is not None and user_id not in (None, store.user_id):
            raise InvalidInputError(f"the store is a view for user {store.user_id!r}, not {user_id!r}")
        owner = user_id if user_id is not None else store.user_id
        self.store = store if owner is None or store.user_id == owner else store.for_user(owner)
        self.user_id = owner
        self.ttl = ttl
        # a user's keys are their sessions the adapter made (the core's user index, checked on the server);
        # without a user, the adapter's own sorted set of keys
        self._keys = store.schema.extension(KIND, "keys")
        self._listed: set[str] = set()  # keys this object put in the keys SET (or found there)

    # -- reads ------------------------------------------------------------

    async def get(self, key: str) -> list[ChatMessage]:
        """Return the active messages of ``key``, oldest first; ``[]`` for a key never written."""
        try:
            stored = await self.store.get_messages(key)
        except SessionNotFoundError:
            return []
        return [_codec.from_stored(m, key=key) for m in stored]

    async def page(
        self, key: str, *, archived: bool | None, limit: int | None, offset: int | None
    ) -> list[ChatMessage]:
        """Return a page of messages: active (``archived=False``), archived (``True``), or both in time order."""
        first = 0 if offset is None else _count(offset, "offset")
        size = None if limit is None else _count(limit, "limit")
        if archived is False and first == 0 and size is None:
            return await self.get(key)
        if size == 0:
            return []
        try:
            if archived is False:
                stop = -1 if size is None else first + size - 1
                entries = await self.store.read_range(key, first, stop)
                return [chat for _, chat in _codec.from_raw(entries, key=key)]
            if archived:
                stored = await self.store.get_archived_messages(key)
            else:
                stored = await self.store.get_messages(key, include_archived=True)
        except SessionNotFoundError:
            return []
        chosen = stored[first:] if size is None else stored[first : first + size]
        return [_codec.from_stored(m, key=key) for m in chosen]

    async def count(self, key: str, *, archived: bool | None) -> int:
        """Return how many active, archived (or, with ``None``, all) messages ``key`` holds."""
        try:
            active = 0 if archived else await self.store.count_messages(key)
            old = 0 if archived is False else len(await self.store.get_archived_messages(key))
        except SessionNotFoundError:
            return 0
        return active + old

    # -- writes -----------------------------------------------------------

    async def add(self, key: str, messages: Sequence[ChatMessage]) -> None:
        """Append messages in one atomic round trip, each exactly once; the session is created if needed."""
        stored = [_codec.to_stored(m, _new_id()) for m in messages]
        if not stored:
            return
        await self._write(key, lambda: self.store.add_messages(key, stored))

    async def insert(self, key: str, message: ChatMessage, idx: int) -> None:
        """Insert a message before position ``idx`` (as ``list.insert`` does), replacing the list atomically.

        Inserting at or past the end is an append. Elsewhere the list is read
        and written back whole: an append made in between is overwritten,
        as with LlamaIndex's own stores.
        """
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise InvalidInputError(f"idx must be an int, not {idx!r}")
        new = _codec.to_stored(message, _new_id())
        try:
            current = await self.store.get_messages(key)
        except SessionNotFoundError:
            current = []
        position = max(0, len(current) + idx) if idx < 0 else min(idx, len(current))
        if position == len(current):
            await self._write(key, lambda: self.store.add_messages(key, [new]))
            return
        replaced = [*current[:position], new, *current[position:]]
        await self._write(key, lambda: self.store.set_messages(key, replaced))

    async def replace(self, key: str, messages: Sequence[ChatMessage]) -> None:
        """Replace the active messages of ``key`` atomically, exactly once; the session is created if needed."""
        stored = [_codec.to_stored(m, _new_id()) for m in messages]
        await self._write(key, lambda: self.store.set_messages(key, stored))

    async def _write(self, key: str, write: Callable[[], Awaitable[object]]) -> None:
        try:
            await write()
        except SessionNotFoundError:
            await self.store.create_session(
                self.user_id, session_id=key, ttl=self.ttl, metadata={MARK: KIND}, exist_ok=True
            )
            self._listed.discard(key)
            await write()  # the same message ids: a first attempt that landed after all is not doubled
        await self._list(key)

    # -- deletes ----------------------------------------------------------

    async def delete_chat(self, key: str) -> list[ChatMessage] | None:
        """Delete the session of ``key`` (archive included); return its active messages, ``None`` if missing."""
        try:
            stored = await self.store.get_messages(key)
        except SessionNotFoundError:
            await self._unlist(key)
            return None
        await self.store.delete_session(key)
        await self._unlist(key)
        return [_codec.from_stored(m, key=key) for m in stored]

    async def clear(self, key: str) -> None:
        """Remove the active messages of ``key``, keeping its archive."""
        try:
            await self.store.clear_messages(key)
        except SessionNotFoundError:
            return

    async def delete_at(self, key: str, idx: int) -> ChatMessage | None:
        """Delete the active message at position ``idx`` (negative from the end); ``None`` if there is none."""
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise InvalidInputError(f"idx must be an int, not {idx!r}")
        try:
            found = await self.store.get_message(key, idx)
            if found is None:
                return None
            if found.id is None:
                raise InvalidInputError(
                    f"the message at {idx} of {key!r} has no id (written by other code), so it cannot be deleted alone"
                )
            removed = await self.store.delete_messages(key, [found.id])
        except SessionNotFoundError:
            return None
        return _codec.from_stored(found, key=key) if removed else None

    async def pop(self, key: str) -> ChatMessage | None:
        """Delete the newest active message of ``key``, exactly once, and return it; ``None`` if there is none."""
        try:
            popped = await self.store.pop_message(key)
        except SessionNotFoundError:
            return None
        return None if popped is None else _codec.from_stored(popped, key=key)

    async def delete_oldest(self, key: str, n: int) -> list[ChatMessage]:
        """Delete the oldest ``n`` active messages of ``key`` and return them."""
        oldest = await self._oldest(key, n)
        ids = [stored.id for stored, _ in oldest if stored.id is not None]
        if ids:
            await self.store.delete_messages(key, ids)
        return [chat for stored, chat in oldest if stored.id is not None]

    async def archive_oldest(self, key: str, n: int) -> list[ChatMessage]:
        """Move the oldest ``n`` active messages of ``key`` to the session's archive and return them.

        Pinned messages among them (system prompts, when the store pins
        them) stay active, as in every toolkit window; tool results right
        after the archived ones go with them, so the active list never
        opens with a result whose call left (both as the core's
        ``archive_messages`` does). What was archived is returned.
        """
        oldest = await self._oldest(key, n)
        movable = [(stored, chat) for stored, chat in oldest if not stored.pinned]
        if not movable:
            return []
        moved = await self.store.archive_messages(key, len(movable))
        if moved == len(movable):
            return [chat for _, chat in movable]
        archived = await self.store.get_archived_messages(key) if moved else []
        return [_codec.from_stored(m, key=key) for m in archived[len(archived) - moved :]]

    async def _oldest(self, key: str, n: int) -> list[tuple[Message, ChatMessage]]:
        if _count(n, "n") == 0:
            return []
        try:
            return _codec.from_raw(await self.store.read_range(key, 0, n - 1), key=key)
        except SessionNotFoundError:
            return []

    # -- keys -------------------------------------------------------------

    async def keys(self) -> list[str]:
        """Return every key of this scope, in order of first write, without SCAN.

        Members whose session is gone (expired, deleted by other code) or
        belongs to another user now are removed; one re-created meanwhile
        is put back.
        """
        if self.user_id is not None:
            return await self._user_keys(self.user_id)
        index = self._keys
        raw = await self.store.call(lambda client: client.zrange(index, RangeByIndex(0, -1)))
        members = [member.decode("utf-8", "replace") for member in raw]
        if not members:
            return []
        alive = await self._alive(members)
        stale = [member for member, ok in zip(members, alive, strict=True) if not ok]
        if stale:
            gone = [item for item, ok in zip(raw, alive, strict=True) if not ok]
            await self.store.call(lambda client: client.zrem(index, list(gone)))
            self._listed.difference_update(stale)
            back = [member for member, ok in zip(stale, await self._alive(stale), strict=True) if ok]
            for member in back:
                await self._list(member)
            stale = [member for member in stale if member not in back]
        self._listed.update(m for m in members if m not in stale)
        return [member for member in members if member not in stale]

    async def _user_keys(self, user_id: str) -> list[str]:
        """Return the user's sessions this adapter made, in order of creation (the index prunes the gone)."""
        found = []
        after = None
        while True:
            page = await self.store.list_user_sessions(user_id, limit=500, after=after)
            found += [info for info in page if info.metadata.get(MARK) == KIND]
            if page.next_after is None:
                break
            after = page.next_after
        return [info.session_id for info in sorted(found, key=lambda info: (info.created_at, info.session_id))]

    async def _alive(self, members: list[str]) -> list[bool]:
        """Whether each member's session exists (and, for a user's keys, is that user's), in one round trip."""
        schema, owner = self.store.schema, self.user_id
        metas: list[str | None] = []
        for member in members:
            try:
                metas.append(schema.meta(member))
            except InvalidIdError:
                metas.append(None)  # not an id this adapter could have written
        valid = [meta for meta in metas if meta is not None]

        def fill(batch: Batch | ClusterBatch) -> None:
            for meta in valid:
                if owner is None:
                    batch.exists([meta])
                else:
                    batch.hget(meta, "user_id")

        replies = iter(await self.store.pipeline(fill) if valid else [])
        wanted = None if owner is None else owner.encode()
        out = []
        for meta in metas:
            if meta is None:
                out.append(False)
                continue
            reply = next(replies)
            out.append(bool(reply) if wanted is None else reply == wanted)
        return out

    async def _list(self, key: str) -> None:
        """Put ``key`` in the keys SET (once per object; the first write's time orders it); a user's need none."""
        if key in self._listed or self.user_id is not None:
            return
        index = self._keys
        await self.store.call(
            lambda client: client.zadd(
                index, {key: time.time()}, existing_options=ConditionalChange.ONLY_IF_DOES_NOT_EXIST
            )
        )
        self._listed.add(key)

    async def _unlist(self, key: str) -> None:
        if self.user_id is not None:
            return
        index = self._keys
        self._listed.discard(key)
        await self.store.call(lambda client: client.zrem(index, [key]))
