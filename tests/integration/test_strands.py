"""The Strands Agents adapter against a real server, driven by an offline scripted model.

glide delivers every reply through the first event loop that used it (here
the suite's session loop), so the synchronous Strands calls run in worker
threads while these async tests keep that loop running.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from strands import Agent, tool
from strands.agent.conversation_manager import SlidingWindowConversationManager
from strands.multiagent import Swarm
from strands.session import SnapshotSessionManager
from strands.types.content import ContentBlock, Message
from strands.types.session import Session, SessionAgent, SessionMessage, SessionType, encode_bytes_values

from glide_memory import BridgeError, SessionStore, StoreClosedError
from glide_memory.integrations._bridge import SharedLoop
from glide_memory.integrations.strands import (
    GlideSessionManager,
    GlideSessionRepository,
    GlideSnapshotStorage,
    StrandsSessionError,
)
from glide_memory.integrations.strands.testing import ScriptedModel, text, tool_use
from glide_memory.keys import escape_glob
from tests.support import Client, keys_matching

PNG = b"\x89PNG\r\n\x1a\n\x00\x01binary\xff"
PICTURE_PROMPT: list[ContentBlock] = [{"text": "What is this?"}, {"image": {"format": "png", "source": {"bytes": PNG}}}]


@tool
def clock(tz: str) -> str:
    """Tell the time in a time zone."""
    return f"12:00 {tz}"


@pytest.fixture
def sid() -> str:
    """A fresh Strands session id."""
    return f"strands-{uuid.uuid4().hex}"


@pytest.fixture
async def manager_factory(valkey_url: str) -> AsyncIterator[Callable[..., GlideSessionManager]]:
    """Build managers on the test server and close them all afterwards."""
    made: list[GlideSessionManager] = []

    def make(session_id: str, **options: Any) -> GlideSessionManager:
        manager = GlideSessionManager(session_id, url=valkey_url, **options)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        await asyncio.to_thread(manager.close)


def _agent(manager: GlideSessionManager, replies: list[Any], **options: Any) -> Agent:
    return Agent(model=ScriptedModel(replies), session_manager=manager, tools=[clock], callback_handler=None, **options)


async def test_conversation_restores_exactly_in_a_new_process(
    manager_factory: Callable[..., GlideSessionManager], valkey_url: str, sid: str
) -> None:
    """A conversation with a tool call and binary content is restored exactly by a new Python process."""

    def converse() -> list[Message]:
        agent = _agent(
            manager_factory(sid, ttl=600, user_id="alex"),
            [text("Hi Alex."), tool_use("t1", "clock", {"tz": "UTC"}), text("It is noon."), text("A PNG.")],
        )
        agent("My name is Alex and I'm building a RAG pipeline.")
        agent("What time is it?")
        agent(PICTURE_PROMPT)
        return agent.messages

    messages = await asyncio.to_thread(converse)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2 + ["user", "assistant"] * 2
    assert any("toolUse" in block for block in messages[3]["content"])
    script = textwrap.dedent(
        f"""
        import json, sys
        from strands import Agent
        from strands.types.session import encode_bytes_values
        from glide_memory.integrations.strands import GlideSessionManager
        from glide_memory.integrations.strands.testing import ScriptedModel
        with GlideSessionManager({sid!r}, url={valkey_url!r}) as manager:
            agent = Agent(model=ScriptedModel([]), session_manager=manager, callback_handler=None)
            json.dump(encode_bytes_values(agent.messages), sys.stdout)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    out, err = await asyncio.wait_for(done.communicate(), 120)
    assert done.returncode == 0, err.decode()
    assert json.loads(out) == encode_bytes_values(messages)


async def test_tool_use_and_bytes_round_trip_in_process(
    manager_factory: Callable[..., GlideSessionManager], sid: str
) -> None:
    """toolUse, toolResult and image bytes come back identical, bytes as bytes."""

    def run() -> tuple[list[Message], list[Message]]:
        first = _agent(manager_factory(sid), [tool_use("t9", "clock", {"tz": "CET"}), text("Noon in Berlin.")])
        first(PICTURE_PROMPT)
        second = _agent(manager_factory(sid), [])
        return first.messages, second.messages

    before, after = await asyncio.to_thread(run)
    assert after == before
    assert after[0]["content"][1]["image"]["source"]["bytes"] == PNG
    result = after[2]["content"][0]["toolResult"]
    assert result["toolUseId"] == "t9" and result["content"] == [{"text": "12:00 CET"}]


