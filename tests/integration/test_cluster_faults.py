"""Cluster faults under load: crash and failover, graceful failover, resharding both ways, a shard down, replica reads.

Each scenario runs 20 writers (one session each, message ids ``<session>-<n>``),
a creator and a deleter while the fault happens, then checks that every
acknowledged message is stored exactly once, the index lists exactly the
sessions created and not deleted, and no call failed. The store runs with its
default retry budget (10 s per call).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import pytest

from glide_memory import EmbeddedCluster, SessionStore
from glide_memory._embedded._cluster import ClusterNode
from glide_memory._transport._resp import ask
from glide_memory.keys import new_session_id
from tests.integration.faults import Ledger, run_writers

NEEDS_NODES = "needs the embedded cluster: it kills, fails over or reshards nodes, and VALKEY_CLUSTER_URL is set"
WRITERS = 20


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster | None]:
    """An embedded 3-primary/1-replica cluster, or ``None`` when VALKEY_CLUSTER_URL names one."""
    if os.environ.get("VALKEY_CLUSTER_URL"):
        yield None
        return
    # with full coverage required, one shard down would stop every shard: the shard-down scenario needs the others
    with EmbeddedCluster(primaries=3, replicas=1, config={"cluster-require-full-coverage": "no"}) as embedded:
        yield embedded


@pytest.fixture(scope="module")
def cluster_url(cluster: EmbeddedCluster | None) -> str:
    """The URL of the cluster under test."""
    return cluster.url if cluster is not None else os.environ["VALKEY_CLUSTER_URL"]


@pytest.fixture
def embedded(cluster: EmbeddedCluster | None) -> EmbeddedCluster:
    """The embedded cluster, for tests that break it; they skip on VALKEY_CLUSTER_URL."""
    if cluster is None:
        pytest.skip(NEEDS_NODES)
    return cluster


@pytest.fixture
async def cstore(cluster_url: str) -> AsyncIterator[SessionStore]:
    """A store on the cluster with the default retry budget."""
    async with await SessionStore.connect(cluster_url, ttl=600) as store:
        yield store


@dataclass
class Workload:
    """Writers, a creator and a deleter run while a fault happens; what they were told is kept for the checks."""

    store: SessionStore
    owner: str
    """The creator's user; its index must stay reachable."""
    ids: Iterator[str] = field(default_factory=lambda: iter(new_session_id, None))
    """Ids for the creator's sessions."""
    ledger: Ledger = field(default_factory=Ledger)
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    longest: float = 0.0

    async def _timed(self, call: Awaitable[object]) -> bool:
        started = time.monotonic()
        try:
            await call
        except Exception as exc:
            self.errors.append(exc)
            return False
        finally:
            self.longest = max(self.longest, time.monotonic() - started)
        return True

    async def run(self, sessions: list[str], fault: Callable[[], Awaitable[None]]) -> None:
        """Run one writer per session, the creator and the deleter until ``fault`` has run to its end."""

        async def creator(done: asyncio.Event) -> None:
            while not done.is_set():
                session_id = next(self.ids)
                if await self._timed(self.store.create_session(self.owner, session_id=session_id)):
                    self.created.append(session_id)
                await asyncio.sleep(0.05)

        async def deleter(done: asyncio.Event) -> None:
            while not done.is_set():
                if len(self.created) > len(self.deleted) + 2:  # delete the oldest, keep a few alive
                    session_id = self.created[len(self.deleted)]
                    if not await self._timed(self.store.delete_session(session_id)):
                        return  # recorded; retrying would only repeat it
                    self.deleted.append(session_id)
                await asyncio.sleep(0.05)

        await run_writers(self.ledger, self.store, sessions, fault, creator, deleter)

    async def verify(self, scenario: str) -> None:
        """Print the figures, then assert nothing was lost, doubled, wrongly indexed or surfaced."""
        errors = [*self.ledger.errors, *self.errors]
        longest = max(self.longest, self.ledger.longest_call)
        totals = await self.ledger.check(self.store)  # 0 lost, 0 duplicated, per-writer order, counters
        print(
            f"\n{scenario}: acked {totals['acknowledged']}, lost {totals['lost']}, "
            f"duplicated {totals['duplicated']}, errors {len(errors)}, longest call {longest:.2f} s, "
            f"sessions created {len(self.created)}, deleted {len(self.deleted)}"
        )
        for error in errors[:5]:
            print(f"  {type(error).__name__} (user {getattr(error, 'user_id', None)}): {error}")
        assert errors == []
        listed = await self.store.list_user_sessions(self.owner)
        assert {info.session_id for info in listed} == set(self.created) - set(self.deleted)
        assert listed.unreachable == ()
        for session_id in self.deleted:
            assert not await self.store.exists(session_id)
        assert totals["acknowledged"] >= WRITERS * 20


async def _writer_sessions(store: SessionStore, ids: list[str] | None = None) -> list[str]:
    chosen = ids if ids is not None else [new_session_id() for _ in range(WRITERS)]
    await asyncio.gather(*(store.create_session(f"writer{n}", session_id=sid) for n, sid in enumerate(chosen)))
    return chosen


