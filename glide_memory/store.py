"""SessionStore: sessions, their messages, metadata and TTLs, exactly once under faults."""

from __future__ import annotations

import asyncio
import copy
import heapq
import logging
import os
import time
import warnings
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Unpack

from glide import Batch, ClusterBatch, GlideClient, GlideClusterClient

from glide_memory import _validate, context, scripts, transfer
from glide_memory._requests import DEFAULT_MAX_IN_FLIGHT, Requests, RetryPolicy
from glide_memory._validate import TTL, UNSET, Unset
from glide_memory.codec import (
    RESERVED_FIELDS,
    build_message,
    coerce_role,
    decode_message,
    decode_session_info,
    encode_message,
    format_time,
)
from glide_memory.connection import ConnectOptions, create_client
from glide_memory.context import Format
from glide_memory.embedded import EmbeddedServer
from glide_memory.errors import (
    GlideMemoryError,
    InvalidIdError,
    InvalidInputError,
    InvalidTokensError,
    PermissionDeniedError,
    ServerError,
    SessionExistsError,
    SessionNotFoundError,
)
from glide_memory.index import Reindexed, UserIndex, UserSessions
from glide_memory.keys import (
    KeySchema,
    ListNames,
    SessionKeys,
    list_names,
    new_message_id,
    new_session_id,
    record_kind,
    thread_companion,
    thread_of,
)
from glide_memory.models import Content, Message, Role, SessionInfo

if TYPE_CHECKING:
    from glide_memory.history import ChatHistory

__all__ = ["DEFAULT_TTL", "SessionStore"]

T = TypeVar("T")

DEFAULT_TTL = timedelta(hours=24)
"""Sessions expire after 24 hours without activity unless told otherwise, as in the cookbook."""

_DELETE_ROUNDS = 20  # delete_user rounds: sessions created meanwhile are caught by the next
_INDEX_EXTEND_DEADLINE = 1.0  # seconds an append waits for its index's TTL refresh, which is best-effort
_COMPANION_CACHE = 4096  # sessions whose companion keys a store remembers between calls
_log = logging.getLogger("glide_memory")