async def test_two_agents_share_a_session_with_separate_histories(
    manager_factory: Callable[..., GlideSessionManager], sid: str
) -> None:
    """A researcher and a writer in one session keep their own histories and restore them."""

    def run() -> tuple[list[Message], list[Message], list[Message], list[Message]]:
        manager = manager_factory(sid)
        researcher = _agent(manager, [text("Found 3 papers.")], agent_id="researcher")
        writer = _agent(manager, [text("Draft ready."), text("Second draft.")], agent_id="writer")
        researcher("Find papers on RAG")
        writer("Write the intro")
        writer("Shorter please")
        again = manager_factory(sid)
        return (
            researcher.messages,
            writer.messages,
            _agent(again, [], agent_id="researcher").messages,
            _agent(again, [], agent_id="writer").messages,
        )

    researcher, writer, researcher_again, writer_again = await asyncio.to_thread(run)
    assert len(researcher) == 2 and len(writer) == 4
    assert (researcher_again, writer_again) == (researcher, writer)


async def test_redaction_of_latest_message_persists(
    manager_factory: Callable[..., GlideSessionManager], sid: str
) -> None:
    """redact_latest_message rewrites the stored message and a restored agent sees the redaction."""

    def run() -> tuple[SessionMessage | None, list[Message]]:
        manager = manager_factory(sid)
        agent = _agent(manager, [text("Your card 4111-1111 is noted.")])
        agent("Remember my card 4111-1111")
        redacted: Message = {"role": "assistant", "content": [{"text": "[REDACTED]"}]}
        manager.redact_latest_message(redacted, agent)
        stored = manager.repository.read_message(sid, "default", 1)
        return stored, _agent(manager_factory(sid), []).messages

    stored, restored = await asyncio.to_thread(run)
    assert stored is not None and stored.redact_message == {"role": "assistant", "content": [{"text": "[REDACTED]"}]}
    assert stored.message["content"] == [{"text": "Your card 4111-1111 is noted."}]
    assert restored[1]["content"] == [{"text": "[REDACTED]"}]


async def test_swarm_state_is_saved_and_restored(manager_factory: Callable[..., GlideSessionManager], sid: str) -> None:
    """A Swarm's state is stored by the session manager and an unfinished run resumes from it."""

    def run() -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
        manager = manager_factory(sid)
        swarm = Swarm(
            [Agent(name="solo", model=ScriptedModel([text("done")]), callback_handler=None)], session_manager=manager
        )
        swarm("Do the task")
        saved = swarm.serialize_state()
        stored = manager.repository.read_multi_agent(sid, swarm.id)
        # pretend the process died mid-run: a frontier left to execute
        unfinished = {**saved, "status": "executing", "next_nodes_to_execute": ["solo"]}
        sessions = manager.repository.sessions
        manager.repository.run(sessions.put_multi_agent(sid, unfinished, swarm.id, create=False))
        restored_swarm = Swarm(
            [Agent(name="solo", model=ScriptedModel([]), callback_handler=None)], session_manager=manager_factory(sid)
        )
        return saved, stored, restored_swarm.serialize_state()

    saved, stored, restored = await asyncio.to_thread(run)
    assert stored == saved and saved["status"] == "completed"
    assert restored["status"] == "executing" and restored["next_nodes_to_execute"] == ["solo"]
    assert restored["node_history"] == saved["node_history"]


async def test_delete_on_logout_leaves_no_key_and_spares_neighbours(
    manager_factory: Callable[..., GlideSessionManager], client: Client, sid: str
) -> None:
    """delete_session removes every key of the session and nothing of sessions sharing a prefix or globs."""
    neighbours = [sid + "c", sid + "*", sid[:-1] + "?"]
    target = sid + "[a]"

    def run() -> bool:
        for session_id in [target, *neighbours]:
            _agent(manager_factory(session_id, ttl=600, user_id="logout-user"), [text("hi")])("hello")
        return manager_factory(target).delete_session()

    assert await asyncio.to_thread(run) is True
    assert await keys_matching(client, f"*:{escape_glob(target)}") == []
    for neighbour in neighbours:
        found = await keys_matching(client, f"*:{escape_glob(neighbour)}")
        assert sorted(key.split(b":")[0] for key in found) == [b"chat", b"meta", b"msgids", b"ops", b"strands"]
    members = await client.smembers("user_sessions:logout-user")
    assert target.encode() not in members and {n.encode() for n in neighbours} <= members


