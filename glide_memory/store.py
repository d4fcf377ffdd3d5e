"""SessionStore: sessions, their messages, metadata, TTLs and the user index."""

from __future__ import annotations

import asyncio
import math
import os
import re
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from glide import (
    Batch,
    ClosingError,
    ClusterBatch,
    ClusterScanCursor,
    GlideClient,
    GlideClusterClient,
    GlideError,
    ObjectType,
)
from glide import ConnectionError as GlideConnectionError
from glide import TimeoutError as GlideTimeoutError

from glide_memory import _lua
from glide_memory.codec import (
    check_fields,
    coerce_role,
    decode_message,
    decode_session_info,
    encode_message,
    format_time,
)
from glide_memory.connection import DEFAULT_REQUEST_TIMEOUT_MS, create_client
from glide_memory.embedded import EmbeddedServer
from glide_memory.errors import (
    CorruptedEntryError,
    InvalidFieldError,
    InvalidInputError,
    ServerError,
    ServerTimeoutError,
    ServerUnavailableError,
    SessionExistsError,
    SessionNotFoundError,
    StoreClosedError,
)
from glide_memory.keys import KeySchema, new_session_id
from glide_memory.models import Content, Message, Role, SessionInfo

if TYPE_CHECKING:
    from glide_memory.history import ChatHistory

T = TypeVar("T")
TTL = int | float | timedelta

DEFAULT_MAX_IN_FLIGHT = 256
"""Requests one store keeps in flight at most; glide refuses past 1,000."""

_CORRUPT = re.compile(_lua.CORRUPT_TAG + r"\t(.*)\t(.*)")


def _server_error(exc: GlideError, session_id: str | None) -> Exception:
    where = f" (session {session_id!r})" if session_id else ""
    if isinstance(exc, GlideTimeoutError):
        return ServerTimeoutError(f"request timed out{where}: {exc}", session_id=session_id)
    if isinstance(exc, GlideConnectionError | ClosingError):
        return ServerUnavailableError(f"server unavailable{where}: {exc}", session_id=session_id)
    found = _CORRUPT.search(str(exc))
    if found:
        return CorruptedEntryError(found[2], key=found[1], session_id=session_id)
    return ServerError(f"request failed{where}: {exc}", session_id=session_id)


def _ttl_seconds(ttl: TTL | None) -> int | None:
    if ttl is None:
        return None
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else ttl
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise InvalidInputError(f"ttl must be a positive number of seconds or a timedelta, not {ttl!r}")
    if not math.isfinite(seconds):
        raise InvalidInputError("ttl must be finite")
    return math.ceil(seconds)


