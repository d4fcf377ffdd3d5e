"""The embedded cluster: it forms, covers every slot, serves a store, survives a crash and moves slots."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Literal

import pytest

from glide_memory import EmbeddedCluster, EmbeddedServerError, SessionStore
from glide_memory._embedded._cluster import SLOTS, ClusterNode
from tests.support import alive


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    """Three primaries with one replica each, for this module."""
    with EmbeddedCluster(primaries=3, replicas=1) as embedded:
        yield embedded


def _info(node: ClusterNode) -> dict[str, str]:
    reply = node.command("CLUSTER", "INFO")
    assert isinstance(reply, bytes)
    return dict(line.split(":", 1) for line in reply.decode().splitlines() if ":" in line)


def test_cluster_forms_with_every_slot_covered(cluster: EmbeddedCluster) -> None:
    """Every node reports cluster_state ok with all 16,384 slots, split over three primaries with a replica each."""
    assert len(cluster.nodes) == 6
    for node in cluster.nodes:
        info = _info(node)
        assert (info["cluster_state"], info["cluster_slots_ok"], info["cluster_known_nodes"]) == ("ok", "16384", "6")
    primaries = cluster.primaries()
    assert len(primaries) == 3 and all(node.role == "primary" for node in primaries)
    for primary in primaries:
        (replica,) = cluster.replicas_of(primary)
        assert replica.role == "replica"
        assert "master_link_status:up" in replica.info("replication")
    owners = [cluster.node_for_slot(slot) for slot in (0, SLOTS // 2, SLOTS - 1)]
    assert len(set(owners)) == 3


async def test_url_serves_a_store(cluster: EmbeddedCluster, user_id: str) -> None:
    """The URL names every node as a seed and a store connected with it writes where the slot lives."""
    url = cluster.url
    assert url.endswith("?cluster=true") and url.count(",") == 5
    async with await SessionStore.connect(url) as store:
        sid = (await store.create_session(user_id)).session_id
        await store.add_message(sid, "user", "hello", 1)
        meta = store.schema.keys(sid).meta
        owner = await asyncio.to_thread(cluster.node_for_key, meta)
        assert owner.command("EXISTS", meta) == 1
        assert [m.content for m in await store.get_messages(sid)] == ["hello"]


async def test_kill_fail_over_and_restart(cluster: EmbeddedCluster) -> None:
    """A killed primary is replaced by its replica, then restarts as that replica's replica, with its id and port."""
    primary = cluster.primaries()[0]
    (replica,) = cluster.replicas_of(primary)
    port, node_id = primary.port, primary.node_id
    cluster.kill(primary)
    assert not primary.running and primary.role == "down"
    promoted = await asyncio.to_thread(cluster.wait_for_failover, primary)
    assert promoted is replica and replica.role == "primary"
    await asyncio.to_thread(cluster.restart, primary)
    assert (primary.port, primary.node_id, primary.role) == (port, node_id, "replica")
    assert cluster.replicas_of(replica) == [primary]
    await asyncio.to_thread(cluster.failover, primary)  # graceful: the original layout again
    assert (primary.role, replica.role) == ("primary", "replica")
    assert cluster.replicas_of(primary) == [replica]


@pytest.mark.parametrize("method", ["migrate", "migrateslots"])
async def test_move_slots_moves_their_keys(
    cluster: EmbeddedCluster, method: Literal["migrate", "migrateslots"], user_id: str
) -> None:
    """Moving a session's slot carries its keys to the target, where the store keeps reading and writing them."""
    async with await SessionStore.connect(cluster.url) as store:
        sid = (await store.create_session(user_id)).session_id
        for n in range(150):
            await store.add_message(sid, "user", f"m{n}", 1)
        meta = store.schema.keys(sid).meta
        slot = await asyncio.to_thread(cluster.slot_of, meta)
        source = cluster.node_for_slot(slot)
        target = next(node for node in cluster.primaries() if node is not source)
        keys = source.command("CLUSTER", "COUNTKEYSINSLOT", str(slot))
        assert isinstance(keys, int) and keys >= 3
        await asyncio.to_thread(cluster.move_slots, range(slot, slot + 1), target, method=method)
        assert cluster.node_for_slot(slot) is target
        assert (source.command("CLUSTER", "COUNTKEYSINSLOT", str(slot)), target.command("EXISTS", meta)) == (0, 1)
        assert target.command("CLUSTER", "COUNTKEYSINSLOT", str(slot)) == keys
        await store.add_message(sid, "user", "after", 1)
        assert len(await store.get_messages(sid)) == 151
        await asyncio.to_thread(cluster.move_slots, slot, source, method=method)  # and back again
        assert cluster.node_for_slot(slot) is source


def test_move_slots_refuses_bad_arguments(cluster: EmbeddedCluster) -> None:
    """Out-of-range slots, unknown methods and a replica as target are refused before anything moves."""
    primary = cluster.primaries()[0]
    with pytest.raises(EmbeddedServerError, match="slots must lie"):
        cluster.move_slots([SLOTS], primary)
    with pytest.raises(EmbeddedServerError, match="unknown method"):
        cluster.move_slots(0, primary, method="teleport")  # type: ignore[arg-type]
    with pytest.raises(EmbeddedServerError, match="not a primary"):
        cluster.move_slots(0, cluster.replicas_of(primary)[0])


def test_one_node_cluster_stops_without_leftovers() -> None:
    """A one-primary, no-replica cluster starts, serves every slot, and stop() ends its process; twice is harmless."""
    small = EmbeddedCluster(primaries=1, replicas=0, persistent=False).start()
    (node,) = small.nodes
    pid = node.server.pid
    assert pid is not None and _info(node)["cluster_slots_ok"] == "16384"
    with pytest.raises(EmbeddedServerError, match="no replica"):
        small.wait_for_failover(node, timeout=1)
    small.stop()
    small.stop()
    assert not alive(pid)
    with pytest.raises(EmbeddedServerError, match="not running"):
        _ = small.url