async def test_every_key_has_the_ttl_and_it_is_refreshed(
    manager_factory: Callable[..., GlideSessionManager], client: Client, sid: str
) -> None:
    """Every key of a session carries its TTL, and a new message refreshes all of them together."""
    manager = await asyncio.to_thread(lambda: manager_factory(sid, ttl=3))
    agent = await asyncio.to_thread(lambda: _agent(manager, [text("one"), text("two")], agent_id="helper"))
    await asyncio.to_thread(lambda: agent("first"))
    keys = [key for key in await keys_matching(client, f"*{sid}*") if not key.startswith(b"user_sessions")]
    for key in keys:  # as if 1.5 s had passed
        await client.pexpire(key, 1500)
    await asyncio.to_thread(lambda: agent("second"))
    # meta, msgids, the records, the helper's thread (no default agent here), and the replies of recent
    # conditional writes, which expire sooner (never later) than the session
    ops = [key for key in keys if key.startswith(b"ops:")]
    assert len(keys) == 5 and len(ops) == 1
    ttls = [await client.pttl(key) for key in keys if key not in ops]
    assert all(2000 < ttl <= 3000 for ttl in ttls), ttls
    assert 0 < await client.pttl(ops[0]) <= max(ttls)


async def test_touching_through_the_core_keeps_the_agent(
    manager_factory: Callable[..., GlideSessionManager], store: SessionStore, sid: str
) -> None:
    """A Strands session with ttl=2 touched through the store keeps every key of it alive and restores its agent."""

    def converse() -> None:
        _agent(manager_factory(sid, ttl=2), [text("hello")])("hi")

    await asyncio.to_thread(converse)
    keys = [key for key in await keys_matching(store.client, f"*{sid}*") if b"ops:" not in key]
    for key in keys:  # as if most of the TTL had passed
        await store.client.pexpire(key, 300)
    await store.touch(sid)
    assert all(ttl > 1500 for ttl in [await store.client.pttl(key) for key in keys])

    def restore() -> tuple[SessionAgent | None, list[Message]]:
        manager = manager_factory(sid)
        return manager.read_agent(), _agent(manager, []).messages

    agent, messages = await asyncio.to_thread(restore)
    assert agent is not None and [m["role"] for m in messages] == ["user", "assistant"]


async def test_repository_contract_errors(manager_factory: Callable[..., GlideSessionManager], sid: str) -> None:
    """Retries are no-ops; another message under a stored id, missing agents and existing sessions raise."""
    repo = (await asyncio.to_thread(lambda: manager_factory(sid))).repository

    def message(n: int, words: str) -> SessionMessage:
        return SessionMessage.from_message({"role": "user", "content": [{"text": words}]}, n)

    def run() -> None:
        with pytest.raises(StrandsSessionError):
            repo.create_agent(sid, SessionAgent(agent_id="a", state={}, conversation_manager_state={}))
        repo.create_session(Session(session_id=sid, session_type=SessionType.AGENT))
        with pytest.raises(StrandsSessionError, match="already exists"):
            repo.create_session(Session(session_id=sid, session_type=SessionType.AGENT))
        with pytest.raises(StrandsSessionError):
            repo.create_message(sid, "ghost", message(0, "no agent"))
        repo.create_agent(sid, SessionAgent(agent_id="a", state={"k": 1}, conversation_manager_state={}))
        with pytest.raises(StrandsSessionError, match="already exists"):
            repo.create_agent(sid, SessionAgent(agent_id="a", state={}, conversation_manager_state={}))
        zero = message(0, "zero")
        repo.create_message(sid, "a", zero)
        repo.create_message(sid, "a", zero)  # a retry
        repo.create_message(sid, "a", message(1, "one"))
        assert [m.message["content"][0]["text"] for m in repo.list_messages(sid, "a")] == ["zero", "one"]
        with pytest.raises(StrandsSessionError, match="different content"):
            repo.create_message(sid, "a", message(1, "not one"))
        with pytest.raises(StrandsSessionError):
            repo.update_message(sid, "a", message(7, "missing"))
        with pytest.raises(StrandsSessionError):
            repo.update_agent(sid, SessionAgent(agent_id="nobody", state={}, conversation_manager_state={}))
        assert repo.read_message(sid, "a", 9) is None
        assert repo.read_agent(sid, "nobody") is None
        assert repo.read_multi_agent(sid, "none") is None
        assert repo.read_session("never-" + sid) is None
        assert repo.list_messages("never-" + sid, "a") == []

    await asyncio.to_thread(run)


