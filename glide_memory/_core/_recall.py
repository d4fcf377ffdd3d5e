"""Semantic recall: the vectors of messages, written with them, and searched exactly or by a search module.

Each message worth recalling (by role, with text) gets, in the same atomic
call that stores it, a *vector record* in the session's ``vec`` HASH and a
*copy* (its thread, NUL, its stored JSON) in ``vecmsg``; both are keyed by
message id, so a retried write never duplicates them, and whatever removes
the message (a window, pop, delete, clear, an edit) removes them too.

Two backends behind one :meth:`Recall.recall`:

- **exact** (plain Valkey, the embedded default): the scope's vector records
  are read (one read per session, the owner checked in the same call) and
  scored in numpy; the result is what brute force over the stored vectors
  gives. A user's or a session's scope only.
- **search** (a search module: valkey-search, or RediSearch as a test
  stand-in): each vector also goes into a per-message HASH document that
  ``FT.CREATE`` indexes; ``FT.SEARCH ... =>[KNN ...]`` finds candidates,
  which are then checked against the session's vector records (so a message
  that is gone, or a session that expired, is never returned) and scored
  from them. Documents expire a grace period after their session would, and
  ``delete_session`` deletes them.

The server's choice (embedder name, dimensions, backend, index) is recorded
in the schema's ``recall`` HASH; a store whose embedder differs is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from glide import GlideClusterClient

from glide_memory import _validate
from glide_memory._codec import decode_message, encode_message
from glide_memory._core._parts import Parts, Scope
from glide_memory._server import NO_TAGS, SearchTags, VectorData, functions
from glide_memory.errors import (
    ConfigurationError,
    GlideMemoryError,
    InvalidInputError,
    MissingDependencyError,
    PermissionDeniedError,
    SessionNotFoundError,
)
from glide_memory.keys import list_names, thread_of
from glide_memory.models import Message, Role
from glide_memory.recall import Embedder, Recalled, RecallHit

if TYPE_CHECKING:
    import numpy as np

Backend = Literal["auto", "exact", "search"]

RECORD_HEADER = struct.Struct("<dQII")
"""A vector record's header: timestamp, thread hash (0: the main conversation), role code, reserved."""

ROLE_CODES = {Role.SYSTEM: 0, Role.USER: 1, Role.ASSISTANT: 2, Role.TOOL: 3}

MAX_K = 1000
"""The most hits one recall returns."""

DEFAULT_ROLES = frozenset({Role.USER, Role.ASSISTANT})

_EMBED_BATCH = 256  # texts embedded per call by embed_session
_EF_RUNTIME = 100  # HNSW search depth: the default (10) misses true neighbours on template-like chat
_log = logging.getLogger("glide_memory")


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - numpy comes with the recall extra
        raise MissingDependencyError("semantic recall needs numpy: pip install 'glide-memory[recall]'") from exc
    return numpy


def thread_hash(thread: str | None) -> int:
    """Return the 64-bit hash a vector record keeps of its thread (0 for the main conversation)."""
    if not thread:
        return 0
    return int.from_bytes(hashlib.blake2b(thread.encode(), digest_size=8).digest(), "little") or 1


def tag(value: str) -> str:
    """Return the TAG a search document keeps of an id: its SHA-1 digest in hex, as the server computes it.

    No TAG syntax (RediSearch's, valkey-search's) needs to escape a hex digest.
    """
    return hashlib.sha1(value.encode(), usedforsecurity=False).hexdigest()


def text_of(message: Message) -> str:
    """Return the text of a message worth embedding: string content, or its text blocks joined."""
    content = message.content
    if isinstance(content, str):
        return content.strip()
    parts = []
    for block in content:
        # an Anthropic-shaped text block, or a Converse one ({"text": ...}, no type)
        if isinstance(block, dict) and block.get("type", "text") == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return "\n".join(parts).strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class RecallSettings:
    """How a store embeds: the embedder, which roles, inline or deferred, which backend."""

    embedder: Embedder | None
    roles: frozenset[Role] = DEFAULT_ROLES
    deferred: bool = False
    backend: Backend = "auto"


@dataclass(frozen=True, slots=True)
class _Setup:
    backend: Literal["exact", "search"]
    index: str | None


