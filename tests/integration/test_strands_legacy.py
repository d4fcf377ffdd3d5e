"""Sessions written by glide-memory 0.1's Strands adapter are migrated on first read, with nothing lost."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from strands import Agent
from strands.types.content import Message
from strands.types.session import Session, SessionAgent, SessionMessage, SessionType, encode_bytes_values

from glide_memory import SessionStore
from glide_memory.integrations.strands import GlideSessionManager
from glide_memory.integrations.strands.testing import ScriptedModel
from tests.support import Client, keys_matching

PNG = b"\x89PNG\r\n\x1a\n\x00binary\xff"
CONVERSATION: list[Message] = [
    {"role": "user", "content": [{"text": "What is this?"}, {"image": {"format": "png", "source": {"bytes": PNG}}}]},
    {"role": "assistant", "content": [{"text": "A PNG."}]},
    {"role": "user", "content": [{"text": "Ünïcode too 🙂"}]},
]


def entry_0_1(message: SessionMessage) -> bytes:
    """The list entry 0.1 wrote for a Strands message (a toolkit document without a timestamp)."""
    record: dict[str, Any] = message.to_dict()
    body = record.pop("message")
    return orjson.dumps({"role": body["role"], "content": body["content"], "id": str(message.message_id),
                         "metadata": {"strands": record}})  # fmt: skip


async def write_0_1(client: Client, sid: str, agent_id: str, messages: list[Message], user_id: str) -> None:
    """Lay a session out as glide-memory 0.1 did: meta field, agents and multi HASHes, one LIST per agent."""
    session = Session(session_id=sid, session_type=SessionType.AGENT, created_at="2026-11-01T00:00:00+00:00")
    agent = SessionAgent(agent_id=agent_id, state={"plan": "pro"}, conversation_manager_state={
        "__name__": "SlidingWindowConversationManager", "removed_message_count": 0, "model_call_count": 0})  # fmt: skip
    record = agent.to_dict()
    created = record.pop("created_at")
    await client.hset(f"meta:{sid}", {
        "created_at": "1761955200.0", "last_active": "1761955200.0", "message_count": str(len(messages)),
        "token_count": "0", "user_id": user_id, "ttl": "3600",
        "strands_session": orjson.dumps(session.to_dict()).decode()})  # fmt: skip
    await client.sadd(f"user_sessions:{user_id}", [sid])
    await client.hset(f"strands:agents:{{{sid}}}", {agent_id: orjson.dumps(record).decode(),
                                                    f"{agent_id}\0created_at": created})  # fmt: skip
    await client.hset(f"strands:multi:{{{sid}}}", {"swarm-1": '{"status": "running"}'})
    entries = [entry_0_1(SessionMessage.from_message(m, n)) for n, m in enumerate(messages)]
    await client.rpush(f"strands:messages:{{{sid}}}:{agent_id}", entries)


async def test_a_0_1_session_is_migrated_and_restores_exactly(store: SessionStore, client: Client) -> None:
    """Messages (bytes included), agent state and multi-agent state come back; the 0.1 keys are gone."""
    sid, user = f"legacy-{uuid.uuid4().hex}", f"u-{uuid.uuid4().hex}"
    await write_0_1(client, sid, "default", CONVERSATION, user)

    def restore() -> tuple[list[Message], dict[str, Any], dict[str, Any] | None]:
        manager = GlideSessionManager(sid, store=store)
        agent = Agent(model=ScriptedModel([]), session_manager=manager, callback_handler=None)
        return agent.messages, agent.state.get(), manager.repository.read_multi_agent(sid, "swarm-1")

    messages, state, swarm = await asyncio.to_thread(restore)
    assert messages == CONVERSATION
    assert messages[0]["content"][1]["image"]["source"]["bytes"] == PNG
    assert state == {"plan": "pro"} and swarm == {"status": "running"}
    assert await keys_matching(client, f"strands:*{sid}*") == [f"strands:{sid}".encode()]
    assert await client.hget(f"meta:{sid}", "strands_session") is None
    info = await store.get_session_info(sid)
    assert (info.message_count, info.messages_stored, info.user_id, info.metadata) == (3, 3, user, {})
    stored = [m.content for m in await store.get_messages(sid)]
    assert stored == [encode_bytes_values(m["content"]) for m in CONVERSATION]


async def test_an_interrupted_migration_runs_again_without_doubling(store: SessionStore, client: Client) -> None:
    """A migration that stopped half way (its writes done, the old keys still there) completes on the next read."""
    sid, user = f"legacy-{uuid.uuid4().hex}", f"u-{uuid.uuid4().hex}"
    await write_0_1(client, sid, "helper", CONVERSATION, user)
    from glide_memory.integrations.strands import legacy

    original = store.pipeline

    async def crash(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("atomic"):
            raise ConnectionError("the process died before the last step")
        return await original(*args, **kwargs)

    store.pipeline = crash  # type: ignore[method-assign]
    try:
        await legacy.migrate(store, sid)
    except ConnectionError:
        pass
    finally:
        del store.pipeline
    assert await legacy.migrate(store, sid)
    assert not await legacy.migrate(store, sid)  # done: nothing left to move
    info = await store.get_session_info(sid)
    assert (info.message_count, info.messages_stored) == (3, 3)
    assert await store.count_messages(sid, thread="helper") == 3