async def test_agent_update_keeps_created_at(manager_factory: Callable[..., GlideSessionManager], sid: str) -> None:
    """update_agent replaces the record but keeps the agent's creation time."""
    repo = (await asyncio.to_thread(lambda: manager_factory(sid))).repository

    def run() -> tuple[SessionAgent | None, SessionAgent | None]:
        repo.create_session(Session(session_id=sid, session_type=SessionType.AGENT))
        first = SessionAgent(agent_id="a", state={"n": 1}, conversation_manager_state={}, created_at="2026-01-01")
        repo.create_agent(sid, first)
        before = repo.read_agent(sid, "a")
        later = SessionAgent(agent_id="a", state={"n": 2}, conversation_manager_state={}, created_at="2027-01-01")
        repo.update_agent(sid, later)
        return before, repo.read_agent(sid, "a")

    before, after = await asyncio.to_thread(run)
    assert before is not None and before.state == {"n": 1}
    assert after is not None and after.state == {"n": 2} and after.created_at == "2026-01-01"


async def test_list_messages_pages_by_offset_and_limit(
    manager_factory: Callable[..., GlideSessionManager], sid: str
) -> None:
    """list_messages honours offset and limit the way RepositorySessionManager uses them."""
    repo = (await asyncio.to_thread(lambda: manager_factory(sid))).repository

    def run() -> list[list[int]]:
        repo.create_session(Session(session_id=sid, session_type=SessionType.AGENT))
        repo.create_agent(sid, SessionAgent(agent_id="a", state={}, conversation_manager_state={}))
        for n in range(10):
            repo.create_message(
                sid, "a", SessionMessage.from_message({"role": "user", "content": [{"text": str(n)}]}, n)
            )
        pages = [repo.list_messages(sid, "a", limit=3, offset=o) for o in (0, 3, 9, 12)]
        pages.append(repo.list_messages(sid, "a", offset=7))
        pages.append(repo.list_messages(sid, "a", limit=0))
        return [[m.message_id for m in page] for page in pages]

    assert await asyncio.to_thread(run) == [[0, 1, 2], [3, 4, 5], [9], [], [7, 8, 9], []]


async def test_restore_uses_conversation_manager_offset(
    manager_factory: Callable[..., GlideSessionManager], sid: str
) -> None:
    """After a sliding window removed messages, a restored agent loads only the kept tail."""

    def run() -> tuple[list[Message], list[Message]]:
        agent = _agent(
            manager_factory(sid),
            [text(f"reply {n}") for n in range(4)],
            conversation_manager=SlidingWindowConversationManager(window_size=4),
        )
        for n in range(4):
            agent(f"turn {n}")
        restored = _agent(
            manager_factory(sid), [], conversation_manager=SlidingWindowConversationManager(window_size=4)
        )
        return agent.messages, restored.messages

    live, restored = await asyncio.to_thread(run)
    assert len(live) == 4
    assert restored == live


async def test_round_trips_of_list_and_restore(valkey_url: str, sid: str) -> None:
    """list_messages of 1,000 messages is one request and restoring such an agent costs three."""
    from glide_memory import create_client

    client = await create_client(valkey_url)
    calls: list[str] = []
    for name in ("hget", "hmget", "hgetall", "lrange", "exec", "fcall", "fcall_ro", "exists", "llen", "lindex"):
        original = getattr(client, name)

        async def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return await _original(*args, **kwargs)

        object.__setattr__(client, name, counted)
    store = SessionStore(client)
    try:
        repo = GlideSessionRepository(store=store)

        def fill() -> None:
            repo.create_session(Session(session_id=sid, session_type=SessionType.AGENT))
            window = {"__name__": "SlidingWindowConversationManager", "removed_message_count": 0, "model_call_count": 0}
            repo.create_agent(sid, SessionAgent(agent_id="default", state={}, conversation_manager_state=window))
            messages = []
            for n in range(1000):
                body: Message = {"role": "user" if n % 2 == 0 else "assistant", "content": [{"text": f"m{n}"}]}
                messages.append(SessionMessage.from_message(body, n))
            repo.create_messages(sid, "default", messages)

        await asyncio.to_thread(fill)
        calls.clear()
        assert len(await asyncio.to_thread(lambda: repo.list_messages(sid, "default"))) == 1000
        assert calls == ["exec"]  # one pipeline: EXISTS meta, LRANGE
        calls.clear()

        def restore() -> int:
            manager = GlideSessionManager(sid, store=store)
            return len(Agent(model=ScriptedModel([]), session_manager=manager, callback_handler=None).messages)

        assert await asyncio.to_thread(restore) == 1000
        assert calls == ["hmget", "hmget", "exec"]  # session record, agent record, messages
    finally:
        await client.close()


