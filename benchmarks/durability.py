"""Durable acknowledgements: what ``Durability(replicas=1)`` costs a turn, next to the same turn without it.

The primary needs a replica. The harness's own server is used when it has
one (a cluster's shards, a remote primary with replicas); otherwise this
section starts a primary and its replica of its own, on loopback, and
times both contenders there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from glide import AllPrimaries, GlideClusterClient, InfoSection

from benchmarks.config import Config
from benchmarks.harness import Contender, Progress, Section, interleave
from benchmarks.scenarios import TOKENS, TURN_TEXT
from benchmarks.workspace import KEY_TTL, Workspace
from glide_memory import Durability, EmbeddedServer, SessionStore

DURABLE = Durability(replicas=1, timeout=2.0)


async def _replicas(store: SessionStore) -> int:
    """Return the fewest replicas in sync with any primary the store writes to."""
    client = store.client
    if isinstance(client, GlideClusterClient):
        reply = await client.info([InfoSection.REPLICATION], route=AllPrimaries())
    else:
        reply = await client.info([InfoSection.REPLICATION])
    texts = list(reply.values()) if isinstance(reply, dict) else [reply]
    counts = []
    for text in texts:
        body = text.decode() if isinstance(text, bytes) else str(text)
        # a replica counts once it is in sync (state=online), when WAIT can hear from it
        counts.append(sum(line.startswith("slave") and "state=online" in line for line in body.splitlines()))
    return min(counts, default=0)


@asynccontextmanager
async def _store_with_a_replica(ws: Workspace) -> AsyncIterator[tuple[SessionStore, str]]:
    """Yield a store whose primary has a replica, and where it comes from."""
    if await _replicas(ws.store) >= 1:
        yield ws.store, "the harness's server and its replicas"
        return
    primary = await asyncio.to_thread(EmbeddedServer().start)
    try:
        replica = await asyncio.to_thread(EmbeddedServer(config={"replicaof": f"127.0.0.1 {primary.port}"}).start)
        try:
            async with await SessionStore.connect(primary.url, ttl=KEY_TTL) as store:
                deadline = time.monotonic() + 20
                while await _replicas(store) < 1:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the embedded replica never linked to its primary")
                    await asyncio.sleep(0.05)
                yield store, "an embedded primary and replica of this section's own, on loopback"
        finally:
            await asyncio.to_thread(replica.stop)
    finally:
        await asyncio.to_thread(primary.stop)


async def durability(ws: Workspace, config: Config, progress: Progress) -> Section:
    """Time add_message with Durability(replicas=1) next to plain add_message on the same primary, interleaved."""
    section = Section(key="durability", title="Durable acknowledgements (one replica)")
    async with _store_with_a_replica(ws) as (store, where):
        plain = (await store.create_session("bench-durable-user")).session_id
        durable = (await store.create_session("bench-durable-user")).session_id
        await store.add_message(durable, "user", TURN_TEXT, TOKENS, durability=DURABLE)  # connects, checks the replica
        contenders = [
            Contender(name="add_message", op=lambda: store.add_message(plain, "user", TURN_TEXT, TOKENS)),
            Contender(
                name="add_message, Durability(replicas=1)",
                op=lambda: store.add_message(durable, "user", TURN_TEXT, TOKENS, durability=DURABLE),
            ),
        ]
        rounds = config.durability_rounds
        await interleave(section, contenders, rounds=rounds, warmup=config.warmup(rounds), progress=progress)
        if store is not ws.store:
            await store.delete_session(plain)
            await store.delete_session(durable)
    base, waited = section.row("add_message").p50_us, section.row("add_message, Durability(replicas=1)").p50_us
    section.extra["where"] = where
    section.extra["p50_ratio"] = round(waited / base, 3)
    section.extra["p50_extra_us"] = round(waited - base, 1)
    return section
