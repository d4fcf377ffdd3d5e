"""The peer a user would pick: redisvl's SemanticMessageHistory, on the same server with the same model.

redisvl (redis-py, RESP2) keeps one HASH per message and a FLAT vector index,
and ``get_relevant`` sends one ``FT.SEARCH`` with a ``VECTOR_RANGE`` query
filtered by its ``session_tag``: the only scope it has. To search a user's
whole history with it, as glide-memory's ``recall(user_id=...)`` does across
the user's sessions, all of the user's messages go under one tag (the
user's). Its vectorizer wraps the same bundled WordLlama model as
:class:`~glide_memory.WordLlamaEmbedder`, loaded the same way (offline),
and its vectors are checked to be the same.

Also here: warm-block timing (each contender runs a block of calls after a
few unrecorded ones, in a fresh random order every round) and the server's
own cost of a call from ``INFO commandstats``.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import Contender, Progress, Section
from benchmarks.recall_data import Vectors
from benchmarks.workspace import Workspace
from glide_memory import ConnectionSettings, WordLlamaEmbedder


class SyncWordLlama:
    """WordLlama's bundled model behind a synchronous call, as redisvl's vectorizers need.

    The same weights :class:`~glide_memory.WordLlamaEmbedder` loads, from the
    wheel, without network, its vectors L2-normalized the same way.
    """

    def __init__(self, dimensions: int = 256) -> None:
        WordLlamaEmbedder()  # imports wordllama quietly (it reconfigures logging when imported first)
        import wordllama  # type: ignore[import-untyped]

        folder = Path(wordllama.__file__).parent
        self._model: Any = wordllama.WordLlama.load(
            cache_dir=folder, disable_download=True, dim=256, trunc_dim=None if dimensions == 256 else dimensions
        )

    def embed(self, text: str) -> list[float]:
        """Return the normalized vector of one text."""
        row = self._model.embed([text], norm=False)[0]
        norm = float((row * row).sum()) ** 0.5
        values: list[float] = (row / norm).tolist() if norm > 0 else row.tolist()
        return values


class RedisvlHistory:
    """One user's history in redisvl's SemanticMessageHistory, on the server of ``settings``.

    Args:
        settings: Where the server is (host, port, password).
        name: The index name and key prefix (unique to the run).
        user_tag: The ``session_tag`` every message of the user goes under.
        live: The query vectorizer (the model, timed with each query).
        vectors: The vectors embedded up front, looked up while loading.
    """

    def __init__(
        self, settings: ConnectionSettings, *, name: str, user_tag: str, live: SyncWordLlama, vectors: Vectors
    ) -> None:
        import redis
        from redisvl.extensions.message_history import (  # type: ignore[import-untyped]
            SemanticMessageHistory,
        )
        from redisvl.utils.vectorize import CustomVectorizer  # type: ignore[import-untyped]

        password = settings.password
        self.client = redis.Redis(
            host=settings.host, port=settings.port, username=settings.username, password=password, protocol=2
        )
        self.user_tag = user_tag

        def table(text: str) -> list[float]:
            return vectors.vector(text).tolist() if text in vectors else live.embed(text)

        # loading looks vectors up (it times the store, not the model); queries embed for real
        self._loader = SemanticMessageHistory(
            name=name, session_tag=user_tag, vectorizer=CustomVectorizer(embed=table), redis_client=self.client
        )
        self.history = SemanticMessageHistory(
            name=name, session_tag=user_tag, vectorizer=CustomVectorizer(embed=live.embed), redis_client=self.client
        )

    def load(self, messages: Sequence[tuple[str, str]], *, batch: int = 250) -> float:
        """Store ``(role, text)`` messages under the user's tag; return the seconds it took."""
        started = time.perf_counter()
        for start in range(0, len(messages), batch):
            chunk = [{"role": role, "content": text} for role, text in messages[start : start + batch]]
            self._loader.add_messages(chunk, session_tag=self.user_tag)
        return time.perf_counter() - started

    def relevant(self, prompt: str, k: int, distance_threshold: float | None) -> list[dict[str, Any]]:
        """Return ``get_relevant``'s raw hits (content, distance, key), best first."""
        hits: list[dict[str, Any]] = self.history.get_relevant(
            prompt, top_k=k, raw=True, distance_threshold=distance_threshold
        )
        return hits

    def count(self) -> int:
        """Return how many messages the user's tag holds."""
        return int(self.history.count())

    def close(self) -> None:
        """Drop the index and its documents, and close the client."""
        try:
            self.history.delete()
        finally:
            self.client.close()


