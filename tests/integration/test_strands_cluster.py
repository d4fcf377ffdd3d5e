"""Strands agents through a ``kill -9`` failover of a multi-node cluster: none is wedged, every one converges."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
from strands import Agent

from glide_memory import EmbeddedCluster, GlideMemoryError, SessionStore
from tests.integration.test_strands_faults import check_converged, scripted_agent

AGENTS = 6
TURNS = 8

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("VALKEY_CLUSTER_URL")), reason="kills a node of the embedded cluster, not of VALKEY_CLUSTER_URL"
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    """A 3-primary, 1-replica embedded cluster of this module's own."""
    with EmbeddedCluster(primaries=3, replicas=1) as embedded:
        yield embedded


async def test_agents_survive_a_primary_killed_mid_conversation(cluster: EmbeddedCluster) -> None:
    """Six agents on all shards keep talking while one shard's primary is killed: later turns succeed, none is stuck.

    A turn may fail only with a retryable error while the shard has no
    primary; every later turn must succeed, and storage must end up holding
    exactly each agent's messages, which a fresh manager restores.
    """
    sids = [f"agent-{n}-{uuid.uuid4().hex[:8]}" for n in range(AGENTS)]
    victim = cluster.node_for_key(f"meta:{{{sids[0]}}}")
    async with await SessionStore.connect(cluster.url, ttl=600) as store:
        agents = [(await scripted_agent(store, sid, TURNS))[1] for sid in sids]
        failed: list[tuple[int, int, GlideMemoryError]] = []
        killed = asyncio.Event()

        async def talk(number: int, agent: Agent) -> None:
            for turn in range(TURNS):
                if turn == 2:
                    await killed.wait()
                try:
                    await asyncio.to_thread(agent, f"turn {turn}")
                except GlideMemoryError as exc:
                    assert exc.retryable, exc
                    failed.append((number, turn, exc))

        async def crash() -> None:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(cluster.kill, victim)
            killed.set()
            await asyncio.to_thread(cluster.wait_for_failover, victim)

        await asyncio.gather(crash(), *(talk(n, agent) for n, agent in enumerate(agents)))
        await asyncio.to_thread(cluster.restart, victim)
        # nothing stuck: whatever failed during the failover, each agent's last turn went through
        assert all(turn < TURNS - 1 for _, turn, _ in failed), failed
        for sid, agent in zip(sids, agents, strict=True):
            await check_converged(store, sid, agent.messages)
        print(f"{AGENTS} agents x {TURNS} turns through a kill -9 failover: {len(failed)} turns failed, all converged")
