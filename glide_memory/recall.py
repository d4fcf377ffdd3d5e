"""Semantic recall: find a user's past messages by meaning.

A store given an :class:`Embedder` keeps a vector of each message worth
recalling (user and assistant text, by default) beside the message, written
in the same atomic call, and :meth:`SessionStore.recall` returns the
messages closest in meaning to a query as :class:`RecallHit` values.

:class:`WordLlamaEmbedder` is the default local embedder (``pip install
'glide-memory[recall]'``): WordLlama's 256-dimension static embeddings, whose
weights ship inside its wheel, loaded without touching the network. Any
object with ``name``, ``dimensions`` and ``async embed(texts)`` can stand in
for it (OpenAI, Bedrock, fastembed...).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from glide_memory.errors import InvalidInputError, MissingDependencyError
from glide_memory.models import Message

__all__ = ["Embedder", "RecallHit", "Recalled", "WordLlamaEmbedder"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of one model.

    Attributes:
        name: The model's identity, stored with the vectors: a store whose
            embedder has another name (or dimensions) than the one that
            wrote a server's vectors is refused, so models are never mixed.
        dimensions: The length of every vector.
    """

    name: str
    dimensions: int

    async def embed(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        """Return one vector per text, in order."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RecallHit:
    """A message found by :meth:`SessionStore.recall`."""

    session_id: str
    """The session the message belongs to."""
    message: Message
    """The message as stored."""
    score: float
    """The cosine similarity of the message to the query: 1.0 for the same direction, down to -1.0."""
    thread: str | None = None
    """The thread the message was written to; ``None`` for the session's main conversation."""


class Recalled(list[RecallHit]):
    """What :meth:`SessionStore.recall` found: the hits, best first, and what the search could not see.

    Attributes:
        pending: Messages of the scope worth recalling whose vectors are
            still to come (deferred, or the embedder failed): they are not
            searched until written (``embed_session`` writes them). Counted
            by the exact backend; 0 on the search backend.
        backend: ``"exact"`` or ``"search"``: how the scope was searched.
    """

    def __init__(self, hits: list[RecallHit] | None = None, *, pending: int = 0, backend: str = "exact") -> None:
        super().__init__(hits or [])
        self.pending = pending
        self.backend = backend


_INLINE_TEXTS = 16  # embedding this few short texts takes well under a millisecond: no thread hop
_INLINE_CHARACTERS = 4096


class WordLlamaEmbedder:
    """WordLlama's bundled model (``l2_supercat``, 256 dimensions by default), loaded offline.

    Loads the weights that ship inside the ``wordllama`` wheel and never
    downloads anything. Vectors are L2-normalized. Small batches are
    embedded inline; larger ones in a worker thread, so the event loop keeps
    running.

    Args:
        dimensions: 256, or 128 or 64 for WordLlama's Matryoshka truncations
            of the same bundled model (smaller vectors, a little less exact).

    Raises:
        MissingDependencyError: ``wordllama`` is not installed.
        InvalidInputError: another number of dimensions.
    """

    def __init__(self, *, dimensions: int = 256) -> None:
        if dimensions not in (64, 128, 256) or isinstance(dimensions, bool):
            raise InvalidInputError(f"WordLlama's bundled model gives 256, 128 or 64 dimensions, not {dimensions!r}")
        try:
            wordllama = _import_quietly()
        except ImportError as exc:
            raise MissingDependencyError(
                "WordLlamaEmbedder needs wordllama: pip install 'glide-memory[recall]'"
            ) from exc
        folder = Path(wordllama.__file__).parent
        self._model: Any = wordllama.WordLlama.load(
            cache_dir=folder, disable_download=True, dim=256, trunc_dim=None if dimensions == 256 else dimensions
        )
        self.dimensions = int(dimensions)
        files = sorted(folder.glob("weights/*.safetensors")) + sorted(folder.glob("tokenizers/*.json"))
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.read_bytes())
        self.name = f"wordllama/l2_supercat-{self.dimensions}@{digest.hexdigest()[:16]}"
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WordLlamaEmbedder(name={self.name!r})"

    def _embed_now(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            vectors = self._model.embed(texts, norm=False)
        result: list[list[float]] = []
        for row in vectors:
            norm = float((row * row).sum()) ** 0.5
            result.append([float(x) / norm for x in row] if norm > 0 else [float(x) for x in row])
        return result

    async def embed(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        """Return the normalized vector of each text (all zeros for a text with nothing to embed)."""
        batch = list(texts)
        if not batch:
            return []
        if len(batch) <= _INLINE_TEXTS and sum(len(text) for text in batch) <= _INLINE_CHARACTERS:
            return self._embed_now(batch)
        return await asyncio.to_thread(self._embed_now, batch)


def _import_quietly() -> Any:
    """Import wordllama without the root-logger configuration its import performs."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import wordllama  # type: ignore[import-untyped]
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    return wordllama