async def test_bridge_works_from_threads_and_running_loops(
    manager_factory: Callable[..., GlideSessionManager], sid: str
) -> None:
    """The sync API works from many threads at once and from inside another running event loop."""
    repo = (await asyncio.to_thread(lambda: manager_factory(sid))).repository
    await asyncio.to_thread(lambda: repo.create_session(Session(session_id=sid, session_type=SessionType.AGENT)))

    def writer(agent_id: str) -> int:
        repo.create_agent(sid, SessionAgent(agent_id=agent_id, state={}, conversation_manager_state={}))
        for n in range(25):
            body: Message = {"role": "user", "content": [{"text": f"{agent_id}:{n}"}]}
            repo.create_message(sid, agent_id, SessionMessage.from_message(body, n))
        return len(repo.list_messages(sid, agent_id))

    with ThreadPoolExecutor(8) as pool:
        counts = await asyncio.gather(*(asyncio.wrap_future(pool.submit(writer, f"agent-{n}")) for n in range(8)))
    assert counts == [25] * 8

    def inside_a_loop() -> int:
        async def hook() -> int:  # what a Strands hook does: a sync call inside its own loop
            return len(repo.list_messages(sid, "agent-0"))

        return asyncio.run(hook())

    assert await asyncio.to_thread(inside_a_loop) == 25


async def test_waiting_on_the_stores_own_loop_is_refused(store: SessionStore, sid: str) -> None:
    """On the store's own loop a manager builds; a blocking call raises BridgeError saying what to do."""
    manager = GlideSessionManager(sid, store=store)  # construction sends nothing
    with pytest.raises(BridgeError, match=r"asyncio\.to_thread"):
        Agent(model=ScriptedModel([]), session_manager=manager, callback_handler=None)
    agent = await asyncio.to_thread(
        Agent, model=ScriptedModel([text("hi")]), session_manager=manager, callback_handler=None
    )
    await asyncio.to_thread(agent, "hello")
    assert [m.content for m in await store.get_messages(sid)] == [[{"text": "hello"}], [{"text": "hi"}]]


async def test_managers_shut_down_cleanly(valkey_url: str, sid: str) -> None:
    """Closing every manager stops the shared loop thread; nothing is left running."""

    def run() -> None:
        managers = [GlideSessionManager(f"{sid}-{n}", url=valkey_url) for n in range(3)]
        assert SharedLoop.running()
        for manager in managers:
            manager.close()
            manager.close()

    await asyncio.to_thread(run)
    assert not SharedLoop.running()
    assert not [t for t in threading.enumerate() if t.name == "glide-memory-loop"]


async def test_snapshot_storage_protocol(store: SessionStore, sid: str) -> None:
    """GlideSnapshotStorage writes, reads, lists by prefix in order and deletes, without SCAN."""
    storage = GlideSnapshotStorage(store)
    base = f"sessions/{sid}"
    for key in (f"{base}/b.json", f"{base}/a.json", f"{base}*/x.json", f"{base}-other/c.json"):
        await storage.write(key, key.encode())
    assert await storage.read(f"{base}/a.json") == f"{base}/a.json".encode()
    assert await storage.list(f"{base}/") == [f"{base}/a.json", f"{base}/b.json"]
    assert await storage.list(f"{base}*") == [f"{base}*/x.json"]
    await storage.delete(f"{base}/a.json")
    await storage.delete(f"{base}/never")
    assert await storage.read(f"{base}/a.json") is None
    assert f"{base}/a.json" not in await storage.list("sessions/")
    for key in (f"{base}/b.json", f"{base}*/x.json", f"{base}-other/c.json"):
        await storage.delete(key)


