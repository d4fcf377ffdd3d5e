"""LangGraph checkpointers side by side: GlideCheckpointSaver, InMemorySaver, AsyncSqliteSaver, AsyncRedisSaver.

Per-operation latency of what a graph asks of its checkpointer: ``put`` (a
new checkpoint with one changed channel), ``get_tuple`` of the latest
checkpoint, ``list(limit=10)`` on a thread of 100 checkpoints, and
``put_writes`` (one task's two writes). Measured interleaved: every round
calls each contender once, in a random order, after a warm-up, with
``perf_counter_ns``. ``AsyncRedisSaver`` (``langgraph-checkpoint-redis``)
needs RedisJSON and RediSearch; on a server without them it cannot start,
and the row says why instead of a figure::

    python -m benchmarks.frameworks.langgraph [--url URL] [--samples N]
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver

from benchmarks.frameworks import _common
from glide_memory import SessionStore
from glide_memory.integrations.langgraph import GlideCheckpointSaver

OPERATIONS = ("put", "get_tuple latest", "list limit=10 of 100", "put_writes")
HISTORY = 100


class Bench:
    """One contender's thread of 100 checkpoints and a thread it keeps writing to."""

    def __init__(self, name: str, saver: BaseCheckpointSaver[Any]) -> None:
        self.name = name
        self.saver = saver
        self.history: RunnableConfig = {"configurable": {"thread_id": f"bench-{uuid.uuid4().hex}", "checkpoint_ns": ""}}
        self.head: RunnableConfig = {"configurable": {"thread_id": f"bench-{uuid.uuid4().hex}", "checkpoint_ns": ""}}
        self.version: Any = None
        self.tasks = 0

    async def put(self, config: RunnableConfig, step: int) -> RunnableConfig:
        checkpoint = empty_checkpoint()
        self.version = self.saver.get_next_version(self.version, None)
        checkpoint["channel_values"] = {"counter": step, "notes": "x" * 200}
        checkpoint["channel_versions"] = {"counter": self.version, "notes": 1}
        versions = {"counter": self.version, **({"notes": 1} if step == 0 else {})}
        return await self.saver.aput(config, checkpoint, {"source": "loop", "step": step, "parents": {}}, versions)

    async def prepare(self) -> None:
        config = self.history
        for step in range(HISTORY):
            config = await self.put(config, step)
        self.head = await self.put(self.head, 0)

    def operation(self, name: str) -> Callable[[], Awaitable[object]]:
        async def put() -> None:
            self.head = await self.put(self.head, 1)

        async def get_latest() -> None:
            assert await self.saver.aget_tuple({"configurable": {**self.history["configurable"]}}) is not None

        async def list_ten() -> None:
            found = [t async for t in self.saver.alist({"configurable": {**self.history["configurable"]}}, limit=10)]
            assert len(found) == 10

        async def put_writes() -> None:
            self.tasks += 1
            await self.saver.aput_writes(
                self.head, [("counter", self.tasks), ("branch:to:agent", None)], f"t{self.tasks}"
            )

        return {"put": put, "get_tuple latest": get_latest, "list limit=10 of 100": list_ten, "put_writes": put_writes}[
            name
        ]


@contextlib.asynccontextmanager
async def contenders(url: str, workdir: Path) -> AsyncIterator[tuple[list[Bench], list[dict[str, Any]]]]:
    """Open every contender that can run against ``url``; the rows say why the others could not."""
    notes: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(await SessionStore.connect(url))
        benches = [
            Bench("GlideCheckpointSaver", GlideCheckpointSaver(store=store)),
            Bench("InMemorySaver", InMemorySaver()),
        ]
        try:
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            sqlite = await stack.enter_async_context(AsyncSqliteSaver.from_conn_string(str(workdir / "bench.sqlite")))
            benches.append(Bench("AsyncSqliteSaver (file)", sqlite))
        except ImportError as exc:
            notes.append({"contender": "AsyncSqliteSaver", "error": f"not installed: {exc}"})
        try:
            from langgraph.checkpoint.redis.aio import AsyncRedisSaver

            redis_url = url.replace("valkey://", "redis://", 1)
            redis = await stack.enter_async_context(AsyncRedisSaver.from_conn_string(redis_url))
            await redis.asetup()
            benches.append(Bench("AsyncRedisSaver", redis))
        except ImportError as exc:
            notes.append({"contender": "AsyncRedisSaver", "error": f"not installed: {exc}"})
        except Exception as exc:  # the server lacks the modules it needs: say exactly what it answered
            notes.append({"contender": "AsyncRedisSaver", "error": f"{type(exc).__name__}: {exc}"})
        yield benches, notes


async def run(url: str, *, samples: int) -> list[dict[str, Any]]:
    """Return one row per operation and contender (p50/p99 in microseconds), plus rows for contenders that failed."""
    with tempfile.TemporaryDirectory() as workdir:
        async with contenders(url, Path(workdir)) as (benches, notes):
            for bench in benches:
                await bench.prepare()
            rows: list[dict[str, Any]] = []
            for operation in OPERATIONS:
                timings = await _common.measure({bench.name: bench.operation(operation) for bench in benches}, samples)
                for name, values in timings.items():
                    rows.append({"operation": operation, "contender": name, **_percentiles(values)})
            for note in notes:
                for operation in OPERATIONS:
                    rows.append({"operation": operation, "contender": note["contender"], "p50_us": None, "p99_us": None,
                                 "error": note["error"]})  # fmt: skip
            return rows


def _percentiles(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_us": statistics.median(ordered) / 1000, "p99_us": p99 / 1000}


def main(argv: list[str] | None = None) -> int:
    """Print the table: ``python -m benchmarks.frameworks.langgraph [--url URL] [--samples N]``."""
    packages = (
        "langgraph",
        "langgraph-checkpoint",
        "langgraph-checkpoint-sqlite",
        "langgraph-checkpoint-redis",
        "valkey-glide",
    )
    return _common.main(
        run, argv, module="benchmarks.frameworks.langgraph", description=__doc__, packages=packages, samples=300
    )


if __name__ == "__main__":
    sys.exit(main())
