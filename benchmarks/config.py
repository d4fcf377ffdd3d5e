"""How much to measure: the quick and full presets, their knobs, and the command-line values both benchmarks share."""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

RESULTS_DIR = Path(__file__).resolve().parent / "results"
"""Where results go unless ``--out`` says otherwise (git-ignored)."""

MESSAGE_SIZES = (100, 1024, 16384)
"""Content sizes of the message size sweep, in bytes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Everything that decides what a run measures and how long it takes.

    Args:
        mode: ``quick``, ``full`` or ``custom``, recorded with the results.
        url: The server; ``None`` reads ``VALKEY_URL``, else starts an
            embedded one.
        cluster: Use a cluster client (an embedded one-node cluster if no URL).
        out_dir: Where the JSON and PNG files go.
        command_rounds: Recorded rounds of the raw command table.
        append_rounds: Recorded rounds of add_message vs RPUSH vs cookbook.
        server_calls: Calls of each append contender for the server's own
            time per call (INFO commandstats), in blocks the contenders take
            in turn.
        operation_rounds: Recorded rounds of the other toolkit operations.
        size_rounds: Recorded rounds of the message size sweep.
        keyspaces: Sessions in the keyspace for the list_user_sessions sweep.
        scan_budget: Roughly how many sessions the SCAN pattern visits per
            keyspace size; sets how many times it runs there.
        index_samples: list_user_sessions calls per keyspace size.
        sequential_scan: Also time the cookbook's literal SCAN loop with
            one awaited HGET per key (slow: about 0.3 ms a session).
        tasks: The concurrency sweep's task counts.
        concurrency_calls: Calls per throughput trial (at least 20 per task, so that
            a trial measures the steady state, not its tasks starting).
        concurrency_trials: Trials per contender and task count.
        memory_messages: Messages stored for the MEMORY USAGE figures.
        strands_messages: Messages stored for the Strands list_messages figure.
        strands_rounds: Recorded list_messages calls.
        durability_rounds: Recorded rounds of add_message with and without
            ``Durability(replicas=1)``.
        progress: Show the progress bar (``None``: when stderr is a terminal).
        sizes: Content sizes of the message size sweep, in bytes.
    """

    mode: str = "quick"
    url: str | None = None
    cluster: bool = False
    out_dir: Path = RESULTS_DIR
    command_rounds: int = 1000
    append_rounds: int = 3000
    server_calls: int = 1000
    operation_rounds: int = 1000
    size_rounds: int = 300
    keyspaces: tuple[int, ...] = (1_000, 10_000, 100_000)
    scan_budget: int = 100_000
    index_samples: int = 300
    sequential_scan: bool = False
    tasks: tuple[int, ...] = (1, 10, 100, 1_000)
    concurrency_calls: int = 2_000
    concurrency_trials: int = 3
    memory_messages: int = 1_000
    strands_messages: int = 1_000
    strands_rounds: int = 50
    durability_rounds: int = 1000
    progress: bool | None = None
    sizes: tuple[int, ...] = MESSAGE_SIZES

    SAMPLED: ClassVar[tuple[str, ...]] = (
        "command_rounds",
        "append_rounds",
        "server_calls",
        "operation_rounds",
        "size_rounds",
        "index_samples",
        "strands_rounds",
        "durability_rounds",
    )
    """The knobs :meth:`with_samples` sets: the recorded rounds of every latency group."""

    @classmethod
    def quick(cls) -> Config:
        """Return the preset ``make bench`` runs: about a minute on a laptop."""
        return cls()

    @classmethod
    def full(cls) -> Config:
        """Return the thorough preset: more samples and the literal SCAN loop."""
        return cls(
            mode="full",
            command_rounds=10_000,
            append_rounds=20_000,
            server_calls=5_000,
            operation_rounds=5_000,
            size_rounds=2_000,
            scan_budget=1_000_000,
            index_samples=2_000,
            sequential_scan=True,
            concurrency_calls=20_000,
            concurrency_trials=5,
            strands_rounds=300,
            durability_rounds=5_000,
        )

    def with_samples(self, samples: int) -> Config:
        """Return a copy whose every latency group records ``samples`` rounds."""
        # Any: mypy checks a ** mapping against every field, and these knobs are all ints
        rounds: dict[str, Any] = dict.fromkeys(self.SAMPLED, samples)
        return replace(self, mode="custom", **rounds)

    @staticmethod
    def warmup(rounds: int) -> int:
        """Return the warm-up rounds run before ``rounds`` recorded ones."""
        return max(5, rounds // 10)

    def scan_rounds(self, sessions: int) -> int:
        """Return how many times the SCAN pattern runs with ``sessions`` in the keyspace."""
        return max(3, min(30, self.scan_budget // max(1, sessions)))

    def sequential_every(self, sessions: int) -> int:
        """Return how seldom (every n-th round) the literal SCAN loop runs: 3 to 10 times a level."""
        wanted = max(3, min(10, 100_000 // max(1, sessions)))
        return max(1, self.scan_rounds(sessions) // wanted)

    def index_repeat(self, sessions: int) -> int:
        """Return list_user_sessions calls per round next to one SCAN pattern call."""
        return max(1, math.ceil(self.index_samples / self.scan_rounds(sessions)))

    def trial_calls(self, tasks: int) -> int:
        """Return the calls of one throughput trial with ``tasks`` tasks."""
        return max(self.concurrency_calls, 20 * tasks)


def config_json(config: DataclassInstance) -> dict[str, Any]:
    """Return a run's config as a JSON-ready dict (a path as its text)."""
    fields = asdict(config)
    return {name: str(value) if isinstance(value, Path) else value for name, value in fields.items()}


def counts(text: str) -> tuple[int, ...]:
    """Return the positive integers of a comma-separated command-line value, such as ``1000,10_000``."""
    try:
        values = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, not {text!r}") from exc
    if not values or any(value < 1 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, not {text!r}")
    return values


def command_line(module: str, argv: Sequence[str] | None) -> str:
    """Return the command that runs ``module`` with ``argv`` (else this process's), any URL's password as ``***``."""
    shown = []
    for arg in sys.argv[1:] if argv is None else argv:
        parts = urlsplit(arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg)
        if parts.scheme and parts.password:
            arg = arg.replace(f":{parts.password}@", ":***@")
        shown.append(arg)
    return shlex.join(["python", "-m", module, *shown])


def results_stem(out_dir: Path, name: str) -> Path:
    """Return the path, less its suffix, of a run's result files: ``name`` and the local time, in ``out_dir``."""
    return out_dir / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