class RecallState:
    """What a store and its views share about recall: the settings, the server's setup, deferred work."""

    def __init__(self, settings: RecallSettings) -> None:
        self.settings = settings
        self.setup: _Setup | None = None
        self.lock = asyncio.Lock() if settings.embedder is not None else None
        self.tasks: set[asyncio.Task[None]] = set()


class Recall:
    """The recall operations of one store or view."""

    def __init__(self, parts: Parts, scope: Scope, state: RecallState) -> None:
        self._parts = parts
        self._scope = scope
        self._state = state

    def scoped(self, scope: Scope) -> Recall:
        """Return these recall operations acting for another scope."""
        return Recall(self._parts, scope, self._state)

    @property
    def settings(self) -> RecallSettings:
        """How the store embeds."""
        return self._state.settings

    @property
    def enabled(self) -> bool:
        """Whether the store has an embedder."""
        return self._state.settings.embedder is not None

    def _embedder(self) -> Embedder:
        embedder = self._state.settings.embedder
        if embedder is None:
            raise ConfigurationError("this store has no embedder: pass embedder= to connect() or SessionStore()")
        return embedder

    # -- the server's setup -------------------------------------------------

    async def ready(self) -> _Setup:
        """Read (or make) the schema's recall setup, and refuse an embedder that is not the one it records."""
        state = self._state
        if state.setup is not None:
            return state.setup
        embedder = self._embedder()
        assert state.lock is not None
        async with state.lock:
            if state.setup is None:
                state.setup = await self._load_setup(embedder)
        return state.setup

    async def _load_setup(self, embedder: Embedder) -> _Setup:
        parts = self._parts
        client, key = parts.client, parts.schema.recall_config()
        wanted = self._state.settings.backend
        stored: dict[bytes, bytes] = await parts.requests.run(lambda: client.hgetall(key))
        if stored:
            recorded = {name.decode(): value.decode() for name, value in stored.items()}
        else:
            backend = await self._detect(wanted)
            fields = {"embedder": embedder.name, "dimensions": str(embedder.dimensions), "backend": backend}
            if backend == "search":
                fields["index"] = parts.schema.recall_index(tag(f"{embedder.name}\0{embedder.dimensions}")[:10])
            recorded = await functions.recall_setup(parts.requests, key, fields)
        name, dimensions = recorded.get("embedder", ""), recorded.get("dimensions", "0")
        if name != embedder.name or dimensions != str(embedder.dimensions):
            raise ConfigurationError(
                f"the vectors here were made by {name!r} ({dimensions} dimensions), not by this store's embedder "
                f"{embedder.name!r} ({embedder.dimensions}): vectors of different models cannot be compared. "
                "Use that embedder, or another namespace (KeySchema(namespace=...)) for this one"
            )
        backend = "search" if recorded.get("backend") == "search" else "exact"
        if wanted != "auto" and backend != wanted:
            raise ConfigurationError(f"the vectors here are searched with the {backend} backend, not {wanted}")
        if backend == "search":
            index = recorded.get("index", "")
            await self._ensure_index(index, embedder.dimensions)
            return _Setup("search", index)
        return _Setup("exact", None)

    async def _detect(self, wanted: Backend) -> Literal["exact", "search"]:
        """Return the backend to use: search when a search module answers FT._LIST (and serves a cluster)."""
        if wanted == "exact":
            return "exact"
        client = self._parts.client
        try:
            await self._parts.requests.run(lambda: client.custom_command(["FT._LIST"]))
        except GlideMemoryError as exc:
            if wanted == "search":
                raise ConfigurationError(
                    "recall_backend='search' needs a search module (valkey-search): the server does not "
                    f"answer FT._LIST ({exc})"
                ) from exc
            return "exact"
        if isinstance(client, GlideClusterClient) and await self._single_shard_search():
            if wanted == "search":
                raise ConfigurationError(
                    "this cluster's search module searches one shard only (RediSearch without its coordinator): "
                    "use valkey-search, or recall_backend='exact'"
                )
            _log.warning("the cluster's search module searches one shard only: recall uses the exact backend")
            return "exact"
        return "search"

    async def _single_shard_search(self) -> bool:
        """Whether the cluster's search module is RediSearch without a coordinator (it would miss shards)."""
        client = self._parts.client
        try:
            modules = await self._parts.requests.run(lambda: client.custom_command(["MODULE", "LIST"]))
        except GlideMemoryError:
            return False  # managed services hide MODULE LIST: trust the module
        for module in _flatten(modules):
            fields = module if isinstance(module, dict) else dict(zip(module[::2], module[1::2], strict=False))
            named = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in fields.items()}
            name = named.get("name")
            name = name.decode() if isinstance(name, bytes) else name
            if name == "search" and int(named.get("ver", 0)) >= 20000:  # RediSearch 2.x; valkey-search is 1.x
                return True
        return False

    async def _ensure_index(self, index: str, dimensions: int) -> None:
        parts = self._parts
        client = parts.client
        listed = await parts.requests.run(lambda: client.custom_command(["FT._LIST"]))
        names = {item.decode() if isinstance(item, bytes) else str(item) for item in (listed or [])}
        if index in names:
            return
        command: list[str | bytes] = [
            "FT.CREATE", index, "ON", "HASH", "PREFIX", "1", parts.schema.vector_document_prefix(), "SCHEMA",
            "uid", "TAG", "sid", "TAG", "thread", "TAG", "role", "TAG", "ts", "NUMERIC",
            "vec", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(dimensions), "DISTANCE_METRIC", "COSINE",
        ]  # fmt: skip
        try:
            await parts.requests.run(lambda: client.custom_command(command))
        except GlideMemoryError as exc:
            if "exist" not in str(exc.__cause__ or exc).lower():  # another store made it first
                raise

    # -- what goes with a write ---------------------------------------------

    def wants(self, message: Message) -> bool:
        """Whether a message is one to recall: a configured role, and some text."""
        return message.role in self._state.settings.roles and bool(text_of(message))

    async def _embed(self, texts: list[str]) -> list[np.ndarray]:
        """Embed texts, checking what the embedder returns; normalized vectors."""
        embedder = self._embedder()
        vectors = await embedder.embed(texts)
        if not isinstance(vectors, Sequence) or isinstance(vectors, str | bytes) or len(vectors) != len(texts):
            raise InvalidInputError(
                f"the embedder returned {len(vectors) if isinstance(vectors, Sequence) else vectors!r} vectors "
                f"for {len(texts)} texts"
            )
        return [self._checked_vector(vector, "the embedder returned") for vector in vectors]

    def _checked_vector(self, vector: Any, what: str) -> np.ndarray:
        """Return ``vector`` as float64 numbers of unit length, checked (numpy: ~50x a Python loop's speed)."""
        numpy = _numpy()
        dimensions = self._embedder().dimensions
        if isinstance(vector, str | bytes):
            raise InvalidInputError(f"{what} a vector that is not numbers")
        try:
            values = numpy.asarray(vector, dtype=numpy.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{what} a vector that is not numbers") from exc
        if values.ndim != 1 or len(values) != dimensions:
            raise InvalidInputError(f"{what} a vector of {values.size} numbers, not {dimensions}")
        if not numpy.isfinite(values).all():
            raise InvalidInputError(f"{what} a vector with NaN or infinite numbers")
        norm = float(numpy.sqrt(values @ values))
        checked: np.ndarray = values / norm if norm > 0 else values
        return checked

    def _record(self, vector: Any, message: Message, thread: str | None) -> bytes:
        header = RECORD_HEADER.pack(message.timestamp or 0.0, thread_hash(thread), ROLE_CODES[message.role], 0)
        packed: bytes = _numpy().asarray(vector, dtype="<f4").tobytes()
        return header + packed

    async def vectors_for(
        self, session_id: str, messages: Sequence[Message], thread: str | None
    ) -> tuple[list[VectorData | None], SearchTags, bool]:
        """Return what recall keeps of each message to store, the search tags of the call, and whether to catch up.

        Inline, the vectors are made now; deferred, or when the embedder
        fails, only copies are written now and the vectors follow in the
        background (see :meth:`defer`), or with ``embed_session``.
        """
        if not self.enabled:
            return [None] * len(messages), NO_TAGS, False
        wanted = [i for i, message in enumerate(messages) if self.wants(message)]
        if not wanted:
            return [None] * len(messages), NO_TAGS, False
        setup = await self.ready()
        vectors: list[np.ndarray | None] = [None] * len(messages)
        later = self._state.settings.deferred
        if not later:
            try:
                made = await self._embed([text_of(messages[i]) for i in wanted])
            except Exception as exc:  # the conversation goes on: the vectors are caught up later
                _log.warning("session %s: embedding failed, its vectors are caught up later: %r", session_id, exc)
                later = True
            else:
                for i, vector in zip(wanted, made, strict=True):
                    vectors[i] = vector
        result: list[VectorData | None] = [None] * len(messages)
        for i in wanted:
            message, made_vector = messages[i], vectors[i]
            record = None if made_vector is None else self._record(made_vector, message, thread)
            document = None
            if record is not None and setup.backend == "search":
                document = self._parts.schema.vector_document(session_id, message.id or "")
            result[i] = VectorData(record, document, message.role.value, repr(message.timestamp or 0.0))
        return result, self._tags(session_id), later

    def _tags(self, session_id: str) -> SearchTags:
        setup = self._state.setup
        if setup is None or setup.backend != "search":
            return NO_TAGS
        return SearchTags(self._parts.settings.default_ttl or 86400, session_id)

    def defer(self, session_id: str, thread: str | None, messages: Sequence[Message], target: str) -> None:
        """Embed in the background the messages just stored with copies only (deferred, or the embedder failed)."""
        chosen = [m for m in messages if self.wants(m)]
        if not chosen:
            return
        task = asyncio.get_running_loop().create_task(self._catch_up(session_id, thread, chosen, target))
        self._state.tasks.add(task)
        task.add_done_callback(self._state.tasks.discard)

    async def _catch_up(self, session_id: str, thread: str | None, messages: list[Message], target: str) -> None:
        try:
            await self._put(session_id, thread, target, [(m, None) for m in messages])
        except Exception as exc:  # embed_session catches up later
            _log.warning("session %s: deferred embedding failed, embed_session catches up: %r", session_id, exc)

    async def flush(self) -> None:
        """Wait until the deferred embeddings started so far are written (or have failed)."""
        while self._state.tasks:
            await asyncio.gather(*list(self._state.tasks), return_exceptions=True)

    async def _put(
        self,
        session_id: str,
        thread: str | None,
        target: str,
        messages: Sequence[tuple[Message, bytes | None]],
        records: Sequence[bytes | None] | None = None,
    ) -> int:
        """Write the vectors of stored messages (each with its stored JSON), embedding those without a record.

        Returns:
            How many landed (a message cut or edited meanwhile gets none).
        """
        setup = await self.ready()
        keys = self._parts.schema.keys(session_id)
        made: list[bytes | None] = list(records) if records is not None else [None] * len(messages)
        written = 0
        for start in range(0, len(messages), _EMBED_BATCH):
            batch = messages[start : start + _EMBED_BATCH]
            known = made[start : start + _EMBED_BATCH]
            missing = [i for i, record in enumerate(known) if record is None]
            vectors = await self._embed([text_of(batch[i][0]) for i in missing]) if missing else []
            for i, vector in zip(missing, vectors, strict=True):
                known[i] = self._record(vector, batch[i][0], thread)
            calls = []
            for (message, raw), record in zip(batch, known, strict=True):
                entry = raw if raw is not None else encode_message(message, session_id=session_id)[0]
                document = (
                    self._parts.schema.vector_document(session_id, message.id or "")
                    if setup.backend == "search"
                    else None
                )
                data = VectorData(record, document, message.role.value, repr(message.timestamp))
                calls.append(
                    functions.vec_put(
                        self._parts.requests,
                        meta=keys.meta,
                        target=target,
                        vectors=keys.vectors,
                        copies=keys.copies,
                        session_id=session_id,
                        owner=self._scope.user_id,
                        entry=entry,
                        message_id=message.id or "",
                        thread=thread or "",
                        vector=data,
                        expire_ms=self._document_expiry(),
                    )
                )
            written += sum(await asyncio.gather(*calls))
        return written

    def _document_expiry(self) -> int:
        """Milliseconds a search document written now lives: the session's TTL and as much grace."""
        ttl = self._parts.settings.default_ttl
        return 2 * ttl * 1000 if ttl else 0

    # -- embed_session ------------------------------------------------------

    async def embed_session(self, session_id: str) -> int:
        """Embed the session's messages worth recalling that have no vector yet; return how many.

        With a search module, the search documents of messages that have a
        vector but lost theirs (expired in a long-lived session, or not made
        by an import) are written again from the stored vectors.
        """
        parts = self._parts
        keys = parts.schema.keys(session_id)
        replies = await self._scope.read(  # a view's ownership first: another user's session is refused as such
            parts, session_id, keys.meta, [("HGET", keys.meta, ("companions",)), ("HGETALL", keys.vectors, ())]
        )
        if replies is None:
            raise SessionNotFoundError(session_id)
        setup = await self.ready()
        companions, vectors = replies
        if not await self._exists(session_id):
            raise SessionNotFoundError(session_id)
        have = set(vectors)
        names = [name for name in (companions or b"").decode().split(",") if name]
        lists: list[tuple[str, str | None]] = [(keys.chat, None)]
        for name in names:
            thread = thread_of(name)
            if thread is not None:
                lists.append((parts.schema.companion(session_id, name), thread))
            elif name == "archive":
                lists.append((parts.schema.companion(session_id, name), None))
            elif name.startswith("archive.thread."):
                lists.append((parts.schema.companion(session_id, name), thread_of(name[len("archive.") :])))
        embedded = 0
        for key, thread in lists:
            read = await self._scope.read(parts, session_id, keys.meta, [("LRANGE", key, (0, -1))])
            entries = [] if read is None else read[0]
            todo, indexed = [], []
            for index, raw in enumerate(entries):
                message = decode_message(raw, key=key, index=index, session_id=session_id)
                if message.id is None or not self.wants(message):
                    continue
                if message.id.encode() not in have:
                    todo.append((message, raw))
                elif setup.backend == "search":
                    indexed.append((message, raw))
            if todo:
                embedded += await self._put(session_id, thread, key, todo)
            if indexed:
                await self._reindex(session_id, thread, key, indexed, vectors)
        return embedded

    async def _reindex(
        self,
        session_id: str,
        thread: str | None,
        key: str,
        messages: list[tuple[Message, bytes]],
        vectors: dict[bytes, bytes],
    ) -> None:
        """Write again the search documents of messages that have a vector record but no document."""
        parts = self._parts
        documents = [parts.schema.vector_document(session_id, message.id or "") for message, _ in messages]
        found = await parts.requests.pipeline(
            lambda batch: [batch.exists([document]) for document in documents], session_id=session_id
        )
        lost = [i for i, present in enumerate(found) if not present]
        if lost:
            chosen = [messages[i] for i in lost]
            records = [vectors[(messages[i][0].id or "").encode()] for i in lost]
            await self._put(session_id, thread, key, chosen, records)

    async def _exists(self, session_id: str) -> bool:
        meta = self._parts.schema.meta(session_id)
        replies = await self._scope.read(self._parts, session_id, meta, [("EXISTS", meta, ())])
        return replies is not None and bool(replies[0])

    # -- recall ---------------------------------------------------------------

    async def recall(
        self,
        query: str | Sequence[float],
        *,
        user_id: str | None,
        session_id: str | None,
        k: int,
        roles: Iterable[Role | str] | None,
        since: float | None,
        until: float | None,
        thread: str | None,
    ) -> Recalled:
        """Return the ``k`` stored messages of the scope closest in meaning to ``query``."""
        if type(k) is not int or not 1 <= k <= MAX_K:
            raise InvalidInputError(f"k must be an int from 1 to {MAX_K}, not {k!r}")
        wanted_roles = None if roles is None else self._roles(roles)
        low = None if since is None else _validate.timestamp(since)
        high = None if until is None else _validate.timestamp(until)
        if thread is not None:
            list_names(thread)  # validates the name
        scope_user = self._scope.user_id
        if user_id is not None:
            user_id = _validate.identifier(user_id, kind="user id")
            self._scope.check_user(user_id, "recall the messages")
        owner = user_id or scope_user
        if session_id is not None:
            self._parts.schema.session_id(session_id)
            if not await self._exists_for(session_id, owner):  # the scope first: nothing is embedded for nothing
                raise SessionNotFoundError(session_id)
        self._embedder()
        vector = await self._query_vector(query)
        setup = await self.ready()
        np = _numpy()
        q = np.asarray(vector, dtype=np.float64)
        filters = _Filters(wanted_roles, low, high, thread)
        if setup.backend == "search":
            return await self._search(setup, q, owner, session_id, k, filters)
        if session_id is None and owner is None:
            raise ConfigurationError(
                "recall across every user needs a search module (valkey-search); without one, recall within "
                "a user (user_id=..., or a for_user view) or a session"
            )
        sessions = [session_id] if session_id is not None else await self._sessions_of(owner or "")
        return await self._exact(q, sessions, owner, k, filters, must_exist=session_id is not None)

    def _roles(self, roles: Iterable[Role | str]) -> frozenset[Role]:
        if isinstance(roles, str):
            roles = [roles]
        found = set()
        for role in roles:
            try:
                found.add(Role(role))
            except ValueError as exc:
                raise InvalidInputError(f"not a role: {role!r}") from exc
        return frozenset(found)

    async def _query_vector(self, query: str | Sequence[float]) -> np.ndarray:
        if isinstance(query, str):
            if not query.strip():
                raise InvalidInputError("the query is empty")
            return (await self._embed([query]))[0]
        if isinstance(query, bytes) or not isinstance(query, Sequence):
            raise InvalidInputError(f"the query is a str or a vector of numbers, not {type(query).__name__}")
        vector = self._checked_vector(query, "the query is")
        if not vector.any():
            raise InvalidInputError("the query vector is all zeros: it has no direction to compare")
        return vector

    async def _sessions_of(self, user_id: str) -> list[str]:
        client, index = self._parts.client, self._parts.schema.user_sessions(user_id)
        members = await self._parts.requests.run(lambda: client.smembers(index), user_id=user_id)
        return sorted(member.decode("utf-8", "replace") for member in members)

    async def _exact(
        self, q: np.ndarray, sessions: list[str], owner: str | None, k: int, filters: _Filters, *, must_exist: bool
    ) -> Recalled:
        np = _numpy()
        dimensions = self._embedder().dimensions
        records = await asyncio.gather(*(self._session_vectors(sid, owner, listed=not must_exist) for sid in sessions))
        if must_exist and records[0] is None:
            raise SessionNotFoundError(sessions[0])
        dtype = np.dtype(
            [("ts", "<f8"), ("thread", "<u8"), ("role", "<u4"), ("pad", "<u4"), ("vec", "<f4", (dimensions,))]
        )
        candidates: list[tuple[float, str, bytes]] = []
        pending = 0
        for sid, found in zip(sessions, records, strict=True):
            if found is None:
                continue
            vectors, copies = found
            pending += max(0, copies - len(vectors))
            if not vectors:
                continue
            ids = list(vectors)
            rows = np.frombuffer(b"".join(vectors[i] for i in ids), dtype=dtype)
            keep = filters.mask(np, rows)
            if not keep.any():
                continue
            matrix = rows["vec"][keep].astype(np.float64)
            norms = np.linalg.norm(matrix, axis=1)
            scores = (matrix @ q) / (np.where(norms > 0, norms, 1.0) * float(np.linalg.norm(q)))
            chosen = [ids[i] for i in np.flatnonzero(keep)]
            candidates += [(float(score), sid, mid) for score, mid in zip(scores, chosen, strict=True)]
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        hits = await self._hits(candidates, owner, k)
        return Recalled(hits, pending=pending, backend="exact")

    async def _session_vectors(
        self, session_id: str, owner: str | None, *, listed: bool
    ) -> tuple[dict[bytes, bytes], int] | None:
        """Read a session's vector records and how many copies it has, its owner checked in the same call.

        A session of another user found in a user's index (a stale member) is skipped; one asked for by id raises.
        """
        keys = self._parts.schema.keys(session_id)
        try:
            replies = await functions.read(
                self._parts.requests,
                keys.meta,
                [("EXISTS", keys.meta, []), ("HGETALL", keys.vectors, []), ("HLEN", keys.copies, [])],
                session_id=session_id,
                owner=owner or "",
            )
        except PermissionDeniedError:
            if listed:
                return None
            raise
        if replies is None or not replies[0]:
            return None
        return replies[1], int(replies[2])

    async def _hits(self, candidates: list[tuple[float, str, bytes]], owner: str | None, k: int) -> list[RecallHit]:
        """Fetch the copies of the best candidates; skip those removed meanwhile."""
        hits: list[RecallHit] = []
        offset = 0
        while len(hits) < k and offset < len(candidates):
            page = candidates[offset : offset + max(2 * k, 16)]
            offset += len(page)
            by_session: dict[str, list[bytes]] = {}
            for _, sid, mid in page:
                by_session.setdefault(sid, []).append(mid)
            copies = await asyncio.gather(*(self._copies(sid, mids, owner) for sid, mids in by_session.items()))
            found = dict(zip(by_session, copies, strict=True))
            for score, sid, mid in page:
                copy = found[sid].get(mid)
                if copy is None:
                    continue
                thread, _, raw = copy.partition(b"\0")
                message = decode_message(raw, key=self._parts.schema.keys(sid).copies, index=0, session_id=sid)
                hits.append(RecallHit(session_id=sid, message=message, score=score, thread=thread.decode() or None))
                if len(hits) == k:
                    break
        return hits

    async def _copies(self, session_id: str, ids: list[bytes], owner: str | None) -> dict[bytes, bytes]:
        keys = self._parts.schema.keys(session_id)
        replies = await functions.read(
            self._parts.requests, keys.meta, [("HMGET", keys.copies, ids)], session_id=session_id, owner=owner or ""
        )
        if replies is None:
            return {}
        return {mid: copy for mid, copy in zip(ids, replies[0], strict=True) if copy is not None}

    async def _search(
        self, setup: _Setup, q: np.ndarray, owner: str | None, session_id: str | None, k: int, filters: _Filters
    ) -> Recalled:
        np = _numpy()
        clauses = []
        if owner is not None:
            clauses.append(f"@uid:{{{tag(owner)}}}")
        if session_id is not None:
            if not await self._exists_for(session_id, owner):
                raise SessionNotFoundError(session_id)
            clauses.append(f"@sid:{{{tag(session_id)}}}")
        if filters.thread is not None:
            clauses.append(f"@thread:{{{tag(filters.thread)}}}")
        if filters.roles is not None:
            clauses.append("(" + " | ".join(f"@role:{{{role.value}}}" for role in sorted(filters.roles)) + ")")
        if filters.since is not None or filters.until is not None:
            low = "-inf" if filters.since is None else repr(filters.since)
            high = "+inf" if filters.until is None else repr(filters.until)
            clauses.append(f"@ts:[{low} {high}]")
        where = "(" + " ".join(clauses) + ")" if clauses else "*"
        blob = np.asarray(q, dtype="<f4").tobytes()
        fetch = min(max(2 * k, 20), 10_000)  # HNSW can stall among many identical vectors below 20
        while True:
            reply = await self._ft_search(setup.index or "", where, blob, fetch)
            total, documents = _search_reply(reply)
            candidates = await self._verified(documents, owner, q)
            if len(candidates) >= k or total <= fetch or fetch >= 10_000:
                break
            fetch = min(fetch * 4, 10_000)
        hits = await self._hits(candidates, owner, k)
        return Recalled(hits, pending=0, backend="search")

    async def _exists_for(self, session_id: str, owner: str | None) -> bool:
        meta = self._parts.schema.meta(session_id)
        replies = await functions.read(
            self._parts.requests, meta, [("EXISTS", meta, [])], session_id=session_id, owner=owner or ""
        )
        return replies is not None and bool(replies[0])

    async def _ft_search(self, index: str, where: str, blob: bytes, fetch: int) -> Any:
        client = self._parts.client
        query = f"{where}=>[KNN {fetch} @vec $q EF_RUNTIME {_EF_RUNTIME} AS dist]"
        command: list[str | bytes] = [
            "FT.SEARCH", index, query, "PARAMS", "2", "q", blob, "RETURN", "2", "mid", "sess",
            "LIMIT", "0", str(fetch), "DIALECT", "2",
        ]  # fmt: skip
        return await self._parts.requests.run(lambda: client.custom_command(command))

    async def _verified(
        self, documents: list[tuple[str, bytes, bytes]], owner: str | None, q: np.ndarray
    ) -> list[tuple[float, str, bytes]]:
        """Score candidates from the sessions' own vector records; drop what is gone (and purge its document)."""
        np = _numpy()
        by_session: dict[str, list[tuple[str, bytes]]] = {}
        for document, session, message_id in documents:
            by_session.setdefault(session.decode("utf-8", "replace"), []).append((document, message_id))
        sessions = list(by_session)
        found = await asyncio.gather(*(self._records(sid, [m for _, m in by_session[sid]], owner) for sid in sessions))
        candidates: list[tuple[float, str, bytes]] = []
        stale: list[str] = []
        norm_q = float(np.linalg.norm(q))
        for sid, records in zip(sessions, found, strict=True):
            for key, mid in by_session[sid]:
                record = None if records is None else records.get(mid)
                if record is None:
                    if records is not None or not await self._exists_for(sid, None):
                        stale.append(key)  # the message (or its session) is gone: its document goes too
                    continue
                vector = np.frombuffer(record, dtype="<f4", offset=RECORD_HEADER.size).astype(np.float64)
                norm = float(np.linalg.norm(vector))
                score = float(vector @ q) / ((norm or 1.0) * norm_q)
                candidates.append((score, sid, mid))
        if stale:
            await self._purge(stale)
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        return candidates

    async def _records(self, session_id: str, ids: list[bytes], owner: str | None) -> dict[bytes, bytes] | None:
        keys = self._parts.schema.keys(session_id)
        try:
            replies = await functions.read(
                self._parts.requests,
                keys.meta,
                [("HMGET", keys.vectors, ids)],
                session_id=session_id,
                owner=owner or "",
            )
        except GlideMemoryError as exc:
            if exc.retryable:
                raise
            return {}  # another user's session: none of its documents are this scope's
        if replies is None:
            return None
        return {mid: record for mid, record in zip(ids, replies[0], strict=True) if record is not None}

    async def _purge(self, documents: list[str]) -> None:
        client = self._parts.client
        with contextlib.suppress(GlideMemoryError):  # best effort: they expire anyway
            for start in range(0, len(documents), 500):
                chunk = documents[start : start + 500]
                await self._parts.requests.run(partial(client.delete, chunk))

    async def delete_documents(self, session_id: str) -> None:
        """Delete a session's search documents (before the session: its vector records name them)."""
        if not self.enabled and self._state.setup is None:
            return
        setup = self._state.setup or (await self.ready() if self.enabled else None)
        if setup is None or setup.backend != "search":
            return
        parts = self._parts
        keys = parts.schema.keys(session_id)
        client = parts.client
        ids: list[bytes] = await parts.requests.run(lambda: client.hkeys(keys.vectors), session_id=session_id)
        documents = [parts.schema.vector_document(session_id, mid.decode("utf-8", "replace")) for mid in ids]
        for start in range(0, len(documents), 500):
            await parts.requests.run(partial(client.delete, documents[start : start + 500]), session_id=session_id)


@dataclass(frozen=True, slots=True)
class _Filters:
    roles: frozenset[Role] | None
    since: float | None
    until: float | None
    thread: str | None

    def mask(self, np: Any, rows: Any) -> Any:
        keep = np.ones(len(rows), dtype=bool)
        if self.roles is not None:
            keep &= np.isin(rows["role"], [ROLE_CODES[role] for role in self.roles])
        if self.since is not None:
            keep &= rows["ts"] >= self.since
        if self.until is not None:
            keep &= rows["ts"] <= self.until
        if self.thread is not None:
            keep &= rows["thread"] == thread_hash(self.thread)
        return keep


def _flatten(modules: Any) -> list[Any]:
    """The per-module entries of a MODULE LIST reply (per node on a cluster)."""
    if isinstance(modules, dict) and all(isinstance(v, list) for v in modules.values()):
        return [entry for node in modules.values() for entry in node]
    return list(modules or [])


def _search_reply(reply: Any) -> tuple[int, list[tuple[str, bytes, bytes]]]:
    """Return the total and ``(document key, session id, message id)`` of an FT.SEARCH reply (either shape)."""
    if not isinstance(reply, list | tuple) or not reply:
        return 0, []
    total = int(reply[0])
    found: list[tuple[str, bytes, bytes]] = []
    if len(reply) == 2 and isinstance(reply[1], dict):  # glide's conversion: {key: {field: value}}
        items = list(reply[1].items())
    else:  # the raw array: key, [field, value, ...], key, ...
        items = [(reply[i], reply[i + 1]) for i in range(1, len(reply) - 1, 2)]
    for key, fields in items:
        values = fields if isinstance(fields, dict) else dict(zip(fields[::2], fields[1::2], strict=True))
        mid, sess = values.get(b"mid"), values.get(b"sess")
        if isinstance(mid, bytes) and isinstance(sess, bytes):
            found.append((key.decode() if isinstance(key, bytes) else str(key), sess, mid))
    return total, found
