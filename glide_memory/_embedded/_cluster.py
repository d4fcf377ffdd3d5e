"""A private Valkey Cluster of several embedded servers, for failover and resharding tests.

Each node is an :class:`~glide_memory.EmbeddedServer` in cluster
mode on its own loopback port; :class:`EmbeddedCluster` introduces them
(CLUSTER MEET), splits the 16,384 slots evenly over the primaries, attaches
the replicas and waits until every node agrees. It can then crash and
restart nodes, fail over, and move slots the classic way (SETSLOT and
MIGRATE) or with Valkey 9's atomic ``CLUSTER MIGRATESLOTS``.

Every helper blocks: from async code, call it through ``asyncio.to_thread``.
The cluster is driven with :mod:`glide_memory._transport._resp`, so it never touches
glide or an event loop.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from glide_memory._embedded._server import EmbeddedServer
from glide_memory._transport import _resp
from glide_memory.errors import EmbeddedServerError

SLOTS = 16384
_HOST = "127.0.0.1"
_POLL = 0.05
_MIGRATE_BATCH = 100


class ClusterNode:
    """One node of an :class:`EmbeddedCluster`: its server, port and cluster node id.

    Attributes:
        server: The :class:`EmbeddedServer` running the node.
        node_id: The node's cluster id (it survives restarts: nodes.conf is kept).
    """

    def __init__(self, server: EmbeddedServer, node_id: str) -> None:
        self.server = server
        self.node_id = node_id

    @property
    def port(self) -> int:
        """The node's port (the same across restarts)."""
        return self.server.port

    @property
    def running(self) -> bool:
        """Whether the node's process is alive."""
        return self.server.running

    @property
    def role(self) -> Literal["primary", "replica", "down"]:
        """What the node says it is now (ROLE), or ``down`` if it does not answer."""
        try:
            reply = _resp.ask(self.port, "ROLE")
        except (OSError, ValueError):
            return "down"
        if not isinstance(reply, list) or not reply:
            return "down"
        return "primary" if reply[0] == b"master" else "replica"

    def ask(self, *args: str, timeout: float = 2.0) -> _resp.Reply:
        """Send one command to this node on a fresh connection and return the reply (errors included)."""
        return _resp.ask(self.port, *args, timeout=timeout)

    def command(self, *args: str, timeout: float = 2.0) -> _resp.Reply:
        """Send one command to this node and return its reply.

        Raises:
            EmbeddedServerError: the node did not answer or answered with an error.
        """
        try:
            reply = self.ask(*args, timeout=timeout)
        except (OSError, ValueError) as exc:
            raise EmbeddedServerError(f"node {self.port} did not answer {' '.join(args[:3])}: {exc}") from exc
        if isinstance(reply, _resp.ErrorReply):
            raise EmbeddedServerError(f"node {self.port} refused {' '.join(args[:4])}: {reply.text}")
        return reply

    def info(self, section: str) -> str:
        """Return one INFO section as text ("" if the node does not answer)."""
        try:
            reply = self.ask("INFO", section)
        except (OSError, ValueError):
            return ""
        return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else ""

    def __repr__(self) -> str:
        return f"ClusterNode(port={self.port}, node_id={self.node_id[:8]!r})"


@dataclass(frozen=True, slots=True)
class _Entry:
    """One line of CLUSTER NODES."""

    node_id: str
    port: int
    flags: frozenset[str]
    primary_id: str | None
    slots: frozenset[int]

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    @property
    def failing(self) -> bool:
        return bool({"fail", "fail?", "handshake", "noaddr"} & self.flags)


def _parse_nodes(text: str) -> dict[str, _Entry]:
    entries = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        address = fields[1].split("@", 1)[0]
        slots: set[int] = set()
        for item in fields[8:]:
            if item.startswith("["):
                continue  # a slot being migrated or imported: ownership is what counts
            first, _, last = item.partition("-")
            slots.update(range(int(first), int(last or first) + 1))
        port = address.rsplit(":", 1)[-1]
        entries[fields[0]] = _Entry(
            node_id=fields[0],
            port=int(port) if port.isdigit() else 0,
            flags=frozenset(fields[2].replace("myself,", "").split(",")),
            primary_id=None if fields[3] == "-" else fields[3],
            slots=frozenset(slots),
        )
    return entries


