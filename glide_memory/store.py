"""SessionStore: sessions, their messages, metadata and TTLs, exactly once under faults."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import time
import warnings
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from glide import Batch, ClusterBatch, GlideClient, GlideClusterClient

from glide_memory import _validate, context, scripts, transfer
from glide_memory._messages import MessagesMixin
from glide_memory._records import RecordsMixin
from glide_memory._requests import DEFAULT_MAX_IN_FLIGHT, Requests, RetryPolicy
from glide_memory._users import UsersMixin
from glide_memory._validate import TTL, UNSET, Unset
from glide_memory.codec import RESERVED_FIELDS, decode_session_info, format_time
from glide_memory.connection import ConnectOptions, create_client
from glide_memory.context import Format
from glide_memory.embedded import EmbeddedServer
from glide_memory.errors import (
    GlideMemoryError,
    InvalidInputError,
    PermissionDeniedError,
    SessionExistsError,
    SessionNotFoundError,
)
from glide_memory.index import UserIndex
from glide_memory.keys import KeySchema, new_session_id, thread_of
from glide_memory.models import Message, SessionInfo

if TYPE_CHECKING:
    from glide_memory.history import ChatHistory

__all__ = ["DEFAULT_TTL", "SessionStore"]

T = TypeVar("T")

DEFAULT_TTL = timedelta(hours=24)
"""Sessions expire after 24 hours without activity unless told otherwise, as in the cookbook."""

_log = logging.getLogger("glide_memory")


class SessionStore(MessagesMixin, RecordsMixin, UsersMixin):
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
                [*layout, keys.ops],
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

    # -- calls served by transfer, context and history, whose functions take the store itself --

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

    def history(self, session_id: str, *, thread: str | None = None) -> ChatHistory:
        """Return one session's messages (or one thread's) as a :class:`ChatHistory`."""
        from glide_memory.history import ChatHistory

        return ChatHistory(self, session_id, thread=thread)
