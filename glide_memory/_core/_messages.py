"""Messages: append exactly once, read, count, and edit one of a session's lists."""

from __future__ import annotations

import heapq
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from glide_memory import _validate
from glide_memory._codec import (
    build_message,
    coerce_role,
    decode_message,
    decode_messages,
    encode_message,
    format_time,
)
from glide_memory._core._index import UserIndex
from glide_memory._core._parts import Command, Parts, Scope
from glide_memory._core._recall import Recall
from glide_memory._server import Appended, Encoded, Stale, VectorData, Write, functions
from glide_memory._transport import MISS
from glide_memory.errors import DurabilityError, GlideMemoryError, InvalidInputError, SessionNotFoundError
from glide_memory.keys import list_names, new_message_id
from glide_memory.models import Content, Message, Role

INDEX_EXTEND_DEADLINE = 1.0
"""Seconds an append waits for its index's TTL refresh, which is best-effort."""

PAGE = 100
"""Messages read per round trip by :meth:`Messages.iterate`."""

_log = logging.getLogger("glide_memory")

T = TypeVar("T")


class Messages:
    """The message operations of one store or view."""

    def __init__(self, parts: Parts, scope: Scope, index: UserIndex, recall: Recall) -> None:
        self._parts = parts
        self._scope = scope
        self._index = index
        self._recall = recall

    # -- appending ----------------------------------------------------------

    def build(
        self,
        session_id: str,
        role: Role | str,
        content: Content,
        tokens_used: int | None,
        *,
        name: str | None,
        tool_calls: list[dict[str, Any]] | None,
        tool_call_id: str | None,
        metadata: dict[str, Any] | None,
        message_id: str | None,
        pinned: bool | None,
    ) -> Message:
        """Return the message ``add_message`` stores, its id, time and tokens filled in."""
        settings = self._parts.settings
        checked_role = coerce_role(role, session_id=session_id)
        if pinned is not None and type(pinned) is not bool:
            raise InvalidInputError(f"pinned must be a bool or None, not {pinned!r}", session_id=session_id)
        message = build_message(
            checked_role,
            content,
            0 if tokens_used is None else tokens_used,
            settings.clock(),
            new_message_id() if message_id is None else message_id,
            name,
            tool_calls,
            tool_call_id,
            metadata,
            (settings.pin_system and checked_role is Role.SYSTEM) if pinned is None else pinned,
        )
        if tokens_used is None and settings.token_counter is not None:
            message = message.replace(tokens=self._parts.count_tokens(message, session_id))
        return message

    def prepare(self, session_id: str, messages: Iterable[Message]) -> list[Message]:
        """Return ``messages`` stamped (time, id), pinned and counted as the store stores them."""
        if not isinstance(messages, Iterable) or isinstance(messages, str | bytes | Mapping):
            raise InvalidInputError(
                f"messages must be an iterable of Message values, not {type(messages).__name__}", session_id=session_id
            )
        settings = self._parts.settings
        now = settings.clock()
        stored = []
        for message in messages:
            if not isinstance(message, Message):
                raise InvalidInputError(f"messages must be Message values, not {message!r}", session_id=session_id)
            ready = stamped(message, now, session_id)
            if settings.pin_system and ready.role is Role.SYSTEM and not ready.pinned:
                ready = ready.replace(pinned=True)
            if ready.tokens == 0 and settings.token_counter is not None:
                ready = ready.replace(tokens=self._parts.count_tokens(ready, session_id))
            stored.append(ready)
        if len({m.id for m in stored}) != len(stored):
            raise InvalidInputError("two messages of one call share an id", session_id=session_id)
        return stored

    async def add_one(self, session_id: str, message: Message, max_messages: int | None) -> None:
        """Append one message built by :meth:`build` to the main list: the common turn, the shortest way.

        One attempt, straight to the server, for a session with no companion
        known; whatever is not the common turn (recall, a durability, a
        session with companions, a refusal, an error) goes through
        :meth:`append` with the same message, so a first attempt that was
        applied makes the second a repeat.
        """
        parts = self._parts
        keys = parts.keys(session_id)  # checks the id first
        if self._recall.enabled or parts.known_companions(session_id):
            return await self.append(session_id, [message], max_messages, None)
        window = self._window(max_messages, session_id)
        payload, digest = encode_message(message, session_id=session_id)
        owner = self._scope.user_id
        arguments = functions.append_one_arguments(
            now=format_time(message.timestamp or 0.0),
            window=window,
            owner=owner,
            message=(message.id or "", digest, message.tokens, message.pinned, payload, None),
        )
        reply = await parts.requests.attempt(
            "append", [keys.meta, keys.chat, keys.ids, keys.vectors, keys.copies], arguments
        )
        if reply.__class__ is int:  # the list's length: applied, no TTL refresh due (most turns)
            return None
        if reply is MISS:
            return await self.append(session_id, [message], max_messages, None)
        try:
            done = functions.appended(reply, session_id=session_id, owner=owner)
        except Stale:
            return await self.append(session_id, [message], max_messages, None)  # it learns the companions
        except GlideMemoryError as exc:
            exc.message_ids = (message.id or "",)
            raise
        if done.refreshed:
            await self._extend_index(session_id, done)

    async def append(
        self, session_id: str, messages: list[Message], max_messages: int | None, thread: str | None
    ) -> None:
        """Append prepared messages in one atomic call, each at most once per id."""
        parts = self._parts
        keys, target, _ = parts.list_of(session_id, thread)
        window = self._window(max_messages, session_id)
        if not messages:
            await parts.must_exist(session_id, keys.meta)
            return
        vectors, tags, later = await self._recall.vectors_for(session_id, messages, thread)
        encoded = _encoded(messages, session_id, vectors)
        try:
            done = await self._write(
                session_id,
                thread,
                lambda write: functions.append(
                    parts.requests, write, window=window, thread=thread or "", tags=tags, messages=encoded
                ),
                ops=False,
            )
        except GlideMemoryError as exc:
            exc.message_ids = tuple(message[0] for message in encoded)
            if later and isinstance(exc, DurabilityError):
                self._recall.defer(session_id, thread, messages, target)  # applied: its vectors still come
            raise
        if later:
            self._recall.defer(session_id, thread, messages, target)
        if done.refreshed:
            await self._extend_index(session_id, done)

    async def _extend_index(self, session_id: str, done: Appended) -> None:
        """After an append refreshed the session's TTL: extend its user index's to cover it, best-effort."""
        if done.owner is None:
            return
        try:
            await self._index.extend(done.owner, done.ttl or None, deadline=INDEX_EXTEND_DEADLINE)
        except GlideMemoryError as exc:
            if not exc.retryable:
                raise
            # the messages are stored: an error would make the caller retry what succeeded. The index
            # outlives its sessions by INDEX_MARGIN_SECONDS (on a cluster it may sit on a shard that is
            # down) and the next refresh extends it again
            _log.warning("session %s: its user index's TTL was not extended: %s", session_id, exc)

    def _window(self, max_messages: int | None, session_id: str) -> int:
        if max_messages is None:
            return self._parts.settings.max_messages or 0
        return _validate.positive(max_messages, "max_messages", session_id=session_id)

    # -- reading --------------------------------------------------------------

    async def _read(self, session_id: str, meta: str, commands: list[Command]) -> list[Any]:
        """Read in this scope, raising :class:`SessionNotFoundError` when a scoped read finds no session."""
        replies = await self._scope.read(self._parts, session_id, meta, commands)
        if replies is None:
            raise SessionNotFoundError(session_id)
        return replies

    async def get(
        self, session_id: str, *, last: int | None, thread: str | None, include_archived: bool
    ) -> list[Message]:
        """Return a list's messages, oldest first (the newest ``last``)."""
        keys, target, _ = self._parts.list_of(session_id, thread)
        if last is not None:
            _validate.non_negative(last, "last", session_id=session_id)
        if include_archived:
            return await self._with_archive(session_id, target, thread, last)
        if last == 0:
            await self.count(session_id, thread=thread)  # existence, in scope
            return []
        start = -last if last else 0
        (items,) = await self._read(session_id, keys.meta, [("LRANGE", target, (start, -1))])
        if not items:
            await self._parts.must_exist(session_id, keys.meta)
            return []
        # with ``last`` positions are counted from the end, so no length is needed
        return decode_messages(items, key=target, first=-len(items) if last else 0, session_id=session_id)

    async def _with_archive(self, session_id: str, target: str, thread: str | None, last: int | None) -> list[Message]:
        parts = self._parts
        meta = parts.schema.meta(session_id)
        archive = parts.schema.companion(session_id, list_names(thread, session_id=session_id).archive)
        found, archived, current = await self._read(
            session_id, meta, [("EXISTS", meta, ()), ("LRANGE", archive, (0, -1)), ("LRANGE", target, (0, -1))]
        )
        if not found:
            raise SessionNotFoundError(session_id)
        old = decode_messages(archived, key=archive, first=0, session_id=session_id)
        now = decode_messages(current, key=target, first=0, session_id=session_id)
        # pinned messages stay in the list while later ones are archived: merge back into the order they came in
        messages = list(heapq.merge(old, now, key=lambda m: m.timestamp or 0.0))
        return messages[-last:] if last else ([] if last == 0 else messages)

    async def archived(self, session_id: str, *, thread: str | None) -> list[Message]:
        """Return the archived messages of a list, oldest first."""
        parts = self._parts
        meta = parts.schema.meta(session_id)
        archive = parts.schema.companion(session_id, list_names(thread, session_id=session_id).archive)
        found, entries = await self._read(session_id, meta, [("EXISTS", meta, ()), ("LRANGE", archive, (0, -1))])
        if not found:
            raise SessionNotFoundError(session_id)
        return decode_messages(entries, key=archive, first=0, session_id=session_id)

    async def get_one(self, session_id: str, index: int, *, thread: str | None) -> Message | None:
        """Return the message at ``index``, or ``None``."""
        keys, target, _ = self._parts.list_of(session_id, thread)
        position = _validate.index(index, session_id=session_id)
        (raw,) = await self._read(session_id, keys.meta, [("LINDEX", target, (position,))])
        if raw is None:
            await self._parts.must_exist(session_id, keys.meta)
            return None
        return decode_message(raw, key=target, index=position, session_id=session_id)

    async def count(self, session_id: str, *, thread: str | None) -> int:
        """Return how many messages a list stores now."""
        keys, target, _ = self._parts.list_of(session_id, thread)
        (length,) = await self._read(session_id, keys.meta, [("LLEN", target, ())])
        if length == 0:
            await self._parts.must_exist(session_id, keys.meta)
        return int(length)

    async def read_range(
        self, session_id: str, start: int, stop: int, *, thread: str | None
    ) -> list[tuple[int, bytes]]:
        """Return ``(index, raw entry)`` of positions ``start..stop`` (inclusive)."""
        keys, target, _ = self._parts.list_of(session_id, thread)
        first = _validate.non_negative(start, "start", session_id=session_id)
        last = _validate.index(stop, session_id=session_id)
        found, items = await self._read(
            session_id, keys.meta, [("EXISTS", keys.meta, ()), ("LRANGE", target, (first, last))]
        )
        if not found:
            raise SessionNotFoundError(session_id)
        return [(first + offset, raw) for offset, raw in enumerate(items)]

    async def iterate(self, session_id: str, *, thread: str | None) -> AsyncIterator[Message]:
        """Yield a list's messages oldest first, a page per round trip."""
        _, target, _ = self._parts.list_of(session_id, thread)
        start = 0
        while True:
            page = await self.read_range(session_id, start, start + PAGE - 1, thread=thread)
            for index, raw in page:
                yield decode_message(raw, key=target, index=index, session_id=session_id)
            if len(page) < PAGE:
                return
            start += PAGE

    # -- editing ------------------------------------------------------------

    async def _write(
        self,
        session_id: str,
        thread: str | None,
        call: Callable[[Write], Awaitable[T]],
        *,
        register: str | None = None,
        ops: bool = True,
    ) -> T:
        """Run a write function on one of the session's lists, in this scope.

        ``register`` names the companion the write adds (by default the
        list's own: declared even when it exists, so a stale cache is
        corrected, and saved only when it is new); ``ops``, whether the
        session's ops HASH is declared (an edit that carries an operation id).
        """
        keys, target, names = self._parts.list_of(session_id, thread)
        return await self._parts.write(
            session_id,
            keys,
            call,
            owner=self._scope.user_id,
            target=target,
            register=names.companion if register is None else register,
            pin_field=names.pinned,
            ops=ops,
        )

    async def clear(self, session_id: str, *, thread: str | None) -> int:
        """Remove a list's messages; return how many (the first attempt's count when retried)."""
        parts = self._parts
        op = new_message_id()
        return await self._write(session_id, thread, lambda write: functions.clear(parts.requests, write, op=op))

    async def replace(self, session_id: str, message: Message, *, thread: str | None) -> bool:
        """Put a new version of a stored message in its place; return whether one had its id."""
        parts = self._parts
        _, target, _ = parts.list_of(session_id, thread)
        if not isinstance(message, Message) or message.id is None:
            raise InvalidInputError("replace_message needs a Message with an id", session_id=session_id)
        version = stamped(message, parts.settings.clock(), session_id)
        payload, digest = encode_message(version, session_id=session_id)
        (vector,), _, later = await self._recall.vectors_for(session_id, [version], thread)

        async def call(write: Write) -> int | None:
            return await functions.replace(
                parts.requests,
                write,
                message_id=message.id or "",
                digest=digest,
                payload=payload,
                thread=thread or "",
                vector=vector,
            )

        found = await self._write(session_id, thread, call, ops=False) is not None
        if found and later:
            self._recall.defer(session_id, thread, [version], target)
        return found

    async def pop(self, session_id: str, *, thread: str | None) -> Message | None:
        """Remove the newest message of a list and return it, exactly once."""
        parts = self._parts
        _, target, _ = parts.list_of(session_id, thread)
        op = new_message_id()
        raw = await self._write(session_id, thread, lambda write: functions.pop(parts.requests, write, op=op))
        return None if raw is None else decode_message(raw, key=target, index=-1, session_id=session_id)

    async def set(self, session_id: str, messages: Iterable[Message], *, thread: str | None) -> list[Message]:
        """Replace every message of a list, atomically and exactly once."""
        parts = self._parts
        _, target, _ = parts.list_of(session_id, thread)
        stored = self.prepare(session_id, messages)
        vectors, tags, later = await self._recall.vectors_for(session_id, stored, thread)
        encoded = _encoded(stored, session_id, vectors)
        op = new_message_id()
        await self._write(
            session_id,
            thread,
            lambda write: functions.rewrite(
                parts.requests, write, op=op, thread=thread or "", tags=tags, messages=encoded
            ),
        )
        if later:
            self._recall.defer(session_id, thread, stored, target)
        return stored

    async def delete(self, session_id: str, message_ids: Iterable[str], *, thread: str | None) -> int:
        """Remove the messages with these ids from a list; return how many, exactly once."""
        parts = self._parts
        keys, _, _ = parts.list_of(session_id, thread)
        if isinstance(message_ids, str) or not isinstance(message_ids, Iterable):
            raise InvalidInputError("message_ids must be an iterable of ids", session_id=session_id)
        wanted = sorted({_validate.identifier(m, kind="message id", session_id=session_id) for m in message_ids})
        if not wanted:
            (found,) = await self._read(session_id, keys.meta, [("EXISTS", keys.meta, ())])  # scope and existence
            if not found:
                raise SessionNotFoundError(session_id)
            return 0
        op = new_message_id()
        return await self._write(
            session_id, thread, lambda write: functions.remove(parts.requests, write, op=op, message_ids=wanted)
        )

    async def archive(self, session_id: str, count: int, *, thread: str | None) -> int:
        """Move the oldest ``count`` unpinned messages of a list to its archive; return how many moved."""
        parts = self._parts
        _, _, names = parts.list_of(session_id, thread)
        wanted = _validate.non_negative(count, "count", session_id=session_id)
        archive = parts.schema.companion(session_id, names.archive)
        op = new_message_id()

        async def call(write: Write) -> int:
            return await functions.archive(
                parts.requests, write, archive=write.keys.index(archive), count=wanted, op=op
            )

        return await self._write(session_id, thread, call, register=names.archive)


def _encoded(messages: list[Message], session_id: str, vectors: list[VectorData | None]) -> list[Encoded]:
    encoded = []
    for message, vector in zip(messages, vectors, strict=True):
        payload, digest = encode_message(message, session_id=session_id)
        encoded.append((message.id or "", digest, message.tokens, message.pinned, payload, vector))
    return encoded


def stamped(message: Message, now: float, session_id: str) -> Message:
    """Return ``message`` with a role checked, and a timestamp and id filled in if missing."""
    return build_message(
        coerce_role(message.role, session_id=session_id),
        message.content,
        message.tokens,
        now if message.timestamp is None else message.timestamp,
        new_message_id()
        if message.id is None
        else _validate.identifier(message.id, kind="message id", session_id=session_id),
        message.name,
        message.tool_calls,
        message.tool_call_id,
        message.metadata,
        message.pinned,
    )