async def _by_owner(cluster: EmbeddedCluster, store: SessionStore, sessions: list[str]) -> dict[ClusterNode, list[str]]:
    """Group sessions by the primary that holds them."""

    def group() -> dict[ClusterNode, list[str]]:
        found: dict[ClusterNode, list[str]] = {}
        for sid in sessions:
            found.setdefault(cluster.node_for_key(store.schema.keys(sid).meta), []).append(sid)
        return found

    return await asyncio.to_thread(group)


def _busiest(where: dict[ClusterNode, list[str]]) -> ClusterNode:
    return max(where, key=lambda node: len(where[node]))


async def test_kill_9_of_a_primary_then_restart(embedded: EmbeddedCluster, cstore: SessionStore) -> None:
    """A primary holding live sessions is killed, its replica takes over, and it rejoins as a replica: no call fails."""
    sessions = await _writer_sessions(cstore)
    victim = _busiest(await _by_owner(embedded, cstore, sessions))
    work = Workload(cstore, owner=f"creator-{new_session_id()}")

    async def crash() -> None:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(embedded.kill, victim)
        promoted = await asyncio.to_thread(embedded.wait_for_failover, victim)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(embedded.restart, victim)
        assert victim.role == "replica" and embedded.replicas_of(promoted) == [victim]

    await work.run(sessions, crash)
    await work.verify("kill -9 of a primary, failover, restart")


async def test_graceful_failover(embedded: EmbeddedCluster, cstore: SessionStore) -> None:
    """CLUSTER FAILOVER of the replica of a primary holding live sessions: no call fails, nothing lost or doubled."""
    sessions = await _writer_sessions(cstore)
    primary = _busiest(await _by_owner(embedded, cstore, sessions))
    (replica,) = embedded.replicas_of(primary)
    work = Workload(cstore, owner=f"creator-{new_session_id()}")

    async def swap() -> None:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(embedded.failover, replica)
        await asyncio.sleep(0.5)
        assert (replica.role, primary.role) == ("primary", "replica")

    await work.run(sessions, swap)
    await work.verify("graceful failover")


@pytest.mark.parametrize("method", ["migrate", "migrateslots"])
async def test_resharding_slots_of_live_sessions(
    embedded: EmbeddedCluster, cstore: SessionStore, method: Literal["migrate", "migrateslots"]
) -> None:
    """The slots of live sessions move to another primary and back (SETSLOT+MIGRATE, or MIGRATESLOTS): no call fails."""
    if method == "migrateslots" and not embedded.supports("CLUSTER|MIGRATESLOTS"):
        pytest.skip("this valkey-server has no CLUSTER MIGRATESLOTS (atomic slot migration needs Valkey 9.0+)")
    sessions = await _writer_sessions(cstore)
    where = await _by_owner(embedded, cstore, sessions)
    source = _busiest(where)
    target = next(node for node in embedded.primaries() if node is not source)
    slots = sorted(set(await asyncio.to_thread(lambda: [embedded.slot_of(f"{{{sid}}}") for sid in where[source]])))
    work = Workload(cstore, owner=f"creator-{new_session_id()}")

    async def reshard() -> None:
        for destination in (target, source):
            await asyncio.sleep(0.4)
            await asyncio.to_thread(embedded.move_slots, slots, destination, method=method)
            assert all(embedded.node_for_slot(slot) is destination for slot in slots)
        await asyncio.sleep(0.2)

    await work.run(sessions, reshard)
    await work.verify(f"resharding {len(slots)} slots there and back ({method})")


async def test_whole_shard_down(embedded: EmbeddedCluster, cstore: SessionStore) -> None:
    """With a primary and its replica down, other shards keep serving and listing names the unreachable sessions."""
    doomed = embedded.primaries()[-1]
    (doomed_replica,) = embedded.replicas_of(doomed)

    def off_shard(count: int, key: Callable[[str], str] = lambda sid: f"{{{sid}}}") -> list[str]:
        found: list[str] = []
        while len(found) < count:
            candidate = new_session_id()
            if embedded.node_for_key(key(candidate)) is not doomed:
                found.append(candidate)
        return found

    def user_off_shard() -> str:
        return off_shard(1, lambda uid: cstore.schema.user_sessions(f"user-{uid}"))[0]

    # the writers' sessions live elsewhere, but their owners' indexes (user_sessions:writer<n>) may be on the
    # doomed shard: an append whose index TTL extension cannot be made must still succeed
    sessions = await _writer_sessions(cstore, await asyncio.to_thread(off_shard, WRITERS))
    lister, owner = f"user-{await asyncio.to_thread(user_off_shard)}", f"user-{await asyncio.to_thread(user_off_shard)}"
    spread = [(await cstore.create_session(lister)).session_id for _ in range(6)]
    homes = await _by_owner(embedded, cstore, spread)
    while len(homes.get(doomed, [])) < 2 or len(spread) - len(homes.get(doomed, [])) < 2:
        spread.append((await cstore.create_session(lister)).session_id)
        homes = await _by_owner(embedded, cstore, spread)
    for sid in spread:
        await cstore.add_message(sid, "user", "kept", 1)
    down = set(homes[doomed])
    work = Workload(cstore, owner=owner, ids=iter(await asyncio.to_thread(off_shard, 400)))
    during: list[tuple[set[str], set[str], float]] = []

    async def outage() -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(embedded.kill, doomed_replica)
        await asyncio.to_thread(embedded.kill, doomed)
        await asyncio.sleep(3.0)  # past the node timeout: the others mark the shard failed and go on
        started = time.monotonic()
        listed = await cstore.list_user_sessions(lister)
        during.append(({info.session_id for info in listed}, set(listed.unreachable), time.monotonic() - started))
        await asyncio.to_thread(embedded.restart, doomed)
        await asyncio.to_thread(embedded.restart, doomed_replica)

    await work.run(sessions, outage)
    ((reachable, unreachable, seconds),) = during
    print(f"\nlisting with a shard down took {seconds:.1f} s: {len(reachable)} listed, {len(unreachable)} unreachable")
    assert (reachable, unreachable) == (set(spread) - down, down)
    await work.verify(f"one shard down ({len(down)} of {len(spread)} listed sessions on it), then restarted")
    after = await cstore.list_user_sessions(lister)
    assert {info.session_id for info in after} == set(spread) and after.unreachable == ()
    for sid in down:
        assert [m.content for m in await cstore.get_messages(sid)] == ["kept"]


