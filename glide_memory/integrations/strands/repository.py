"""Strands' ``SessionRepository`` on a :class:`SessionStore`, through its public API only.

Layout, all in the session's hash slot, sharing its TTL and going with
``delete_session``:

- the Strands session is a toolkit session (``meta:<id>``, owner, index);
- the agent ``"default"`` talks in the session's main conversation
  (``chat:<id>``, what ``store.get_messages(id)`` returns), any other agent
  in the session's thread named after it;
- the Session, agent and multi-agent records are records of kind
  ``strands`` (the companion HASH ``strands:<id>``).
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Coroutine, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from strands.session.session_repository import SessionRepository
from strands.types.exceptions import SessionException
from strands.types.session import Session, SessionAgent, SessionMessage, SessionType

from glide_memory import (
    TTL,
    UNSET,
    GlideMemoryError,
    InvalidInputError,
    KeySchema,
    MessageConflictError,
    SessionExistsError,
    SessionNotFoundError,
    SessionStore,
    StoreClosedError,
    Unset,
)
from glide_memory.integrations._bridge import DEFAULT_CALL_TIMEOUT, Binding
from glide_memory.integrations.strands import _codec, legacy
from glide_memory.integrations.strands._codec import KIND, thread_of_agent

if TYPE_CHECKING:
    from glide import GlideClient, GlideClusterClient
    from strands.multiagent.base import MultiAgentBase

T = TypeVar("T")


class StrandsSessionError(GlideMemoryError, SessionException):
    """Raised when a Strands session, agent or message is missing, taken, or a message id holds another message."""


@contextlib.contextmanager
def _as_strands_errors(session_id: str) -> Iterator[None]:
    """Turn the core's not-found, exists and conflict errors into Strands' SessionException."""
    try:
        yield
    except (SessionNotFoundError, SessionExistsError, MessageConflictError) as exc:
        raise StrandsSessionError(str(exc), session_id=session_id) from exc


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


class StrandsSessions:
    """The adapter's operations, natively async, on a :class:`SessionStore`.

    Args:
        store: Where sessions live.
        ttl: TTL of new sessions (refreshed on activity); the store's
            default if left out, ``None`` for never.
        user_id: Owner recorded on new sessions and indexed in
            ``user_sessions:<uid>``; none if ``None``.
    """

    def __init__(self, store: SessionStore, *, ttl: TTL | Unset | None = UNSET, user_id: str | None = None) -> None:
        self.store = store
        self.ttl = ttl
        self.user_id = user_id
        self._agents: set[tuple[str, str]] = set()  # (session, agent) known to exist

    async def create_session(self, session: Session) -> Session:
        """Create the session; raise :class:`StrandsSessionError` if it exists."""
        sid = session.session_id
        with _as_strands_errors(sid):
            await self.store.create_session(self.user_id, session_id=sid, ttl=self.ttl, exist_ok=True)
            if not await self.store.put_record(sid, KIND, "session", _json(session.to_dict()), only_if="absent"):
                raise StrandsSessionError(f"session {sid!r} already exists", session_id=sid)
        return session

    async def read_session(self, session_id: str) -> Session | None:
        """Return the Strands session record, or ``None``."""
        raw = await self.store.get_record(session_id, KIND, "session")
        if raw is None and await legacy.migrate(self.store, session_id):
            raw = await self.store.get_record(session_id, KIND, "session")
        if raw is None:
            return None
        data = orjson.loads(raw)
        data["session_type"] = SessionType(data.get("session_type", SessionType.AGENT.value))
        return Session.from_dict(data)

    async def delete_session(self, session_id: str) -> bool:
        """Delete everything of the session; return whether it existed."""
        self._agents = {known for known in self._agents if known[0] != session_id}
        return await self.store.delete_session(session_id)

    async def create_agent(self, session_id: str, agent: SessionAgent) -> None:
        """Create an agent record; raise if the session is missing or the agent exists."""
        aid = self._agent_id(session_id, agent.agent_id)
        with _as_strands_errors(session_id):
            # created_at lives in a record of its own, written once, so updates keep it with one write
            if not await self.store.put_record(
                session_id, KIND, f"agent:{aid}", _json(agent.to_dict()), only_if="absent"
            ):
                raise StrandsSessionError(
                    f"agent {aid!r} already exists in session {session_id!r}", session_id=session_id
                )
            await self.store.put_record(session_id, KIND, f"agent-created:{aid}", agent.created_at, only_if="absent")
        self._agents.add((session_id, aid))

    async def read_agent(self, session_id: str, agent_id: str) -> SessionAgent | None:
        """Return an agent record (with its original ``created_at``), or ``None``."""
        aid = self._agent_id(session_id, agent_id)
        record, created_at = await self.store.get_records(session_id, KIND, [f"agent:{aid}", f"agent-created:{aid}"])
        if record is None:
            return None
        data = orjson.loads(record)
        if created_at is not None:
            data["created_at"] = created_at.decode()
        self._agents.add((session_id, aid))
        return SessionAgent.from_dict(data)

    async def update_agent(self, session_id: str, agent: SessionAgent) -> None:
        """Replace an existing agent record, keeping its ``created_at``; raise if it does not exist."""
        aid = self._agent_id(session_id, agent.agent_id)
        with _as_strands_errors(session_id):
            if not await self.store.put_record(
                session_id, KIND, f"agent:{aid}", _json(agent.to_dict()), only_if="present"
            ):
                raise StrandsSessionError(
                    f"agent {aid!r} does not exist in session {session_id!r}", session_id=session_id
                )

    async def create_messages(self, session_id: str, agent_id: str, messages: Sequence[SessionMessage]) -> None:
        """Store an agent's messages in one atomic round trip, each exactly once per message id.

        A message stored before under its id is a no-op; a different one
        under a stored id raises :class:`StrandsSessionError`.
        """
        aid = self._agent_id(session_id, agent_id)
        if (session_id, aid) not in self._agents and await self.read_agent(session_id, aid) is None:
            raise StrandsSessionError(f"agent {aid!r} does not exist in session {session_id!r}", session_id=session_id)
        stored = [_codec.to_stored(self._checked(session_id, m), aid) for m in messages]
        with _as_strands_errors(session_id):
            await self.store.add_messages(session_id, stored, thread=thread_of_agent(aid))

    async def read_message(self, session_id: str, agent_id: str, message_id: int) -> SessionMessage | None:
        """Return the message with ``message_id``, or ``None``."""
        aid = self._agent_id(session_id, agent_id)
        mid = self._message_id(session_id, message_id)
        try:
            # ids are positions while nothing was trimmed; else look through the list
            for position, raw in await self.store.read_range(session_id, mid, mid, thread=thread_of_agent(aid)):
                found = _codec.from_stored(raw, key=aid, position=position, session_id=session_id)
                if found.message_id == mid:
                    return found
            for found in await self.list_messages(session_id, aid):
                if found.message_id == mid:
                    return found
        except SessionNotFoundError:
            return None
        return None

    async def update_message(self, session_id: str, agent_id: str, message: SessionMessage) -> None:
        """Replace a stored message (a redaction), keeping its ``created_at``; raise if it is not stored."""
        aid = self._agent_id(session_id, agent_id)
        previous = await self.read_message(session_id, aid, message.message_id)
        if previous is None:
            raise StrandsSessionError(
                f"message {message.message_id} of agent {aid!r} does not exist in session {session_id!r}",
                session_id=session_id,
            )
        message.created_at = previous.created_at
        with _as_strands_errors(session_id):
            await self.store.replace_message(session_id, _codec.to_stored(message, aid), thread=thread_of_agent(aid))

    async def list_messages(
        self, session_id: str, agent_id: str, limit: int | None = None, offset: int = 0
    ) -> list[SessionMessage]:
        """Return an agent's messages from position ``offset`` on (at most ``limit``), in one round trip."""
        aid = self._agent_id(session_id, agent_id)
        if type(offset) is not int or offset < 0 or (limit is not None and (type(limit) is not int or limit < 0)):
            raise InvalidInputError(f"bad offset {offset!r} or limit {limit!r}", session_id=session_id)
        if limit == 0:
            return []
        stop = -1 if limit is None else offset + limit - 1
        try:
            entries = await self.store.read_range(session_id, offset, stop, thread=thread_of_agent(aid))
        except SessionNotFoundError:
            return []
        key = f"{session_id}/{aid}"
        return _codec.from_stored_many(entries, key=key, session_id=session_id)

    async def put_multi_agent(
        self, session_id: str, state: dict[str, Any], multi_agent_id: str, *, create: bool
    ) -> None:
        """Store a multi-agent state; updating one that does not exist raises."""
        mid = self._agent_id(session_id, multi_agent_id, kind="multi-agent id")
        with _as_strands_errors(session_id):
            written = await self.store.put_record(
                session_id, KIND, f"multi:{mid}", _json(state), only_if=None if create else "present"
            )
        if not written:
            raise StrandsSessionError(
                f"multi-agent state {mid!r} does not exist in session {session_id!r}", session_id=session_id
            )

    async def read_multi_agent(self, session_id: str, multi_agent_id: str) -> dict[str, Any] | None:
        """Return a multi-agent state, or ``None``."""
        mid = self._agent_id(session_id, multi_agent_id, kind="multi-agent id")
        raw = await self.store.get_record(session_id, KIND, f"multi:{mid}")
        return None if raw is None else dict(orjson.loads(raw))

    @staticmethod
    def _agent_id(session_id: str, agent_id: object, kind: str = "agent id") -> str:
        if not isinstance(agent_id, str) or not agent_id:
            raise InvalidInputError(f"{kind} must be a non-empty str, not {agent_id!r}", session_id=session_id)
        return agent_id

    @staticmethod
    def _message_id(session_id: str, message_id: object) -> int:
        if type(message_id) is not int or message_id < 0:
            raise InvalidInputError(f"message id must be a non-negative int, not {message_id!r}", session_id=session_id)
        return message_id

    def _checked(self, session_id: str, message: SessionMessage) -> SessionMessage:
        self._message_id(session_id, message.message_id)
        return message


