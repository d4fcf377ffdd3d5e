"""SessionStore's messages: append exactly once, read, count, clear, replace; the server side of summaries."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from glide import Batch, ClusterBatch

from glide_memory import _validate, scripts
from glide_memory._store_base import StoreBase
from glide_memory.codec import build_message, coerce_role, decode_message, encode_message, format_time
from glide_memory.errors import GlideMemoryError, InvalidInputError, InvalidTokensError, SessionNotFoundError
from glide_memory.keys import ListNames, SessionKeys, list_names, new_message_id
from glide_memory.models import Content, Message, Role

_INDEX_EXTEND_DEADLINE = 1.0  # seconds an append waits for its index's TTL refresh, which is best-effort
_log = logging.getLogger("glide_memory")


class MessagesMixin(StoreBase):
    """The message operations of :class:`~glide_memory.store.SessionStore`."""

    async def add_message(
        self,
        session_id: str,
        role: Role | str,
        content: Content,
        tokens_used: int | None = None,
        *,
        max_messages: int | None = None,
        name: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        tool_call_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        message_id: str | None = None,
        thread: str | None = None,
        pinned: bool | None = None,
    ) -> Message:
        """Append a message and account its tokens, in one atomic round trip, exactly once.

        The append, ``message_count``/``token_count``, ``last_active``, the
        sliding-window trim and the TTL refresh happen together or not at
        all. The message is applied at most once per ``message_id`` in the
        session: a repeat with the same message is a no-op that succeeds.

        Args:
            session_id: The session.
            role: ``system``, ``user``, ``assistant`` or ``tool``.
            content: Text or a list of content blocks.
            tokens_used: Tokens to account for this message; left out, the
                store's ``token_counter`` counts them (0 without one).
            max_messages: Keep only the newest N unpinned messages of the
                list; the store's default if ``None``.
            name: An author name.
            tool_calls: Tool calls requested by an assistant message.
            tool_call_id: The call a tool message answers.
            metadata: Free-form JSON data kept with the message.
            message_id: The message's id; one is generated (and kept across
                the store's own retries) if ``None``. Pass your own to retry
                safely after an error or a cancellation.
            thread: A named conversation of the session (e.g. one per
                agent) instead of its main one.
            pinned: Keep it in every window; ``None`` pins system messages
                (unless the store's ``pin_system`` is off).

        Returns:
            The :class:`Message` as stored (its ``id`` set).

        Raises:
            SessionNotFoundError: the session does not exist or expired.
            MessageConflictError: ``message_id`` holds a different message.
            InvalidRoleError, InvalidTokensError, InvalidContentError: bad
                input; nothing was written.
        """
        checked_role = coerce_role(role, session_id=session_id)
        if pinned is not None and type(pinned) is not bool:
            raise InvalidInputError(f"pinned must be a bool or None, not {pinned!r}", session_id=session_id)
        message = build_message(
            checked_role,
            content,
            0 if tokens_used is None else tokens_used,
            self._clock(),
            new_message_id() if message_id is None else message_id,
            name,
            tool_calls,
            tool_call_id,
            metadata,
            (self.pin_system and checked_role is Role.SYSTEM) if pinned is None else pinned,
        )
        if tokens_used is None and self.token_counter is not None:
            message = message.replace(tokens=self._count(message, session_id))
        await self._append(session_id, [message], max_messages, thread)
        return message

    def _count(self, message: Message, session_id: str) -> int:
        """Count a message's tokens with the store's token_counter."""
        assert self.token_counter is not None
        try:
            counted = self.token_counter(message)
        except Exception as exc:
            raise InvalidInputError(f"token_counter failed: {exc!r}", session_id=session_id) from exc
        if type(counted) is not int or not 0 <= counted <= _validate.MAX_COUNTER:
            raise InvalidTokensError(
                f"token_counter returned {counted!r}, not an int from 0 to 2**63-1", session_id=session_id
            )
        return counted

    async def add_messages(
        self,
        session_id: str,
        messages: Iterable[Message],
        *,
        max_messages: int | None = None,
        thread: str | None = None,
    ) -> list[Message]:
        """Append several messages in one atomic round trip, each exactly once per id.

        Messages without a timestamp get the current time, without an id a
        generated one, with 0 tokens the store's ``token_counter``'s count
        (if it has one); system messages are pinned when ``pin_system`` is on.

        Returns:
            The messages as stored.

        Raises:
            InvalidInputError: not :class:`Message` values, or one id twice.
        """
        stored = self._prepared(session_id, messages)
        await self._append(session_id, stored, max_messages, thread)
        return stored

    def _prepared(self, session_id: str, messages: Iterable[Message]) -> list[Message]:
        """Return ``messages`` stamped (time, id), pinned and counted as the store stores them."""
        if not isinstance(messages, Iterable) or isinstance(messages, str | bytes | Mapping):
            raise InvalidInputError(
                f"messages must be an iterable of Message values, not {type(messages).__name__}", session_id=session_id
            )
        now = self._clock()
        stored = []
        for message in messages:
            if not isinstance(message, Message):
                raise InvalidInputError(f"messages must be Message values, not {message!r}", session_id=session_id)
            ready = _stamped(message, now, session_id)
            if self.pin_system and ready.role is Role.SYSTEM and not ready.pinned:
                ready = ready.replace(pinned=True)
            if ready.tokens == 0 and self.token_counter is not None:
                ready = ready.replace(tokens=self._count(ready, session_id))
            stored.append(ready)
        if len({m.id for m in stored}) != len(stored):
            raise InvalidInputError("two messages of one call share an id", session_id=session_id)
        return stored

    async def _append(
        self, session_id: str, messages: list[Message], max_messages: int | None, thread: str | None
    ) -> None:
        keys, target, names = self._list(session_id, thread)
        window = self._window(max_messages, session_id)
        register = names.companion
        encoded = []
        for message in messages:
            payload, digest = encode_message(message, session_id=session_id)
            encoded.append((message.id or "", digest, message.tokens, message.pinned, payload))
        if not encoded:
            await self._must_exist(session_id, keys.meta)
            return

        async def call(layout: list[str], companions: str) -> scripts.Appended:
            return await scripts.append(
                self._requests,
                layout,
                session_id=session_id,
                now=format_time(self._clock()),
                window=window,
                owner=self._owner,
                companions=companions,
                register=register,
                target=layout.index(target),
                pin_field=names.pinned,
                messages=encoded,
            )

        try:
            done = await self._with_companions(session_id, keys, call, register=register)
        except GlideMemoryError as exc:
            exc.message_ids = tuple(message[0] for message in encoded)
            raise
        if done.refreshed and done.owner is not None:
            try:
                await self._index.extend(done.owner, done.ttl or None, deadline=_INDEX_EXTEND_DEADLINE)
            except GlideMemoryError as exc:
                if not exc.retryable:
                    raise
                # the messages are stored: an error would make the caller retry what succeeded. The index
                # outlives its sessions by INDEX_MARGIN_SECONDS (on a cluster it may sit on a shard that is
                # down) and the next refresh extends it again
                _log.warning("session %s: its user index's TTL was not extended: %s", session_id, exc)

    def _window(self, max_messages: int | None, session_id: str) -> int:
        if max_messages is None:
            return self.max_messages or 0
        return _validate.positive(max_messages, "max_messages", session_id=session_id)

    async def get_messages(
        self, session_id: str, *, last: int | None = None, thread: str | None = None, include_archived: bool = False
    ) -> list[Message]:
        """Return a session's messages, oldest first (the newest ``last`` if given).

        Args:
            session_id: The session.
            last: Return only the newest ``last`` messages.
            thread: Read a named thread instead of the main conversation.
            include_archived: Include the messages summaries archived, in the
                order they came in (with ``last``: counted among the newest).

        Raises:
            SessionNotFoundError: the session does not exist.
            CorruptedEntryError: a stored entry does not decode; it names the
                position (from the end with ``last``), and
                :meth:`get_message` still reads the others.
        """
        keys = self.schema.keys(session_id)
        target, _ = self._target(session_id, keys, thread)
        if last is not None:
            _validate.non_negative(last, "last", session_id=session_id)
        if include_archived:
            return await self._with_archive(session_id, keys, target, thread, last)
        if last == 0:
            await self._must_exist(session_id, keys.meta)
            return []
        start = -last if last else 0
        if self._owner is not None:
            (items,) = await self._read(session_id, keys.meta, lambda batch: batch.lrange(target, start, -1))
        else:
            items = await self._requests.run(
                lambda: self._client.lrange(target, start, -1), session_id=session_id, key=target
            )
        if not items:
            await self._must_exist(session_id, keys.meta)
            return []
        # with ``last`` positions are counted from the end, so no length is needed
        first = -len(items) if last else 0
        return [
            decode_message(raw, key=target, index=first + offset, session_id=session_id)
            for offset, raw in enumerate(items)
        ]

    async def _with_archive(
        self, session_id: str, keys: SessionKeys, target: str, thread: str | None, last: int | None
    ) -> list[Message]:
        archive = self.schema.companion(session_id, list_names(thread, session_id=session_id).archive)

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.exists([keys.meta]).lrange(archive, 0, -1).lrange(target, 0, -1)

        found, archived, current = await self._read(session_id, keys.meta, fill)
        if not found:
            raise SessionNotFoundError(session_id)
        old = [decode_message(raw, key=archive, index=n, session_id=session_id) for n, raw in enumerate(archived)]
        now = [decode_message(raw, key=target, index=n, session_id=session_id) for n, raw in enumerate(current)]
        # pinned messages stay in the list while later ones are archived: merge back into the order they came in
        messages = list(heapq.merge(old, now, key=lambda m: m.timestamp or 0.0))
        return messages[-last:] if last else ([] if last == 0 else messages)

    async def get_message(self, session_id: str, index: int, *, thread: str | None = None) -> Message | None:
        """Return the message at ``index`` (negative counts from the end), or ``None``.

        Raises:
            SessionNotFoundError: the session does not exist.
            CorruptedEntryError: that entry does not decode.
        """
        keys = self.schema.keys(session_id)
        target, _ = self._target(session_id, keys, thread)
        position = _validate.index(index, session_id=session_id)
        if self._owner is not None:
            (raw,) = await self._read(session_id, keys.meta, lambda batch: batch.lindex(target, position))
        else:
            raw = await self._requests.run(
                lambda: self._client.lindex(target, position), session_id=session_id, key=target
            )
        if raw is None:
            await self._must_exist(session_id, keys.meta)
            return None
        return decode_message(raw, key=target, index=position, session_id=session_id)

    async def _read_context(
        self, session_id: str, target: str, meta: str, budget: int | None, limit: int, pin_field: str, summary: str
    ) -> scripts.Context:
        if self._owner is None:
            return await scripts.context(
                self._requests,
                target,
                meta,
                session_id=session_id,
                max_tokens=budget,
                limit=limit,
                pin_field=pin_field,
                summary_field=summary,
            )
        function = scripts.FUNCTION_NAMES["context"]
        arguments: list[str | bytes] = ["-1" if budget is None else str(budget), str(limit), pin_field, summary]
        (reply,) = await self._read(
            session_id, meta, lambda batch: batch.fcall_ro(function, keys=[target, meta], arguments=arguments)
        )
        flat = reply[1]
        pinned = [(int(flat[i]), flat[i + 1]) for i in range(0, len(flat), 2)]
        found = None if reply[2] is None or reply[2] is False else reply[2]
        return scripts.Context(int(reply[0]), pinned, found, int(reply[3]), list(reply[4]))

    async def _read_for_summary(
        self, session_id: str, meta: str, target: str, summary_field: str
    ) -> tuple[bytes | None, list[bytes]]:
        def fill(batch: Batch | ClusterBatch) -> None:
            batch.exists([meta]).hget(meta, summary_field).lrange(target, 0, -1)

        found, previous, entries = await self._read(session_id, meta, fill)
        if not found:
            raise SessionNotFoundError(session_id)
        return previous, list(entries)

    async def _store_summary(
        self,
        session_id: str,
        keys: SessionKeys,
        target: str,
        names: ListNames,
        *,
        previous: bytes,
        count: int,
        first_id: str,
        last_id: str,
        payload: bytes,
        now: str,
    ) -> bool:
        archive = self.schema.companion(session_id, names.archive)

        async def call(layout: list[str], companions: str) -> bool:
            return await scripts.summarize(
                self._requests,
                layout,
                session_id=session_id,
                now=now,
                owner=self._owner,
                companions=companions,
                register=names.archive,
                target=layout.index(target),
                archive=layout.index(archive),
                summary_field=names.summary,
                previous=previous,
                covered=count,
                first_id=first_id,
                last_id=last_id,
                summary=payload,
            )

        return await self._with_companions(session_id, keys, call, register=names.archive)

    async def count_messages(self, session_id: str, *, thread: str | None = None) -> int:
        """Return how many messages the session (or one of its threads) stores now."""
        keys = self.schema.keys(session_id)
        target, _ = self._target(session_id, keys, thread)
        if self._owner is not None:
            (length,) = await self._read(session_id, keys.meta, lambda batch: batch.llen(target))
        else:
            length = await self._requests.run(lambda: self._client.llen(target), session_id=session_id, key=target)
        if length == 0:
            await self._must_exist(session_id, keys.meta)
        return int(length)

    async def clear_messages(self, session_id: str, *, thread: str | None = None) -> int:
        """Remove a session's messages (or a thread's), keeping the session and its counters.

        Returns:
            The number of messages removed.
        """
        keys, target, names = self._list(session_id, thread)
        register = names.companion

        async def call(layout: list[str], companions: str) -> int:
            if target not in layout:
                return 0  # a thread that was never written holds nothing
            return await scripts.clear(
                self._requests,
                layout,
                session_id=session_id,
                owner=self._owner,
                companions=companions,
                target=layout.index(target),
                pin_field=names.pinned,
            )

        removed = await self._with_companions(session_id, keys, call)
        if register and not removed:
            await self._must_exist(session_id, keys.meta)
        return removed

    async def pop_message(self, session_id: str, *, thread: str | None = None) -> Message | None:
        """Remove the newest message of a session (or a thread) and return it; ``None`` if it holds none.

        Exactly once: if the store retries a pop whose first attempt was
        applied, it returns that attempt's message and removes no other.
        The counters are kept (they account what was appended); the
        message's id is released, so appending it again stores it again.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        keys, target, names = self._list(session_id, thread)
        op = new_message_id()

        async def call(layout: list[str], companions: str) -> bytes | None:
            if target not in layout:
                await self._must_exist(session_id, keys.meta)
                return None  # a thread that was never written holds nothing
            return await scripts.pop(
                self._requests,
                [*layout, keys.ops],
                session_id=session_id,
                now=format_time(self._clock()),
                owner=self._owner,
                companions=companions,
                target=layout.index(target),
                pin_field=names.pinned,
                op=op,
            )

        raw = await self._with_companions(session_id, keys, call)
        return None if raw is None else decode_message(raw, key=target, index=-1, session_id=session_id)

    async def set_messages(
        self, session_id: str, messages: Iterable[Message], *, thread: str | None = None
    ) -> list[Message]:
        """Replace every message of a session (or a thread) with ``messages``, atomically and exactly once.

        For a framework that rewrites its history (a compaction, an edit of
        the whole list). Messages are stamped as by :meth:`add_messages`;
        ids not stored before count in ``message_count`` and
        ``token_count``; the ids of messages left out are released.

        Returns:
            The messages as stored.

        Raises:
            SessionNotFoundError: the session does not exist.
            InvalidInputError: not :class:`Message` values, or one id twice.
        """
        keys, target, names = self._list(session_id, thread)
        stored = self._prepared(session_id, messages)
        encoded = []
        for message in stored:
            payload, digest = encode_message(message, session_id=session_id)
            encoded.append((message.id or "", digest, message.tokens, message.pinned, payload))
        op = new_message_id()

        async def call(layout: list[str], companions: str) -> int:
            return await scripts.rewrite(
                self._requests,
                [*layout, keys.ops],
                session_id=session_id,
                now=format_time(self._clock()),
                owner=self._owner,
                companions=companions,
                register=names.companion,
                target=layout.index(target),
                pin_field=names.pinned,
                op=op,
                messages=encoded,
            )

        await self._with_companions(session_id, keys, call, register=names.companion)
        return stored

    async def delete_messages(self, session_id: str, message_ids: Iterable[str], *, thread: str | None = None) -> int:
        """Remove the stored messages with these ids from a session (or a thread); return how many were removed.

        Atomic and exactly once (a retried call reports the first attempt's
        count). The counters are kept; the ids are released.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        keys, target, names = self._list(session_id, thread)
        if isinstance(message_ids, str) or not isinstance(message_ids, Iterable):
            raise InvalidInputError("message_ids must be an iterable of ids", session_id=session_id)
        wanted = sorted({_validate.identifier(m, kind="message id", session_id=session_id) for m in message_ids})
        if not wanted:
            await self._must_exist(session_id, keys.meta)
            return 0
        op = new_message_id()

        async def call(layout: list[str], companions: str) -> int:
            if target not in layout:
                await self._must_exist(session_id, keys.meta)
                return 0
            return await scripts.remove(
                self._requests,
                [*layout, keys.ops],
                session_id=session_id,
                now=format_time(self._clock()),
                owner=self._owner,
                companions=companions,
                target=layout.index(target),
                pin_field=names.pinned,
                op=op,
                message_ids=wanted,
            )

        return await self._with_companions(session_id, keys, call)

    async def archive_messages(self, session_id: str, count: int, *, thread: str | None = None) -> int:
        """Move the oldest ``count`` unpinned messages to the session's archive; return how many moved.

        Archived messages stay readable (:meth:`get_archived_messages`,
        :meth:`get_messages` with ``include_archived``) but leave every
        window. Tool results right after the moved messages whose calls
        moved go with them, so the list never opens with an orphaned
        result (so more than ``count`` may move). Atomic and exactly once.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        keys, target, names = self._list(session_id, thread)
        wanted = _validate.non_negative(count, "count", session_id=session_id)
        archive = self.schema.companion(session_id, names.archive)
        op = new_message_id()

        async def call(layout: list[str], companions: str) -> int:
            return await scripts.archive(
                self._requests,
                [*layout, keys.ops],
                session_id=session_id,
                now=format_time(self._clock()),
                owner=self._owner,
                companions=companions,
                register=names.archive,
                target=layout.index(target),
                archive=layout.index(archive),
                count=wanted,
                op=op,
            )

        return await self._with_companions(session_id, keys, call, register=names.archive)

    async def get_archived_messages(self, session_id: str, *, thread: str | None = None) -> list[Message]:
        """Return the messages summaries or :meth:`archive_messages` moved to the archive, oldest first.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        keys = self.schema.keys(session_id)
        archive = self.schema.companion(session_id, list_names(thread, session_id=session_id).archive)

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.exists([keys.meta]).lrange(archive, 0, -1)

        found, archived = await self._read(session_id, keys.meta, fill)
        if not found:
            raise SessionNotFoundError(session_id)
        return [decode_message(raw, key=archive, index=n, session_id=session_id) for n, raw in enumerate(archived)]

    async def replace_message(self, session_id: str, message: Message, *, thread: str | None = None) -> bool:
        """Put a new version of a stored message in its place, found by ``message.id`` (an edit, a redaction).

        The counters are not changed, and a later append of the new version
        under the same id is a no-op.

        Returns:
            ``True`` if a stored message had the id, ``False`` if none had
            (it may have been trimmed by the window).

        Raises:
            SessionNotFoundError: the session does not exist.
            InvalidInputError: ``message`` is not a Message with an id.
        """
        keys, target, names = self._list(session_id, thread)
        if not isinstance(message, Message) or message.id is None:
            raise InvalidInputError("replace_message needs a Message with an id", session_id=session_id)
        payload, digest = encode_message(_stamped(message, self._clock(), session_id), session_id=session_id)

        async def call(layout: list[str], companions: str) -> int | None:
            if target not in layout:
                await self._must_exist(session_id, keys.meta)
                return None
            return await scripts.replace(
                self._requests,
                layout,
                session_id=session_id,
                now=format_time(self._clock()),
                owner=self._owner,
                companions=companions,
                target=layout.index(target),
                message_id=message.id or "",
                digest=digest,
                payload=payload,
                pin_field=names.pinned,
            )

        return await self._with_companions(session_id, keys, call) is not None

    async def read_range(
        self, session_id: str, start: int, stop: int, *, thread: str | None = None
    ) -> list[tuple[int, bytes]]:
        """Return ``(index, raw stored entry)`` of positions ``start..stop`` (absolute, inclusive), in one trip.

        For code that decodes entries itself (an integration's own fast path).

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        keys = self.schema.keys(session_id)
        target, _ = self._target(session_id, keys, thread)
        first = _validate.non_negative(start, "start", session_id=session_id)
        last = _validate.index(stop, session_id=session_id)

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.exists([keys.meta]).lrange(target, first, last)

        found, items = await self._read(session_id, keys.meta, fill)
        if not found:
            raise SessionNotFoundError(session_id)
        return [(first + offset, raw) for offset, raw in enumerate(items)]


def _stamped(message: Message, now: float, session_id: str) -> Message:
    """Return ``message`` with a role checked, and a timestamp and id filled in if missing."""
    return build_message(
        coerce_role(message.role, session_id=session_id),
        message.content,
        message.tokens,
        now if message.timestamp is None else message.timestamp,
        new_message_id() if message.id is None else message.id,
        message.name,
        message.tool_calls,
        message.tool_call_id,
        message.metadata,
        message.pinned,
    )
