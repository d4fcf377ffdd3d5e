"""The recall benchmark's data: texts embedded once, a table embedder, loading, and brute force.

Every text the run stores or asks is embedded once, up front, with the real
embedder (WordLlama). Loading and ``add_message`` then go through a
:class:`TableEmbedder` that looks the vectors up under the same model name,
so they time the store and not the model; queries go through the real
embedder, so recall is timed as a user sees it. :class:`BruteForce` scores
every stored vector in float64 and judges what a backend returned,
tie-aware: a hit counts when its true score reaches the k-th best score.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from benchmarks.recall_corpus import Turn
from glide_memory import Embedder, Message, Role, SessionStore

if TYPE_CHECKING:
    import numpy as np

KEY_TTL = 3600
"""Seconds every key of the run lives at most, should a run die before cleaning up."""

LOAD_BATCH = 100
"""Messages per ``add_messages`` call when loading: one atomic call, one hash slot."""

LOAD_CONCURRENCY = 2
"""Loading calls in flight: the client prepares one while the server applies the other."""

EPSILON = 1e-6
"""Scores this close are ties (float32 storage, float64 scoring)."""

_EMBED_CHUNK = 2048


def _numpy() -> Any:
    import numpy

    return numpy


def message_id(row: int) -> str:
    """Return the id the benchmark gives corpus message ``row``: hits map back to rows through it."""
    return f"m{row:07d}"


def row_of(identifier: str | None) -> int | None:
    """Return the corpus row of a message id made by :func:`message_id`, or ``None``."""
    if identifier is None or not identifier.startswith("m") or not identifier[1:].isdigit():
        return None
    return int(identifier[1:])


class Vectors:
    """Texts embedded once: each text's normalized float32 vector, looked up by text.

    Args:
        texts: Distinct texts, in the order of ``matrix``'s rows.
        matrix: Their normalized vectors (float32, one row each).
    """

    def __init__(self, texts: Sequence[str], matrix: np.ndarray) -> None:
        self._rows = {text: row for row, text in enumerate(texts)}
        self.matrix = matrix

    @classmethod
    async def embed(cls, embedder: Embedder, texts: Sequence[str], *, on_chunk: Callable[[], None]) -> Vectors:
        """Embed each distinct text of ``texts`` once with ``embedder``."""
        np = _numpy()
        distinct = list(dict.fromkeys(texts))
        parts = []
        for start in range(0, len(distinct), _EMBED_CHUNK):
            made = await embedder.embed(distinct[start : start + _EMBED_CHUNK])
            parts.append(np.asarray(made, dtype=np.float64))
            on_chunk()
        matrix = np.concatenate(parts) if parts else np.zeros((0, embedder.dimensions))
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return cls(distinct, (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32))

    def __contains__(self, text: object) -> bool:
        return text in self._rows

    def vector(self, text: str) -> np.ndarray:
        """Return the vector of ``text`` (a ``KeyError`` if it was not embedded up front)."""
        row: np.ndarray = self.matrix[self._rows[text]]
        return row

    def rows(self, texts: Sequence[str]) -> np.ndarray:
        """Return the vectors of ``texts``, one row each."""
        return self.matrix[[self._rows[text] for text in texts]]


class TableEmbedder:
    """An embedder that returns the vectors embedded up front, under the real embedder's name.

    The store accepts it where the real one wrote (same name, same
    dimensions), so loading and ``add_message`` cost what the store costs,
    without the model's time.
    """

    def __init__(self, name: str, vectors: Vectors) -> None:
        self.name = name
        self.dimensions = int(vectors.matrix.shape[1])
        self._vectors = vectors

    async def embed(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        """Return the stored vector of each text."""
        return [self._vectors.vector(text).tolist() for text in texts]


@dataclass(frozen=True, slots=True, kw_only=True)
class Loaded:
    """What loading one scope took."""

    messages: int
    sessions: list[str]
    seconds: float

    @property
    def per_second(self) -> float:
        """Messages stored per second."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0


async def create_session(store: SessionStore, user_id: str) -> str:
    """Create a session of ``user_id`` and give the user's index the run's TTL too; return its id."""
    info = await store.create_session(user_id)
    await store.client.expire(store.schema.user_sessions(user_id), KEY_TTL)
    return info.session_id


