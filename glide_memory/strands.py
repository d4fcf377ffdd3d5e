"""Strands Agents adapter: persistent, resumable, shareable agent sessions.

Install with ``pip install 'glide-memory[strands]'``, then::

    from strands import Agent
    from glide_memory.strands import GlideSessionManager

    agent = Agent(session_manager=GlideSessionManager(session_id="user-42", url="valkey://localhost:6379"))

Storage, on the toolkit's data model (``KeySchema.strands``): the session's
``meta:<id>`` HASH (with the Strands ``Session`` record in its
``strands_session`` field and the ``user_sessions:<uid>`` index when a user
id is given), one HASH of agent records, one HASH of multi-agent states and
one LIST of messages per agent, a message's position being its Strands
``message_id``. Every key of a session shares its hash slot, expires with it
and is deleted with it, with no keyspace scan.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from glide_memory import _lua
from glide_memory._bridge import DEFAULT_CALL_TIMEOUT, BridgeError, SharedLoop, run_on
from glide_memory.codec import decode_message, encode_message, format_time
from glide_memory.errors import GlideMemoryError, InvalidInputError, MissingDependencyError, SessionExistsError
from glide_memory.keys import StrandsKeys, validate_id
from glide_memory.models import Message, Role
from glide_memory.store import TTL, SessionStore

try:
    from strands.session.repository_session_manager import RepositorySessionManager
    from strands.session.session_repository import SessionRepository
    from strands.storage.storage import Storage
    from strands.types.exceptions import SessionException, StorageError
    from strands.types.session import Session, SessionAgent, SessionMessage, SessionType, decode_bytes_values
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(
        "glide_memory.strands needs Strands Agents: pip install 'glide-memory[strands]'"
    ) from exc

if TYPE_CHECKING:
    from glide import GlideClient, GlideClusterClient
    from strands.multiagent.base import MultiAgentBase

T = TypeVar("T")

SESSION_FIELD = "strands_session"
"""The meta HASH field holding the Strands ``Session`` record."""

DEFAULT_AGENT_ID = "default"
"""The agent id Strands gives an ``Agent`` created without one."""

_CREATED = "\0created_at"  # agent ids cannot hold control characters, so this never collides


class StrandsSessionError(GlideMemoryError, SessionException):
    """Raised when a Strands session, agent or message is missing, taken or out of order."""


class StrandsStorageError(GlideMemoryError, StorageError):
    """Raised by :class:`GlideSnapshotStorage` for a bad key or a failed request."""


def _loop_of(store: SessionStore) -> asyncio.AbstractEventLoop:
    loop = getattr(store.client, "_loop", None)
    if not isinstance(loop, asyncio.AbstractEventLoop):
        raise BridgeError("cannot tell which event loop the store's glide client belongs to")
    return loop


def _entry(message: SessionMessage, session_id: str) -> bytes:
    """Return the stored form of a Strands message: a toolkit message document."""
    record = message.to_dict()  # base64-envelopes bytes
    body = record.pop("message")
    extra = {name: value for name, value in body.items() if name not in ("role", "content")}
    if extra:
        record["extra"] = extra
    return encode_message(
        Message(
            role=Role(body.get("role")),
            content=body.get("content"),
            id=str(message.message_id),
            metadata={"strands": record},
        ),
        session_id=session_id,
    )


def _session_message(raw: bytes, *, key: str, index: int, session_id: str) -> SessionMessage:
    stored = decode_message(raw, key=key, index=index, session_id=session_id)
    record = (stored.metadata or {}).get("strands") or {}
    body: dict[str, Any] = {"role": stored.role.value, "content": stored.content}
    body.update(record.get("extra") or {})
    redact = record.get("redact_message")
    if b"__bytes_encoded__" in raw:  # only then is the recursive walk worth its cost
        body, redact = decode_bytes_values(body), decode_bytes_values(redact)
    # built directly: SessionMessage.from_dict inspects its signature on every call (~100 us)
    return SessionMessage(
        message=body,  # type: ignore[arg-type]
        message_id=record.get("message_id", index),
        redact_message=redact,
        created_at=record.get("created_at", ""),
        updated_at=record.get("updated_at", ""),
    )


class StrandsSessions:
    """The adapter's operations, natively async, on a :class:`SessionStore`.

    Args:
        store: Where sessions live.
        ttl: TTL of new sessions (refreshed on activity); the store's default
            if ``None``.
        user_id: Owner recorded on new sessions and indexed in
            ``user_sessions:<uid>``; none if ``None``.
    """

    def __init__(self, store: SessionStore, *, ttl: TTL | None = None, user_id: str | None = None) -> None:
        self.store = store
        self.ttl = ttl
        self.user_id = user_id

    def _keys(self, session_id: str) -> StrandsKeys:
        return self.store.schema.strands(session_id)

    async def _put(self, script: Any, session_id: str, keys: list[str], args: list[str | bytes]) -> int:
        k = self._keys(session_id)
        now = format_time(self.store._clock())
        reply: int = await self.store._script(
            session_id, script, [k.meta, k.agents, k.multi_agents, *keys], [k.messages_prefix, now, *args]
        )
        if reply == -1:
            raise StrandsSessionError(f"session {session_id!r} does not exist", session_id=session_id)
        return reply

    async def create_session(self, session: Session) -> Session:
        """Create the session's meta record; raise if the id is taken."""
        self._keys(session.session_id)  # validates the id for Strands keys before anything is written
        record = orjson.dumps(session.to_dict()).decode()
        try:
            await self.store.create_session(
                self.user_id, session_id=session.session_id, ttl=self.ttl, metadata={SESSION_FIELD: record}
            )
        except SessionExistsError as exc:
            raise StrandsSessionError(
                f"session {session.session_id!r} already exists", session_id=session.session_id
            ) from exc
        return session

    async def read_session(self, session_id: str) -> Session | None:
        """Return the Strands session record, or ``None`` if there is none."""
        k = self._keys(session_id)
        record = await self.store._run(session_id, self.store.client.hget, k.meta, SESSION_FIELD)
        if record is None:
            return None
        data = orjson.loads(record)
        data["session_type"] = SessionType(data.get("session_type", SessionType.AGENT.value))
        return Session.from_dict(data)

    async def put_agent(self, session_id: str, agent: SessionAgent, *, create: bool) -> None:
        """Store an agent record; on update keep its ``created_at``."""
        aid = self._agent_id(session_id, agent.agent_id)
        record = agent.to_dict()
        created_at = record.pop("created_at")
        mode = "create" if create else "update"
        args: list[str | bytes] = [aid, orjson.dumps(record), created_at, mode]
        if not await self._put(_lua.STRANDS_PUT_AGENT, session_id, [], args):
            raise StrandsSessionError(f"agent {aid!r} does not exist in session {session_id!r}", session_id=session_id)

    async def read_agent(self, session_id: str, agent_id: str) -> SessionAgent | None:
        """Return an agent record, or ``None``."""
        k = self._keys(session_id)
        aid = self._agent_id(session_id, agent_id)
        record, created_at = await self.store._run(session_id, self.store.client.hmget, k.agents, [aid, aid + _CREATED])
        if record is None:
            return None
        data = orjson.loads(record)
        data["created_at"] = (created_at or b"").decode()
        return SessionAgent.from_dict(data)

    async def create_message(self, session_id: str, agent_id: str, message: SessionMessage) -> None:
        """Append a message at position ``message_id``; a retry of a stored one is a no-op."""
        aid = self._agent_id(session_id, agent_id)
        mid = self._message_id(session_id, message.message_id)
        entry = _entry(message, session_id)
        target = self.store.schema.strands_messages(session_id, aid)
        reply = await self._put(_lua.STRANDS_APPEND, session_id, [target], [aid, str(mid), entry])
        if reply == -2:
            raise StrandsSessionError(f"agent {aid!r} does not exist in session {session_id!r}", session_id=session_id)
        if reply == -3:
            raise StrandsSessionError(f"message id {mid} of agent {aid!r} holds another message", session_id=session_id)
        if reply == -4:
            raise StrandsSessionError(
                f"message id {mid} of agent {aid!r} skips ahead of the stored messages", session_id=session_id
            )

    async def read_message(self, session_id: str, agent_id: str, message_id: int) -> SessionMessage | None:
        """Return the message with ``message_id``, or ``None``."""
        target = self.store.schema.strands_messages(session_id, self._agent_id(session_id, agent_id))
        mid = self._message_id(session_id, message_id)
        raw = await self.store._run(session_id, self.store.client.lindex, target, mid)
        if raw is None:
            return None
        message = _session_message(raw, key=target, index=mid, session_id=session_id)
        return message if message.message_id == mid else None

    async def update_message(self, session_id: str, agent_id: str, message: SessionMessage) -> None:
        """Replace a stored message (redaction), keeping its ``created_at``."""
        aid = self._agent_id(session_id, agent_id)
        previous = await self.read_message(session_id, aid, message.message_id)
        if previous is None:
            raise StrandsSessionError(
                f"message {message.message_id} of agent {aid!r} does not exist", session_id=session_id
            )
        message.created_at = previous.created_at
        target = self.store.schema.strands_messages(session_id, aid)
        args: list[str | bytes] = [str(message.message_id), _entry(message, session_id)]
        if not await self._put(_lua.STRANDS_REPLACE, session_id, [target], args):
            raise StrandsSessionError(
                f"message {message.message_id} of agent {aid!r} does not exist", session_id=session_id
            )

    async def list_messages(
        self, session_id: str, agent_id: str, limit: int | None = None, offset: int = 0
    ) -> list[SessionMessage]:
        """Return messages ``offset`` onwards (at most ``limit``) with one LRANGE."""
        target = self.store.schema.strands_messages(session_id, self._agent_id(session_id, agent_id))
        if type(offset) is not int or offset < 0 or (limit is not None and (type(limit) is not int or limit < 0)):
            raise InvalidInputError(f"bad offset {offset!r} or limit {limit!r}", session_id=session_id)
        if limit == 0:
            return []
        stop = -1 if limit is None else offset + limit - 1
        items = await self.store._run(session_id, self.store.client.lrange, target, offset, stop)
        return [
            _session_message(raw, key=target, index=offset + n, session_id=session_id) for n, raw in enumerate(items)
        ]

    async def put_multi_agent(
        self, session_id: str, state: dict[str, Any], multi_agent_id: str, *, create: bool
    ) -> None:
        """Store a multi-agent state; updating a missing one raises."""
        mid = self._agent_id(session_id, multi_agent_id, kind="multi-agent id")
        args: list[str | bytes] = [mid, orjson.dumps(state), "create" if create else "update"]
        if not await self._put(_lua.STRANDS_PUT_MULTI, session_id, [], args):
            raise StrandsSessionError(
                f"multi-agent state {mid!r} does not exist in session {session_id!r}", session_id=session_id
            )

    async def read_multi_agent(self, session_id: str, multi_agent_id: str) -> dict[str, Any] | None:
        """Return a multi-agent state, or ``None``."""
        k = self._keys(session_id)
        mid = self._agent_id(session_id, multi_agent_id, kind="multi-agent id")
        raw = await self.store._run(session_id, self.store.client.hget, k.multi_agents, mid)
        return None if raw is None else dict(orjson.loads(raw))

    async def delete_session(self, session_id: str) -> bool:
        """Delete every key of the session and its index entry; return whether it existed."""
        self._keys(session_id)
        return await self.store.delete_session(session_id)

    @staticmethod
    def _agent_id(session_id: str, agent_id: object, kind: str = "agent id") -> str:
        return validate_id(agent_id, kind=kind, session_id=session_id)

    @staticmethod
    def _message_id(session_id: str, message_id: object) -> int:
        if type(message_id) is not int or message_id < 0:
            raise InvalidInputError(f"message id must be a non-negative int, not {message_id!r}", session_id=session_id)
        return message_id


