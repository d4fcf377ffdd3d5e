"""GlideSession through a faulty network (tests/faultproxy.py): writes are applied exactly once, outcomes are known."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from glide_memory import SessionStore, parse_url
from glide_memory.integrations.openai_agents import GlideSession
from tests.faultproxy import FaultProxy


@pytest.fixture
async def proxied(valkey_url: str) -> AsyncIterator[tuple[FaultProxy, SessionStore]]:
    """A store that reaches the suite's server through a fault proxy, with a 300 ms request timeout."""
    upstream = parse_url(valkey_url)
    with FaultProxy(upstream.host, upstream.port) as proxy:
        async with await SessionStore.connect(proxy.url, request_timeout_ms=300) as store:
            yield proxy, store


async def until(condition: Callable[[], Awaitable[bool]], deadline: float = 10.0) -> None:
    """Poll ``condition`` until it holds, failing after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not await condition():
        assert time.monotonic() < end, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_a_retried_add_is_stored_once(proxied: tuple[FaultProxy, SessionStore], store: SessionStore) -> None:
    """add_items whose first attempt is applied but whose reply is lost succeeds, and stores its items once."""
    proxy, far = proxied
    sid = f"oa-{uuid.uuid4().hex}"
    session = GlideSession(sid, store=far)
    await session.add_items([{"role": "user", "content": "before"}])
    turn: list[Any] = [{"role": "user", "content": "ambiguous"}, {"role": "assistant", "content": "reply"}]
    await asyncio.to_thread(proxy.delay, 0.6)  # twice the timeout each way: the first attempt's reply is lost
    adding = asyncio.create_task(session.add_items(turn))

    async def applied() -> bool:
        return await store.count_messages(sid) == 3

    await until(applied)  # read directly from the server, not through the proxy
    await asyncio.to_thread(proxy.heal)
    await adding
    direct = GlideSession(sid, store=store)
    assert await direct.get_items() == [{"role": "user", "content": "before"}, *turn]
    info = await store.get_session_info(sid)
    assert info.message_count == info.messages_stored == 3


@pytest.mark.parametrize("operation", ["add", "pop", "clear"])
async def test_a_cancelled_write_ends_with_its_outcome_known(
    proxied: tuple[FaultProxy, SessionStore], store: SessionStore, operation: str
) -> None:
    """A write cancelled while in flight raises CancelledError only once the server applied it, as the SDK's do."""
    proxy, far = proxied
    sid = f"oa-{uuid.uuid4().hex}"
    session = GlideSession(sid, store=far)
    item: Any = {"role": "user", "content": "once"}
    if operation != "add":
        await session.add_items([{"role": "user", "content": "kept"}, item])
    await asyncio.to_thread(proxy.delay, 0.1)  # slow, but within the timeout: one attempt
    sent = far.requests_sent
    work: Awaitable[Any] = {
        "add": lambda: session.add_items([item]),
        "pop": session.pop_item,
        "clear": session.clear_session,
    }[operation]()
    task = asyncio.ensure_future(work)

    async def in_flight() -> bool:
        return far.requests_sent > sent

    await until(in_flight)
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    expected = {"add": [item], "pop": [{"role": "user", "content": "kept"}], "clear": []}[operation]
    assert await GlideSession(sid, store=store).get_items() == expected