class SessionStore:
    """Chat sessions on Valkey: messages, metadata, TTLs and a per-user index.

    Every write is idempotent and every call retries transient failures by
    itself (see :class:`RetryPolicy`), so a call that returns succeeded
    exactly once, and an error means the deadline was spent or retrying
    cannot help (``error.retryable`` tells which).

    Args:
        client: A connected glide client; the store never closes it.
        schema: Key names; hash tags are on for cluster clients.
        ttl: TTL of new sessions, refreshed by activity (seconds or a
            timedelta); 24 hours by default; ``None`` keeps sessions until
            deleted.
        max_messages: Default sliding window: keep only the newest N
            unpinned messages of a list; ``None`` keeps them all.
        max_in_flight: Requests this store sends concurrently at most;
            further callers wait their turn.
        retry: How transient failures are retried; ``RetryPolicy.disabled()``
            turns retrying off.
        token_counter: Counts a message's tokens when the caller gives none
            (``tokens_used`` left out, or 0 in ``add_messages``); without one
            such messages count 0 tokens, so token windows take them for free.
        pin_system: Pin system messages when they are stored, so every
            window keeps them.
        clock: Returns Unix seconds; replaceable in tests.

    Raises:
        ConfigurationError: the schema turns hash tags off for a cluster client.
    """

    def __init__(
        self,
        client: GlideClient | GlideClusterClient,
        *,
        schema: KeySchema | None = None,
        ttl: TTL | None = DEFAULT_TTL,
        max_messages: int | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        retry: RetryPolicy | None = None,
        token_counter: Callable[[Message], int] | None = None,
        pin_system: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(client, GlideClient | GlideClusterClient):
            raise InvalidInputError(f"client must be a glide GlideClient or GlideClusterClient, not {client!r}")
        self._client = client
        self._cluster = isinstance(client, GlideClusterClient)
        self.schema = (schema if schema is not None else KeySchema()).for_client(self._cluster)
        self.default_ttl = _validate.ttl(ttl)
        self.max_messages = _validate.optional_positive(max_messages, "max_messages")
        limit = _validate.positive(max_in_flight, "max_in_flight", limit=1000)
        self._requests = Requests(client, max_in_flight=limit, retry=retry if retry is not None else RetryPolicy())
        self._index = UserIndex(self._requests, self.schema)
        if token_counter is not None and not callable(token_counter):
            raise InvalidInputError(f"token_counter must be callable, not {token_counter!r}")
        self.token_counter = token_counter
        self.pin_system = bool(pin_system)
        self._clock = clock
        self._owns_client = False
        self._server: EmbeddedServer | None = None
        self._companions: OrderedDict[str, str] = OrderedDict()
        self._owner: str | None = None
        self._parent: SessionStore | None = None

    @classmethod
    async def connect(
        cls,
        url: str | None = None,
        *,
        schema: KeySchema | None = None,
        ttl: TTL | None = DEFAULT_TTL,
        max_messages: int | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        retry: RetryPolicy | None = None,
        **options: Unpack[ConnectOptions],
    ) -> SessionStore:
        """Connect to ``url`` (or ``$VALKEY_URL``, or an embedded server) and return a store.

        The store owns what this creates: ``close()`` closes the client and
        stops the embedded server. With neither a URL nor ``VALKEY_URL`` (nor
        a glide ``configuration``) an embedded server starts, and a WARNING
        says its data is ephemeral.

        Args:
            url: A ``valkey://`` URL, seeds, TLS and options included (see
                :mod:`glide_memory.connection`); ``None`` reads ``VALKEY_URL``
                and, if that is unset too, starts an :class:`EmbeddedServer`.
            schema: As for :class:`SessionStore`.
            ttl: As for :class:`SessionStore`.
            max_messages: As for :class:`SessionStore`.
            max_in_flight: As for :class:`SessionStore`.
            retry: As for :class:`SessionStore`; its deadline also bounds connecting.
            **options: How to connect: cluster, timeouts, TLS (CA, client
                certificate), read_from replicas, IAM, a full glide
                configuration (see :class:`~glide_memory.connection.ConnectOptions`).

        Raises:
            ServerUnavailableError: the server stayed unreachable.
            PermissionDeniedError, TlsError, ConfigurationError: it can never work as given.
            EmbeddedServerError: the embedded server cannot start.
        """
        if options.get("configuration") is None:
            url = url or os.environ.get("VALKEY_URL") or None
        server = None
        if url is None and options.get("configuration") is None:
            server = EmbeddedServer()
            await asyncio.to_thread(server.start)
            url = server.url
            _log.warning(
                "no URL and no VALKEY_URL: started an embedded valkey-server at %s; its data is lost "
                "when this process exits. Set VALKEY_URL to keep data on a real server.",
                url,
            )
        policy = retry if retry is not None else RetryPolicy()
        options.setdefault("deadline", policy.deadline)
        try:
            client = await create_client(url, **options)
            try:
                store = cls(
                    client, schema=schema, ttl=ttl, max_messages=max_messages, max_in_flight=max_in_flight, retry=retry
                )
                await store._requests.ensure_library()
            except BaseException:
                await client.close()
                raise
        except BaseException:
            if server is not None:
                await asyncio.to_thread(server.stop)
            raise
        store._owns_client = True
        store._server = server
        return store

    @property
    def client(self) -> GlideClient | GlideClusterClient:
        """The glide client the store talks through (yours if you passed it in)."""
        return self._client

    @property
    def requests_sent(self) -> int:
        """Requests this store (and its views) sent so far: one per round trip, retries included.

        For tests and benchmarks that count round trips, e.g. that restoring
        an agent takes three.
        """
        return self._requests.sent

    @property
    def embedded_server(self) -> EmbeddedServer | None:
        """The embedded server :meth:`connect` started for this store, if any."""
        return self._server

    async def call(
        self, command: Callable[[GlideClient | GlideClusterClient], Awaitable[T]], *, session_id: str | None = None
    ) -> T:
        """Send your own glide command through the store's request path.

        It gets what every store call gets: the in-flight bound, retries of
        transient failures within the deadline (so it must be safe to
        repeat), the event-loop check and errors from the tree::

            ttl = await store.call(lambda client: client.ttl(key))

        Args:
            command: Makes one attempt with the store's client.
            session_id: The session concerned, carried by errors.
        """
        client = self._client
        return await self._requests.run(lambda: command(client), session_id=session_id)

    async def pipeline(
        self,
        fill: Callable[[Batch | ClusterBatch], object],
        *,
        atomic: bool = False,
        session_id: str | None = None,
    ) -> list[Any]:
        """Send the commands ``fill`` adds to a glide batch in one round trip, through the request path.

        Args:
            fill: Adds commands to the batch it is given.
            atomic: MULTI/EXEC (all keys in one slot on a cluster) instead
                of a plain pipeline.
            session_id: The session concerned, carried by errors.

        Returns:
            The replies, in order.
        """
        return await self._requests.pipeline(fill, session_id=session_id, atomic=atomic)

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every call."""
        return self._requests.retry

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._requests.closed

    def for_user(self, user_id: str) -> SessionStore:
        """Return a view of this store that acts for one user only.

        Every read and write of the view checks, in the same atomic round
        trip, that the session belongs to ``user_id`` and raises
        :class:`PermissionDeniedError` if it belongs to someone else; new
        sessions get ``user_id`` as owner. The view shares this store's
        client, limits and retries; closing this store closes its views.
        Scoped reads go to primaries.

        Raises:
            InvalidIdError: ``user_id`` is not a usable id.
        """
        view = copy.copy(self)
        view._owner = _validate.identifier(user_id, kind="user id")
        view._parent = self._parent or self
        view._owns_client = False
        view._server = None
        return view

    @property
    def user_id(self) -> str | None:
        """The user a :meth:`for_user` view acts for; ``None`` for the store itself."""
        return self._owner

    def _forbidden(self, session_id: str, owner: bytes | str | None) -> PermissionDeniedError:
        return PermissionDeniedError(
            f"session {session_id!r} belongs to another user than {self._owner!r}",
            session_id=session_id,
            user_id=self._owner,
        )

    async def _read(self, session_id: str, meta: str, fill: Callable[[Batch | ClusterBatch], object]) -> list[Any]:
        """Send read commands in one trip; on a user view, atomically after checking the owner."""
        if self._owner is None:
            return await self._requests.pipeline(fill, session_id=session_id)

        def checked(batch: Batch | ClusterBatch) -> None:
            batch.hget(meta, "user_id")
            fill(batch)

        owner, *replies = await self._requests.pipeline(
            checked, session_id=session_id, user_id=self._owner, atomic=True
        )
        if owner is not None and owner != self._owner.encode():
            raise self._forbidden(session_id, owner)
        return replies

    async def close(self) -> None:
        """Close the store, and the client and server it created; idempotent. A view's close does nothing."""
        if self._parent is not None:
            return
        if self._requests.closed:
            return
        self._requests.closed = True
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
        if getattr(self, "_owns_client", False) and not self._requests.closed:
            warnings.warn(f"unclosed {self!r}; use 'async with' or await close()", ResourceWarning, stacklevel=1)
            if self._server is not None:
                self._server.stop()

    # -- sessions ---------------------------------------------------------

    async def create_session(
        self,
        user_id: str | None,
        *,
        session_id: str | None = None,
        model: str | None = None,
        title: str | None = None,
        ttl: TTL | Unset | None = UNSET,
        metadata: Mapping[str, str] | None = None,
        exist_ok: bool = False,
    ) -> SessionInfo:
        """Create a session owned by ``user_id`` and index it under the user.

        Safe to retry: the store's own retries recognise a create that was
        applied but not acknowledged, and never create two sessions.

        Args:
            user_id: The owner; ``None`` creates a session nobody owns, kept
                out of every user index.
            session_id: The id to use; a random 128-bit id if ``None``.
            model: The model name to record.
            title: A title to record.
            ttl: Seconds (or a timedelta) of inactivity after which the
                session expires; ``None`` never; the store's default if left out.
            metadata: Extra string fields stored in the meta HASH.
            exist_ok: With an explicit ``session_id`` that exists and belongs
                to ``user_id``, return that session instead of raising.

        Returns:
            The session's :class:`SessionInfo`.

        Raises:
            SessionExistsError: ``session_id`` is taken (by another user, or
                ``exist_ok`` is false).
            InvalidIdError, InvalidFieldError, InvalidInputError: bad arguments.
        """
        sid = new_session_id() if session_id is None else session_id
        keys = self.schema.keys(sid)
        uid = None if user_id is None else _validate.identifier(user_id, kind="user id", session_id=sid)
        if self._owner is not None:
            if uid not in (None, self._owner):
                raise PermissionDeniedError(
                    f"a view for user {self._owner!r} cannot create sessions for {uid!r}", session_id=sid
                )
            uid = self._owner
        index = None if uid is None else self.schema.user_sessions(uid)
        ttl_s = self.default_ttl if isinstance(ttl, Unset) else _validate.ttl(ttl, session_id=sid)
        extra = _validate.fields(metadata, reserved=RESERVED_FIELDS, session_id=sid)
        model = _validate.optional_text(model, "model", session_id=sid)
        title = _validate.optional_text(title, "title", session_id=sid)
        if type(exist_ok) is not bool:
            raise InvalidInputError(f"exist_ok must be a bool, not {exist_ok!r}", session_id=sid)
        now = self._clock()
        stamp = format_time(now)
        record: dict[str, str] = {"created_at": stamp, "last_active": stamp, "message_count": "0", "token_count": "0"}
        if uid is not None:
            record["user_id"] = uid
        if model is not None:
            record["model"] = model
        if title is not None:
            record["title"] = title
        record["ttl"] = str(ttl_s or 0)
        if ttl_s:
            record["expires_at"] = f"{now + ttl_s:.3f}"
        record.update((name, value) for name, value in extra.items() if value is not None)
        created, owner, created_at = await scripts.create(
            self._requests,
            meta=keys.meta,
            index=None if self._cluster else index,
            session_id=sid,
            ttl=ttl_s or 0,
            fields=list(record.items()),
            user_id=uid,
        )
        info = SessionInfo(
            session_id=sid,
            user_id=uid,
            model=model,
            title=title,
            created_at=float(stamp),
            last_active=float(stamp),
            expires_in_seconds=float(ttl_s) if ttl_s else None,
            ttl=ttl_s,
            metadata={name: value for name, value in extra.items() if value is not None},
        )
        if not created:
            if created_at == stamp and owner == uid:
                pass  # our own earlier attempt was applied and its reply lost: that is success
            elif exist_ok and session_id is not None and owner == uid:
                return await self.get_session_info(sid)
            else:
                reason = "it belongs to another user" if owner != uid else ""
                raise SessionExistsError(sid, user_id=uid, reason=reason)
        if self._cluster and index is not None and uid is not None:
            # the index lives in another slot: added once the session exists, so it never names a failed one
            try:
                await scripts.index_add(self._requests, index=index, session_id=sid, ttl=ttl_s or 0, user_id=uid)
            except GlideMemoryError:
                await self._forget_unindexed(sid)
                raise
        return info

    async def _forget_unindexed(self, session_id: str) -> None:
        """Best-effort removal of a session whose index entry could not be written."""
        try:
            await self.delete_session(session_id)
        except GlideMemoryError as exc:
            _log.warning("session %s was created but not indexed, and could not be removed: %s", session_id, exc)

    async def get_session_info(self, session_id: str) -> SessionInfo:
        """Return a session's metadata, stored message count and time left.

        Raises:
            SessionNotFoundError: the session does not exist.
            CorruptedEntryError: a counter or timestamp does not parse.
        """
        keys = self.schema.keys(session_id)

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.hgetall(keys.meta).llen(keys.chat).pttl(keys.meta)

        raw, stored, pttl = await self._read(session_id, keys.meta, fill)
        if not raw:
            raise SessionNotFoundError(session_id)
        stored += await self._thread_lengths(session_id, raw.get(b"companions", b""))
        return decode_session_info(session_id, raw, messages_stored=stored, pttl_ms=pttl, key=keys.meta)

    async def _thread_lengths(self, session_id: str, companions: bytes) -> int:
        """Return how many messages a session's threads hold (0, with no trip, when it has none)."""
        threads = [name for name in companions.decode("utf-8", "replace").split(",") if thread_of(name) is not None]
        if not threads:
            return 0

        def fill(batch: Batch | ClusterBatch) -> None:
            for name in threads:
                batch.llen(self.schema.companion(session_id, name))

        return int(sum(await self._requests.pipeline(fill, session_id=session_id)))

    async def threads(self, session_id: str) -> list[str]:
        """Return the names of a session's threads (its conversations besides the main one), sorted.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        meta = self.schema.meta(session_id)

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.exists([meta]).hget(meta, "companions")

        found, companions = await self._read(session_id, meta, fill)
        if not found:
            raise SessionNotFoundError(session_id)
        names = (companions or b"").decode("utf-8", "replace").split(",")
        return sorted(thread for name in names if (thread := thread_of(name)) is not None)

    async def exists(self, session_id: str) -> bool:
        """Return whether the session exists."""
        meta = self.schema.meta(session_id)
        if self._owner is not None:
            return bool((await self._read(session_id, meta, lambda batch: batch.exists([meta])))[0])
        return bool(await self._requests.run(lambda: self._client.exists([meta]), session_id=session_id))

    async def update_session(self, session_id: str, **fields: str | None) -> None:
        """Set (or, with ``None``, remove) ``model``, ``title`` or caller fields.

        Raises:
            SessionNotFoundError: the session does not exist.
            InvalidFieldError: a field is reserved or its value not a storable string.
        """
        meta = self.schema.meta(session_id)
        for name in ("model", "title"):
            _validate.optional_text(fields.get(name), name, session_id=session_id)
        caller = {name: value for name, value in fields.items() if name not in ("model", "title")}
        _validate.fields(caller, reserved=RESERVED_FIELDS, session_id=session_id, allow_none=True)
        to_set = [(name, value) for name, value in fields.items() if value is not None]
        to_delete = [name for name, value in fields.items() if value is None]
        await scripts.update(
            self._requests, meta, session_id=session_id, owner=self._owner, to_set=to_set, to_delete=to_delete
        )

    async def touch(self, session_id: str, ttl: TTL | Unset | None = UNSET) -> None:
        """Mark the session active now and refresh the TTL of all of its keys, companions included.

        Args:
            session_id: The session.
            ttl: A new TTL, kept for later refreshes; ``None`` makes the
                session never expire; left out, the session keeps its own.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        keys = self.schema.keys(session_id)
        new_ttl = None if isinstance(ttl, Unset) else (_validate.ttl(ttl, session_id=session_id) or 0)

        async def call(layout: list[str], companions: str) -> tuple[int | None, str | None]:
            return await scripts.touch(
                self._requests,
                layout,
                session_id=session_id,
                now=format_time(self._clock()),
                ttl=new_ttl,
                owner=self._owner,
                companions=companions,
            )

        kept, owner = await self._with_companions(session_id, keys, call)
        if owner is not None:
            await self._index.extend(owner, kept or None)

    async def _with_companions(
        self,
        session_id: str,
        keys: SessionKeys,
        call: Callable[[list[str], str], Awaitable[T]],
        *,
        register: str = "",
    ) -> T:
        """Run a write with every key of the session declared, learning its companions if the cache is stale.

        ``register`` names a companion the write adds; it is declared too.
        """
        known = self._companions.get(session_id, "")
        if not known and not register:  # the common case: a session of the main conversation only
            try:
                return await call([keys.meta, keys.chat, keys.ids], "")
            except scripts.Stale as stale:
                known = stale.companions
        # each 'stale' reply means another writer added a companion meanwhile, so this always progresses
        for _ in range(64):
            names = sorted({*filter(None, known.split(",")), *([register] if register else [])})
            declared = ",".join(names)
            layout = [keys.meta, keys.chat, keys.ids, *(self.schema.companion(session_id, n) for n in names)]
            try:
                result = await call(layout, declared)
            except scripts.Stale as stale:
                known = stale.companions
                continue
            self._remember_companions(session_id, declared)
            return result
        raise ServerError(f"the companion keys of session {session_id!r} kept changing", session_id=session_id)

    def _remember_companions(self, session_id: str, companions: str) -> None:
        if companions:
            self._companions[session_id] = companions
            self._companions.move_to_end(session_id)
            while len(self._companions) > _COMPANION_CACHE:
                self._companions.popitem(last=False)
        else:
            self._companions.pop(session_id, None)

    def _target(self, session_id: str, keys: SessionKeys, thread: str | None) -> tuple[str, str]:
        """Return the list key of ``thread`` (the main conversation for ``None``) and its companion name."""
        if thread is None:
            return keys.chat, ""
        name = thread_companion(thread, session_id=session_id)
        return self.schema.companion(session_id, name), name

    def _list(self, session_id: str, thread: str | None) -> tuple[SessionKeys, str, ListNames]:
        """Return the session's keys, the key of one of its lists, and the names that go with that list."""
        keys = self.schema.keys(session_id)
        names = list_names(thread, session_id=session_id)
        target = keys.chat if thread is None else self.schema.companion(session_id, names.companion)
        return keys, target, names

    async def delete_session(self, session_id: str) -> bool:
        """Delete every key of a session (messages, metadata, threads, records) and its index entry.

        Never scans: the session's companion keys are listed in its meta HASH.

        Returns:
            ``True`` if anything was deleted, ``False`` if the session was
            already gone.
        """
        keys = self.schema.keys(session_id)
        client = self._client
        owner_raw, companions_raw = await self._requests.run(
            lambda: client.hmget(keys.meta, ["user_id", "companions"]), session_id=session_id
        )
        owner = owner_raw.decode("utf-8", "replace") if owner_raw else None
        index = self._index_key(owner)
        self._remember_companions(session_id, companions_raw.decode("utf-8", "replace") if companions_raw else "")

        async def call(layout: list[str], companions: str) -> tuple[int, str | None]:
            return await scripts.delete(
                self._requests,
                layout,
                session_id=session_id,
                companions=companions,
                owner=self._owner,
                index=None if self._cluster else index,
            )

        deleted, _ = await self._with_companions(session_id, keys, call)
        self._companions.pop(session_id, None)
        if self._cluster and index is not None:
            await self._requests.run(lambda: client.srem(index, [session_id]), session_id=session_id)
        return bool(deleted)

    async def delete_user(self, user_id: str) -> int:
        """Delete every session indexed under ``user_id``, with all they hold (threads, records, archives).

        For a data-erasure request or a closed account. Safe under
        concurrent writes: index members are deleted one by one (each with
        its owner checked, so a stale member never deletes another user's
        session) and removed from the index, and the index is never dropped
        whole, so a session created meanwhile is either deleted by a later
        round or stays indexed, never orphaned. Sessions written without the
        index (the cookbook's raw commands) are found after
        :meth:`reindex_user_sessions`.

        Returns:
            How many sessions were deleted.
        """
        index = self.schema.user_sessions(user_id)
        if self._owner is not None and user_id != self._owner:
            raise PermissionDeniedError(f"a view for user {self._owner!r} cannot delete {user_id!r}")
        view = self.for_user(user_id)
        deleted = 0
        for _ in range(_DELETE_ROUNDS):
            members = sorted(await self._requests.run(lambda: self._client.smembers(index), user_id=user_id))
            if not members:
                break
            for start in range(0, len(members), 64):
                chunk = [m.decode("utf-8", "replace") for m in members[start : start + 64]]
                results = await asyncio.gather(*(view._delete_member(sid) for sid in chunk))
                deleted += sum(results)
                await self._requests.run(partial(self._client.srem, index, list(chunk)), user_id=user_id)
        return deleted

    async def _delete_member(self, session_id: str) -> int:
        try:
            return int(await self.delete_session(session_id))
        except (PermissionDeniedError, InvalidIdError):
            return 0  # another user's session, or an id we never wrote: only the index entry goes

    async def export_session(self, session_id: str) -> AsyncIterator[bytes]:
        """Yield one session as JSON Lines: metadata, every message of every list, records, message ids.

        Import it with :meth:`import_sessions`; export, import and export
        again gives the same bytes. See :mod:`glide_memory.transfer`.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        async for line in transfer.export_session(self, session_id):
            yield line

    async def export_user(self, user_id: str) -> AsyncIterator[bytes]:
        """Yield every session indexed under ``user_id`` as JSON Lines (see :meth:`export_session`)."""
        async for line in transfer.export_user(self, user_id):
            yield line

    async def import_sessions(
        self, lines: AsyncIterable[bytes] | Iterable[bytes], *, replace: bool = False
    ) -> list[str]:
        """Load sessions exported by :meth:`export_session` or :meth:`export_user`; return their ids.

        Args:
            lines: The JSON Lines, e.g. an open file in binary mode.
            replace: Overwrite sessions that exist under an imported id;
                without it they raise :class:`SessionExistsError`.
        """
        return await transfer.import_sessions(self, lines, replace=replace)

    def _index_key(self, owner: str | None) -> str | None:
        if owner is None:
            return None
        try:
            return self.schema.user_sessions(owner)
        except InvalidIdError:
            return None  # the owner was written by other code; nothing of ours indexes it

    async def list_user_sessions(
        self, user_id: str, *, limit: int | None = None, after: str | None = None
    ) -> UserSessions:
        """Return a user's sessions, most recently active first (a page of them with ``limit``).

        Reads the ``user_sessions:<uid>`` index and the sessions' metadata in
        one pipelined round trip; no scan. Ids of sessions that expired (or
        now belong to someone else) are removed from the index, re-checked so
        that a session re-created meanwhile stays. On a cluster with part of
        it down, the sessions that can be read are returned and the others
        are named in ``unreachable`` (after the retry budget).

        Args:
            user_id: The user.
            limit: At most this many sessions; the result's ``next_after``
                continues from there.
            after: Continue after this session id (a previous ``next_after``).

        Returns:
            A :class:`UserSessions` list.
        """
        if self._owner is not None and user_id != self._owner:
            raise PermissionDeniedError(
                f"a view for user {self._owner!r} cannot list the sessions of {user_id!r}", user_id=self._owner
            )
        index_limit = _validate.optional_positive(limit, "limit")
        if after is not None:
            _validate.identifier(after, kind="after")
        return await self._index.sessions(user_id, limit=index_limit, after=after)

    async def reindex_user_sessions(
        self, *, count: int = 1000, progress: Callable[[Reindexed], None] | None = None
    ) -> Reindexed:
        """Rebuild the user indexes: add every session found by its meta HASH, drop members that are gone.

        For data written without the index (the cookbook's raw commands) and
        for indexes left behind. This and the CLI's ``reindex`` are the
        package's only keyspace SCANs: run them as maintenance, never on a
        request path.

        Args:
            count: SCAN's COUNT hint per page.
            progress: Called after every SCAN page with the totals so far;
                two passes of about ``DBSIZE / count`` pages each.

        Returns:
            How many sessions were indexed and how many members removed.
        """
        _validate.positive(count, "count")
        if self._owner is not None:
            raise PermissionDeniedError("reindexing spans every user: run it on the store, not a user's view")
        return await self._index.reindex(count=count, progress=progress)

    # -- messages ---------------------------------------------------------

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
        await self._append(session_id, stored, max_messages, thread)
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

    async def _must_exist(self, session_id: str, meta: str) -> None:
        if not await self._requests.run(lambda: self._client.exists([meta]), session_id=session_id):
            raise SessionNotFoundError(session_id)

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

    async def get_window(
        self, session_id: str, *, max_tokens: int | None = None, last: int | None = None, thread: str | None = None
    ) -> list[Message]:
        """Return a window that is valid model input: the pinned messages, then the newest that fit.

        Pinned messages (system prompts by default) are always in it and use
        the budget first; the rest goes to the newest messages, walked back
        from the end until one would not fit. The window never opens with a
        tool result whose call was left out. One round trip, on the server
        (on a replica when reads go to replicas).

        Args:
            session_id: The session.
            max_tokens: The token budget (messages count their ``tokens``);
                ``None``: no budget.
            last: At most this many messages besides the pinned ones.
            thread: Read a named thread instead of the main conversation.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return await context.get_window(self, session_id, max_tokens=max_tokens, last=last, thread=thread)

    async def get_context(
        self,
        session_id: str,
        *,
        max_tokens: int | None = None,
        last: int | None = None,
        thread: str | None = None,
        format: Format | None = None,
    ) -> Any:
        """Return what to send a model: pinned messages, the latest summary, then the newest messages that fit.

        Args:
            session_id: The session.
            max_tokens: The token budget (pinned messages and the summary
                take theirs first); ``None``: no budget.
            last: At most this many messages besides the pinned ones.
            thread: Read a named thread instead of the main conversation.
            format: ``None`` for :class:`Message` values; ``"openai"`` for
                Chat Completions ``messages``; ``"openai_responses"`` for
                Responses ``input`` items; ``"anthropic"`` for
                ``{"system": ..., "messages": [...]}`` (pass with ``**``).

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return await context.get_context(
            self, session_id, max_tokens=max_tokens, last=last, thread=thread, format=format
        )

    async def summarize(
        self,
        session_id: str,
        summarizer: context.Summarizer,
        *,
        keep_last: int | None = None,
        keep_tokens: int | None = None,
        thread: str | None = None,
    ) -> context.Summary | None:
        """Summarize the oldest messages with your summarizer; archive them, keep the summary.

        The summarizer (an async callable) gets the previous summary (or
        ``None``) and the messages to cover, and returns the new summary
        text (or a :class:`Message`). Then, atomically and only if nothing
        moved meanwhile, the covered messages go to the session's archive
        (:meth:`get_messages` with ``include_archived``) and the summary,
        with its watermark, is stored; :meth:`get_context` puts it after the
        pinned messages. Messages appended while the summarizer runs are
        kept; pinned messages are never summarized; a tool exchange is never
        split between the summary and what is kept.

        Args:
            session_id: The session.
            summarizer: ``async (previous, messages) -> str | Message``.
            keep_last: Keep this many newest unpinned messages as they are.
            keep_tokens: Keep the newest unpinned messages within this many tokens.
            thread: Summarize a named thread instead of the main conversation.

        Returns:
            The new :class:`~glide_memory.context.Summary`, or ``None`` when
            there was nothing to summarize.

        Raises:
            SummaryConflictError: another summary or a trim changed the
                session while the summarizer ran; nothing was stored.
        """
        return await context.summarize(
            self, session_id, summarizer, keep_last=keep_last, keep_tokens=keep_tokens, thread=thread
        )

    async def get_summary(self, session_id: str, *, thread: str | None = None) -> context.Summary | None:
        """Return the latest summary of the session (or a thread), or ``None``."""
        return await context.get_summary(self, session_id, thread=thread)

    async def get_message_by_id(self, session_id: str, message_id: str, *, thread: str | None = None) -> Message | None:
        """Return the stored message with ``message_id``, or ``None`` (one round trip, looking from the newest)."""
        return await context.find_message(self, session_id, message_id, thread=thread)

    async def pin_message(
        self, session_id: str, message_id: str, *, pinned: bool = True, thread: str | None = None
    ) -> bool:
        """Pin (or with ``pinned=False`` unpin) a stored message; return whether it was found."""
        return await context.pin(self, session_id, message_id, pinned, thread=thread)

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

    def history(self, session_id: str, *, thread: str | None = None) -> ChatHistory:
        """Return one session's messages (or one thread's) as a :class:`ChatHistory`."""
        from glide_memory.history import ChatHistory

        return ChatHistory(self, session_id, thread=thread)

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

    # -- records: named values an integration keeps in a session ----------

    async def put_record(
        self,
        session_id: str,
        kind: str,
        name: str,
        value: bytes | str,
        *,
        only_if: Literal["absent", "present"] | None = None,
    ) -> bool:
        """Store a named value in the session's ``kind`` records (a companion HASH in its slot).

        Integrations keep their own state this way: it shares the session's
        TTL (refreshed by this write), goes with ``delete_session``, and
        never shows in :class:`SessionInfo`.

        Args:
            session_id: The session.
            kind: The record family, a plain word naming the companion key
                (``strands`` gives ``strands:<session_id>``).
            name: The record's name within the family.
            value: What to store.
            only_if: Write only if the record is ``"absent"`` or ``"present"``.

        Returns:
            Whether the value was written (``False`` when ``only_if`` refused).

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return await self._record(session_id, kind, name, value, only_if or "any")

    async def delete_record(self, session_id: str, kind: str, name: str) -> bool:
        """Remove a named value of the session's ``kind`` records; return whether it existed.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return await self._record(session_id, kind, name, b"", "delete")

    async def _record(self, session_id: str, kind: str, name: str, value: bytes | str, mode: str) -> bool:
        keys = self.schema.keys(session_id)
        companion = record_kind(kind)
        hash_key = self.schema.companion(session_id, companion)
        field = _validate.identifier(name, kind="record name", session_id=session_id, max_length=1024)
        if isinstance(value, str):
            data = _validate.text(value, "record value", session_id=session_id).encode()
        elif isinstance(value, bytes | bytearray):
            data = bytes(value)
        else:
            raise InvalidInputError(
                f"a record value is bytes or str, not {type(value).__name__}", session_id=session_id
            )

        async def call(layout: list[str], companions: str) -> bool:
            return await scripts.record(
                self._requests,
                layout,
                session_id=session_id,
                now=format_time(self._clock()),
                owner=self._owner,
                companions=companions,
                register=companion,
                target=layout.index(hash_key),
                mode=mode,
                name=field,
                value=data,
            )

        return await self._with_companions(session_id, keys, call, register="" if mode == "delete" else companion)

    async def get_records(self, session_id: str, kind: str, names: Sequence[str]) -> list[bytes | None]:
        """Return the named values of the session's ``kind`` records (``None`` for each one missing), in one trip."""
        key = self.schema.companion(session_id, record_kind(kind))
        fields = [_validate.identifier(n, kind="record name", session_id=session_id, max_length=1024) for n in names]
        if not fields:
            return []
        if self._owner is not None:
            meta = self.schema.meta(session_id)
            (scoped,) = await self._read(session_id, meta, lambda batch: batch.hmget(key, list(fields)))
            return list(scoped)
        values: list[bytes | None] = await self._requests.run(
            lambda: self._client.hmget(key, list(fields)), session_id=session_id, key=key
        )
        return values

    async def get_record(self, session_id: str, kind: str, name: str) -> bytes | None:
        """Return one named value of the session's ``kind`` records, or ``None``."""
        return (await self.get_records(session_id, kind, [name]))[0]

    async def records(self, session_id: str, kind: str) -> dict[str, bytes]:
        """Return every named value of the session's ``kind`` records."""
        key = self.schema.companion(session_id, record_kind(kind))
        if self._owner is not None:
            (raw,) = await self._read(session_id, self.schema.meta(session_id), lambda batch: batch.hgetall(key))
        else:
            raw = await self._requests.run(lambda: self._client.hgetall(key), session_id=session_id, key=key)
        return {name.decode("utf-8", "replace"): value for name, value in raw.items()}


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