class GlideSessionRepository(SessionRepository):
    """Strands' ``SessionRepository`` on Valkey, callable from synchronous code.

    Built from a :class:`SessionStore`, a glide client, or a URL (an embedded
    server when there is neither a URL nor ``VALKEY_URL``). A store or client
    you pass in stays yours and its event loop must keep running in another
    thread; with a URL the repository runs its own store on a shared
    background loop and :meth:`close` releases it.

    Args:
        store: A store to use.
        client: A glide client to build a store on.
        url: A ``valkey://`` URL to connect to.
        ttl: TTL of new sessions, refreshed on every write.
        user_id: Owner of new sessions, indexed in ``user_sessions:<uid>``.
        call_timeout: Seconds a call waits before raising ServerTimeoutError.
    """

    def __init__(
        self,
        *,
        store: SessionStore | None = None,
        client: GlideClient | GlideClusterClient | None = None,
        url: str | None = None,
        ttl: TTL | None = None,
        user_id: str | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
    ) -> None:
        if sum(option is not None for option in (store, client, url)) > 1:
            raise InvalidInputError("pass at most one of store, client and url")
        self._timeout = call_timeout
        self._owns_store = store is None and client is None
        self._closed = False
        if store is None and client is not None:
            store = SessionStore(client)
        if store is None:
            self._loop = SharedLoop.acquire()
            try:
                store = run_on(self._loop, SessionStore.connect(url), timeout=max(call_timeout, 30.0))
            except BaseException:
                SharedLoop.release()
                raise
        else:
            self._loop = _loop_of(store)
        self.sessions = StrandsSessions(store, ttl=ttl, user_id=user_id)

    @property
    def store(self) -> SessionStore:
        """The store behind the repository."""
        return self.sessions.store

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the store's event loop and return its result, from synchronous code.

        For inspecting what the adapter stored, e.g.
        ``repository.run(repository.store.client.ttl(key))``.
        """
        return self._call(coro)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise GlideMemoryError("the session repository is closed")
        return run_on(self._loop, coro, self._timeout)

    def close(self) -> None:
        """Close the store the repository created and release the background loop; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_store:
            try:
                run_on(self._loop, self.store.close(), self._timeout)
            finally:
                SharedLoop.release()

    def __enter__(self) -> GlideSessionRepository:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def create_session(self, session: Session, **kwargs: Any) -> Session:
        """Create a new Session; raise if its id is taken."""
        return self._call(self.sessions.create_session(session))

    def read_session(self, session_id: str, **kwargs: Any) -> Session | None:
        """Read a Session, or ``None``."""
        return self._call(self.sessions.read_session(session_id))

    def delete_session(self, session_id: str, **kwargs: Any) -> bool:
        """Delete a Session with all its agents, messages and states."""
        return self._call(self.sessions.delete_session(session_id))

    def create_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Create (or replace) an Agent in a Session."""
        self._call(self.sessions.put_agent(session_id, session_agent, create=True))

    def read_agent(self, session_id: str, agent_id: str, **kwargs: Any) -> SessionAgent | None:
        """Read an Agent, or ``None``."""
        return self._call(self.sessions.read_agent(session_id, agent_id))

    def update_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Update an existing Agent, keeping its creation time."""
        self._call(self.sessions.put_agent(session_id, session_agent, create=False))

    def create_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        """Append a Message at its ``message_id``."""
        self._call(self.sessions.create_message(session_id, agent_id, session_message))

    def read_message(self, session_id: str, agent_id: str, message_id: int, **kwargs: Any) -> SessionMessage | None:
        """Read a Message by id, or ``None``."""
        return self._call(self.sessions.read_message(session_id, agent_id, message_id))

    def update_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        """Replace a Message (redaction)."""
        self._call(self.sessions.update_message(session_id, agent_id, session_message))

    def list_messages(
        self, session_id: str, agent_id: str, limit: int | None = None, offset: int = 0, **kwargs: Any
    ) -> list[SessionMessage]:
        """List an Agent's Messages from ``offset``, at most ``limit``, in one round trip."""
        return self._call(self.sessions.list_messages(session_id, agent_id, limit, offset))

    def create_multi_agent(self, session_id: str, multi_agent: MultiAgentBase, **kwargs: Any) -> None:
        """Store a new multi-agent (Swarm, Graph) state."""
        state = multi_agent.serialize_state()
        self._call(self.sessions.put_multi_agent(session_id, state, multi_agent.id, create=True))

    def read_multi_agent(self, session_id: str, multi_agent_id: str, **kwargs: Any) -> dict[str, Any] | None:
        """Read a multi-agent state, or ``None``."""
        return self._call(self.sessions.read_multi_agent(session_id, multi_agent_id))

    def update_multi_agent(self, session_id: str, multi_agent: MultiAgentBase, **kwargs: Any) -> None:
        """Update an existing multi-agent state."""
        state = multi_agent.serialize_state()
        self._call(self.sessions.put_multi_agent(session_id, state, multi_agent.id, create=False))