def _ranges(slots: Iterable[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for slot in sorted(slots):
        if runs and runs[-1][1] + 1 == slot:
            runs[-1] = (runs[-1][0], slot)
        else:
            runs.append((slot, slot))
    return runs


class EmbeddedCluster:
    """A Valkey Cluster of ``primaries * (1 + replicas)`` embedded servers on loopback ports.

    Args:
        primaries: Shards; the slots are split evenly over them.
        replicas: Replicas per primary.
        binary: The server binary; found by
            :func:`~glide_memory._embedded._server.find_server_binary` if ``None``.
        node_timeout_ms: ``cluster-node-timeout``: how long a node may stay
            silent before it is failed over (the server's default is 15 s).
        persistent: Keep an append-only file on every node, so a killed
            node restarts with its data.
        config: Further server options for every node; they win over ours.
        startup_timeout: Seconds to wait for the nodes to start and the
            cluster to come together.

    Use it as a context manager or call :meth:`start` and :meth:`stop`::

        with EmbeddedCluster(primaries=3, replicas=1) as cluster:
            store = await SessionStore.connect(cluster.url)
            cluster.kill(cluster.node_for_key("meta:{s1}"))

    Every method blocks; call it through ``asyncio.to_thread`` from async code.
    """

    def __init__(
        self,
        primaries: int = 3,
        replicas: int = 1,
        *,
        binary: str | os.PathLike[str] | None = None,
        node_timeout_ms: int = 2000,
        persistent: bool = True,
        config: Mapping[str, str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        if primaries < 1 or replicas < 0:
            raise EmbeddedServerError("a cluster needs at least one primary and no negative replica count")
        self._shape = (primaries, replicas)
        self._binary = binary
        self._persistent = persistent
        # a replica may always take over (validity factor 0): test clusters have no stale replicas to fear;
        # and a replica syncs at once instead of waiting 5 s for others to share a diskless transfer
        self._config = {
            "cluster-node-timeout": str(node_timeout_ms),
            "cluster-replica-validity-factor": "0",
            "repl-diskless-sync-delay": "0",
            **(config or {}),
        }
        self._startup_timeout = startup_timeout
        self._nodes: list[ClusterNode] = []

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> EmbeddedCluster:
        """Start every node, form the cluster and wait until all nodes agree on it; no-op if started.

        Raises:
            EmbeddedServerError: a node did not start, or the cluster did not form in time.
        """
        if self._nodes:
            return self
        primaries, replicas = self._shape
        servers = [
            EmbeddedServer(
                binary=self._binary,
                persistent=self._persistent,
                cluster=True,
                claim_slots=False,
                config=self._config,
                startup_timeout=self._startup_timeout,
            )
            for _ in range(primaries * (1 + replicas))
        ]
        try:
            with ThreadPoolExecutor(max_workers=len(servers)) as pool:
                list(pool.map(EmbeddedServer.start, servers))
            self._nodes = [ClusterNode(server, _text(_resp.ask(server.port, "CLUSTER", "MYID"))) for server in servers]
            self._form()
        except BaseException:
            for server in servers:
                server.stop()
            self._nodes = []
            raise
        return self

    def _form(self) -> None:
        primaries, replicas = self._shape
        first = self._nodes[0]
        for node in self._nodes[1:]:
            first.command("CLUSTER", "MEET", _HOST, str(node.port))
        for index, node in enumerate(self._nodes[:primaries]):
            low, high = index * SLOTS // primaries, (index + 1) * SLOTS // primaries - 1
            node.command("CLUSTER", "ADDSLOTSRANGE", str(low), str(high))
        deadline = time.monotonic() + self._startup_timeout
        self._wait(self._all_met, deadline - time.monotonic(), "the nodes to meet")
        for index, node in enumerate(self._nodes[primaries:]):
            node.command("CLUSTER", "REPLICATE", self._nodes[index // max(replicas, 1)].node_id)
        self._wait(self._settled, deadline - time.monotonic(), "the cluster to settle")

    def _all_met(self) -> bool:
        """Whether every node knows every other, handshakes done."""
        for node in self._nodes:
            view = self._view_of(node)
            if view is None or len(view) != len(self._nodes) or any(e.failing for e in view.values()):
                return False
        return True

    def stop(self) -> None:
        """Stop every node and remove their directories; idempotent."""
        nodes, self._nodes = self._nodes, []
        if nodes:
            with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
                list(pool.map(lambda node: node.server.stop(), nodes))

    def __enter__(self) -> EmbeddedCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- topology ------------------------------------------------------------

    @property
    def url(self) -> str:
        """``valkey://`` URL naming every node as a seed, with ``?cluster=true``."""
        if not self._nodes:
            raise EmbeddedServerError("the embedded cluster is not running")
        seeds = ",".join(f"{_HOST}:{node.port}" for node in self._nodes)
        return f"valkey://{seeds}?cluster=true"

    @property
    def nodes(self) -> list[ClusterNode]:
        """Every node, primaries first as started (roles change with failovers: see :attr:`ClusterNode.role`)."""
        return list(self._nodes)

    def primaries(self) -> list[ClusterNode]:
        """Return the nodes serving slots now as primaries (failed ones left out)."""
        view = self._view()
        return [
            node
            for node in self._nodes
            if (entry := view.get(node.node_id)) and entry.is_primary and entry.slots and not entry.failing
        ]

    def replicas_of(self, node: ClusterNode) -> list[ClusterNode]:
        """Return the nodes the cluster sees as replicas of ``node`` (running or not)."""
        view = self._view()
        return [other for other in self._nodes if (e := view.get(other.node_id)) and e.primary_id == node.node_id]

    def node_for_slot(self, slot: int) -> ClusterNode:
        """Return the primary owning ``slot`` (it may be down)."""
        view = self._view()
        for node in self._nodes:
            entry = view.get(node.node_id)
            if entry is not None and entry.is_primary and slot in entry.slots:
                return node
        raise EmbeddedServerError(f"no node owns slot {slot}")

    def slot_of(self, key: str) -> int:
        """Return the slot of ``key`` (CLUSTER KEYSLOT)."""
        for node in self._reachable():
            with contextlib.suppress(EmbeddedServerError):
                reply = node.command("CLUSTER", "KEYSLOT", key)
                if isinstance(reply, int):
                    return reply
        raise EmbeddedServerError("no node answered CLUSTER KEYSLOT")

    def node_for_key(self, key: str) -> ClusterNode:
        """Return the primary owning the slot of ``key``."""
        return self.node_for_slot(self.slot_of(key))

    def supports(self, command: str) -> bool:
        """Return whether the nodes' server knows ``command`` (a subcommand as ``CLUSTER|MIGRATESLOTS``)."""
        for node in self._reachable():
            with contextlib.suppress(EmbeddedServerError):
                reply = node.command("COMMAND", "INFO", command)
                return isinstance(reply, list) and bool(reply) and reply[0] is not None
        raise EmbeddedServerError("no node of the cluster answers")

    def _reachable(self) -> list[ClusterNode]:
        return [node for node in self._nodes if node.running]

    def _view_of(self, node: ClusterNode) -> dict[str, _Entry] | None:
        try:
            reply = node.ask("CLUSTER", "NODES")
        except (OSError, ValueError):
            return None
        return _parse_nodes(reply.decode()) if isinstance(reply, bytes) else None

    def _view(self) -> dict[str, _Entry]:
        for node in self._reachable():
            view = self._view_of(node)
            if view is not None:
                return view
        raise EmbeddedServerError("no node of the cluster answers")

    def _views(self) -> list[dict[str, _Entry]] | None:
        """Every running node's view, or ``None`` if one of them does not answer yet."""
        views = []
        for node in self._reachable():
            view = self._view_of(node)
            if view is None:
                return None
            views.append(view)
        return views

    def _state_ok(self) -> bool:
        return all(_cluster_info(node).get("cluster_state") == "ok" for node in self._reachable())

    def _settled(self) -> bool:
        """Whether the running nodes agree on the layout, every slot is served and every replica is in sync."""
        views = self._views()
        if not views or not self._state_ok():
            return False
        running = {node.node_id for node in self._reachable()}
        first = views[0]
        for view in views:
            for node_id in running:
                entry, expected = view.get(node_id), first.get(node_id)
                if entry is None or expected is None or entry.failing:
                    return False
                if (entry.is_primary, entry.primary_id, entry.slots) != (
                    expected.is_primary,
                    expected.primary_id,
                    expected.slots,
                ):
                    return False
        served = set().union(*(e.slots for e in first.values() if e.node_id in running and e.is_primary))
        if len(served) != SLOTS:
            return False
        return all(
            "master_link_status:up" in node.info("replication")
            for node in self._reachable()
            if first[node.node_id].primary_id is not None
        )

    # -- faults ----------------------------------------------------------------

    def kill(self, node: ClusterNode) -> None:
        """Kill ``node`` with SIGKILL, as a crash would."""
        node.server.kill()

    def restart(self, node: ClusterNode, *, timeout: float = 30.0) -> None:
        """Start a killed node again (same port, data and id) and wait until it is back in the cluster.

        A primary that was failed over meanwhile comes back as a replica of its successor.

        Raises:
            EmbeddedServerError: it did not start, or did not rejoin within ``timeout`` seconds.
        """
        node.server.start()
        self._wait(self._settled, timeout, f"node {node.port} to rejoin")

    def wait_for_failover(self, old_primary: ClusterNode, *, timeout: float = 30.0) -> ClusterNode:
        """Wait until a replica of ``old_primary`` has taken over its slots; return it.

        Call it right after the primary failed (e.g. :meth:`kill`), while the
        cluster still lists its replicas.

        Raises:
            EmbeddedServerError: it has no replica, or none took over within ``timeout`` seconds.
        """
        candidates = self.replicas_of(old_primary)
        if not candidates:
            raise EmbeddedServerError(f"node {old_primary.port} has no replica to fail over to")
        promoted: list[ClusterNode] = []

        def taken_over() -> bool:
            views = self._views()
            if not views:
                return False
            for candidate in candidates:
                entries = [view.get(candidate.node_id) for view in views]
                if all(e is not None and e.is_primary and e.slots for e in entries) and all(
                    not (view.get(old_primary.node_id) or _NO_ENTRY).slots for view in views
                ):
                    promoted[:] = [candidate]
                    return self._state_ok()
            return False

        self._wait(taken_over, timeout, f"a replica of node {old_primary.port} to take over")
        return promoted[0]

    def failover(self, replica: ClusterNode, *, timeout: float = 30.0) -> None:
        """Promote ``replica`` with a graceful CLUSTER FAILOVER and wait until it and its primary swapped roles.

        Raises:
            EmbeddedServerError: it is not a replica, or the roles did not swap within ``timeout`` seconds.
        """
        entry = self._view().get(replica.node_id)
        if entry is None or entry.primary_id is None:
            raise EmbeddedServerError(f"node {replica.port} is not a replica")
        old_id = entry.primary_id
        replica.command("CLUSTER", "FAILOVER")

        def swapped() -> bool:
            views = self._views() or []
            return bool(views) and all(
                (new := view.get(replica.node_id)) is not None
                and new.is_primary
                and bool(new.slots)
                and (old := view.get(old_id)) is not None
                and old.primary_id == replica.node_id
                for view in views
            )

        self._wait(lambda: swapped() and self._settled(), timeout, f"node {replica.port} to take over")

    # -- resharding ----------------------------------------------------------

    def move_slots(
        self,
        slots: int | Iterable[int],
        target: ClusterNode,
        *,
        method: Literal["migrate", "migrateslots"] = "migrate",
        timeout: float = 60.0,
    ) -> None:
        """Move ``slots`` (a slot, a range, any iterable) and their keys to the primary ``target``.

        ``migrate`` is the classic way: SETSLOT IMPORTING/MIGRATING, MIGRATE
        of the keys in batches, then SETSLOT NODE on every primary; clients
        meanwhile get ASK and TRYAGAIN. ``migrateslots`` asks the owner to
        run Valkey 9's atomic slot migration (CLUSTER MIGRATESLOTS), which
        hands the slots over at once when their keys are copied.

        Raises:
            EmbeddedServerError: a slot is out of range, the target is not a
                primary, the server refused a step, or the move did not end
                within ``timeout`` seconds.
        """
        wanted = sorted({slots} if isinstance(slots, int) else set(slots))
        if any(not 0 <= slot < SLOTS for slot in wanted):
            raise EmbeddedServerError(f"slots must lie in 0..{SLOTS - 1}")
        if method not in ("migrate", "migrateslots"):
            raise EmbeddedServerError(f"unknown method {method!r}: use 'migrate' or 'migrateslots'")
        if method == "migrateslots" and not self.supports("CLUSTER|MIGRATESLOTS"):
            raise EmbeddedServerError("this server has no CLUSTER MIGRATESLOTS (Valkey 9.0 or later has)")
        view = self._view()
        entry = view.get(target.node_id)
        if entry is None or not entry.is_primary:
            raise EmbeddedServerError(f"node {target.port} is not a primary")
        by_source: dict[str, list[int]] = {}
        for slot in wanted:
            owner = next((e.node_id for e in view.values() if e.is_primary and slot in e.slots), None)
            if owner is None:
                raise EmbeddedServerError(f"no node owns slot {slot}")
            if owner != target.node_id:
                by_source.setdefault(owner, []).append(slot)
        for source_id, moving in by_source.items():
            source = self._by_id(source_id)
            if method == "migrate":
                for slot in moving:
                    self._migrate_slot(slot, source, target)
            else:
                self._migrate_slots(moving, source, target, timeout)

        def moved() -> bool:
            views = self._views()
            owned = [set((view.get(target.node_id) or _NO_ENTRY).slots) for view in views or []]
            return bool(views) and all(set(wanted) <= slots for slots in owned) and self._settled()

        self._wait(moved, timeout, f"every node to see slots moved to node {target.port}")

    def _migrate_slot(self, slot: int, source: ClusterNode, target: ClusterNode) -> None:
        number = str(slot)
        target.command("CLUSTER", "SETSLOT", number, "IMPORTING", source.node_id)
        source.command("CLUSTER", "SETSLOT", number, "MIGRATING", target.node_id)
        while True:
            keys = source.command("CLUSTER", "GETKEYSINSLOT", number, str(_MIGRATE_BATCH))
            if not isinstance(keys, list) or not keys:
                break
            names = [_text(key) for key in keys]
            source.command("MIGRATE", _HOST, str(target.port), "", "0", "5000", "KEYS", *names, timeout=10.0)
        # the target first, so the slot is never without an owner that accepts it
        target.command("CLUSTER", "SETSLOT", number, "NODE", target.node_id)
        source.command("CLUSTER", "SETSLOT", number, "NODE", target.node_id)
        for node in self.primaries():
            if node not in (source, target):
                with contextlib.suppress(EmbeddedServerError):  # gossip tells a node that missed it
                    node.command("CLUSTER", "SETSLOT", number, "NODE", target.node_id)

    def _migrate_slots(self, slots: list[int], source: ClusterNode, target: ClusterNode, timeout: float) -> None:
        ranges = [str(bound) for run in _ranges(slots) for bound in run]
        earlier = {job.get("name") for job in _jobs(source)}
        source.command("CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", *ranges, "NODE", target.node_id)

        def finished() -> bool:
            ours = [job for job in _jobs(source) if job.get("name") not in earlier]
            for job in ours:
                if job.get("state") in ("failed", "cancelled"):
                    raise EmbeddedServerError(f"slot migration to node {target.port} failed: {job}")
            return bool(ours) and all(job.get("state") == "success" for job in ours)

        self._wait(finished, timeout, f"slot migration to node {target.port}")

    def _by_id(self, node_id: str) -> ClusterNode:
        for node in self._nodes:
            if node.node_id == node_id:
                return node
        raise EmbeddedServerError(f"node {node_id} is not part of this cluster")

    @staticmethod
    def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(_POLL)
        raise EmbeddedServerError(f"timed out after {timeout:g} s waiting for {what}")


_NO_ENTRY = _Entry(node_id="", port=0, flags=frozenset(), primary_id=None, slots=frozenset())


def _text(reply: _resp.Reply) -> str:
    if not isinstance(reply, bytes):
        raise EmbeddedServerError(f"expected a string reply, got {reply!r}")
    return reply.decode()


def _cluster_info(node: ClusterNode) -> dict[str, str]:
    try:
        reply = node.ask("CLUSTER", "INFO")
    except (OSError, ValueError):
        return {}
    text = reply.decode() if isinstance(reply, bytes) else ""
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _jobs(node: ClusterNode) -> list[dict[str, str]]:
    """Return the node's atomic slot migrations (CLUSTER GETSLOTMIGRATIONS), each as a dict."""
    jobs = []
    reply = node.command("CLUSTER", "GETSLOTMIGRATIONS")
    for entry in reply if isinstance(reply, list) else []:
        items = entry if isinstance(entry, list) else []
        texts = [item.decode() if isinstance(item, bytes) else str(item) for item in items]
        jobs.append(dict(zip(texts[::2], texts[1::2], strict=False)))
    return jobs
