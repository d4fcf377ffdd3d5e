"""GlideCheckpointSaver writes whose first attempt is applied but unacknowledged: the store retries, each lands once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from glide import GlideClient, GlideClusterClient
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base.id import uuid6

from glide_memory import SessionStore, parse_url
from glide_memory.integrations.langgraph import GlideCheckpointSaver
from glide_memory.integrations.langgraph._layout import part
from tests.faultproxy import FaultProxy
from tests.integration.test_langgraph import chat_graph, texts, thread


async def heal_when(proxy: FaultProxy, applied: Callable[[], Awaitable[bool]], deadline: float = 10.0) -> None:
    """Heal the proxy once the server shows the write applied (read past the proxy), within a deadline."""
    until = time.monotonic() + deadline
    while not await applied():
        assert time.monotonic() < until, "the delayed write never reached the server"
        await asyncio.sleep(0.02)
    await asyncio.to_thread(proxy.heal)


async def test_a_retried_put_and_put_writes_are_applied_once(
    valkey_url: str, client: GlideClient | GlideClusterClient
) -> None:
    """Replies past the request timeout: the store retries a put (with its mirror), put_writes: each lands once."""
    upstream = parse_url(valkey_url)
    config = thread()
    tid = config["configurable"]["thread_id"]
    with FaultProxy(upstream.host, upstream.port) as proxy:
        async with await SessionStore.connect(proxy.url, request_timeout_ms=300) as store:
            saver = GlideCheckpointSaver(store=store)
            await chat_graph(saver, ["one"]).ainvoke({"messages": [HumanMessage("a")]}, config)
            latest = await saver.aget_tuple(config)
            assert latest is not None
            checkpoint: dict[str, Any] = dict(latest.checkpoint)
            checkpoint["id"] = str(uuid6(clock_seq=9))
            messages = [*latest.checkpoint["channel_values"]["messages"], HumanMessage("b", id="late-b")]
            checkpoint["channel_values"] = {**latest.checkpoint["channel_values"], "messages": messages}
            version = saver.get_next_version(str(latest.checkpoint["channel_versions"]["messages"]), None)
            checkpoint["channel_versions"] = {**latest.checkpoint["channel_versions"], "messages": version}
            chat, records = store.schema.chat(tid), store.schema.companion(tid, "langgraph")

            async def put_applied() -> bool:
                mirrored = b"late-b" in b"".join(await client.lrange(chat, 0, -1))
                return mirrored and bool(await client.hexists(records, f"c//{checkpoint['id']}"))

            before = store.requests_sent
            await asyncio.to_thread(proxy.delay, 0.4)  # each way: replies come after the 300 ms timeout
            healer = asyncio.create_task(heal_when(proxy, put_applied))
            stored = await saver.aput(latest.config, checkpoint, {"step": 9}, {"messages": version})  # type: ignore[arg-type]
            await healer
            assert store.requests_sent - before > 2  # the put and the mirror were each sent more than once

            writes = store.schema.companion(tid, "langgraph-writes")

            async def writes_applied() -> bool:
                return bool(await client.hexists(writes, f"/{part(checkpoint['id'])}/task-1/-3"))

            await asyncio.to_thread(proxy.delay, 0.4)
            healer = asyncio.create_task(heal_when(proxy, writes_applied))
            # an error and an interrupt: written in one call, with no read first
            await saver.aput_writes(stored, [("__error__", "boom"), ("__interrupt__", "ask")], "task-1")
            await healer

            found = await saver.aget_tuple(config)
            assert found is not None and found.checkpoint["id"] == checkpoint["id"]
            assert sorted(w[1] for w in found.pending_writes or []) == ["__error__", "__interrupt__"]
            assert len([t async for t in saver.alist(config)]) == 4
            mirrored = await store.get_messages(tid)
            assert texts(mirrored) == ["a", "one", "b"]
            info = await store.get_session_info(tid)
            assert info.message_count == info.messages_stored == 3
