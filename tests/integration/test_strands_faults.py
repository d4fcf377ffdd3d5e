"""A Strands session after a failed or ambiguous write: later turns succeed and storage converges to the agent."""

from __future__ import annotations

import asyncio
import time

import pytest
from strands import Agent
from strands.types.content import Message

from glide_memory import EmbeddedServer, GlideMemoryError, OutOfMemoryError, RetryPolicy, SessionStore, parse_url
from glide_memory.integrations.strands import GlideSessionManager
from glide_memory.integrations.strands.testing import ScriptedModel, text
from tests.faultproxy import FaultProxy


async def test_a_write_refused_for_memory_does_not_wedge(sid: str) -> None:
    """One turn refused with OutOfMemoryError; the next turns succeed and storage holds exactly the agent's messages."""
    with EmbeddedServer() as server:
        async with await SessionStore.connect(server.url) as store:
            manager, agent = await scripted_agent(store, sid)
            await asyncio.to_thread(agent, "turn 0")
            await store.client.custom_command(["CONFIG", "SET", "maxmemory", "1"])
            with pytest.raises(OutOfMemoryError):
                await asyncio.to_thread(agent, "turn 1 (refused)")
            await store.client.custom_command(["CONFIG", "SET", "maxmemory", "0"])
            assert manager.pending  # the refused message waits to be written first next time
            for n in range(2, 5):
                await asyncio.to_thread(agent, f"turn {n}")
            assert manager.pending == {}
            await check_converged(store, sid, agent.messages)


async def test_a_write_applied_but_not_acknowledged_is_not_doubled(valkey_url: str, sid: str) -> None:
    """A write that times out after the server applied it is written again next turn, and stored once."""
    upstream = parse_url(valkey_url)
    with FaultProxy(upstream.host, upstream.port) as proxy:
        async with await SessionStore.connect(proxy.url, request_timeout_ms=300, retry=RetryPolicy.disabled()) as store:
            _, agent = await scripted_agent(store, sid)
            await asyncio.to_thread(agent, "turn 0")
            await asyncio.to_thread(proxy.delay, 0.6)  # above the 300 ms timeout: replies come too late
            with pytest.raises(GlideMemoryError) as caught:
                await asyncio.to_thread(agent, "turn 1 (ambiguous)")
            assert caught.value.retryable
            await asyncio.to_thread(proxy.heal)
            deadline = time.monotonic() + 10
            while proxy.held_bytes:  # the late write lands, and its late reply is delivered
                assert time.monotonic() < deadline, proxy.held_bytes
                await asyncio.sleep(0.01)
            for n in range(2, 5):
                await asyncio.to_thread(agent, f"turn {n}")
            await check_converged(store, sid, agent.messages)


async def scripted_agent(store: SessionStore, session_id: str, replies: int = 6) -> tuple[GlideSessionManager, Agent]:
    """A manager on ``store`` and an agent with scripted replies, built in a worker thread as Strands needs."""
    manager = GlideSessionManager(session_id, store=store)
    agent = await asyncio.to_thread(
        Agent, model=ScriptedModel([text(f"reply {n}") for n in range(replies)]), session_manager=manager,
        callback_handler=None,
    )  # fmt: skip
    return manager, agent


async def check_converged(store: SessionStore, session_id: str, expected: list[Message]) -> None:
    """Storage holds exactly ``expected``, in order, once each, and a fresh manager restores all of it."""
    stored = await store.get_messages(session_id)
    assert [m.content for m in stored] == [m["content"] for m in expected]
    assert len({m.id for m in stored}) == len(stored)
    info = await store.get_session_info(session_id)
    assert info.message_count == info.messages_stored == len(expected)

    def restore() -> list[Message]:
        fresh = GlideSessionManager(session_id, store=store)
        return Agent(model=ScriptedModel([]), session_manager=fresh, callback_handler=None).messages

    assert await asyncio.to_thread(restore) == expected


@pytest.fixture
def sid() -> str:
    """A fresh Strands session id."""
    import uuid

    return f"wedge-{uuid.uuid4().hex}"