class GlideSessionManager(RepositorySessionManager):
    """A drop-in ``Agent(session_manager=...)`` that keeps sessions in Valkey.

    Args:
        session_id: The conversation to resume or start.
        store: A store to use (see :class:`GlideSessionRepository`).
        client: A glide client to use.
        url: A ``valkey://`` URL; an embedded server if none and no ``VALKEY_URL``.
        ttl: TTL of the session's keys, refreshed on activity.
        user_id: Owner of a new session, indexed in ``user_sessions:<uid>``.
        call_timeout: Seconds a call waits before raising ServerTimeoutError.
        **kwargs: Passed on to ``RepositorySessionManager``.
    """

    def __init__(
        self,
        session_id: str,
        *,
        store: SessionStore | None = None,
        client: GlideClient | GlideClusterClient | None = None,
        url: str | None = None,
        ttl: TTL | None = None,
        user_id: str | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        repository = GlideSessionRepository(
            store=store, client=client, url=url, ttl=ttl, user_id=user_id, call_timeout=call_timeout
        )
        self.repository = repository
        try:
            super().__init__(session_id=session_id, session_repository=repository, **kwargs)
        except BaseException:
            repository.close()
            raise

    def _agent(self, agent_id: str | None) -> str:
        if agent_id is not None:
            return agent_id
        known = list(self._latest_agent_message)
        if len(known) > 1:
            raise InvalidInputError(f"name the agent: this manager holds {len(known)} agents ({known})")
        return known[0] if known else DEFAULT_AGENT_ID

    def read_session(self) -> Session | None:
        """Return this session's record."""
        return self.repository.read_session(self.session_id)

    def read_agent(self, agent_id: str | None = None) -> SessionAgent | None:
        """Return an agent's record (by default this manager's only agent, or ``"default"``)."""
        return self.repository.read_agent(self.session_id, self._agent(agent_id))

    def list_messages(
        self, agent_id: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> builtins.list[SessionMessage]:
        """Return an agent's stored messages (by default this manager's only agent, or ``"default"``)."""
        return self.repository.list_messages(self.session_id, self._agent(agent_id), limit=limit, offset=offset)

    def delete_session(self) -> bool:
        """Delete this session: every agent, message, state and its index entry."""
        return self.repository.delete_session(self.session_id)

    def close(self) -> None:
        """Close what the manager created; idempotent."""
        self.repository.close()

    def __enter__(self) -> GlideSessionManager:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class GlideSnapshotStorage(Storage):
    """Strands' async ``Storage`` protocol on Valkey, for ``SnapshotSessionManager``.

    Each value is a STRING key (``strands:blob:<key>``); a sorted SET of all
    keys answers prefix listings with ZRANGEBYLEX, never SCAN. Calls made on
    another event loop than the store's are handed to the store's loop.

    Args:
        store: Where blobs live; its event loop must be running.
    """

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self._loop = _loop_of(store)

    async def _on_store_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        if asyncio.get_running_loop() is self._loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def _key(self, key: str) -> str:
        try:
            return self.store.schema.snapshot(key)
        except InvalidInputError as exc:
            raise StrandsStorageError(str(exc)) from exc

    async def write(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, overwriting any value."""
        if not isinstance(data, bytes | bytearray):
            raise StrandsStorageError(f"data must be bytes, not {type(data).__name__}")
        blob, index = self._key(key), self.store.schema.snapshot_index()

        def fill(batch: Any) -> None:
            batch.set(blob, bytes(data)).zadd(index, {key: 0})

        await self._on_store_loop(self.store._pipeline(None, fill))

    async def read(self, key: str) -> bytes | None:
        """Return the bytes stored under ``key``, or ``None``."""
        value: bytes | None = await self._on_store_loop(self.store._run(None, self.store.client.get, self._key(key)))
        return value

    async def delete(self, key: str) -> None:
        """Delete ``key``; a no-op if it does not exist."""
        blob, index = self._key(key), self.store.schema.snapshot_index()

        def fill(batch: Any) -> None:
            batch.delete([blob]).zrem(index, [key])

        await self._on_store_loop(self.store._pipeline(None, fill))

    async def list(self, query: str) -> builtins.list[str]:
        """Return the keys starting with ``query``, sorted."""
        index = self.store.schema.snapshot_index()
        prefix = query.encode()
        low, high = (b"[" + prefix, b"[" + prefix + b"\xff") if prefix else (b"-", b"+")
        keys = await self._on_store_loop(
            self.store._run(None, self.store.client.custom_command, [b"ZRANGEBYLEX", index.encode(), low, high])
        )
        return [key.decode() for key in keys]
