"""What the framework benchmarks share: interleaved rounds, p50/p99 rows, the table and the command line.

Each round calls every contender once, in a fresh random order, after
warm-up rounds that are not recorded; a sample is ``perf_counter_ns``
around one call, nothing else (setup calls are not timed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from benchmarks.harness import percentile
from glide_memory import EmbeddedServer

WARMUP = 20
Op = Callable[[], Awaitable[object]]
SyncOp = Callable[[], object]
Rows = list[dict[str, Any]]


def rounds(names: Iterable[str], samples: int) -> Iterator[tuple[str, bool]]:
    """Yield the contender to call next, round after round in a random order, and whether its time is recorded."""
    order = list(names)
    for round_ in range(WARMUP + samples):
        random.shuffle(order)
        for name in order:
            yield name, round_ >= WARMUP


async def measure(ops: dict[str, Op], samples: int, setup: dict[str, Op] | None = None) -> dict[str, list[int]]:
    """Time each contender's op ``samples`` times, interleaved (``setup`` is called first, untimed)."""
    timings: dict[str, list[int]] = {name: [] for name in ops}
    clock = time.perf_counter_ns
    for name, recorded in rounds(ops, samples):
        if setup is not None:
            await setup[name]()
        start = clock()
        await ops[name]()
        elapsed = clock() - start
        if recorded:
            timings[name].append(elapsed)
    return timings


def measure_sync(ops: dict[str, SyncOp], samples: int, setup: dict[str, SyncOp] | None = None) -> dict[str, list[int]]:
    """As :func:`measure`, for synchronous calls (run it in a worker thread)."""
    timings: dict[str, list[int]] = {name: [] for name in ops}
    clock = time.perf_counter_ns
    for name, recorded in rounds(ops, samples):
        if setup is not None:
            setup[name]()
        start = clock()
        ops[name]()
        elapsed = clock() - start
        if recorded:
            timings[name].append(elapsed)
    return timings


def rows(results: dict[str, dict[str, list[int]]]) -> Rows:
    """Return one row per operation and contender: nearest-rank p50 and p99, in microseconds."""
    out = []
    for operation, timings in results.items():
        for contender, values in timings.items():
            ordered = sorted(values)
            p50, p99 = percentile(ordered, 0.50) / 1000, percentile(ordered, 0.99) / 1000
            out.append({"operation": operation, "contender": contender, "p50_us": p50, "p99_us": p99})
    return out


def table(results: Rows) -> str:
    """Return the rows as a table; a contender that could not run is one line saying why."""
    operation_width = max(len("operation"), *(len(row["operation"]) for row in results))
    contender_width = max(len("contender"), *(len(row["contender"]) for row in results))
    lines = [f"{'operation':<{operation_width}} {'contender':<{contender_width}} {'p50 µs':>9} {'p99 µs':>9}"]
    failed = set()
    for row in results:
        name = row["contender"]
        if row.get("error"):
            if name not in failed:
                lines.append(f"{'(all)':<{operation_width}} {name:<{contender_width}} failed: {row['error']}")
                failed.add(name)
            continue
        op = row["operation"]
        lines.append(f"{op:<{operation_width}} {name:<{contender_width}} {row['p50_us']:>9.1f} {row['p99_us']:>9.1f}")
    return "\n".join(lines)


def versions(packages: Sequence[str]) -> str:
    """Return the installed version of each package that is installed, and Python's."""
    found = []
    for name in packages:
        with contextlib.suppress(PackageNotFoundError):
            found.append(f"{name} {version(name)}")
    return ", ".join([*found, f"Python {sys.version.split()[0]}"])


def main(
    run: Callable[..., Coroutine[Any, Any, Rows]],
    argv: list[str] | None,
    *,
    module: str,
    description: str | None,
    packages: Sequence[str],
    samples: int,
) -> int:
    """Parse ``--url`` and ``--samples``, run ``run`` (on an embedded server without ``--url``), print the table."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--url", help="a valkey:// URL; an embedded server if left out")
    parser.add_argument("--samples", type=int, default=samples, help="recorded calls per contender and operation")
    options = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url = options.url or stack.enter_context(EmbeddedServer()).url
        results = asyncio.run(run(url, samples=options.samples))
    print(f"{versions(packages)}; {options.samples} samples, interleaved")
    print(table(results))
    return 0
