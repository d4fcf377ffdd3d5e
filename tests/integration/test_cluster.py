"""The store on a Valkey Cluster client: hash-tagged keys, one slot per session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from glide import GlideClusterClient

from glide_memory import EmbeddedServer, InvalidIdError, SessionStore
from tests.support import keys_matching


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    """VALKEY_CLUSTER_URL if set, else a one-node embedded cluster."""
    url = os.environ.get("VALKEY_CLUSTER_URL")
    if url:
        yield url
        return
    with EmbeddedServer(cluster=True) as server:
        yield server.url


@pytest.fixture
async def cluster_store(cluster_url: str) -> AsyncIterator[SessionStore]:
    """A store that owns a cluster client."""
    async with await SessionStore.connect(cluster_url, ttl=300) as store:
        yield store


async def _slot(client: GlideClusterClient, key: str) -> object:
    return await client.custom_command(["CLUSTER", "KEYSLOT", key])


async def test_cluster_client_gets_hash_tagged_keys(cluster_store: SessionStore, user_id: str) -> None:
    """On a cluster client a session's keys carry a hash tag and share one slot."""
    client = cluster_store.client
    assert isinstance(client, GlideClusterClient)
    assert cluster_store.schema.hash_tags
    sid = (await cluster_store.create_session(user_id)).session_id
    await cluster_store.add_message(sid, "user", "hello", 4, max_messages=10)
    chat, meta = f"chat:{{{sid}}}", f"meta:{{{sid}}}"
    assert await client.exists([chat]) == 1 and await client.exists([meta]) == 1
    assert await _slot(client, chat) == await _slot(client, meta)
    assert await client.sismember(f"user_sessions:{user_id}", sid)
    assert 0 < await client.ttl(chat) <= 300


async def test_cluster_round_trip_of_every_operation(cluster_store: SessionStore, user_id: str) -> None:
    """Create, append, read, window, list, update, touch and delete all work on a cluster."""
    sid = (await cluster_store.create_session(user_id, title="t")).session_id
    for n in range(5):
        await cluster_store.add_message(sid, "user", f"m{n}", 2)
    assert [m.content for m in await cluster_store.get_messages(sid, last=2)] == ["m3", "m4"]
    assert [m.content for m in await cluster_store.get_window(sid, max_tokens=4)] == ["m3", "m4"]
    await cluster_store.update_session(sid, title="new")
    await cluster_store.touch(sid, ttl=600)
    info = await cluster_store.get_session_info(sid)
    assert (info.title, info.message_count, info.token_count, info.ttl) == ("new", 5, 10, 600)
    assert [s.session_id for s in await cluster_store.list_user_sessions(user_id)] == [sid]
    assert [m.content async for m in cluster_store.history(sid)] == [f"m{n}" for n in range(5)]
    assert await cluster_store.delete_session(sid)
    assert await cluster_store.list_user_sessions(user_id) == []


async def test_cluster_prunes_and_reindexes(cluster_store: SessionStore, user_id: str) -> None:
    """Stale index entries are pruned and reindex finds raw hash-tagged metas on a cluster."""
    client = cluster_store.client
    live = (await cluster_store.create_session(user_id)).session_id
    await client.sadd(f"user_sessions:{user_id}", ["gone"])
    await client.hset("meta:{raw-" + user_id + "}", {"user_id": user_id, "created_at": "1.0"})
    assert [s.session_id for s in await cluster_store.list_user_sessions(user_id)] == [live]
    assert not await client.sismember(f"user_sessions:{user_id}", "gone")
    assert (await cluster_store.reindex_user_sessions()).indexed >= 2
    listed = {s.session_id for s in await cluster_store.list_user_sessions(user_id)}
    assert listed == {live, "raw-" + user_id}


async def test_cluster_rejects_braced_ids(cluster_store: SessionStore, user_id: str) -> None:
    """Ids with braces would break the hash tag, so a cluster store refuses them."""
    with pytest.raises(InvalidIdError):
        await cluster_store.create_session(user_id, session_id="a}b")


async def test_strands_session_lives_in_one_slot(cluster_url: str) -> None:
    """Every key of a Strands session (threads and records included) shares the session's slot; delete removes them."""
    import asyncio

    from glide_memory.integrations.strands import GlideSessionManager
    from glide_memory.integrations.strands.testing import ScriptedModel, text

    def run() -> GlideSessionManager:
        from strands import Agent

        manager = GlideSessionManager("cluster-strands", url=cluster_url, ttl=300, user_id="cu")
        Agent(model=ScriptedModel([text("hi")]), session_manager=manager, callback_handler=None)("hello")
        Agent(model=ScriptedModel([text("yo")]), agent_id="two", session_manager=manager, callback_handler=None)("x")
        return manager

    manager = await asyncio.to_thread(run)
    store = manager.repository.store
    try:
        keys = await asyncio.to_thread(manager.repository.run, keys_matching(store.client, "*cluster-strands*"))
        keys = [key for key in keys if not key.startswith(b"user_sessions")]
        assert len(keys) == 6  # chat, meta, msgids, ops, strands records, the thread of agent "two"

        async def slots() -> set[object]:
            return {await store.client.custom_command(["CLUSTER", "KEYSLOT", key]) for key in keys}

        assert len(await asyncio.to_thread(manager.repository.run, slots())) == 1
        assert await asyncio.to_thread(manager.delete_session) is True
        assert await asyncio.to_thread(manager.repository.run, keys_matching(store.client, "*cluster-strands*")) == []
    finally:
        await asyncio.to_thread(manager.close)
