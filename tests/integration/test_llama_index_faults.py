"""Exactly once through the LlamaIndex chat stores: a write applied but not acknowledged, retried, lands once.

A FaultProxy between the store and the server delays every reply past the
request timeout. Each test waits until the server has applied the write and
the store has sent a retry (so the first reply was lost), then heals the
network; the retry must find the write done and report what it did. Calls
that read before they write (archive, delete at a position) cannot get past
a delay on every reply, so there the server holds writes instead (``CLIENT
PAUSE ... WRITE``): the read answers, the write's first attempt times out and
is applied when the pause lifts, before its retry.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest
from llama_index.core.llms import ChatMessage

from glide_memory import KeySchema, SessionStore, parse_url
from glide_memory.integrations.llama_index import GlideChatStore, GlideDBChatStore
from tests.faultproxy import FaultProxy
from tests.support import Client

T = TypeVar("T")
DELAY = 0.25  # each way: replies come 0.5 s after the request, past the 300 ms timeout


def user(text: str) -> ChatMessage:
    """A user message."""
    return ChatMessage(role="user", content=text)


@pytest.fixture
async def proxied(valkey_url: str) -> AsyncIterator[tuple[FaultProxy, SessionStore]]:
    """A store in a namespace of its own, talking through a fault proxy with a 300 ms request timeout."""
    upstream = parse_url(valkey_url)
    with FaultProxy(upstream.host, upstream.port) as proxy:
        schema = KeySchema(namespace=f"t{uuid.uuid4().hex[:12]}:")
        async with await SessionStore.connect(proxy.url, request_timeout_ms=300, schema=schema) as store:
            yield proxy, store


async def once_lost(
    proxy: FaultProxy, store: SessionStore, applied: Callable[[], Awaitable[bool]], call: Awaitable[T]
) -> T:
    """Run ``call`` with replies delayed until the server applied it and the store retried, then heal."""
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(proxy.delay, DELAY)
    task = asyncio.ensure_future(call)
    deadline = loop.time() + 8
    try:
        while not await applied():
            assert loop.time() < deadline, "the write never reached the server"
            await asyncio.sleep(0.01)
        sent = store.requests_sent
        while store.requests_sent == sent:  # the first attempt's reply is lost: the store retries
            assert loop.time() < deadline, "the store never retried"
            await asyncio.sleep(0.01)
    finally:
        await asyncio.to_thread(proxy.heal)
    return await task


async def length(client: Client, key: str) -> int:
    """LLEN of ``key`` read directly on the server."""
    return int(await client.llen(key))


async def test_a_retried_add_message_is_stored_once(proxied: tuple[FaultProxy, SessionStore], client: Client) -> None:
    """GlideChatStore.async_add_message whose reply is lost is retried by the store and stored once."""
    proxy, store = proxied
    chat_store = GlideChatStore(store=store)
    await chat_store.async_add_message("alice", user("first"))
    chat = store.schema.chat("alice")
    await once_lost(
        proxy, store, lambda: _at_least(client, chat, 2), chat_store.async_add_message("alice", user("second"))
    )
    assert await chat_store.aget_messages("alice") == [user("first"), user("second")]
    info = await store.get_session_info("alice")
    assert (info.message_count, info.messages_stored) == (2, 2)


async def test_a_retried_batch_is_stored_once(proxied: tuple[FaultProxy, SessionStore], client: Client) -> None:
    """GlideDBChatStore.add_messages whose reply is lost stores the batch once, in order."""
    proxy, store = proxied
    chat_store = GlideDBChatStore(store=store)
    await chat_store.add_message("alice", user("m0"))
    batch = [user(f"m{n}") for n in range(1, 6)]
    chat = store.schema.chat("alice")
    await once_lost(proxy, store, lambda: _at_least(client, chat, 6), chat_store.add_messages("alice", batch))
    assert [m.content for m in await chat_store.get_messages("alice")] == [f"m{n}" for n in range(6)]
    assert (await store.get_session_info("alice")).message_count == 6


async def test_a_retried_pop_removes_one_and_returns_it(
    proxied: tuple[FaultProxy, SessionStore], client: Client
) -> None:
    """delete_last_message whose reply is lost removes exactly one message and returns that one."""
    proxy, store = proxied
    chat_store = GlideChatStore(store=store)
    await chat_store.aset_messages("alice", [user("a"), user("b"), user("c")])
    chat = store.schema.chat("alice")
    popped = await once_lost(proxy, store, lambda: _at_most(client, chat, 2), chat_store.adelete_last_message("alice"))
    assert popped == user("c")
    assert await chat_store.aget_messages("alice") == [user("a"), user("b")]


async def test_a_retried_archive_moves_exactly_n(proxied: tuple[FaultProxy, SessionStore], client: Client) -> None:
    """archive_oldest_messages whose write is answered too late archives exactly n and returns them."""
    _, store = proxied
    chat_store = GlideDBChatStore(store=store)
    await chat_store.add_messages("alice", [user(f"m{n}") for n in range(5)])
    moved = await writes_held(client, store, 1, chat_store.archive_oldest_messages("alice", 2))
    assert [m.content for m in moved] == ["m0", "m1"]
    assert [m.content for m in await chat_store.get_messages("alice")] == ["m2", "m3", "m4"]
    assert [m.content for m in await store.get_archived_messages("alice")] == ["m0", "m1"]


async def test_a_retried_delete_at_a_position_removes_one(
    proxied: tuple[FaultProxy, SessionStore], client: Client
) -> None:
    """delete_message whose write is answered too late removes exactly that message and returns it."""
    _, store = proxied
    chat_store = GlideChatStore(store=store)
    await chat_store.aset_messages("alice", [user("a"), user("b"), user("c")])
    assert await writes_held(client, store, 1, chat_store.adelete_message("alice", 1)) == user("b")
    assert await chat_store.aget_messages("alice") == [user("a"), user("c")]


async def writes_held(client: Client, store: SessionStore, reads: int, call: Awaitable[T]) -> T:
    """Run ``call`` (``reads`` round trips, then a write) while the server holds writes, until it retries the write."""
    loop = asyncio.get_running_loop()
    sent = store.requests_sent
    await client.custom_command(["CLIENT", "PAUSE", "5000", "WRITE"])
    task = asyncio.ensure_future(call)
    deadline = loop.time() + 8
    try:
        while store.requests_sent < sent + reads + 2:  # the reads, the write, and its retry
            assert loop.time() < deadline, "the store never retried the write"
            await asyncio.sleep(0.01)
    finally:
        await client.custom_command(["CLIENT", "UNPAUSE"])
    return await task


async def test_a_retried_replace_is_applied_once(proxied: tuple[FaultProxy, SessionStore], client: Client) -> None:
    """set_messages whose reply is lost leaves exactly the new list."""
    proxy, store = proxied
    chat_store = GlideChatStore(store=store)
    await chat_store.aset_messages("alice", [user("old")])
    chat = store.schema.chat("alice")
    await once_lost(
        proxy, store, lambda: _at_least(client, chat, 3), chat_store.aset_messages("alice", [user(c) for c in "xyz"])
    )
    assert await chat_store.aget_messages("alice") == [user("x"), user("y"), user("z")]


async def _at_least(client: Client, key: str, n: int) -> bool:
    return await length(client, key) >= n


async def _at_most(client: Client, key: str, n: int) -> bool:
    return await length(client, key) <= n