def _positive(value: object, what: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 1:
        raise InvalidInputError(f"{what} must be a positive int, not {value!r}")
    return value


def _optional_str(value: object, what: str, session_id: str | None) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidFieldError(f"{what} must be a str, not {type(value).__name__}", session_id=session_id)
    return value


class SessionStore:
    """Chat sessions on Valkey: messages, metadata, TTLs and a per-user index.

    Args:
        client: A connected glide client; the store does not close it.
        schema: Key names; hash-tagged by default on cluster clients.
        ttl: Default TTL of new sessions (seconds or timedelta); ``None``
            keeps sessions until deleted.
        max_messages: Default sliding window: keep only the newest N
            messages of a session; ``None`` keeps them all.
        max_in_flight: Requests this store sends concurrently at most;
            further callers wait their turn.
        clock: Returns Unix seconds; replaceable in tests.
    """

    def __init__(
        self,
        client: GlideClient | GlideClusterClient,
        *,
        schema: KeySchema | None = None,
        ttl: TTL | None = None,
        max_messages: int | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._cluster = isinstance(client, GlideClusterClient)
        self.schema = schema if schema is not None else KeySchema(hash_tags=self._cluster)
        self.default_ttl = _ttl_seconds(ttl)
        self.max_messages = _positive(max_messages, "max_messages")
        limit = _positive(max_in_flight, "max_in_flight")
        self._slots = asyncio.Semaphore(limit or DEFAULT_MAX_IN_FLIGHT)
        self._clock = clock
        self._owns_client = False
        self._server: EmbeddedServer | None = None
        self._closed = False

    @classmethod
    async def connect(
        cls,
        url: str | None = None,
        *,
        cluster: bool | None = None,
        request_timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS,
        schema: KeySchema | None = None,
        ttl: TTL | None = None,
        max_messages: int | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> SessionStore:
        """Connect to ``url`` (or ``$VALKEY_URL``, or an embedded server) and return a store.

        The store owns what this creates: ``close()`` closes the client and
        stops the embedded server.

        Args:
            url: A ``valkey://`` URL; ``None`` reads ``VALKEY_URL`` and, if
                that is unset too, starts an :class:`EmbeddedServer`.
            cluster: Connect a cluster client; ``None`` follows the URL.
            request_timeout_ms: How long one request may take.
            schema: As for :class:`SessionStore`.
            ttl: As for :class:`SessionStore`.
            max_messages: As for :class:`SessionStore`.
            max_in_flight: As for :class:`SessionStore`.

        Raises:
            ServerUnavailableError: the server cannot be reached.
            EmbeddedServerError: the embedded server cannot start.
        """
        url = url or os.environ.get("VALKEY_URL") or None
        server = None
        if url is None:
            server = EmbeddedServer()
            await asyncio.to_thread(server.start)
            url = server.url
        try:
            client = await create_client(url, cluster=cluster, request_timeout_ms=request_timeout_ms)
            store = cls(client, schema=schema, ttl=ttl, max_messages=max_messages, max_in_flight=max_in_flight)
        except BaseException:
            if server is not None:
                await asyncio.to_thread(server.stop)
            raise
        store._owns_client = True
        store._server = server
        return store

    @property
    def client(self) -> GlideClient | GlideClusterClient:
        """The glide client the store talks through."""
        return self._client

    @property
    def embedded_server(self) -> EmbeddedServer | None:
        """The embedded server :meth:`connect` started for this store, if any."""
        return self._server

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    async def close(self) -> None:
        """Close the store, and the client and server it created; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.close()
        if self._server is not None:
            await asyncio.to_thread(self._server.stop)

    async def __aenter__(self) -> SessionStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __del__(self) -> None:
        if getattr(self, "_owns_client", False) and not getattr(self, "_closed", True):
            warnings.warn(f"unclosed {self!r}; use 'async with' or await close()", ResourceWarning, stacklevel=1)
            if self._server is not None:
                self._server.stop()

    # -- plumbing ---------------------------------------------------------

    async def _run(self, session_id: str | None, call: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        if self._closed:
            raise StoreClosedError("the store is closed", session_id=session_id)
        async with self._slots:
            try:
                return await call(*args, **kwargs)
            except GlideError as exc:
                raise _server_error(exc, session_id) from exc

    async def _script(
        self, session_id: str | None, script: Any, keys: Sequence[str], args: Sequence[str | bytes]
    ) -> Any:
        return await self._run(session_id, self._client.invoke_script, script, keys=keys, args=args)

    async def _pipeline(self, session_id: str | None, fill: Callable[[Batch | ClusterBatch], object]) -> list[Any]:
        """Send the commands ``fill`` adds to a non-atomic batch in one round trip."""
        client = self._client
        if isinstance(client, GlideClusterClient):
            cluster_batch = ClusterBatch(is_atomic=False)
            fill(cluster_batch)
            result = await self._run(session_id, client.exec, cluster_batch, raise_on_error=True)
        else:
            batch = Batch(is_atomic=False)
            fill(batch)
            result = await self._run(session_id, client.exec, batch, raise_on_error=True)
        return list(result or [])

    def _window(self, max_messages: int | None) -> int:
        return _positive(max_messages, "max_messages") or self.max_messages or 0

    # -- sessions ---------------------------------------------------------

    async def create_session(
        self,
        user_id: str | None,
        *,
        session_id: str | None = None,
        model: str | None = None,
        title: str | None = None,
        ttl: TTL | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> SessionInfo:
        """Create a session owned by ``user_id`` and index it under the user.

        Args:
            user_id: The owner; ``None`` creates a session nobody owns, kept
                out of every user index.
            session_id: The id to use; a random 128-bit id if ``None``.
            model: The model name to record.
            title: A title to record.
            ttl: Seconds (or a timedelta) of inactivity after which the
                session expires; the store's default if ``None``.
            metadata: Extra string fields stored in the meta HASH.

        Returns:
            The new session's :class:`SessionInfo`.

        Raises:
            SessionExistsError: ``session_id`` is taken.
            InvalidIdError, InvalidFieldError, InvalidInputError: bad arguments.
        """
        sid = new_session_id() if session_id is None else session_id
        chat, meta = self.schema.session_keys(sid)
        index = None if user_id is None else self.schema.user_sessions(user_id)
        ttl_s = _ttl_seconds(ttl) or self.default_ttl
        extra = dict(metadata or {})
        check_fields(extra, session_id=sid)
        now = format_time(self._clock())
        record = {"created_at": now, "last_active": now, "message_count": "0", "token_count": "0"}
        if user_id is not None:
            record["user_id"] = user_id
        if _optional_str(model, "model", sid) is not None:
            record["model"] = model  # type: ignore[assignment]
        if _optional_str(title, "title", sid) is not None:
            record["title"] = title  # type: ignore[assignment]
        if ttl_s:
            record["ttl"] = str(ttl_s)
        record.update(extra)
        args: list[str | bytes] = [str(ttl_s or 0), sid]
        for name, value in record.items():
            args += (name, value)
        # On a cluster the index lives in another slot: it is added after the
        # session exists, so the index never names a session that failed.
        keys = [meta, chat] if self._cluster or index is None else [meta, chat, index]
        if not await self._script(sid, _lua.CREATE, keys, args):
            raise SessionExistsError(sid)
        if self._cluster and index is not None:
            try:
                await self._run(sid, self._client.sadd, index, [sid])
            except BaseException:
                await self._script(sid, _lua.DELETE, [chat, meta], [])
                raise
        return SessionInfo(
            session_id=sid,
            user_id=user_id,
            model=model,
            title=title,
            created_at=float(now),
            last_active=float(now),
            expires_in_seconds=float(ttl_s) if ttl_s else None,
            ttl=ttl_s,
            metadata=extra,
        )

    async def get_session_info(self, session_id: str) -> SessionInfo:
        """Return a session's metadata, stored message count and time left.

        Raises:
            SessionNotFoundError: the session does not exist.
            CorruptedEntryError: a counter or timestamp does not parse.
        """
        chat, meta = self.schema.session_keys(session_id)

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.hgetall(meta).llen(chat).pttl(meta)

        raw, stored, pttl = await self._pipeline(session_id, fill)
        if not raw:
            raise SessionNotFoundError(session_id)
        return decode_session_info(session_id, raw, messages_stored=stored, pttl_ms=pttl, key=meta)

    async def exists(self, session_id: str) -> bool:
        """Return whether the session exists."""
        _, meta = self.schema.session_keys(session_id)
        return bool(await self._run(session_id, self._client.exists, [meta]))

    async def update_session(self, session_id: str, **fields: str | None) -> None:
        """Set (or, with ``None``, remove) ``model``, ``title`` or caller fields.

        Raises:
            SessionNotFoundError: the session does not exist.
            InvalidFieldError: a field is reserved or its value not a string.
        """
        _, meta = self.schema.session_keys(session_id)
        caller = {name: value for name, value in fields.items() if name not in ("model", "title")}
        check_fields(caller, session_id=session_id, allow_none=True)
        for name in ("model", "title"):
            _optional_str(fields.get(name), name, session_id)
        to_set = [(name, value) for name, value in fields.items() if value is not None]
        to_delete = [name for name, value in fields.items() if value is None]
        args: list[str | bytes] = [str(len(to_set))]
        for name, value in to_set:
            args += (name, value)
        args += to_delete
        if not await self._script(session_id, _lua.UPDATE, [meta], args):
            raise SessionNotFoundError(session_id)

    async def touch(self, session_id: str, ttl: TTL | None = None) -> None:
        """Mark the session active now and refresh its TTL.

        Args:
            session_id: The session.
            ttl: A new TTL, kept for later refreshes; ``None`` keeps the
                session's own.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        chat, meta = self.schema.session_keys(session_id)
        ttl_s = _ttl_seconds(ttl) or 0
        now = format_time(self._clock())
        if not await self._script(session_id, _lua.TOUCH, [chat, meta], [now, str(ttl_s)]):
            raise SessionNotFoundError(session_id)

    async def delete_session(self, session_id: str) -> bool:
        """Delete a session's messages, metadata and index entry, and its Strands adapter keys.

        Returns:
            ``True`` if anything was deleted, ``False`` if the session was
            already gone.
        """
        chat, meta = self.schema.session_keys(session_id)
        keys, args = [chat, meta], []
        if "{" not in session_id and "}" not in session_id:
            # the Strands adapter's keys of this session go too (their names need a brace-free id)
            strands = self.schema.strands(session_id)
            keys += (strands.agents, strands.multi_agents)
            args.append(strands.messages_prefix)
        deleted, owner = await self._script(session_id, _lua.DELETE, keys, args)
        if owner:
            user_id = owner.decode("utf-8", "replace")
            try:
                index = self.schema.user_sessions(user_id)
            except InvalidInputError:
                return bool(deleted)  # the owner was written by other code; nothing of ours indexes it
            await self._run(session_id, self._client.srem, index, [session_id])
        return bool(deleted)

    async def list_user_sessions(self, user_id: str) -> list[SessionInfo]:
        """Return a user's sessions, most recently active first.

        Reads the ``user_sessions:<uid>`` index and every session's metadata
        in one pipelined round trip; ids of sessions that expired (or now
        belong to someone else) are removed from the index.
        """
        index = self.schema.user_sessions(user_id)
        members = await self._run(None, self._client.smembers, index)
        found: list[tuple[str, str, str]] = []
        for member in sorted(members):
            sid = member.decode("utf-8", "replace")
            try:
                found.append((sid, *self.schema.session_keys(sid)))
            except InvalidInputError:
                continue  # not an id this toolkit could have written; leave it alone
        if not found:
            return []

        def fill(batch: Batch | ClusterBatch) -> None:
            for _, chat, meta in found:
                batch.hgetall(meta).llen(chat).pttl(meta)

        replies = await self._pipeline(None, fill)
        sessions: list[SessionInfo] = []
        stale: list[tuple[str, str]] = []
        for position, (sid, _, meta) in enumerate(found):
            raw, stored, pttl = replies[3 * position : 3 * position + 3]
            info = decode_session_info(sid, raw, messages_stored=stored, pttl_ms=pttl, key=meta) if raw else None
            if info is None or info.user_id != user_id:
                stale.append((sid, meta))
            else:
                sessions.append(info)
        if stale:
            await self._prune(index, user_id, stale)
        sessions.sort(key=lambda info: (-info.last_active, info.session_id))
        return sessions

    async def _prune(self, index: str, user_id: str, stale: list[tuple[str, str]]) -> None:
        ids = [sid for sid, _ in stale]
        if self._cluster:
            await self._run(None, self._client.srem, index, ids)
        else:
            await self._script(None, _lua.PRUNE, [index, *(meta for _, meta in stale)], [user_id, *ids])

    async def reindex_user_sessions(self, *, count: int = 1000) -> int:
        """Rebuild the user index from every meta HASH in the keyspace.

        For data written without the index (the cookbook's raw commands).
        This is the package's only keyspace SCAN: run it as maintenance,
        never on a request path.

        Returns:
            The number of sessions found and indexed.
        """
        pattern = self.schema.meta_scan_pattern()
        indexed = 0
        client = self._client
        if isinstance(client, GlideClusterClient):
            cursor = ClusterScanCursor()  # type: ignore[no-untyped-call]  # glide's cursor is untyped
            while not cursor.is_finished():
                reply = await self._run(None, client.scan, cursor, match=pattern, count=count, type=ObjectType.HASH)
                cursor = cast(ClusterScanCursor, reply[0])
                indexed += await self._index_metas(cast(list[bytes], reply[1]))
        else:
            position: bytes | str = "0"
            while True:
                page: list[Any] = await self._run(
                    None, client.scan, position, match=pattern, count=count, type=ObjectType.HASH
                )
                position = page[0]
                indexed += await self._index_metas(page[1])
                if position in (b"0", "0"):
                    break
        return indexed

    async def _index_metas(self, keys: Sequence[bytes]) -> int:
        found = [
            (sid, key) for key in keys if (sid := self.schema.session_id_from_meta(key.decode("utf-8", "replace")))
        ]
        if not found:
            return 0

        def read(batch: Batch | ClusterBatch) -> None:
            for _, key in found:
                batch.hget(key, "user_id")

        owners = await self._pipeline(None, read)
        by_user: dict[str, list[str]] = {}
        for (sid, _), owner in zip(found, owners, strict=True):
            if owner:
                by_user.setdefault(owner.decode("utf-8", "replace"), []).append(sid)
        valid = {}
        for user_id, ids in by_user.items():
            try:
                valid[self.schema.user_sessions(user_id)] = ids
            except InvalidInputError:
                continue
        if not valid:
            return 0

        def write(batch: Batch | ClusterBatch) -> None:
            for index, ids in valid.items():
                batch.sadd(index, list(ids))

        await self._pipeline(None, write)
        return sum(len(ids) for ids in valid.values())

    # -- messages ---------------------------------------------------------

    async def add_message(
        self,
        session_id: str,
        role: Role | str,
        content: Content,
        tokens_used: int = 0,
        *,
        max_messages: int | None = None,
        name: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        tool_call_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        message_id: str | None = None,
    ) -> Message:
        """Append a message and account its tokens, in one atomic round trip.

        The append, ``message_count``/``token_count`` increments,
        ``last_active``, the sliding-window trim and the TTL refresh happen
        together or not at all.

        Args:
            session_id: The session.
            role: ``system``, ``user``, ``assistant`` or ``tool``.
            content: Text or a list of content blocks.
            tokens_used: Tokens to account for this message.
            max_messages: Keep only the newest N messages; the store's
                default if ``None``.
            name: An author name.
            tool_calls: Tool calls requested by an assistant message.
            tool_call_id: The call a tool message answers.
            metadata: Free-form JSON data kept with the message.
            message_id: A caller-chosen message id.

        Returns:
            The stored :class:`Message`.

        Raises:
            SessionNotFoundError: the session does not exist or expired.
            InvalidRoleError, InvalidTokensError, InvalidContentError: bad input;
                nothing was written.
        """
        message = Message(
            role=coerce_role(role, session_id=session_id),
            content=content,
            tokens=tokens_used,
            timestamp=self._clock(),
            id=message_id,
            name=name,
            tool_calls=tool_calls,
            tool_call_id=tool_call_id,
            metadata=metadata,
        )
        await self._append(session_id, [message], max_messages)
        return message

    async def add_messages(
        self, session_id: str, messages: Iterable[Message], *, max_messages: int | None = None
    ) -> list[Message]:
        """Append several messages in one atomic round trip.

        Messages without a timestamp get the current time.

        Returns:
            The stored messages.
        """
        now = self._clock()
        stored = [m if m.timestamp is not None else _with_timestamp(m, now) for m in messages]
        await self._append(session_id, stored, max_messages)
        return stored

    async def _append(self, session_id: str, messages: list[Message], max_messages: int | None) -> int:
        chat, meta = self.schema.session_keys(session_id)
        window = self._window(max_messages)
        payloads = [encode_message(m, session_id=session_id) for m in messages]
        tokens = sum(m.tokens for m in messages)
        args: list[str | bytes] = [format_time(self._clock()), str(tokens), str(window), *payloads]
        length: int = await self._script(session_id, _lua.APPEND, [chat, meta], args)
        if length < 0:
            raise SessionNotFoundError(session_id)
        return length

    async def get_messages(self, session_id: str, *, last: int | None = None) -> list[Message]:
        """Return a session's messages, oldest first (the newest ``last`` if given).

        Raises:
            SessionNotFoundError: the session does not exist.
            CorruptedEntryError: a stored entry does not decode; it names the
                index, and :meth:`get_message` still reads the others.
        """
        chat, meta = self.schema.session_keys(session_id)
        if last is not None and (type(last) is not int or last < 0):
            raise InvalidInputError(f"last must be a non-negative int, not {last!r}", session_id=session_id)
        args = [str(-last) if last else "0", "0" if last == 0 else "1"]
        reply = await self._script(session_id, _lua.READ, [chat, meta], args)
        if reply is None:
            raise SessionNotFoundError(session_id)
        length, items = reply
        first = length - len(items)
        return [
            decode_message(raw, key=chat, index=first + offset, session_id=session_id)
            for offset, raw in enumerate(items)
        ]

    async def get_message(self, session_id: str, index: int) -> Message | None:
        """Return the message at ``index`` (negative counts from the end), or ``None``.

        Raises:
            SessionNotFoundError: the session does not exist.
            CorruptedEntryError: that entry does not decode.
        """
        chat, meta = self.schema.session_keys(session_id)
        if type(index) is not int:
            raise InvalidInputError(f"index must be an int, not {index!r}", session_id=session_id)
        reply = await self._script(session_id, _lua.READ_ONE, [chat, meta], [str(index)])
        if reply is None:
            raise SessionNotFoundError(session_id)
        length, raw = reply
        if raw is None:
            return None
        return decode_message(raw, key=chat, index=index % length, session_id=session_id)

    async def get_window(self, session_id: str, *, max_tokens: int, last: int | None = None) -> list[Message]:
        """Return the newest messages whose tokens fit ``max_tokens``, oldest first.

        The walk stops at the first message that would overflow the budget,
        so the result is always a contiguous tail of the conversation. It
        runs on the server in one atomic round trip.

        Args:
            session_id: The session.
            max_tokens: The token budget.
            last: Return at most this many messages.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        chat, meta = self.schema.session_keys(session_id)
        if type(max_tokens) is not int or max_tokens < 0:
            raise InvalidInputError(f"max_tokens must be a non-negative int, not {max_tokens!r}", session_id=session_id)
        limit = _positive(last, "last") or 0
        reply = await self._script(session_id, _lua.WINDOW, [chat, meta], [str(max_tokens), str(limit)])
        if reply is None:
            raise SessionNotFoundError(session_id)
        first, items = reply
        return [
            decode_message(raw, key=chat, index=first + offset, session_id=session_id)
            for offset, raw in enumerate(items)
        ]

    async def count_messages(self, session_id: str) -> int:
        """Return how many messages the session stores now."""
        chat, meta = self.schema.session_keys(session_id)
        reply = await self._script(session_id, _lua.READ, [chat, meta], ["0", "0"])
        if reply is None:
            raise SessionNotFoundError(session_id)
        return int(reply[0])

    async def clear_messages(self, session_id: str) -> int:
        """Remove a session's messages, keeping the session and its counters.

        Returns:
            The number of messages removed.
        """
        chat, meta = self.schema.session_keys(session_id)
        removed: int = await self._script(session_id, _lua.CLEAR, [chat, meta], [])
        if removed < 0:
            raise SessionNotFoundError(session_id)
        return removed

    def history(self, session_id: str) -> ChatHistory:
        """Return one session's messages as a :class:`ChatHistory`."""
        from glide_memory.history import ChatHistory

        return ChatHistory(self, session_id)

    async def _read_range(self, session_id: str, start: int, stop: int) -> list[tuple[int, bytes]]:
        """Return ``(index, raw)`` of entries ``start..stop`` (absolute, inclusive)."""
        chat, meta = self.schema.session_keys(session_id)

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.exists([meta]).lrange(chat, start, stop)

        found, items = await self._pipeline(session_id, fill)
        if not found:
            raise SessionNotFoundError(session_id)
        return [(start + offset, raw) for offset, raw in enumerate(items)]


def _with_timestamp(message: Message, now: float) -> Message:
    return replace(message, timestamp=now)
