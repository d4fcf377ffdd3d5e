"""One benchmark run: connect, set up, measure every section, clean up, collect facts (the recall run's too)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from glide import GlideClusterClient

from benchmarks import adapter, durability, scaling, scenarios
from benchmarks.config import Config, config_json
from benchmarks.harness import Progress, Section, Target
from benchmarks.targets import evaluate
from benchmarks.workspace import BATCH_SESSIONS, Workspace
from glide_memory import EmbeddedCluster, EmbeddedServer, create_client, parse_url

REQUEST_TIMEOUT_MS = 10_000
"""Generous: a loaded 2-core machine must not turn a slow sample into an error."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What reproducing a run's figures takes: its command, when it ran and for how long, the versions, the machine."""

    command: str
    started_at: str
    seconds: float
    versions: dict[str, str]
    machine: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """Return the facts as a JSON-ready dict."""
        return {
            "command": self.command,
            "started_at": self.started_at,
            "duration_s": round(self.seconds, 2),
            "versions": self.versions,
            "machine": self.machine,
        }


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """When a run started: the time it records, and the counter its duration is taken from."""

    at: str = dataclasses.field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    counter: float = dataclasses.field(default_factory=time.perf_counter)

    def facts(self, *, command: str, versions: dict[str, str], machine: dict[str, Any]) -> Facts:
        """Return the run's facts, its duration counted until now."""
        seconds = time.perf_counter() - self.counter
        return Facts(command=command, started_at=self.at, seconds=seconds, versions=versions, machine=machine)


@dataclasses.dataclass(slots=True, kw_only=True)
class Results:
    """Everything one run measured, with the facts needed to reproduce it."""

    config: Config
    facts: Facts
    server: dict[str, Any]
    sections: dict[str, Section]
    targets: list[Target]

    def to_json(self) -> dict[str, Any]:
        """Return every figure as a JSON-ready dict (raw samples left out)."""
        return {
            "schema_version": 1,
            "mode": self.config.mode,
            **self.facts.to_json(),
            "server": self.server,
            "config": config_json(self.config),
            "sections": {key: section.to_json() for key, section in self.sections.items()},
            "targets": [target.to_json() for target in self.targets],
        }


def version(distribution: str) -> str:
    """Return the installed version of ``distribution``, or ``not installed``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions(distributions: Sequence[str], **more: str) -> dict[str, str]:
    """Return the version of each distribution (keyed with ``_`` for ``-``), then ``more``, then Python's."""
    installed = {name.replace("-", "_"): version(name) for name in distributions}
    return installed | more | {"python": platform.python_version()}


def machine_facts() -> dict[str, Any]:
    """Return the CPUs and the platform the run ran on."""
    cpu_model = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python_implementation": platform.python_implementation(),
    }


def _populate_batches(config: Config) -> int:
    batches, done = 0, 0
    for sessions in config.keyspaces:
        wanted = sessions - scaling.TARGET_SESSIONS
        batches += len(range(done, wanted, BATCH_SESSIONS))
        done = max(done, wanted)
    return batches


def planned_steps(config: Config) -> int:
    """Return the progress bar's total for ``config``."""
    rounds = (config.command_rounds, config.append_rounds, config.operation_rounds, config.size_rounds)
    return (
        sum(r + config.warmup(r) for r in rounds)
        + _populate_batches(config)
        + 1
        + len(config.sizes)
        + len(config.tasks) * config.concurrency_trials
        + sum(config.scan_rounds(n) for n in config.keyspaces)
        + config.strands_rounds
        + config.warmup(config.strands_rounds)
        + config.durability_rounds
        + config.warmup(config.durability_rounds)
    )


async def _measure(ws: Workspace, config: Config, progress: Progress) -> dict[str, Section]:
    # the first keyspace level goes in first, so the raw SCAN row meets a realistic keyspace
    progress.stage("populating")
    await ws.populate(config.keyspaces[0] - scaling.TARGET_SESSIONS, on_batch=progress.advance)
    sections: dict[str, Section] = {}
    steps = [
        ("commands", scenarios.commands),
        ("append", scenarios.append),
        ("operations", scenarios.operations),
        ("sizes", scenarios.sizes),
        ("memory", scenarios.memory),
        ("concurrency", scaling.concurrency),
        ("keyspace", scaling.keyspace),
        ("strands", adapter.strands_restore),
        ("durability", durability.durability),
    ]
    for name, scenario in steps:
        progress.stage(name)
        started = time.perf_counter()
        sections[name] = await scenario(ws, config, progress)
        sections[name].extra["wall_s"] = round(time.perf_counter() - started, 2)
    return sections


async def run(config: Config, *, command: str) -> Results:
    """Run every section against the configured server and return the results.

    Starts an embedded server when neither ``config.url`` nor ``VALKEY_URL``
    names one. Every key written lives in a private namespace and is deleted
    at the end, even when a section fails.
    """
    start = Start()
    url = config.url or os.environ.get("VALKEY_URL") or None
    server: EmbeddedServer | EmbeddedCluster | None = None
    if url is None:
        # a real multi-node cluster: 3 primaries, each with a replica (no AOF, like the standalone server)
        server = EmbeddedCluster(3, 1, persistent=False) if config.cluster else EmbeddedServer()
        await asyncio.to_thread(server.start)
        url = server.url
    nodes = len(server.nodes) if isinstance(server, EmbeddedCluster) else len(parse_url(url).addresses)
    try:
        client = await create_client(
            url, cluster=config.cluster or None, request_timeout_ms=REQUEST_TIMEOUT_MS, client_name="glide-memory-bench"
        )
        try:
            ws = Workspace(client, cluster=isinstance(client, GlideClusterClient), url=url)
            progress = Progress(planned_steps(config), enabled=config.progress)
            try:
                sections = await _measure(ws, config, progress)
                server_version = await ws.server_version()
            finally:
                progress.stage("cleaning up")
                deleted = await ws.sweep()
                progress.close()
        finally:
            await client.close()
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
    settings = parse_url(url)
    return Results(
        config=config,
        facts=start.facts(
            command=command,
            versions=versions(["glide-memory", "valkey-glide", "orjson"], server=server_version),
            machine=machine_facts(),
        ),
        server={
            "address": f"{settings.host}:{settings.port}",
            "nodes": nodes,
            "embedded": server is not None,
            "cluster": ws.cluster,
            "namespace": ws.namespace,
            "keys_deleted_after": deleted,
        },
        sections=sections,
        targets=evaluate(sections),
    )
