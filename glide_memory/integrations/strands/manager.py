"""GlideSessionManager: Strands' RepositorySessionManager that never wedges and never loses a turn.

Strands numbers each agent's messages 0, 1, 2... and moves to the next
number before the write is attempted, so with a plain repository one failed
write (memory refused, a timeout at failover) leaves a gap, and a store that
keys messages by position then refuses every later turn. This manager keeps
each message it could not store (or could not confirm) and writes it again,
first, in the same atomic batch as the next one; the store applies each
message id at most once, so a write that was applied but not acknowledged
is not stored twice. The stored conversation converges to exactly the
agent's messages: no gap, no duplicate, nothing dropped.
"""

from __future__ import annotations

import builtins
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from strands.session.repository_session_manager import RepositorySessionManager
from strands.session.session_repository import SessionRepository
from strands.types.session import Session, SessionAgent, SessionMessage, SessionType

from glide_memory import TTL, UNSET, Unset
from glide_memory.errors import InvalidInputError
from glide_memory.integrations._bridge import DEFAULT_CALL_TIMEOUT
from glide_memory.integrations.strands._codec import DEFAULT_AGENT_ID
from glide_memory.integrations.strands.repository import GlideSessionRepository

if TYPE_CHECKING:
    from glide import GlideClient, GlideClusterClient
    from strands.multiagent.base import MultiAgentBase
    from strands.types.agent import LocalAgent
    from strands.types.content import Message

    from glide_memory import KeySchema, SessionStore


class _NoIO:
    """Stands in for the repository while ``RepositorySessionManager.__init__`` runs, so construction sends nothing."""

    def read_session(self, session_id: str, **kwargs: Any) -> Session:
        return Session(session_id=session_id, session_type=SessionType.AGENT)


class GlideSessionManager(RepositorySessionManager):
    """A drop-in ``Agent(session_manager=...)`` that keeps sessions in Valkey.

    Construction sends nothing, so it works anywhere, also on the event
    loop a store you pass in belongs to; the session is read (or created)
    when the first agent attaches. Agents are then called synchronously:
    with a store of your running loop, create and call them in a worker
    thread (``await asyncio.to_thread(agent, prompt)``).

    Args:
        session_id: The conversation to resume or start.
        store: A store to use (see :class:`GlideSessionRepository`).
        client: A glide client to use.
        url: A ``valkey://`` URL; an embedded server if none and no ``VALKEY_URL``.
        ttl: TTL of the session's keys, refreshed on activity; the store's
            default (24 h) if left out, ``None`` for never.
        user_id: Owner of a new session, indexed in ``user_sessions:<uid>``.
        schema: Key names, for a store this manager creates.
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
        ttl: TTL | Unset | None = UNSET,
        user_id: str | None = None,
        schema: KeySchema | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        repository = GlideSessionRepository(
            store=store, client=client, url=url, ttl=ttl, user_id=user_id, schema=schema, call_timeout=call_timeout
        )
        self.repository = repository
        try:
            super().__init__(session_id=session_id, session_repository=cast(SessionRepository, _NoIO()), **kwargs)
        except BaseException:
            repository.close()
            raise
        self.session_repository = repository
        self._session_ready = False
        self._pending: dict[str, list[SessionMessage]] = {}

    def _ensure_session(self) -> None:
        """Read the session, or create it, the first time it is needed."""
        if self._session_ready:
            return
        session = self.repository.read_session(self.session_id)
        if session is None:
            session = Session(session_id=self.session_id, session_type=SessionType.AGENT)
            self.repository.create_session(session)
            self._is_new_session = True
        else:
            self._is_new_session = False
        self.session = session
        self._session_ready = True

    # -- the hooks Strands calls ------------------------------------------

    def initialize(self, agent: LocalAgent, **kwargs: Any) -> None:
        """Restore the agent from the session, or record it there."""
        self._ensure_session()
        super().initialize(agent, **kwargs)

    def append_message(self, message: Message, agent: LocalAgent, **kwargs: Any) -> None:
        """Store a new message of the agent, with any earlier one that could not be stored."""
        self._ensure_session()
        agent_id = agent.agent_id
        latest = self._latest_agent_message[agent_id]
        session_message = SessionMessage.from_message(message, 0 if latest is None else latest.message_id + 1)
        self._latest_agent_message[agent_id] = session_message
        self._held_records.setdefault(agent_id, []).append(session_message)
        self._pending.setdefault(agent_id, []).append(session_message)
        self._flush(agent_id)

    def redact_latest_message(self, redact_message: Message, agent: LocalAgent, **kwargs: Any) -> None:
        """Replace the latest stored message of the agent (after storing any still pending)."""
        self._flush(agent.agent_id)
        super().redact_latest_message(redact_message, agent, **kwargs)

    def sync_agent(self, agent: LocalAgent, **kwargs: Any) -> None:
        """Store what is still pending, then the agent's state."""
        self._ensure_session()
        self._flush(agent.agent_id)
        super().sync_agent(agent, **kwargs)

    def initialize_multi_agent(self, source: MultiAgentBase, **kwargs: Any) -> None:
        """Restore a multi-agent (Swarm, Graph) from the session, or record it there."""
        self._ensure_session()
        super().initialize_multi_agent(source, **kwargs)

    def sync_multi_agent(self, source: MultiAgentBase, **kwargs: Any) -> None:
        """Store a multi-agent's state."""
        self._ensure_session()
        super().sync_multi_agent(source, **kwargs)

    def _flush(self, agent_id: str) -> None:
        """Store the agent's pending messages in one atomic batch; keep them if that fails."""
        pending = self._pending.get(agent_id)
        if not pending:
            return
        self.repository.create_messages(self.session_id, agent_id, pending)
        self._pending[agent_id] = []

    @property
    def pending(self) -> dict[str, builtins.list[int]]:
        """The message ids of each agent not yet confirmed stored (written first on the next write)."""
        return {agent: [m.message_id for m in held] for agent, held in self._pending.items() if held}

    # -- inspection -------------------------------------------------------

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
        self._pending.clear()
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