async def load(
    store: SessionStore,
    user_id: str,
    turns: Sequence[Turn],
    *,
    sessions: int,
    on_batch: Callable[[], None] = lambda: None,
) -> Loaded:
    """Store ``turns`` as ``user_id``'s history: ``sessions`` sessions, each a run of consecutive messages.

    Message ``i`` gets the id ``message_id(i)`` and a timestamp 30 s after
    the one before; ``add_messages`` writes them in batches (with their
    vectors, when the store has an embedder).
    """
    count = len(turns)
    ids = [await create_session(store, user_id) for _ in range(sessions)]
    base = time.time() - 30 * count
    batches: list[tuple[str, list[Message]]] = []
    for number, sid in enumerate(ids):
        first, stop = number * count // sessions, (number + 1) * count // sessions
        chunk = [
            Message(role=Role(turns[i].role), content=turns[i].text, timestamp=base + 30 * i, id=message_id(i))
            for i in range(first, stop)
        ]
        batches += [(sid, chunk[i : i + LOAD_BATCH]) for i in range(0, len(chunk), LOAD_BATCH)]
    limit = asyncio.Semaphore(LOAD_CONCURRENCY)

    async def send(sid: str, messages: list[Message]) -> None:
        async with limit:
            await store.add_messages(sid, messages)
        on_batch()

    started = time.perf_counter()
    await asyncio.gather(*(send(sid, messages) for sid, messages in batches))
    return Loaded(messages=count, sessions=ids, seconds=time.perf_counter() - started)


def batches(count: int, sessions: int) -> int:
    """Return the ``add_messages`` calls :func:`load` makes for ``count`` messages."""
    return sum(-(-((n + 1) * count // sessions - n * count // sessions) // LOAD_BATCH) for n in range(sessions))


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    """How one answer compares with brute force.

    Attributes:
        recall: Tie-aware recall@k: the share of the k wanted hits returned
            (a hit counts when its true score reaches the k-th best).
        identical: The hits' true scores are brute force's top k, in order.
        score_error: The largest gap between a reported and a true score.
    """

    recall: float
    identical: bool
    score_error: float


class BruteForce:
    """Exact top-k over stored vectors, scored as the store scores them (float32 stored, float64 scored).

    Args:
        matrix: The stored vectors, one row per corpus message (float32).
    """

    def __init__(self, matrix: np.ndarray) -> None:
        np = _numpy()
        self._matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self._norms = np.linalg.norm(self._matrix.astype(np.float64), axis=1)

    def __len__(self) -> int:
        return int(self._matrix.shape[0])

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Return the cosine similarity of ``query`` to every stored vector, in float64."""
        xp = _numpy()
        q = xp.asarray(query, dtype=xp.float64)
        out = xp.empty(len(self), dtype=xp.float64)
        for start in range(0, len(self), 16384):
            block = self._matrix[start : start + 16384].astype(xp.float64)
            out[start : start + 16384] = block @ q
        norms = xp.where(self._norms > 0, self._norms, 1.0)
        result: np.ndarray = out / (norms * float(xp.linalg.norm(q)))
        return result

    def judge(
        self,
        query: np.ndarray,
        hits: Sequence[tuple[str, int | None]],
        k: int,
        reported: Sequence[float] | None = None,
    ) -> Judgement:
        """Judge ``hits`` (an identity, a repeat counting once, and its corpus row, ``None``: not in it) at ``k``."""
        np = _numpy()
        scores = self.scores(query)
        wanted = min(k, len(self))
        best = np.sort(np.partition(-scores, wanted - 1)[:wanted])
        truth = -best  # the top-k scores, best first
        kth = float(truth[-1])
        seen: set[str] = set()
        found: list[float] = []
        gaps: list[float] = []
        for position, (identity, row) in enumerate(hits):
            if identity in seen:
                continue
            seen.add(identity)
            true = float(scores[row]) if row is not None and 0 <= row < len(self) else -np.inf
            found.append(true)
            if reported is not None and np.isfinite(true):
                gaps.append(abs(reported[position] - true))
        correct = sum(1 for score in found if score >= kth - EPSILON)
        identical = len(found) == len(hits) == wanted and all(
            abs(score - float(true)) <= EPSILON for score, true in zip(found, truth, strict=True)
        )
        error = max(gaps, default=0.0)
        return Judgement(recall=min(correct, wanted) / wanted, identical=identical, score_error=error)
