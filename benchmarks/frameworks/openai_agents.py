"""OpenAI Agents SDK sessions, side by side: GlideSession, the SDK's SQLiteSession and its RedisSession.

Per-operation latency of what the Runner does on every turn: ``add_items``
of one turn (the user's message and the assistant's reply), ``get_items(limit=20)``
on a 100-item session, and ``pop_item``. Contenders:

- ``GlideSession``: this adapter, on a store of this event loop;
- ``SQLiteSession``: the SDK's in-process reference, in memory (no network
  at all: the floor of what a session costs);
- ``RedisSession``: the SDK's Redis session (redis-py), on the same Valkey
  server, what a user would pick for a shared, durable store.

Each round calls every contender once, in a random order, after warm-up
rounds that are not recorded; times are ``perf_counter_ns`` around one
awaited call::

    python -m benchmarks.frameworks.openai_agents [--url valkey://...] [--samples 500]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Any

from agents import SQLiteSession
from agents.extensions.memory import RedisSession

from benchmarks.harness import percentile
from glide_memory import EmbeddedServer, SessionStore, parse_url
from glide_memory.integrations.openai_agents import GlideSession

WARMUP = 20
HISTORY = 100
LIMIT = 20
Op = Callable[[], Awaitable[object]]


def _turn(n: int) -> list[Any]:
    """One Runner turn as the SDK stores it: the user's input and the model's message."""
    return [
        {"content": f"Question {n}: what changed in the deployment last night?", "role": "user"},
        {
            "id": f"msg_{n}",
            "content": [{"annotations": [], "text": f"Answer {n}: the cache TTL went to 24 h.", "type": "output_text"}],
            "role": "assistant",
            "status": "completed",
            "type": "message",
        },
    ]


def _history(count: int) -> list[Any]:
    return [item for n in range(count // 2) for item in _turn(n)]


async def _measure(ops: dict[str, Op], samples: int) -> dict[str, list[int]]:
    """Time each contender's op ``samples`` times, interleaved in a random order per round."""
    names = list(ops)
    timings: dict[str, list[int]] = {name: [] for name in names}
    clock = time.perf_counter_ns
    for round_ in range(WARMUP + samples):
        random.shuffle(names)
        for name in names:
            start = clock()
            await ops[name]()
            elapsed = clock() - start
            if round_ >= WARMUP:
                timings[name].append(elapsed)
    return timings


async def run(url: str, *, samples: int) -> list[dict[str, Any]]:
    """Measure the three contenders on the server at ``url``; return one row per operation and contender."""
    target = parse_url(url)
    redis_url = f"redis://{target.host}:{target.port}/0"
    run_id = uuid.uuid4().hex[:8]
    store = await SessionStore.connect(url)
    redis_sessions: list[RedisSession] = []
    sqlite_sessions: list[SQLiteSession] = []
    sids: list[str] = []

    def contenders(purpose: str) -> dict[str, Any]:
        sid = f"bench-oa-{run_id}-{purpose}"
        sids.append(sid)
        redis = RedisSession.from_url(sid, url=redis_url, key_prefix=f"bench-oa-{run_id}")
        sqlite = SQLiteSession(sid)
        redis_sessions.append(redis)
        sqlite_sessions.append(sqlite)
        return {"GlideSession": GlideSession(sid, store=store), "SQLiteSession": sqlite, "RedisSession": redis}

    rows: list[dict[str, Any]] = []
    try:
        adders = contenders("add")
        counter = iter(range(10**9))
        results = {
            "add_items (one turn)": await _measure(_ops(adders, lambda s: s.add_items(_turn(next(counter)))), samples)
        }
        readers = contenders("read")
        for session in readers.values():
            await session.add_items(_history(HISTORY))
        results[f"get_items(limit={LIMIT}), {HISTORY} items"] = await _measure(
            _ops(readers, lambda s: s.get_items(limit=LIMIT)), samples
        )
        poppers = contenders("pop")
        for session in poppers.values():
            await session.add_items(_history(2 * (WARMUP + samples)))
        results["pop_item"] = await _measure(_ops(poppers, lambda s: s.pop_item()), samples)
        for operation, timings in results.items():
            for contender, values in timings.items():
                ordered = sorted(values)
                rows.append(
                    {
                        "operation": operation,
                        "contender": contender,
                        "p50_us": percentile(ordered, 0.50) / 1000,
                        "p99_us": percentile(ordered, 0.99) / 1000,
                    }
                )
    finally:
        for sid in sids:
            await store.delete_session(sid)
        for redis in redis_sessions:
            await redis.clear_session()
            await redis.close()
        for sqlite in sqlite_sessions:
            sqlite.close()
        await store.close()
    return rows


def _ops(sessions: dict[str, Any], call: Callable[[Any], Awaitable[object]]) -> dict[str, Op]:
    def bound(session: Any) -> Op:
        return lambda: call(session)

    return {name: bound(session) for name, session in sessions.items()}


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'operation':<34} {'contender':<14} {'p50 µs':>9} {'p99 µs':>9}"]
    for row in rows:
        lines.append(f"{row['operation']:<34} {row['contender']:<14} {row['p50_us']:>9.1f} {row['p99_us']:>9.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a table (an embedded server without ``--url``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.frameworks.openai_agents", description=__doc__)
    parser.add_argument("--url", help="a valkey:// URL; an embedded server if left out")
    parser.add_argument("--samples", type=int, default=500, help="recorded calls per contender and operation")
    options = parser.parse_args(argv)
    server = None if options.url else EmbeddedServer().start()
    try:
        url = options.url or server.url  # type: ignore[union-attr]
        rows = asyncio.run(run(url, samples=options.samples))
    finally:
        if server is not None:
            server.stop()
    versions = ", ".join(f"{name} {version(name)}" for name in ("openai-agents", "valkey-glide", "redis"))
    print(f"{versions}; Python {sys.version.split()[0]}; {options.samples} samples, interleaved")
    print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
