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

import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from agents import SQLiteSession
from agents.extensions.memory import RedisSession

from benchmarks.frameworks import _common
from benchmarks.frameworks._common import WARMUP, Op, measure
from glide_memory import SessionStore, parse_url
from glide_memory.integrations.openai_agents import GlideSession

HISTORY = 100
LIMIT = 20


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

    try:
        adders = contenders("add")
        counter = iter(range(10**9))
        results = {
            "add_items (one turn)": await measure(_ops(adders, lambda s: s.add_items(_turn(next(counter)))), samples)
        }
        readers = contenders("read")
        for session in readers.values():
            await session.add_items(_history(HISTORY))
        results[f"get_items(limit={LIMIT}), {HISTORY} items"] = await measure(
            _ops(readers, lambda s: s.get_items(limit=LIMIT)), samples
        )
        poppers = contenders("pop")
        for session in poppers.values():
            await session.add_items(_history(2 * (WARMUP + samples)))
        results["pop_item"] = await measure(_ops(poppers, lambda s: s.pop_item()), samples)
    finally:
        for sid in sids:
            await store.delete_session(sid)
        for redis in redis_sessions:
            await redis.clear_session()
            await redis.close()
        for sqlite in sqlite_sessions:
            sqlite.close()
        await store.close()
    return _common.rows(results)


def _ops(sessions: dict[str, Any], call: Callable[[Any], Awaitable[object]]) -> dict[str, Op]:
    def bound(session: Any) -> Op:
        return lambda: call(session)

    return {name: bound(session) for name, session in sessions.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a table (an embedded server without ``--url``)."""
    packages = ("openai-agents", "valkey-glide", "redis")
    return _common.main(
        run, argv, module="benchmarks.frameworks.openai_agents", description=__doc__, packages=packages, samples=500
    )


if __name__ == "__main__":
    sys.exit(main())
