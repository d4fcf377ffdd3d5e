"""SessionStore: the facade over the collaborators that keep sessions, messages, metadata and TTLs."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Unpack, overload

from glide import Batch, ClusterBatch, GlideClient, GlideClusterClient

from glide_memory import _validate
from glide_memory._core import (
    Context,
    Messages,
    Parts,
    Recall,
    RecallSettings,
    RecallState,
    Records,
    Reindexed,
    Scope,
    Sessions,
    Settings,
    Transfer,
    UserIndex,
    Users,
    UserSessions,
)
from glide_memory._embedded import EmbeddedServer
from glide_memory._server import LIBRARY
from glide_memory._transport import (
    DEFAULT_MAX_IN_FLIGHT,
    ConnectOptions,
    Requests,
    RetryPolicy,
    create_client,
    durable,
    observed,
    observed_iterator,
    prime_telemetry,
)
from glide_memory._validate import TTL, UNSET, Unset
from glide_memory.errors import InvalidInputError
from glide_memory.formats import AnthropicRequest
from glide_memory.keys import KeySchema
from glide_memory.models import Content, Durability, Format, Message, Role, SessionInfo, Summarizer, Summary
from glide_memory.recall import Embedder, Recalled

if TYPE_CHECKING:
    from glide_memory._history import ChatHistory

__all__ = ["DEFAULT_TTL", "SessionStore"]

T = TypeVar("T")

DEFAULT_TTL = timedelta(hours=24)
"""Sessions expire after 24 hours without activity unless told otherwise, as in the cookbook."""

_log = logging.getLogger("glide_memory")


class _Resources:
    """What the store that created them owns: the client (when it made it) and the embedded server."""

    __slots__ = ("owns_client", "server")

    def __init__(self) -> None:
        self.owns_client = False
        self.server: EmbeddedServer | None = None


def _recall_settings(
    embedder: Embedder | None, roles: Iterable[Role | str], deferred: bool, backend: str
) -> RecallSettings:
    if embedder is not None and not isinstance(embedder, Embedder):
        raise InvalidInputError(f"embedder must have name, dimensions and async embed(texts), not {embedder!r}")
    if embedder is not None and (
        not isinstance(embedder.name, str) or not embedder.name or type(embedder.dimensions) is not int
    ):
        raise InvalidInputError("an embedder needs a non-empty name and an int number of dimensions")
    if embedder is not None and not 1 <= embedder.dimensions <= 8192:
        raise InvalidInputError(f"an embedder's dimensions must be 1 to 8192, not {embedder.dimensions}")
    if isinstance(roles, str):
        roles = [roles]
    try:
        chosen = frozenset(Role(role) for role in roles)
    except ValueError as exc:
        raise InvalidInputError(f"recall_roles must be roles, not {roles!r}") from exc
    if backend not in ("auto", "exact", "search"):
        raise InvalidInputError(f"recall_backend must be 'auto', 'exact' or 'search', not {backend!r}")
    if type(deferred) is not bool:
        raise InvalidInputError(f"deferred_embedding must be a bool, not {deferred!r}")
    return RecallSettings(embedder=embedder, roles=chosen, deferred=deferred, backend=backend)  # type: ignore[arg-type]


class SessionStore:
    """Chat sessions on Valkey: messages, metadata, TTLs and a per-user index.

    Every write is idempotent and every call retries transient failures by
    itself (see :class:`RetryPolicy`), so a call that returns succeeded
    exactly once, and an error means the deadline was spent or retrying
    cannot help (``error.retryable`` tells which). A retried write reports
    what its first application did.

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
        embedder: Turns on semantic recall (:meth:`recall`): each message
            of ``recall_roles`` with text gets a vector from it, stored in
            the same atomic call as the message (see
            :class:`~glide_memory.recall.Embedder`,
            :class:`~glide_memory.recall.WordLlamaEmbedder`).
        recall_roles: The roles whose messages are embedded (user and
            assistant by default: system prompts and tool results are not).
        deferred_embedding: Write each message at once and its vector
            after, in the background (for a slow remote embedder); an
            embedder that fails inline is caught up the same way.
            :meth:`flush_embeddings` waits for them.
        recall_backend: ``"auto"`` (a search module if the server has one,
            else exact search), ``"exact"`` or ``"search"``.
        durability: What every write waits for by default before it
            returns: replicas holding it, the append-only file's fsync
            (see :class:`Durability`); each write method's ``durability=``
            overrides it for one call. Durable writes go through a second
            client the store creates from ``client``'s configuration.

    Raises:
        ConfigurationError: the schema turns hash tags off for a cluster client.
    """

    _parts: Parts
    _scope: Scope
    _resources: _Resources
    _index: UserIndex
    _sessions: Sessions
    _messages: Messages
    _records: Records
    _users: Users
    _context: Context
    _transfer: Transfer
    _recall: Recall
    _recall_state: RecallState

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
        embedder: Embedder | None = None,
        recall_roles: Iterable[Role | str] = ("user", "assistant"),
        deferred_embedding: bool = False,
        recall_backend: str = "auto",
        durability: Durability | None = None,
    ) -> None:
        prime_telemetry()
        if not isinstance(client, GlideClient | GlideClusterClient):
            raise InvalidInputError(f"client must be a glide GlideClient or GlideClusterClient, not {client!r}")
        cluster = isinstance(client, GlideClusterClient)
        resolved = (schema if schema is not None else KeySchema()).for_client(cluster)
        if token_counter is not None and not callable(token_counter):
            raise InvalidInputError(f"token_counter must be callable, not {token_counter!r}")
        settings = Settings(
            default_ttl=_validate.ttl(ttl),
            max_messages=_validate.optional_positive(max_messages, "max_messages"),
            token_counter=token_counter,
            pin_system=bool(pin_system),
            clock=clock,
        )
        limit = _validate.positive(max_in_flight, "max_in_flight", limit=1000)
        if durability is not None and not isinstance(durability, Durability):
            raise InvalidInputError(f"durability must be a Durability or None, not {durability!r}")
        requests = Requests(
            client,
            library=LIBRARY,
            max_in_flight=limit,
            retry=retry if retry is not None else RetryPolicy(),
            durability=durability,
        )
        state = RecallState(_recall_settings(embedder, recall_roles, deferred_embedding, recall_backend))
        self._bind(Parts(requests, resolved, settings), Scope(), _Resources(), state)

    def _bind(self, parts: Parts, scope: Scope, resources: _Resources, recall: RecallState) -> None:
        """Wire the collaborators of this facade, for ``scope``."""
        self._parts, self._scope, self._resources, self._recall_state = parts, scope, resources, recall
        self._index = UserIndex(parts.requests, parts.schema)
        self._recall = Recall(parts, scope, recall)
        self._sessions = Sessions(parts, scope, self._index, self._recall)
        self._messages = Messages(parts, scope, self._index, self._recall)
        self._records = Records(parts, scope)
        self._users = Users(parts, scope, self._index, self._sessions)
        self._context = Context(parts, scope, self._messages)
        self._transfer = Transfer(parts, scope, self._sessions, self._users)

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
        token_counter: Callable[[Message], int] | None = None,
        pin_system: bool = True,
        embedder: Embedder | None = None,
        recall_roles: Iterable[Role | str] = ("user", "assistant"),
        deferred_embedding: bool = False,
        recall_backend: str = "auto",
        durability: Durability | None = None,
        **options: Unpack[ConnectOptions],
    ) -> SessionStore:
        """Connect to ``url`` (or ``$VALKEY_URL``, or an embedded server) and return a store.

        The store owns what this creates: ``close()`` closes the client and
        stops the embedded server. With neither a URL nor ``VALKEY_URL`` (nor
        a glide ``configuration``) an embedded server starts, and a WARNING
        says its data is ephemeral. Connecting checks the server's version
        and loads the function library.

        Args:
            url: A ``valkey://`` URL, seeds, TLS and options included (see
                :class:`ConnectOptions`); ``None`` reads ``VALKEY_URL`` and,
                if that is unset too, starts an :class:`EmbeddedServer`.
            schema: As for :class:`SessionStore`.
            ttl: As for :class:`SessionStore`.
            max_messages: As for :class:`SessionStore`.
            max_in_flight: As for :class:`SessionStore`.
            retry: As for :class:`SessionStore`; its deadline also bounds connecting.
            token_counter: As for :class:`SessionStore`.
            pin_system: As for :class:`SessionStore`.
            embedder: As for :class:`SessionStore`; checked at once against
                the embedder the server's vectors were made with.
            recall_roles: As for :class:`SessionStore`.
            deferred_embedding: As for :class:`SessionStore`.
            recall_backend: As for :class:`SessionStore`.
            durability: As for :class:`SessionStore`.
            **options: How to connect: cluster, timeouts, TLS (CA, client
                certificate), read_from replicas, IAM, a full glide
                configuration (see :class:`ConnectOptions`).

        Raises:
            ServerUnavailableError: the server stayed unreachable.
            PermissionDeniedError, TlsError: it can never work as given.
            ConfigurationError: a cluster-mode mismatch, a server older than
                Valkey 7.2 / Redis 7.0, or an embedder that is not the one the
                server's vectors were made with.
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
                    client,
                    schema=schema,
                    ttl=ttl,
                    max_messages=max_messages,
                    max_in_flight=max_in_flight,
                    retry=retry,
                    token_counter=token_counter,
                    pin_system=pin_system,
                    embedder=embedder,
                    recall_roles=recall_roles,
                    deferred_embedding=deferred_embedding,
                    recall_backend=recall_backend,
                    durability=durability,
                )
                await store._parts.requests.ensure_library()
                if embedder is not None:
                    await store._recall.ready()
            except BaseException:
                await client.close()
                raise
        except BaseException:
            if server is not None:
                await asyncio.to_thread(server.stop)
            raise
        store._resources.owns_client = True
        store._resources.server = server
        return store

    # -- what the store is ----------------------------------------------------

    @property
    def client(self) -> GlideClient | GlideClusterClient:
        """The glide client the store talks through (yours if you passed it in)."""
        return self._parts.client

    @property
    def schema(self) -> KeySchema:
        """The key schema, resolved for the client (hash tags on for a cluster)."""
        return self._parts.schema

    @property
    def default_ttl(self) -> int | None:
        """The TTL of new sessions in seconds; ``None``: they never expire."""
        return self._parts.settings.default_ttl

    @property
    def max_messages(self) -> int | None:
        """The default sliding window; ``None``: none."""
        return self._parts.settings.max_messages

    @property
    def token_counter(self) -> Callable[[Message], int] | None:
        """What counts the tokens of messages stored without a count."""
        return self._parts.settings.token_counter

    @property
    def pin_system(self) -> bool:
        """Whether system messages are pinned when stored."""
        return self._parts.settings.pin_system

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every call."""
        return self._parts.requests.retry

    @property
    def requests_sent(self) -> int:
        """Requests this store (and its views) sent so far: one per round trip, retries included.

        For tests and benchmarks that count round trips, e.g. that restoring
        an agent takes three.
        """
        return self._parts.requests.sent

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the store's glide client belongs to: run the store's calls there.

        Synchronous code and other loops hand calls to it (e.g. with
        ``asyncio.run_coroutine_threadsafe(coro, store.loop)``), as the
        framework adapters do. ``None`` if glide does not say.
        """
        return self._parts.requests.client_loop

    @property
    def embedded_server(self) -> EmbeddedServer | None:
        """The embedded server :meth:`connect` started for this store, if any."""
        return self._resources.server

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (on this store or the store a view came from)."""
        return self._parts.requests.closed

    @property
    def user_id(self) -> str | None:
        """The user a :meth:`for_user` view acts for; ``None`` for the store itself."""
        return self._scope.user_id

    def for_user(self, user_id: str) -> SessionStore:
        """Return a view of this store that acts for one user only.

        Every operation of the view checks, on the server and in the same
        call, that the session belongs to ``user_id``, and raises
        :class:`PermissionDeniedError` for a session of another user or of
        no user (``create_session(None)`` makes one); reads included. New
        sessions get ``user_id`` as owner; user-level calls accept only
        ``user_id``; import writes only sessions the export says ``user_id``
        owns; :meth:`call`, :meth:`pipeline` and :meth:`reindex_user_sessions`
        are refused (they cannot be scoped). The view shares this store's
        client, limits and retries; closing this store closes its views.

        Raises:
            InvalidIdError: ``user_id`` is not a usable id.
        """
        view = SessionStore.__new__(SessionStore)
        scope = Scope(_validate.identifier(user_id, kind="user id"))
        view._bind(self._parts, scope, _Resources(), self._recall_state)
        return view

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

        Raises:
            PermissionDeniedError: on a :meth:`for_user` view.
        """
        self._scope.check_unscoped("send raw commands")
        client = self._parts.client
        return await self._parts.requests.run(lambda: command(client), session_id=session_id)

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

        Raises:
            PermissionDeniedError: on a :meth:`for_user` view.
        """
        self._scope.check_unscoped("send raw commands")
        return await self._parts.requests.pipeline(fill, session_id=session_id, atomic=atomic)

    async def load_functions(self) -> str:
        """Check the server's version and load the function library (``connect()`` does); return its name.

        Also removes the libraries of older releases. For an administrator
        preparing a server for restricted users (``glide-memory functions load``).

        Raises:
            ConfigurationError: the server is older than Valkey 7.2 / Redis 7.0.
        """
        self._scope.check_unscoped("load the function library")
        await self._parts.requests.ensure_library()
        return self._parts.requests.library.name

    async def close(self) -> None:
        """Close the store, and the client and server it created; idempotent. A view's close does nothing."""
        if self._scope.user_id is not None or self._parts.requests.closed:
            return
        await self._recall.flush()  # deferred embeddings land before the client goes
        self._parts.requests.closed = True
        await self._parts.requests.durable.close()
        if self._resources.owns_client:
            await self._parts.client.close()
        if self._resources.server is not None:
            await asyncio.to_thread(self._resources.server.stop)

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
        resources = getattr(self, "_resources", None)
        if resources is not None and resources.owns_client and not self._parts.requests.closed:
            warnings.warn(f"unclosed {self!r}; use 'async with' or await close()", ResourceWarning, stacklevel=1)
            if resources.server is not None:
                resources.server.stop()

    def __repr__(self) -> str:
        scope = "" if self._scope.user_id is None else f" user_id={self._scope.user_id!r}"
        return f"<SessionStore{scope} namespace={self._parts.schema.namespace!r}>"

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
        durability: Durability | None = None,
    ) -> SessionInfo:
        """Create a session owned by ``user_id`` and index it under the user.

        Safe to retry: the store's own retries recognise a create that was
        applied but not acknowledged, and never create two sessions.

        Args:
            user_id: The owner; ``None`` creates a session nobody owns, kept
                out of every user index (a view makes its own user the owner).
            session_id: The id to use; a random 128-bit id if ``None``.
            model: The model name to record.
            title: A title to record.
            ttl: Seconds (or a timedelta) of inactivity after which the
                session expires; ``None`` never; the store's default if left out.
            metadata: Extra string fields stored in the meta HASH.
            exist_ok: With an explicit ``session_id`` that exists and belongs
                to ``user_id``, return that session instead of raising.
            durability: What this write waits for instead of the store's default
                (see :class:`Durability`).

        Returns:
            The session's :class:`SessionInfo`.

        Raises:
            SessionExistsError: ``session_id`` is taken (by another user, or
                ``exist_ok`` is false).
            PermissionDeniedError: a view was asked to create for another user.
            InvalidIdError, InvalidFieldError, InvalidInputError: bad arguments.
        """
        with durable(durability):
            return await self._sessions.create(
                user_id,
                session_id=session_id,
                model=model,
                title=title,
                ttl=ttl,
                metadata=metadata,
                exist_ok=exist_ok,
            )

    async def get_session_info(self, session_id: str) -> SessionInfo:
        """Return a session's metadata, stored message count and time left.

        Raises:
            SessionNotFoundError: the session does not exist.
            CorruptedEntryError: a counter or timestamp does not parse.
        """
        return await self._sessions.info(session_id)

    async def threads(self, session_id: str) -> list[str]:
        """Return the names of a session's threads (its conversations besides the main one), sorted.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return await self._sessions.threads(session_id)

    async def exists(self, session_id: str) -> bool:
        """Return whether the session exists (on a view, another user's session raises PermissionDeniedError)."""
        return await self._sessions.exists(session_id)

    async def update_session(
        self, session_id: str, *, durability: Durability | None = None, **fields: str | None
    ) -> None:
        """Set (or, with ``None``, remove) ``model``, ``title`` or caller fields.

        Raises:
            SessionNotFoundError: the session does not exist.
            InvalidFieldError: a field is reserved or its value not a storable string.
        """
        with durable(durability):
            await self._sessions.update(session_id, fields)

    async def touch(
        self, session_id: str, ttl: TTL | Unset | None = UNSET, *, durability: Durability | None = None
    ) -> None:
        """Mark the session active now and refresh the TTL of all of its keys, companions included.

        Args:
            session_id: The session.
            ttl: A new TTL, kept for later refreshes; ``None`` makes the
                session never expire; left out, the session keeps its own.
            durability: What this write waits for instead of the store's default
                (see :class:`Durability`).

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        with durable(durability):
            await self._sessions.touch(session_id, ttl)

    async def delete_session(self, session_id: str, *, durability: Durability | None = None) -> bool:
        """Delete every key of a session (messages, metadata, threads, records) and its index entry.

        Never scans: the session's companion keys are listed in its meta HASH.

        Returns:
            ``True`` if the session was deleted by this call (a retried call
            whose first attempt deleted it included), ``False`` if it was
            already gone.
        """
        with durable(durability):
            return await self._sessions.delete(session_id)

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
        durability: Durability | None = None,
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
            durability: What this write waits for instead of the store's default
                (see :class:`Durability`).

        Returns:
            The :class:`Message` as stored (its ``id`` set).

        Raises:
            SessionNotFoundError: the session does not exist or expired.
            MessageConflictError: ``message_id`` holds a different message.
            InvalidRoleError, InvalidTokensError, InvalidContentError: bad
                input; nothing was written.
        """
        with durable(durability):
            message = self._messages.build(
                session_id,
                role,
                content,
                tokens_used,
                name=name,
                tool_calls=tool_calls,
                tool_call_id=tool_call_id,
                metadata=metadata,
                message_id=message_id,
                pinned=pinned,
            )
            if thread is None:
                await self._messages.add_one(session_id, message, max_messages)
            else:
                await self._messages.append(session_id, [message], max_messages, thread)
            return message

    async def add_messages(
        self,
        session_id: str,
        messages: Iterable[Message],
        *,
        max_messages: int | None = None,
        thread: str | None = None,
        durability: Durability | None = None,
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
        with durable(durability):
            stored = self._messages.prepare(session_id, messages)
            await self._messages.append(session_id, stored, max_messages, thread)
            return stored

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
        return await self._messages.get(session_id, last=last, thread=thread, include_archived=include_archived)

    async def iter_messages(self, session_id: str, *, thread: str | None = None) -> AsyncGenerator[Message, None]:
        """Yield a session's messages oldest first, reading them a page (100) per round trip.

        Pages are read by position: messages trimmed by a sliding window
        while the iteration runs may be skipped.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        async for message in self._messages.iterate(session_id, thread=thread):
            yield message

    async def get_message(self, session_id: str, index: int, *, thread: str | None = None) -> Message | None:
        """Return the message at ``index`` (negative counts from the end), or ``None``.

        Raises:
            SessionNotFoundError: the session does not exist.
            CorruptedEntryError: that entry does not decode.
        """
        return await self._messages.get_one(session_id, index, thread=thread)

    async def count_messages(self, session_id: str, *, thread: str | None = None) -> int:
        """Return how many messages the session (or one of its threads) stores now."""
        return await self._messages.count(session_id, thread=thread)

    async def read_range(
        self, session_id: str, start: int, stop: int, *, thread: str | None = None
    ) -> list[tuple[int, bytes]]:
        """Return ``(index, raw stored entry)`` of positions ``start..stop`` (absolute, inclusive), in one trip.

        For code that decodes entries itself (an integration's own fast path).

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return await self._messages.read_range(session_id, start, stop, thread=thread)

    async def clear_messages(
        self, session_id: str, *, thread: str | None = None, durability: Durability | None = None
    ) -> int:
        """Remove a session's messages (or a thread's), keeping the session and its counters.

        Returns:
            The number of messages removed (a retried call reports its first
            attempt's count).
        """
        with durable(durability):
            return await self._messages.clear(session_id, thread=thread)

    async def replace_message(
        self, session_id: str, message: Message, *, thread: str | None = None, durability: Durability | None = None
    ) -> bool:
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
        with durable(durability):
            return await self._messages.replace(session_id, message, thread=thread)

    async def pop_message(
        self, session_id: str, *, thread: str | None = None, durability: Durability | None = None
    ) -> Message | None:
        """Remove the newest message of a session (or a thread) and return it; ``None`` if it holds none.

        Exactly once: if the store retries a pop whose first attempt was
        applied, it returns that attempt's message and removes no other.
        The counters are kept (they account what was appended); the
        message's id is released, so appending it again stores it again.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        with durable(durability):
            return await self._messages.pop(session_id, thread=thread)

    async def set_messages(
        self,
        session_id: str,
        messages: Iterable[Message],
        *,
        thread: str | None = None,
        durability: Durability | None = None,
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
        with durable(durability):
            return await self._messages.set(session_id, messages, thread=thread)

    async def delete_messages(
        self,
        session_id: str,
        message_ids: Iterable[str],
        *,
        thread: str | None = None,
        durability: Durability | None = None,
    ) -> int:
        """Remove the stored messages with these ids from a session (or a thread); return how many were removed.

        Atomic and exactly once (a retried call reports the first attempt's
        count). The counters are kept; the ids are released.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        with durable(durability):
            return await self._messages.delete(session_id, message_ids, thread=thread)

    async def archive_messages(
        self, session_id: str, count: int, *, thread: str | None = None, durability: Durability | None = None
    ) -> int:
        """Move the oldest ``count`` unpinned messages to the session's archive; return how many moved.

        Archived messages stay readable (:meth:`get_archived_messages`,
        :meth:`get_messages` with ``include_archived``) but leave every
        window. Tool results right after the moved messages whose calls
        moved go with them, so the list never opens with an orphaned
        result (so more than ``count`` may move). Atomic and exactly once.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        with durable(durability):
            return await self._messages.archive(session_id, count, thread=thread)

    async def get_archived_messages(self, session_id: str, *, thread: str | None = None) -> list[Message]:
        """Return the messages summaries or :meth:`archive_messages` moved to the archive, oldest first.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return await self._messages.archived(session_id, thread=thread)

    def history(self, session_id: str, *, thread: str | None = None) -> ChatHistory:
        """Return one session's messages (or one thread's) as a :class:`ChatHistory`."""
        from glide_memory._history import ChatHistory

        return ChatHistory(self, session_id, thread=thread)

    # -- records ------------------------------------------------------------

    async def put_record(
        self,
        session_id: str,
        kind: str,
        name: str,
        value: bytes | str,
        *,
        only_if: Literal["absent", "present"] | None = None,
        durability: Durability | None = None,
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
            durability: What this write waits for instead of the store's default
                (see :class:`Durability`).

        Returns:
            Whether the value was written (``False`` when ``only_if``
            refused; a retried call reports its first attempt's answer).

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        with durable(durability):
            return await self._records.put(session_id, kind, name, value, only_if)

    async def put_records(
        self,
        session_id: str,
        kind: str,
        values: Mapping[str, bytes | str | None],
        *,
        durability: Durability | None = None,
    ) -> None:
        """Set several named values of the session's ``kind`` records at once (``None`` removes one), atomically.

        Args:
            session_id: The session.
            kind: The record family (see :meth:`put_record`).
            values: Name to value; ``None`` removes that record.
            durability: What this write waits for instead of the store's default
                (see :class:`Durability`).

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        with durable(durability):
            await self._records.put_many(session_id, kind, values)

    async def delete_record(
        self, session_id: str, kind: str, name: str, *, durability: Durability | None = None
    ) -> bool:
        """Remove a named value of the session's ``kind`` records; return whether it existed.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        with durable(durability):
            return await self._records.delete(session_id, kind, name)

    async def get_records(self, session_id: str, kind: str, names: Iterable[str]) -> list[bytes | None]:
        """Return the named values of the session's ``kind`` records (``None`` for each one missing), in one trip."""
        return await self._records.get_many(session_id, kind, list(names))

    async def get_record(self, session_id: str, kind: str, name: str) -> bytes | None:
        """Return one named value of the session's ``kind`` records, or ``None``."""
        return (await self._records.get_many(session_id, kind, [name]))[0]

    async def records(self, session_id: str, kind: str) -> dict[str, bytes]:
        """Return every named value of the session's ``kind`` records."""
        return await self._records.all(session_id, kind)

    # -- users ----------------------------------------------------------------

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
        return await self._users.list_sessions(user_id, limit=limit, after=after)

    async def delete_user(self, user_id: str, *, durability: Durability | None = None) -> int:
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
        with durable(durability):
            return await self._users.delete_user(user_id)

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
        return await self._users.reindex(count=count, progress=progress)

    # -- context --------------------------------------------------------------

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
        return await self._context.window(session_id, max_tokens=max_tokens, last=last, thread=thread)

    @overload
    async def get_context(
        self,
        session_id: str,
        *,
        max_tokens: int | None = ...,
        last: int | None = ...,
        thread: str | None = ...,
        format: None = ...,
    ) -> list[Message]: ...

    @overload
    async def get_context(
        self,
        session_id: str,
        *,
        max_tokens: int | None = ...,
        last: int | None = ...,
        thread: str | None = ...,
        format: Literal["openai", "openai_responses"],
    ) -> list[dict[str, Any]]: ...

    @overload
    async def get_context(
        self,
        session_id: str,
        *,
        max_tokens: int | None = ...,
        last: int | None = ...,
        thread: str | None = ...,
        format: Literal["anthropic"],
    ) -> AnthropicRequest: ...

    async def get_context(
        self,
        session_id: str,
        *,
        max_tokens: int | None = None,
        last: int | None = None,
        thread: str | None = None,
        format: Format | None = None,
    ) -> list[Message] | list[dict[str, Any]] | AnthropicRequest:
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
        result: Any = await self._context.context(
            session_id, max_tokens=max_tokens, last=last, thread=thread, format=format
        )
        return result  # type: ignore[no-any-return]

    async def summarize(
        self,
        session_id: str,
        summarizer: Summarizer,
        *,
        keep_last: int | None = None,
        keep_tokens: int | None = None,
        thread: str | None = None,
        durability: Durability | None = None,
    ) -> Summary | None:
        """Summarize the oldest messages with your summarizer; archive them, keep the summary.

        The summarizer (an async callable) gets the previous summary (or
        ``None``) and the messages to cover, and returns the new summary
        text (or a :class:`Message`). Then, atomically and only if nothing
        moved meanwhile, the covered messages go to the session's archive
        (:meth:`get_messages` with ``include_archived``) and the summary,
        with its watermark, is stored; :meth:`get_context` puts it after the
        pinned messages. Messages appended while the summarizer runs are
        kept; pinned messages are never summarized; a tool exchange is never
        split between the summary and what is kept. A retried store step
        whose first attempt was applied returns the summary it stored.

        Args:
            session_id: The session.
            summarizer: ``async (previous, messages) -> str | Message``.
            keep_last: Keep this many newest unpinned messages as they are.
            keep_tokens: Keep the newest unpinned messages within this many tokens.
            thread: Summarize a named thread instead of the main conversation.
            durability: What this write waits for instead of the store's default
                (see :class:`Durability`).

        Returns:
            The new :class:`Summary`, or ``None`` when there was nothing to
            summarize.

        Raises:
            SummaryConflictError: another summary or a trim changed the
                session while the summarizer ran; nothing was stored.
        """
        with durable(durability):
            return await self._context.summarize(
                session_id, summarizer, keep_last=keep_last, keep_tokens=keep_tokens, thread=thread
            )

    async def get_summary(self, session_id: str, *, thread: str | None = None) -> Summary | None:
        """Return the latest summary of the session (or a thread), or ``None``.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return await self._context.summary(session_id, thread=thread)

    async def get_message_by_id(self, session_id: str, message_id: str, *, thread: str | None = None) -> Message | None:
        """Return the stored message with ``message_id``, or ``None`` (one round trip, looking from the newest).

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return await self._context.find(session_id, message_id, thread=thread)

    async def pin_message(
        self,
        session_id: str,
        message_id: str,
        *,
        pinned: bool = True,
        thread: str | None = None,
        durability: Durability | None = None,
    ) -> bool:
        """Pin (or with ``pinned=False`` unpin) a stored message; return whether it was found."""
        with durable(durability):
            return await self._context.pin(session_id, message_id, pinned, thread=thread)

    # -- semantic recall ------------------------------------------------------

    @property
    def embedder(self) -> Embedder | None:
        """The embedder that gives messages their vectors; ``None``: recall is off."""
        return self._recall.settings.embedder

    async def recall(
        self,
        query: str | Sequence[float],
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        k: int = 5,
        roles: Iterable[Role | str] | None = None,
        since: float | None = None,
        until: float | None = None,
        thread: str | None = None,
    ) -> Recalled:
        """Return the ``k`` past messages closest in meaning to ``query``, best first.

        The scope is a user (``user_id``, or the user of a :meth:`for_user`
        view) or a session (``session_id``); with a search module, also
        every session. Without one (plain Valkey), the search is exact over
        the scope's vectors: what brute force over them returns.

        Args:
            query: Text, embedded with the store's embedder, or a vector of
                ``embedder.dimensions`` numbers.
            user_id: Search this user's sessions.
            session_id: Search this session only.
            k: How many hits at most (1 to 1,000).
            roles: Only messages of these roles.
            since: Only messages stored at or after this Unix time.
            until: Only messages stored at or before this Unix time.
            thread: Only this thread; ``None``: the main conversation and
                every thread.

        Returns:
            :class:`~glide_memory.recall.RecallHit` values (session id,
            message, cosine similarity), best first, in a list that also
            says how many messages of the scope still wait for their vector
            (``pending``).

        Raises:
            ConfigurationError: the store has no embedder; or neither a user
                nor a session was given and the server has no search module.
            SessionNotFoundError: ``session_id`` names no session (deleted,
                or expired).
            PermissionDeniedError: on a view, another user's session or user.
            InvalidInputError: an empty query, a vector of the wrong length
                or with NaN, ``k`` out of range.
        """
        return await self._recall.recall(
            query, user_id=user_id, session_id=session_id, k=k, roles=roles, since=since, until=until, thread=thread
        )

    async def embed_session(self, session_id: str) -> int:
        """Give a vector to each message of the session worth recalling that has none; return how many got one.

        For messages stored before recall was turned on, before a model
        change (in a new namespace), or while the embedder was failing.
        Idempotent: what has a vector is left alone.

        Raises:
            ConfigurationError: the store has no embedder.
            SessionNotFoundError: the session does not exist.
        """
        return await self._recall.embed_session(session_id)

    async def flush_embeddings(self) -> None:
        """Wait until the vectors that deferred embedding (or a failed inline one) left to do are written."""
        await self._recall.flush()

    # -- export and import ----------------------------------------------------

    async def export_session(self, session_id: str) -> AsyncGenerator[bytes, None]:
        """Yield one session as JSON Lines: metadata, every message of every list, records, message ids.

        Import it with :meth:`import_sessions`; export, import and export
        again gives the same bytes.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        async for line in self._transfer.export_session(session_id):
            yield line

    async def export_user(self, user_id: str) -> AsyncGenerator[bytes, None]:
        """Yield every session indexed under ``user_id`` as JSON Lines (see :meth:`export_session`)."""
        async for line in self._transfer.export_user(user_id):
            yield line

    async def import_sessions(
        self, lines: AsyncIterable[bytes] | Iterable[bytes], *, replace: bool = False
    ) -> list[str]:
        """Load sessions exported by :meth:`export_session` or :meth:`export_user`; return their ids.

        Each page is written once even when the store retries it, so
        importing an export twice (with ``replace``) gives the data of one
        import. Through a :meth:`for_user` view, a session the export says
        belongs to another user (or to none) raises
        :class:`PermissionDeniedError` before anything of it is written.

        Args:
            lines: The JSON Lines, e.g. an open file in binary mode.
            replace: Overwrite sessions that exist under an imported id;
                without it they raise :class:`SessionExistsError`.

        Raises:
            SessionExistsError: a session exists under an imported id.
            CorruptedEntryError: a line is not part of an export.
        """
        return await self._transfer.import_sessions(lines, replace=replace)


def _server(store: SessionStore) -> tuple[str, int] | None:
    return store._parts.requests.server


def _observe(cls: type[SessionStore]) -> None:
    """Wrap every public coroutine and async-iterator method of ``cls`` for OpenTelemetry (see ``_telemetry``)."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_"):
            continue
        if isinstance(member, classmethod) and inspect.iscoroutinefunction(member.__func__):
            setattr(cls, name, classmethod(observed(member.__func__, lambda _cls: None)))
        elif inspect.iscoroutinefunction(member):
            setattr(cls, name, observed(member, _server))
        elif inspect.isasyncgenfunction(member):
            setattr(cls, name, observed_iterator(member, _server))


_observe(SessionStore)
