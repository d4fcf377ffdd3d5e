"""The Strands adapter's restore path: an agent of 1,000 stored messages coming back.

A restore is what Strands' session manager does when an agent starts on an
existing session: ``read_session``, ``read_agent`` and ``list_messages``,
synchronously from the agent's thread. It is timed that way (one worker
thread per restore, the store's loop serving it), counted in round trips,
and its decoding is timed alone per message.

The community ``strands-valkey-session-manager`` restores the same agent
next to it when it can: it needs the server's JSON module (``JSON.GET``), so
on a server without one it is skipped with a note, as is the whole section
while ``glide_memory.integrations.strands`` (or Strands) cannot be imported.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import time
from typing import Any

from benchmarks.config import Config
from benchmarks.harness import Contender, Progress, Section, interleave, summarize
from benchmarks.scenarios import TURN_TEXT
from benchmarks.workspace import Workspace
from glide_memory import parse_url
from glide_memory.keys import new_session_id

AGENT = "bench-agent"
COMMUNITY = "strands-valkey-session-manager"


def _load() -> tuple[Any, Any, Any] | str:
    """Return ``(GlideSessionRepository, the adapter's codec, strands.types.session)`` or why they cannot load."""
    try:
        adapter = importlib.import_module("glide_memory.integrations.strands")
        codec = importlib.import_module("glide_memory.integrations.strands._codec")
        types = importlib.import_module("strands.types.session")
        return adapter.GlideSessionRepository, codec, types
    except (ImportError, AttributeError) as exc:
        return f"skipped: the Strands adapter is not available ({exc})"


def _messages(types: Any, count: int) -> list[Any]:
    return [
        types.SessionMessage(
            message={"role": "user" if n % 2 == 0 else "assistant", "content": [{"text": TURN_TEXT}]}, message_id=n
        )
        for n in range(count)
    ]


def _restore(repository: Any, session_id: str) -> list[Any]:
    """Restore an agent as Strands' session manager does, from a synchronous caller."""
    if repository.read_session(session_id) is None or repository.read_agent(session_id, AGENT) is None:
        raise RuntimeError(f"session {session_id} or its agent is missing")
    return list(repository.list_messages(session_id, AGENT))


async def strands_restore(ws: Workspace, config: Config, progress: Progress) -> Section:
    """Time restoring a 1,000-message agent; count its round trips and its decoding per message."""
    section = Section(key="strands", title="Strands adapter")
    loaded = _load()
    if isinstance(loaded, str):
        section.extra = {"skipped": True, "note": loaded}
        progress.advance(config.strands_rounds + config.warmup(config.strands_rounds))
        return section
    repository_class, codec, types = loaded
    started = time.perf_counter()
    repository = repository_class(store=ws.store)
    sessions = repository.sessions  # the adapter's async side, for the setup
    session_id, count = new_session_id(), config.strands_messages
    await sessions.create_session(types.Session(session_id=session_id, session_type=types.SessionType.AGENT))
    await sessions.create_agent(session_id, types.SessionAgent(agent_id=AGENT, state={}, conversation_manager_state={}))
    messages = _messages(types, count)
    for start in range(0, count, 500):
        await sessions.create_messages(session_id, AGENT, messages[start : start + 500])
    sent = ws.store.requests_sent
    restored = await asyncio.to_thread(_restore, repository, session_id)
    requests = ws.store.requests_sent - sent
    if len(restored) != count:
        raise RuntimeError(f"the restore returned {len(restored)} messages, expected {count}")
    section.extra = {
        "skipped": False,
        "messages": count,
        "requests_per_restore": requests,
        "setup_s": round(time.perf_counter() - started, 3),
    }
    contenders = [
        Contender(
            name=f"glide-memory Strands restore ({count:,})",
            op=lambda: asyncio.to_thread(_restore, repository, session_id),
            commands=None,
            trips=requests,
        )
    ]
    community = await _community(ws, types, count)
    if isinstance(community, str):
        section.extra["community"] = {"skipped": True, "note": community}
    else:
        section.extra["community"] = {"skipped": False, "version": community.version}
        contenders.append(
            Contender(
                name=f"{COMMUNITY} {community.version} restore ({count:,})",
                op=lambda: asyncio.to_thread(_restore, community.manager, community.session_id),
                commands=None,
                trips=None,
                every=5,  # it reads message by message: far slower, so fewer samples
            )
        )
    rounds = config.strands_rounds
    await interleave(section, contenders, rounds=rounds, warmup=config.warmup(rounds), progress=progress)
    section.extra["decode"] = await _decode_cost(ws, codec, session_id, rounds)
    await sessions.delete_session(session_id)
    if not isinstance(community, str):
        await asyncio.to_thread(community.manager.delete_session, community.session_id)
    return section


async def _decode_cost(ws: Workspace, codec: Any, session_id: str, rounds: int) -> dict[str, Any]:
    """Time turning the restore's stored entries into Strands messages, per message (pure CPU)."""
    entries = await ws.store.read_range(session_id, 0, -1, thread=codec.thread_of_agent(AGENT))
    samples = []
    clock = time.perf_counter_ns
    for _ in range(max(20, rounds)):
        start = clock()
        codec.from_stored_many(entries, key=session_id, session_id=session_id)
        samples.append((clock() - start) // len(entries))
    stats = summarize("decode one Strands message", samples, commands=None, trips=None)
    return {"messages_per_call": len(entries), "bytes_per_message": len(entries[0][1]), **stats.to_json()}


class _Community:
    def __init__(self, manager: Any, session_id: str, version: str) -> None:
        self.manager, self.session_id, self.version = manager, session_id, version


async def _community(ws: Workspace, types: Any, count: int) -> _Community | str:
    """Store the same agent through the community session manager, or say why it cannot run here."""
    try:
        module = importlib.import_module("strands_valkey_session_manager")
        valkey = importlib.import_module("valkey")
        version = importlib.metadata.version(COMMUNITY)
    except ImportError as exc:
        return f"skipped: {COMMUNITY} is not installed ({exc})"
    if ws.cluster or ws.url is None:
        return f"skipped: {COMMUNITY} is run on standalone servers only here"
    modules = await ws.command(["MODULE", "LIST"])
    if b"json" not in repr(modules).lower().encode():
        return (
            f"skipped: {COMMUNITY} {version} stores messages with JSON.SET/JSON.GET, and this server has no JSON module"
        )
    settings = parse_url(ws.url)
    client = valkey.Valkey(
        host=settings.host,
        port=settings.port,
        username=settings.username,
        password=settings.password,
        ssl=settings.use_tls,
    )
    session_id = f"gmbench{new_session_id()}"  # the community keys live outside the namespace: deleted at the end

    def setup() -> Any:
        manager = module.ValkeySessionManager(session_id, client)
        manager.create_agent(session_id, types.SessionAgent(agent_id=AGENT, state={}, conversation_manager_state={}))
        for message in _messages(types, count):
            manager.create_message(session_id, AGENT, message)
        return manager

    return _Community(await asyncio.to_thread(setup), session_id, version)
