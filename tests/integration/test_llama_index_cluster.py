"""The LlamaIndex chat stores on a Valkey Cluster: keys on every shard, one atomic call per write, keys listed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import Memory
from llama_index.core.storage.chat_store.base_db import MessageStatus

from glide_memory import EmbeddedCluster, KeySchema, SessionStore
from glide_memory.integrations.llama_index import GlideChatStore, GlideDBChatStore


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    """A 3-primary embedded cluster of this module's own."""
    with EmbeddedCluster(primaries=3, replicas=0) as embedded:
        yield embedded


@pytest.fixture
async def cluster_store(cluster: EmbeddedCluster) -> AsyncIterator[SessionStore]:
    """A store on the cluster, in a namespace of this test's own."""
    schema = KeySchema(namespace=f"t{uuid.uuid4().hex[:12]}:")
    async with await SessionStore.connect(cluster.url, schema=schema, ttl=600) as store:
        yield store


async def test_chats_on_every_shard_are_written_listed_and_deleted(cluster_store: SessionStore) -> None:
    """Chats whose sessions sit on different shards are written, listed in order, pruned and deleted."""
    chat_store = GlideChatStore(store=cluster_store, user_id="alex")
    keys = [f"chat-{n}" for n in range(12)]
    for key in keys:
        await chat_store.async_add_message(key, ChatMessage(role="user", content=key))
        await chat_store.async_add_message(key, ChatMessage(role="assistant", content=f"re {key}"))
    assert await chat_store.aget_keys() == keys
    assert await chat_store.adelete_last_message(keys[0]) == ChatMessage(role="assistant", content=f"re {keys[0]}")
    assert await chat_store.adelete_messages(keys[1]) == [
        ChatMessage(role="user", content=keys[1]),
        ChatMessage(role="assistant", content=f"re {keys[1]}"),
    ]
    await cluster_store.delete_session(keys[2])
    assert await chat_store.aget_keys() == [keys[0], *keys[3:]]
    assert await cluster_store.delete_user("alex") == 10
    assert await chat_store.aget_keys() == []


async def test_memory_flushes_and_restarts_on_a_cluster(cluster_store: SessionStore) -> None:
    """Memory on GlideDBChatStore flushes into the archive on a cluster, and a fresh store sees the same."""
    session = f"chat-{uuid.uuid4().hex}"
    for attempt in range(2):
        memory = Memory.from_defaults(
            session_id=session, chat_store=GlideDBChatStore(store=cluster_store),
            token_limit=60, token_flush_size=20, chat_history_token_ratio=1.0,
        )  # fmt: skip
        if attempt == 0:
            for n in range(5):
                await memory.aput(ChatMessage(role="user", content=f"question {n} " + "word " * 10))
                await memory.aput(ChatMessage(role="assistant", content=f"answer {n} " + "word " * 10))
        active = [m.content for m in await memory.aget()]
        archived = [m.content for m in await memory.aget_all(status=MessageStatus.ARCHIVED)]
        assert archived and active[-1] == "answer 4 " + "word " * 10
        assert len(active) + len(archived) == 10
    assert [m.content for m in await cluster_store.get_archived_messages(session)] == archived
