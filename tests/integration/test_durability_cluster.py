"""Durable acknowledgements on a cluster: WAIT goes with the write to its slot's primary, and only there."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from glide_memory import ConfigurationError, Durability, DurabilityError, EmbeddedCluster, SessionStore
from glide_memory._embedded._cluster import ClusterNode
from glide_memory._transport._resp import Connection

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("VALKEY_CLUSTER_URL")), reason="pauses replicas of an embedded cluster of its own"
)

SHORT = Durability(replicas=1, timeout=0.3)


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster(primaries=3, replicas=1) as embedded:
        yield embedded


@pytest.fixture
async def store(cluster: EmbeddedCluster) -> AsyncIterator[SessionStore]:
    async with await SessionStore.connect(cluster.url, durability=SHORT, request_timeout_ms=500) as store:
        yield store


def _length(node: ClusterNode, key: str) -> object:
    """LLEN of ``key`` on ``node``, a replica included (READONLY on the connection)."""
    with Connection("127.0.0.1", node.port, timeout=2.0) as connection:
        connection.call("READONLY")
        return connection.call("LLEN", key)


def _waits(node: ClusterNode) -> int:
    for line in node.info("commandstats").splitlines():
        if line.startswith("cmdstat_wait:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


async def test_the_write_and_its_wait_go_to_the_slots_primary(cluster: EmbeddedCluster, store: SessionStore) -> None:
    """At return the slot's replica holds the message; WAIT ran on that primary alone."""
    sid = (await store.create_session("u1")).session_id
    chat = store.schema.chat(sid)
    owner = cluster.node_for_slot(cluster.slot_of(chat))
    (replica,) = cluster.replicas_of(owner)
    others = [node for node in cluster.primaries() if node is not owner]
    before = {node.port: _waits(node) for node in cluster.primaries()}
    for n in range(5):
        await store.add_message(sid, "user", f"m{n}")
        assert _length(replica, chat) == n + 1
    assert _waits(owner) - before[owner.port] == 5
    assert all(_waits(node) == before[node.port] for node in others)


async def test_a_paused_replica_fails_only_its_own_shards_writes(cluster: EmbeddedCluster, store: SessionStore) -> None:
    """SIGSTOP one shard's replica: its writes raise DurabilityError (applied on the primary); others' succeed."""
    sessions = [(await store.create_session("u1")).session_id for _ in range(12)]
    by_owner: dict[int, list[str]] = {}
    for sid in sessions:
        by_owner.setdefault(cluster.node_for_slot(cluster.slot_of(store.schema.chat(sid))).port, []).append(sid)
    assert len(by_owner) >= 2, "twelve sessions all hashed to one shard"
    paused_port, victims = next(iter(by_owner.items()))
    owner = next(node for node in cluster.primaries() if node.port == paused_port)
    (replica,) = cluster.replicas_of(owner)
    assert replica.server.pid is not None
    os.kill(replica.server.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(DurabilityError) as caught:
            await store.add_message(victims[0], "user", "kept", message_id="m-kept")
        assert time.monotonic() - started < SHORT.timeout + 2.0
        assert caught.value.message_ids == ("m-kept",)
        assert owner.ask("LLEN", store.schema.chat(victims[0])) == 1
        for port, sids in by_owner.items():
            if port != paused_port:
                await store.add_message(sids[0], "user", "elsewhere")
    finally:
        os.kill(replica.server.pid, signal.SIGCONT)
    await asyncio.sleep(0)
    await store.add_message(victims[0], "user", "kept", message_id="m-kept")  # confirmed now, no duplicate
    assert owner.ask("LLEN", store.schema.chat(victims[0])) == 1
    assert _length(replica, store.schema.chat(victims[0])) == 1


async def test_more_replicas_than_a_shard_has(cluster: EmbeddedCluster) -> None:
    """Two replicas asked of shards that have one: refused before writing, naming a primary."""
    async with await SessionStore.connect(cluster.url) as store:
        sid = (await store.create_session("u1")).session_id
        with pytest.raises(ConfigurationError, match=r"replicas=2.*primary .*:\d+ has \(1 connected\)"):
            await store.add_message(sid, "user", "never", durability=Durability(replicas=2))
        assert await store.count_messages(sid) == 0
