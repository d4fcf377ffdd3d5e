"""LangGraph adapter: a checkpointer that keeps each thread as a toolkit session.

Install with ``pip install 'glide-memory[langgraph]'``, then::

    from glide_memory.integrations.langgraph import GlideCheckpointSaver

    graph = builder.compile(checkpointer=GlideCheckpointSaver(url="valkey://localhost:6379"))
    graph.invoke(inputs, {"configurable": {"thread_id": "chat-42"}})

A thread is a session (id = ``thread_id``): its checkpoints, channel values
and pending writes are the session's ``langgraph`` and ``langgraph-writes``
records, and the root graph's ``messages`` channel is mirrored into the
session's main conversation (``store.get_messages(thread_id)``).
"""

from glide_memory.errors import MissingDependencyError

try:
    import langgraph.checkpoint.base  # noqa: F401 - only to say what to install
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(
        "glide_memory.integrations.langgraph needs LangGraph: pip install 'glide-memory[langgraph]'"
    ) from exc

from glide_memory.integrations.langgraph._layout import KIND, WRITES_KIND
from glide_memory.integrations.langgraph.saver import PAGE, RUNS, THREADS, GlideCheckpointSaver

__all__ = ["KIND", "PAGE", "RUNS", "THREADS", "WRITES_KIND", "GlideCheckpointSaver"]
