"""Timing: interleaved rounds, percentiles, throughput, and the results they feed.

Every latency figure comes from :func:`interleave`: each round runs one call
of every contender, in a fresh random order, so noise on a shared machine
(which comes in phases lasting seconds) hits all contenders alike and no
contender always follows the same one. Calls are timed with
``time.perf_counter_ns`` after warm-up rounds that are not recorded.
"""

from __future__ import annotations

import asyncio
import gc
import math
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tqdm import tqdm

Op = Callable[[], Awaitable[object]]


def percentile(ordered: Sequence[int], q: float) -> int:
    """Return the nearest-rank ``q`` percentile (0 < q <= 1) of sorted samples."""
    if not ordered:
        raise ValueError("no samples")
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats:
    """Latency figures of one contender, in microseconds.

    ``commands`` and ``trips`` are the server commands one call sends and the
    round trips it waits for (``None`` when unknown).
    """

    name: str
    commands: int | None
    trips: int | None
    samples: int
    p50_us: float
    p95_us: float
    p99_us: float
    max_us: float
    mean_us: float

    @property
    def ops_per_s(self) -> float:
        """Calls per second one caller makes back to back (from the mean)."""
        return 1e6 / self.mean_us if self.mean_us > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """Return every figure as a JSON-ready dict."""
        return {
            "name": self.name,
            "commands": self.commands,
            "round_trips": self.trips,
            "samples": self.samples,
            "p50_us": round(self.p50_us, 2),
            "p95_us": round(self.p95_us, 2),
            "p99_us": round(self.p99_us, 2),
            "max_us": round(self.max_us, 2),
            "mean_us": round(self.mean_us, 2),
            "ops_per_s": round(self.ops_per_s, 1),
        }


def summarize(name: str, samples_ns: Sequence[int], *, commands: int | None, trips: int | None) -> Stats:
    """Return the :class:`Stats` of raw nanosecond samples."""
    ordered = sorted(samples_ns)
    return Stats(
        name=name,
        commands=commands,
        trips=trips,
        samples=len(ordered),
        p50_us=percentile(ordered, 0.50) / 1000,
        p95_us=percentile(ordered, 0.95) / 1000,
        p99_us=percentile(ordered, 0.99) / 1000,
        max_us=ordered[-1] / 1000,
        mean_us=statistics.fmean(ordered) / 1000,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Contender:
    """One operation to time.

    Args:
        name: The row label.
        op: Makes one call; awaited once per sample.
        commands: Server commands per call, for the table.
        trips: Round trips per call, for the table.
        repeat: Calls per round, to give a cheap contender more samples
            next to a slow one without separating them in time.
        every: Take part in every n-th round only, to give a very slow
            contender fewer samples.
    """

    name: str
    op: Op
    commands: int | None = 1
    trips: int | None = 1
    repeat: int = 1
    every: int = 1


@dataclass(slots=True, kw_only=True)
class Target:
    """A measured figure set against the design's target.

    ``floor`` is the same figure for the cheapest thing that could keep the
    guarantees (``floor_of`` says what), measured in the same run: a target
    past the floor cannot be met by any implementation on this machine.
    """

    name: str
    measured: float
    op: Literal["<=", ">="]
    threshold: float
    unit: str = "x"
    floor: float | None = None
    floor_of: str = ""

    @property
    def passed(self) -> bool:
        """Whether the measured value meets the target."""
        return self.measured <= self.threshold if self.op == "<=" else self.measured >= self.threshold

    @property
    def status(self) -> str:
        """``PASS`` or ``MISS``."""
        return "PASS" if self.passed else "MISS"

    def to_json(self) -> dict[str, Any]:
        """Return the target as a JSON-ready dict."""
        return {
            "name": self.name,
            "measured": round(self.measured, 3),
            "target": f"{self.op} {self.threshold:g}{self.unit}",
            "unit": self.unit.strip(),
            "status": self.status,
            **({"floor": round(self.floor, 3), "floor_of": self.floor_of} if self.floor is not None else {}),
        }


@dataclass(slots=True, kw_only=True)
class Section:
    """The figures of one part of the run.

    ``rows`` go to the latency table, ``extra`` holds the section's other
    JSON-ready figures and ``samples`` the raw nanoseconds for the chart.
    """

    key: str
    title: str
    rows: list[Stats] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[int]] = field(default_factory=dict)
    seconds: float = 0.0

    def row(self, name: str) -> Stats:
        """Return the row called ``name``."""
        for stats in self.rows:
            if stats.name == name:
                return stats
        raise KeyError(name)

    def add_rows(self, contenders: Sequence[Contender], timings: dict[str, list[int]]) -> None:
        """Add each contender's row, from its nanosecond samples in ``timings``, and keep the samples."""
        for contender in contenders:
            samples = timings[contender.name]
            self.rows.append(summarize(contender.name, samples, commands=contender.commands, trips=contender.trips))
            self.samples[contender.name] = samples

    def to_json(self) -> dict[str, Any]:
        """Return the section's figures as a JSON-ready dict (raw samples left out)."""
        return {
            "title": self.title,
            "seconds": round(self.seconds, 2),
            "rows": [row.to_json() for row in self.rows],
            **self.extra,
        }


class Progress:
    """One progress bar for the whole run; silent when stderr is not a terminal."""

    def __init__(self, total: int, *, enabled: bool | None = None) -> None:
        self._bar = tqdm(total=total, unit="step", dynamic_ncols=True, disable=None if enabled is None else not enabled)

    def stage(self, name: str) -> None:
        """Show what runs now."""
        self._bar.set_description_str(name, refresh=True)

    def advance(self, steps: int = 1) -> None:
        """Count ``steps`` units of work as done."""
        self._bar.update(steps)

    def close(self) -> None:
        """Close the bar, leaving its last state on the terminal."""
        self._bar.close()


async def interleave(
    section: Section,
    contenders: Sequence[Contender],
    *,
    rounds: int,
    warmup: int,
    progress: Progress,
) -> Section:
    """Time ``rounds`` interleaved rounds of ``contenders`` into ``section``.

    Args:
        section: Receives one row and the raw samples per contender.
        contenders: What to time, each called ``repeat`` times a round.
        rounds: Recorded rounds.
        warmup: Rounds run first and not recorded.
        progress: Advanced by one per round.
    """
    timings: dict[str, list[int]] = {c.name: [] for c in contenders}
    clock = time.perf_counter_ns
    order = list(contenders)
    shuffle = random.Random(len(contenders)).shuffle
    gc.collect()
    started = time.perf_counter()
    for round_no in range(warmup + rounds):
        shuffle(order)
        for contender in order:
            if round_no % contender.every:
                continue
            op, bucket = contender.op, timings[contender.name]
            for _ in range(contender.repeat):
                start = clock()
                await op()
                elapsed = clock() - start
                if round_no >= warmup:
                    bucket.append(elapsed)
        progress.advance()
    section.seconds += time.perf_counter() - started
    section.add_rows(contenders, timings)
    return section


async def throughput(op: Callable[[int], Awaitable[object]], *, tasks: int, calls: int) -> float:
    """Return calls per second when ``tasks`` tasks share ``calls`` calls of ``op``.

    Args:
        op: Called with the task's number (0 to ``tasks - 1``).
        tasks: Concurrent tasks.
        calls: Calls in total, taken from a shared budget.
    """
    remaining = calls

    async def worker(number: int) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await op(number)

    start = time.perf_counter_ns()
    await asyncio.gather(*(worker(n) for n in range(tasks)))
    return calls / ((time.perf_counter_ns() - start) / 1e9)
