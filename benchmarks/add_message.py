"""add_message next to a raw glide RPUSH and the cookbook's four awaits, in one run.

Each round runs one call of every contender in turn (so noise on this shared
machine hits them alike) and times it with ``time.perf_counter_ns``, after a
warm-up. Run it with ``make bench`` or::

    python -m benchmarks.add_message [--url valkey://host:port] [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable

import glide_memory
from glide_memory import SessionStore

Op = Callable[[], Awaitable[object]]


def _percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


async def run(url: str | None, samples: int, warmup: int) -> dict[str, dict[str, float]]:
    """Time every contender ``samples`` times and return µs percentiles per contender."""
    async with await SessionStore.connect(url) as store:
        client = store.client
        sid = (await store.create_session("bench-user", ttl=600)).session_id
        raw_sid = (await store.create_session("bench-user", ttl=600)).session_id
        text = "How fast is HINCRBY on a local server? " * 3
        payload = json.dumps({"role": "user", "content": text})

        async def cookbook() -> None:
            await client.rpush(f"chat:{raw_sid}", [payload])
            await client.hincrby(f"meta:{raw_sid}", "message_count", 1)
            await client.hincrby(f"meta:{raw_sid}", "token_count", 12)
            await client.hset(f"meta:{raw_sid}", {"last_active": str(time.time())})

        contenders: dict[str, Op] = {
            "raw RPUSH": lambda: client.rpush(f"bench:rpush:{sid}", [payload]),
            "add_message": lambda: store.add_message(sid, "user", text, 12),
            "add_message, window 50": lambda: store.add_message(sid, "user", text, 12, max_messages=50),
            "cookbook add (4 awaits)": cookbook,
            "get_messages(last=50)": lambda: store.get_messages(sid, last=50),
        }
        timings: dict[str, list[int]] = {name: [] for name in contenders}
        for round_no in range(warmup + samples):
            for name, op in contenders.items():
                start = time.perf_counter_ns()
                await op()
                elapsed = time.perf_counter_ns() - start
                if round_no >= warmup:
                    timings[name].append(elapsed)
        await client.delete([f"bench:rpush:{sid}"])
        await store.delete_session(sid)
        await store.delete_session(raw_sid)
    return {
        name: {
            "p50": _percentile(t, 0.50),
            "p95": _percentile(t, 0.95),
            "p99": _percentile(t, 0.99),
            "mean": statistics.fmean(t) / 1000,
        }
        for name, t in timings.items()
    }


def main() -> None:
    """Run the comparison and print a table with the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("VALKEY_URL"), help="server (default: embedded)")
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args()
    results = asyncio.run(run(args.url, args.samples, args.warmup))
    print(f"glide-memory {glide_memory.__name__}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"{args.samples} samples after {args.warmup} warm-up rounds, interleaved; times in µs\n")
    print(f"{'operation':<26}{'p50':>9}{'p95':>9}{'p99':>9}")
    for name, row in results.items():
        print(f"{name:<26}{row['p50']:>9.1f}{row['p95']:>9.1f}{row['p99']:>9.1f}")
    rpush, add = results["raw RPUSH"]["p50"], results["add_message"]["p50"]
    cookbook = results["cookbook add (4 awaits)"]["p50"]
    print(f"\nadd_message p50 / raw RPUSH p50     = {add / rpush:.2f}x  (target <= 1.25x)")
    print(f"cookbook add p50 / add_message p50  = {cookbook / add:.2f}x  (target >= 3x)")


if __name__ == "__main__":
    main()