class GlideSessionRepository(SessionRepository):
    """Strands' ``SessionRepository`` on Valkey, callable from synchronous code.

    Built from a :class:`SessionStore`, a glide client, or a URL (an embedded
    server when there is neither a URL nor ``VALKEY_URL``). A store or client
    you pass in stays yours and its event loop must keep running while
    Strands calls the repository from other threads; with a URL the
    repository runs its own store on a shared background loop and
    :meth:`close` releases it.

    Args:
        store: A store to use.
        client: A glide client to build a store on.
        url: A ``valkey://`` URL to connect to.
        ttl: TTL of new sessions, refreshed on every write; the store's
            default (24 h) if left out, ``None`` for never.
        user_id: Owner of new sessions, indexed in ``user_sessions:<uid>``.
        schema: Key names, for a store this repository creates.
        call_timeout: Seconds a call waits before raising ServerTimeoutError.
    """

    def __init__(
        self,
        *,
        store: SessionStore | None = None,
        client: GlideClient | GlideClusterClient | None = None,
        url: str | None = None,
        ttl: TTL | Unset | None = UNSET,
        user_id: str | None = None,
        schema: KeySchema | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
    ) -> None:
        if sum(option is not None for option in (store, client, url)) > 1:
            raise InvalidInputError("pass at most one of store, client and url")
        if store is None and client is not None:
            store = SessionStore(client, schema=schema)
        self._binding = Binding(
            store=store,
            url=url,
            schema=schema if store is None else None,  # a store of yours has its own
            call_timeout=call_timeout,
            name="the session repository",
            closed_error=StoreClosedError,
        )
        self.sessions = StrandsSessions(self._binding.store, ttl=ttl, user_id=user_id)

    @property
    def store(self) -> SessionStore:
        """The store behind the repository."""
        return self.sessions.store

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the store's event loop and return its result, from synchronous code.

        For inspecting what the adapter stored, e.g.
        ``repository.run(repository.store.get_messages(session_id))``.
        """
        return self._binding.run(coro)

    def close(self) -> None:
        """Close the store the repository created and release the background loop; idempotent."""
        self._binding.close()

    def __enter__(self) -> GlideSessionRepository:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def create_session(self, session: Session, **kwargs: Any) -> Session:
        """Create a new Session; raise if its id is taken."""
        return self.run(self.sessions.create_session(session))

    def read_session(self, session_id: str, **kwargs: Any) -> Session | None:
        """Read a Session, or ``None``."""
        return self.run(self.sessions.read_session(session_id))

    def delete_session(self, session_id: str, **kwargs: Any) -> bool:
        """Delete a Session with all its agents, messages and states."""
        return self.run(self.sessions.delete_session(session_id))

    def create_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Create an Agent in a Session; raise if it exists."""
        self.run(self.sessions.create_agent(session_id, session_agent))

    def read_agent(self, session_id: str, agent_id: str, **kwargs: Any) -> SessionAgent | None:
        """Read an Agent, or ``None``."""
        return self.run(self.sessions.read_agent(session_id, agent_id))

    def update_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Update an existing Agent, keeping its creation time."""
        self.run(self.sessions.update_agent(session_id, session_agent))

    def create_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        """Store a Message; a repeat of a stored one is a no-op, another message under its id raises."""
        self.run(self.sessions.create_messages(session_id, agent_id, [session_message]))

    def create_messages(self, session_id: str, agent_id: str, session_messages: Sequence[SessionMessage]) -> None:
        """Store several Messages of one agent in one atomic round trip."""
        self.run(self.sessions.create_messages(session_id, agent_id, session_messages))

    def read_message(self, session_id: str, agent_id: str, message_id: int, **kwargs: Any) -> SessionMessage | None:
        """Read a Message by id, or ``None``."""
        return self.run(self.sessions.read_message(session_id, agent_id, message_id))

    def update_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        """Replace a Message (redaction)."""
        self.run(self.sessions.update_message(session_id, agent_id, session_message))

    def list_messages(
        self, session_id: str, agent_id: str, limit: int | None = None, offset: int = 0, **kwargs: Any
    ) -> builtins.list[SessionMessage]:
        """List an Agent's Messages from ``offset``, at most ``limit``, in one round trip."""
        return self.run(self.sessions.list_messages(session_id, agent_id, limit, offset))

    def create_multi_agent(self, session_id: str, multi_agent: MultiAgentBase, **kwargs: Any) -> None:
        """Store a new multi-agent (Swarm, Graph) state."""
        state = multi_agent.serialize_state()
        self.run(self.sessions.put_multi_agent(session_id, state, multi_agent.id, create=True))

    def read_multi_agent(self, session_id: str, multi_agent_id: str, **kwargs: Any) -> dict[str, Any] | None:
        """Read a multi-agent state, or ``None``."""
        return self.run(self.sessions.read_multi_agent(session_id, multi_agent_id))

    def update_multi_agent(self, session_id: str, multi_agent: MultiAgentBase, **kwargs: Any) -> None:
        """Update an existing multi-agent state."""
        state = multi_agent.serialize_state()
        self.run(self.sessions.put_multi_agent(session_id, state, multi_agent.id, create=False))
