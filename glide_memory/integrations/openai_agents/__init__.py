"""OpenAI Agents SDK adapter: the SDK's ``Session`` protocol on Valkey.

Install with ``pip install 'glide-memory[openai-agents]'``, then::

    from agents import Agent, Runner
    from glide_memory.integrations.openai_agents import GlideSession

    session = GlideSession("conversation-42", url="valkey://localhost:6379", user_id="alex")
    result = await Runner.run(agent, "Hello", session=session)

An Agents SDK session is a toolkit session: each item is one message of its
main conversation (``store.get_messages(session_id)`` reads them with their
role and text), the exact item is kept in the message's metadata, and the
session is listed under its user, exported, deleted and expired like any
other.
"""

from glide_memory.errors import MissingDependencyError

try:
    import agents  # noqa: F401 - only to say what to install
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(
        "glide_memory.integrations.openai_agents needs the OpenAI Agents SDK: pip install 'glide-memory[openai-agents]'"
    ) from exc

from glide_memory.integrations.openai_agents._items import KEY
from glide_memory.integrations.openai_agents.session import GlideSession, SessionClosedError

__all__ = ["KEY", "GlideSession", "SessionClosedError"]