async def blocks(
    section: Section,
    contenders: Sequence[Contender],
    *,
    rounds: int,
    block: int,
    warm: int,
    progress: Progress,
) -> Section:
    """Time ``contenders`` in warm blocks: each round, in a fresh random order, ``warm`` calls then ``block`` timed.

    A block keeps a contender's client threads and caches warm, as a busy
    app's would be; the random order and the rounds spread the machine's
    drift over every contender. ``section.extra["round_p50_us"]`` keeps each
    contender's p50 per round, for ratios taken round by round.
    """
    timings: dict[str, list[int]] = {c.name: [] for c in contenders}
    per_round: dict[str, list[float]] = {c.name: [] for c in contenders}
    clock = time.perf_counter_ns
    order = list(contenders)
    shuffle = random.Random(len(contenders) * 31).shuffle
    gc.collect()
    started = time.perf_counter()
    for _ in range(rounds):
        shuffle(order)
        for contender in order:
            op = contender.op
            for _ in range(warm):
                await op()
            samples = []
            for _ in range(block):
                start = clock()
                await op()
                samples.append(clock() - start)
            timings[contender.name] += samples
            per_round[contender.name].append(statistics.median(samples) / 1000)
        progress.advance()
    section.seconds += time.perf_counter() - started
    section.add_rows(contenders, timings)
    section.extra["round_p50_us"] = {name: [round(v, 1) for v in values] for name, values in per_round.items()}
    return section


SCRIPT_COMMANDS = frozenset({"fcall", "fcall_ro", "eval", "eval_ro", "evalsha", "evalsha_ro"})


async def _busy_seconds(ws: Workspace) -> float:
    """Return the server main thread's active seconds (Valkey 9's INFO cpu), else its CPU seconds."""
    info = await ws.command(["INFO", "cpu"])
    lines = (info.decode() if isinstance(info, bytes) else str(info)).splitlines()
    fields = {key: value for key, _, value in (line.partition(":") for line in lines)}
    if "used_active_time_main_thread" in fields:
        return float(fields["used_active_time_main_thread"])
    return float(fields.get("used_cpu_sys_main_thread", 0)) + float(fields.get("used_cpu_user_main_thread", 0))


async def server_cost(
    ws: Workspace, op: Callable[[], Any], calls: int, *, direct: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Run ``op`` ``calls`` times alone; return what the server did per call.

    ``INFO commandstats`` counts the commands a script runs both on their
    own and inside the script's time, so a command counts as a request when
    it is a script call, a module command (``FT.SEARCH``) or named in
    ``direct`` (the plain commands the client sends itself); the others
    are listed as run inside scripts. ``busy_us_per_call`` is the main
    thread's active time (``INFO cpu``), which also covers reading requests
    and writing replies. ``op`` may be a coroutine function or a plain one
    (redis-py's calls).
    """
    before, busy_before = await ws.commandstats(), await _busy_seconds(ws)
    for _ in range(calls):
        result = op()
        if hasattr(result, "__await__"):
            await result
    busy_after, after = await _busy_seconds(ws), await ws.commandstats()
    by_command: dict[str, dict[str, Any]] = {}
    for name, (count, usec) in after.items():
        if name == "info":  # the snapshots themselves
            continue
        old_count, old_usec = before.get(name, (0, 0))
        if count > old_count:
            sent = name.lower() in SCRIPT_COMMANDS or "." in name or name.lower() in direct
            by_command[name] = {
                "calls_per_call": round((count - old_count) / calls, 2),
                "us_per_call": round((usec - old_usec) / calls, 1),
                "inside_scripts": not sent,
            }
    requests = [c for c in by_command.values() if not c["inside_scripts"]]
    return {
        "calls": calls,
        "requests_per_call": round(sum(c["calls_per_call"] for c in requests), 2),
        "exec_us_per_call": round(sum(c["us_per_call"] for c in requests), 1),
        "busy_us_per_call": round((busy_after - busy_before) * 1e6 / calls, 1),
        "by_command": by_command,
    }