def _addresses(nodes: bytes) -> dict[str, list[tuple[str, int]]]:
    """Return the live primaries and replicas named by a CLUSTER NODES reply."""
    found: dict[str, list[tuple[str, int]]] = {"master": [], "slave": []}
    for line in nodes.decode().splitlines():
        fields = line.split()
        flags = fields[2].split(",") if len(fields) > 3 else []
        role = "master" if "master" in flags else "slave"
        if flags and "fail" not in flags and "fail?" not in flags:
            host, port = fields[1].split("@", 1)[0].rsplit(":", 1)
            found[role].append((host, int(port)))
    return found


def _wait_for_replicas_in_sync(replicas: list[tuple[str, int]], timeout: float = 60.0) -> None:
    """Wait until every replica is linked to its primary, synced and loaded (INFO replication and persistence)."""
    deadline = time.monotonic() + timeout
    pending = list(replicas)
    while pending:
        host, port = pending[0]
        info = ask(port, "INFO", "all", host=host)
        assert isinstance(info, bytes)
        fields = dict(line.split(":", 1) for line in info.decode().splitlines() if ":" in line)
        if (fields.get("master_link_status"), fields.get("master_sync_in_progress"), fields.get("loading")) == (
            "up",
            "0",
            "0",
        ):
            pending.pop(0)
            continue
        assert time.monotonic() < deadline, f"replica {host}:{port} not in sync after {timeout} s: {fields}"
        time.sleep(0.1)


def _lrange_calls(host: str, port: int) -> int:
    stats = ask(port, "INFO", "commandstats", host=host)
    assert isinstance(stats, bytes)
    for line in stats.decode().splitlines():
        if line.startswith("cmdstat_lrange:"):
            return int(line.split("calls=", 1)[1].split(",", 1)[0])
    return 0


async def test_reads_from_replicas(cluster_url: str, cstore: SessionStore) -> None:
    """With read_from=prefer_replica, get_messages is served by replicas (INFO commandstats) while writers write."""
    nodes = await cstore.client.custom_command(["CLUSTER", "NODES"])
    assert isinstance(nodes, bytes)
    addresses = _addresses(nodes)
    if not addresses["slave"]:
        pytest.skip("the cluster has no replica to read from")
    # a shard restarted by an earlier test may still be syncing its replica, which cannot serve reads until done
    await asyncio.to_thread(_wait_for_replicas_in_sync, addresses["slave"])
    sessions = await _writer_sessions(cstore)
    for sid in sessions:
        await cstore.add_message(sid, "user", "first", 1, message_id=f"pre-{sid}")
    for host, port in addresses["master"] + addresses["slave"]:
        ask(port, "CONFIG", "RESETSTAT", host=host)
    separator = "&" if "?" in cluster_url else "?"
    work = Workload(cstore, owner=f"creator-{new_session_id()}")
    reads = 0
    async with await SessionStore.connect(f"{cluster_url}{separator}read_from=prefer_replica") as reader:

        async def read_while_writing() -> None:
            nonlocal reads
            for _ in range(5):
                for sid in sessions:
                    assert (await reader.get_messages(sid))[0].id == f"pre-{sid}"  # replicated before the reads
                    reads += 1
                await asyncio.sleep(0.1)

        await work.run(sessions, read_while_writing)
    on_replicas = sum([await asyncio.to_thread(_lrange_calls, host, port) for host, port in addresses["slave"]])
    on_primaries = sum([await asyncio.to_thread(_lrange_calls, host, port) for host, port in addresses["master"]])
    print(
        f"\nprefer_replica: {reads} get_messages; LRANGE served by replicas {on_replicas}, by primaries {on_primaries}"
    )
    assert on_replicas >= reads and on_primaries == 0
    await work.verify("replica reads under writers")
