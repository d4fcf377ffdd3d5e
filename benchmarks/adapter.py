"""The Strands adapter's restore path: ``list_messages`` of 1,000 stored messages.

Skipped, with a note in the results, while ``glide_memory.strands`` (or
Strands itself) cannot be imported. Strands' ``SessionRepository`` is
synchronous and its manager calls it from worker threads, so synchronous
methods are called here through ``asyncio.to_thread`` (coroutine functions
are awaited directly); the timing includes that thread hop.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from collections.abc import Callable
from typing import Any

from benchmarks.config import Config
from benchmarks.harness import Contender, Progress, Section, interleave
from benchmarks.scenarios import TURN_TEXT
from benchmarks.workspace import Workspace
from glide_memory.keys import new_session_id


async def _call(method: Callable[..., Any], *args: Any) -> Any:
    """Call a repository method, sync or async, without blocking the event loop."""
    if inspect.iscoroutinefunction(method):
        return await method(*args)
    result = await asyncio.to_thread(method, *args)
    return await result if inspect.isawaitable(result) else result


def _load() -> tuple[Any, Any] | str:
    """Return ``(GlideSessionRepository, strands.types.session)`` or why they cannot load."""
    try:
        adapter = importlib.import_module("glide_memory.strands")
        types = importlib.import_module("strands.types.session")
        return adapter.GlideSessionRepository, types
    except (ImportError, AttributeError) as exc:
        return f"skipped: the Strands adapter is not available ({exc})"


async def strands_restore(ws: Workspace, config: Config, progress: Progress) -> Section:
    """Time ``GlideSessionRepository.list_messages`` of a 1,000-message agent."""
    section = Section(key="strands", title="Strands adapter")
    loaded = _load()
    if isinstance(loaded, str):
        section.extra = {"skipped": True, "note": loaded}
        progress.advance(config.strands_rounds + config.warmup(config.strands_rounds))
        return section
    repository_class, types = loaded
    started = time.perf_counter()
    repository = repository_class(store=ws.store)
    session_id, agent_id = new_session_id(), "bench-agent"
    await _call(repository.create_session, types.Session(session_id=session_id, session_type=types.SessionType.AGENT))
    agent = types.SessionAgent(agent_id=agent_id, state={}, conversation_manager_state={})
    await _call(repository.create_agent, session_id, agent)
    count = config.strands_messages
    for number in range(count):
        role = "user" if number % 2 == 0 else "assistant"
        message = types.SessionMessage(message={"role": role, "content": [{"text": TURN_TEXT}]}, message_id=number)
        await _call(repository.create_message, session_id, agent_id, message)
    listed = await _call(repository.list_messages, session_id, agent_id)
    if len(listed) != count:
        raise RuntimeError(f"list_messages returned {len(listed)} messages, expected {count}")
    section.extra = {"skipped": False, "messages": count, "setup_s": round(time.perf_counter() - started, 3)}
    contenders = [
        Contender(
            name=f"strands list_messages ({count:,})",
            op=lambda: _call(repository.list_messages, session_id, agent_id),
            commands=None,
            trips=None,
        )
    ]
    rounds = config.strands_rounds
    await interleave(section, contenders, rounds=rounds, warmup=config.warmup(rounds), progress=progress)
    if hasattr(repository, "delete_session"):
        await _call(repository.delete_session, session_id)
    return section
