"""Benchmark glide-memory against raw glide commands and the cookbook's patterns.

Quick (about a minute, the embedded server unless ``--url`` or ``VALKEY_URL``)::

    python -m benchmarks

Thorough, on any server::

    python -m benchmarks --url valkey://host:port --full [--cluster]

Prints a table and the targets (PASS/MISS), and writes a JSON file with every
figure and a PNG chart under ``benchmarks/results/``. Keys live in a private
namespace with a TTL and are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks.config import RESULTS_DIR, Config, command_line, counts, results_stem


def parse_args(argv: list[str] | None = None) -> Config:
    """Return the :class:`Config` the command line asks for."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="valkey:// URL of the server (default: $VALKEY_URL, else an embedded server)")
    parser.add_argument(
        "--cluster", action="store_true", help="a cluster client (embedded: 3 primaries, 1 replica each)"
    )
    parser.add_argument("--full", action="store_true", help="more samples and the cookbook's literal SCAN loop")
    parser.add_argument("--samples", type=int, help="recorded rounds of every latency group (overrides the preset)")
    parser.add_argument("--keyspaces", type=counts, help="sessions in the keyspace, e.g. 1000,10000,100000")
    parser.add_argument("--tasks", type=counts, help="concurrent tasks of the throughput sweep, e.g. 1,10,100,1000")
    parser.add_argument("--calls", type=int, help="calls per throughput trial (at least 20 per task)")
    parser.add_argument("--messages", type=int, help="messages stored for the memory and Strands figures")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory of the JSON and PNG files")
    parser.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    args = parser.parse_args(argv)
    config = Config.full() if args.full else Config.quick()
    config = replace(config, url=args.url, cluster=args.cluster, out_dir=args.out)
    if args.no_progress:
        config = replace(config, progress=False)
    if args.samples is not None:
        if args.samples < 1:
            parser.error("--samples must be positive")
        config = config.with_samples(args.samples)
    if args.keyspaces:
        if min(args.keyspaces) <= 10:
            parser.error("--keyspaces must exceed the 10 sessions of the measured user")
        config = replace(config, mode="custom", keyspaces=tuple(sorted(args.keyspaces)))
    if args.tasks:
        config = replace(config, mode="custom", tasks=args.tasks)
    if args.calls:
        config = replace(config, mode="custom", concurrency_calls=args.calls)
    if args.messages:
        config = replace(config, mode="custom", memory_messages=args.messages, strands_messages=args.messages)
    return config


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report, write the JSON and PNG; return the exit code."""
    config = parse_args(argv)
    # imported here so that --help works without the bench extra
    try:
        from benchmarks.chart import write_chart
        from benchmarks.report import render, write_json
        from benchmarks.runner import run
    except ImportError as exc:
        print(f"the benchmark needs its extra: pip install -e '.[bench]' ({exc})", file=sys.stderr)
        return 2

    results = asyncio.run(run(config, command=command_line("benchmarks", argv)))
    print(render(results))
    stem = results_stem(config.out_dir, "bench")
    print(f"\nJSON:  {write_json(results.to_json(), stem.with_suffix('.json'))}")
    print(f"chart: {write_chart(results, stem.with_suffix('.png'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