async def test_snapshot_session_manager_restores_an_agent(store: SessionStore, sid: str) -> None:
    """SnapshotSessionManager on GlideSnapshotStorage persists an agent and restores it on another loop."""
    storage = GlideSnapshotStorage(store)

    def run() -> tuple[list[Message], list[Message]]:
        first = Agent(
            model=ScriptedModel([text("Hello!")]),
            session_manager=SnapshotSessionManager(sid, storage=storage),
            callback_handler=None,
        )
        first("Hi")
        second = Agent(
            model=ScriptedModel([]), session_manager=SnapshotSessionManager(sid, storage=storage), callback_handler=None
        )
        return first.messages, second.messages

    before, after = await asyncio.to_thread(run)
    assert len(before) == 2 and after == before
    assert await storage.list(f"{sid}") or await storage.list("")


def test_missing_strands_names_the_extra() -> None:
    """Importing the adapter without Strands raises MissingDependencyError naming the extra."""
    script = (
        "import sys\nsys.modules['strands'] = None\n"
        "try:\n    import glide_memory.integrations.strands\nexcept ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert "MissingDependencyError" in out.stdout and "glide-memory[strands]" in out.stdout


def test_bridge_reports_timeouts_and_stopped_loops() -> None:
    """run_on raises ServerTimeoutError past its timeout and BridgeError on a loop that is not running."""
    from glide_memory import ServerTimeoutError
    from glide_memory.integrations._bridge import run_on

    loop = SharedLoop.acquire()
    try:
        with pytest.raises(ServerTimeoutError, match="no reply within"):
            run_on(loop, asyncio.sleep(5), timeout=0.05)
        assert run_on(loop, asyncio.sleep(0, result=7)) == 7
    finally:
        SharedLoop.release()
    idle = asyncio.new_event_loop()
    try:
        with pytest.raises(BridgeError, match="not running"):
            run_on(idle, asyncio.sleep(0))
    finally:
        idle.close()


async def test_repository_refuses_two_sources(store: SessionStore) -> None:
    """Passing more than one of store, client and url is an error."""
    from glide_memory import InvalidInputError

    with pytest.raises(InvalidInputError):
        GlideSessionRepository(store=store, url="valkey://127.0.0.1:1")


async def test_manager_inspection_methods(
    manager_factory: Callable[..., GlideSessionManager], store: SessionStore, sid: str
) -> None:
    """read_session, read_agent, list_messages default to the manager's agent; the owner's index lists the session."""

    def run() -> None:
        manager = manager_factory(sid, user_id="inspector")
        _agent(manager, [text("hello")])("hi")
        fresh = manager_factory(sid)
        session = fresh.read_session()
        assert session is not None and session.session_id == sid and session.session_type is SessionType.AGENT
        agent = fresh.read_agent()
        assert agent is not None and agent.agent_id == "default"
        assert [m.message["role"] for m in fresh.list_messages()] == ["user", "assistant"]
        assert [m.message_id for m in fresh.list_messages(limit=1, offset=1)] == [1]
        pair = manager_factory(sid)
        _agent(pair, [], agent_id="one")
        _agent(pair, [], agent_id="two")
        from glide_memory import InvalidInputError

        with pytest.raises(InvalidInputError, match="name the agent"):
            pair.list_messages()
        assert pair.list_messages("default")[0].message["content"] == [{"text": "hi"}]

    await asyncio.to_thread(run)
    listed = await store.list_user_sessions("inspector")
    assert sid in [info.session_id for info in listed]
    info = await store.get_session_info(sid)
    assert info.message_count == 2 and info.user_id == "inspector"


async def test_core_delete_removes_adapter_keys_too(
    manager_factory: Callable[..., GlideSessionManager], store: SessionStore, client: Client, sid: str
) -> None:
    """A Strands session is a toolkit session: counted, listed, readable, and deleted whole by the core."""

    def run() -> None:
        manager = manager_factory(sid, user_id="operator-case")
        _agent(manager, [text("a")], agent_id="one")("x")
        _agent(manager, [text("b")], agent_id="two")("y")
        _agent(manager, [text("c")])("z")

    await asyncio.to_thread(run)
    assert await store.threads(sid) == ["one", "two"]
    assert [m.content for m in await store.get_messages(sid)] == [[{"text": "z"}], [{"text": "c"}]]
    assert [m.content for m in await store.get_messages(sid, thread="one")] == [[{"text": "x"}], [{"text": "a"}]]
    info = await store.get_session_info(sid)
    assert (info.message_count, info.messages_stored, info.metadata) == (6, 6, {})
    listed = await store.list_user_sessions("operator-case")
    assert [(s.session_id, s.message_count, s.messages_stored) for s in listed] == [(sid, 6, 6)]
    assert len(await keys_matching(client, f"*{sid}*")) == 7  # chat, meta, msgids, ops, strands, 2 threads
    assert await store.delete_session(sid) is True
    assert await keys_matching(client, f"*{sid}*") == []
    assert await store.list_user_sessions("operator-case") == []


async def test_manager_without_url_runs_and_stops_an_embedded_server(monkeypatch: pytest.MonkeyPatch, sid: str) -> None:
    """With no URL and no VALKEY_URL the manager starts a private server and close() stops it."""
    from tests.support import alive

    monkeypatch.delenv("VALKEY_URL", raising=False)

    def run() -> int | None:
        with GlideSessionManager(sid, ttl=60) as manager:
            server = manager.repository.store.embedded_server
            assert server is not None and server.running
            _agent(manager, [text("hi")])("hello")
            assert len(manager.list_messages()) == 2
            return server.pid

    pid = await asyncio.to_thread(run)
    assert pid is not None and not alive(pid)
    assert not SharedLoop.running()


async def test_agent_state_is_synced_after_each_invocation(
    manager_factory: Callable[..., GlideSessionManager], sid: str
) -> None:
    """State changes are written by sync_agent after an invocation and restored with the agent."""

    def run() -> tuple[dict[str, Any] | None, dict[str, Any]]:
        manager = manager_factory(sid)
        agent = _agent(manager, [text("one"), text("two")])
        agent("first")
        agent.state.set("plan", "pro")
        agent("second")
        stored = manager.read_agent()
        restored = _agent(manager_factory(sid), [])
        return (None if stored is None else stored.state), restored.state.get()

    stored, restored = await asyncio.to_thread(run)
    assert stored == {"plan": "pro"} and restored == {"plan": "pro"}


async def test_repository_on_a_callers_client(client: Client, sid: str) -> None:
    """A repository built on the caller's glide client works from worker threads and leaves the client open."""
    repo = GlideSessionRepository(client=client, ttl=120)

    def run() -> list[SessionMessage]:
        repo.create_session(Session(session_id=sid, session_type=SessionType.AGENT))
        repo.create_agent(sid, SessionAgent(agent_id="a", state={}, conversation_manager_state={}))
        repo.create_message(sid, "a", SessionMessage.from_message({"role": "user", "content": [{"text": "hi"}]}, 0))
        found = repo.list_messages(sid, "a")
        assert repo.delete_session(sid) is True
        repo.close()
        return found

    found = await asyncio.to_thread(run)
    assert [m.message["content"] for m in found] == [[{"text": "hi"}]]
    assert await client.ping() == b"PONG"
    with pytest.raises(StoreClosedError, match="closed"):
        await asyncio.to_thread(lambda: repo.read_session(sid))


async def test_a_strands_session_gives_provider_ready_context(
    manager_factory: Callable[..., GlideSessionManager], store: SessionStore, sid: str
) -> None:
    """get_context turns a Strands conversation with a tool call into OpenAI and Anthropic input."""

    def converse() -> None:
        agent = _agent(manager_factory(sid), [tool_use("t1", "clock", {"tz": "UTC"}), text("It is noon.")])
        agent("What time is it?")

    await asyncio.to_thread(converse)
    openai = await store.get_context(sid, format="openai")
    assert [m["role"] for m in openai] == ["user", "assistant", "tool", "assistant"]
    assert openai[1]["tool_calls"][0]["function"] == {"name": "clock", "arguments": '{"tz":"UTC"}'}
    assert openai[2] == {"role": "tool", "tool_call_id": "t1", "content": "12:00 UTC"}
    anthropic = await store.get_context(sid, format="anthropic")
    assert [m["role"] for m in anthropic["messages"]] == ["user", "assistant", "user", "assistant"]
    window = await store.get_window(sid, max_tokens=0)
    assert len(window) == 4  # Strands gives no token counts: messages counting 0 tokens fit any budget
