"""Strands Agents adapter: persistent, resumable, shareable agent sessions.

Install with ``pip install 'glide-memory[strands]'``, then::

    from strands import Agent
    from glide_memory.integrations.strands import GlideSessionManager

    agent = Agent(session_manager=GlideSessionManager("user-42", url="valkey://localhost:6379"))

A Strands session is a toolkit session: the default agent's messages are the
session's main conversation (``store.get_messages(session_id)``), other
agents talk in threads named after them, and the Session, agent and
multi-agent records are the session's ``strands`` records. Everything shares
the session's slot and TTL and goes with ``delete_session``; sessions
written by glide-memory 0.1 are migrated when first read.
"""

from glide_memory.errors import MissingDependencyError

try:
    import strands  # noqa: F401 - only to say what to install
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(
        "glide_memory.integrations.strands needs Strands Agents: pip install 'glide-memory[strands]'"
    ) from exc

from glide_memory.integrations.strands._codec import DEFAULT_AGENT_ID, KIND
from glide_memory.integrations.strands.manager import GlideSessionManager
from glide_memory.integrations.strands.repository import GlideSessionRepository, StrandsSessionError, StrandsSessions
from glide_memory.integrations.strands.snapshot import GlideSnapshotStorage, StrandsStorageError

__all__ = [
    "DEFAULT_AGENT_ID",
    "KIND",
    "GlideSessionManager",
    "GlideSessionRepository",
    "GlideSnapshotStorage",
    "StrandsSessionError",
    "StrandsSessions",
    "StrandsStorageError",
]
