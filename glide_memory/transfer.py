"""Exporting sessions as JSON Lines and importing them back, byte for byte.

One session exports as:

- a ``session`` line: the id, every meta field, and the names of its
  companion keys;
- one ``entry`` line per stored message of each list (``list``: ``chat``, a
  thread's or an archive's companion name), the stored JSON kept verbatim
  as a string, so nothing is re-encoded;
- one ``field`` line per field of each companion HASH (the message ids, the
  records of integrations), values as UTF-8 text or base64;
- an ``end`` line with the counts.

Lists are read a page at a time, so memory stays bounded whatever their
length; the fields of a hash are sorted before they are written (so two
exports of one session are the same bytes), which holds the message ids in
memory: about 50 bytes for each message the session ever stored. The
export is not a snapshot of a session being written.
Importing writes each session's lists and hashes first and its meta last, so
an interrupted import leaves no visible half session (importing again
clears what it left), and sets each key's TTL to what was left of it when
exported (its ``expires_at``). Export, import and export again gives the
same bytes.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
from glide import Batch, ClusterBatch, GlideClient, GlideClusterClient

from glide_memory import _validate, scripts
from glide_memory.errors import CorruptedEntryError, SessionExistsError, SessionNotFoundError

if TYPE_CHECKING:
    from glide_memory.store import SessionStore

PAGE = 500
"""Entries read or written per round trip."""

FORMAT_VERSION = 1
"""Bumped when the line format changes; import refuses versions it does not know."""


def _line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n"


def _text_or_base64(value: bytes) -> dict[str, str]:
    try:
        return {"text": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode()}


def _value(record: dict[str, Any], where: str) -> bytes:
    if "text" in record:
        return str(record["text"]).encode("utf-8")
    if "base64" in record:
        return base64.b64decode(record["base64"])
    raise CorruptedEntryError("a field line holds neither text nor base64", key=where)


async def _type(key: str, client: GlideClient | GlideClusterClient) -> bytes:
    return await client.type(key)


async def _range(key: str, start: int, stop: int, client: GlideClient | GlideClusterClient) -> list[bytes]:
    return await client.lrange(key, start, stop)


async def _hscan(key: str, cursor: bytes | str, client: GlideClient | GlideClusterClient) -> list[Any]:
    return await client.hscan(key, cursor, count=PAGE)


async def export_session(store: SessionStore, session_id: str) -> AsyncIterator[bytes]:
    """Yield the JSON Lines of one session (see the module docstring).

    Raises:
        SessionNotFoundError: the session does not exist.
    """
    keys = store.schema.keys(session_id)
    meta: dict[bytes, bytes] = await store.call(lambda client: client.hgetall(keys.meta), session_id=session_id)
    if not meta:
        raise SessionNotFoundError(session_id)
    fields = {name.decode("utf-8", "replace"): value.decode("utf-8", "replace") for name, value in meta.items()}
    companions = sorted(name for name in fields.get("companions", "").split(",") if name)
    yield _line({"type": "session", "version": FORMAT_VERSION, "session_id": session_id, "meta": fields})
    counts = {"entries": 0, "fields": 0}
    lists = ["chat", *companions]
    for name in lists:
        key = keys.chat if name == "chat" else store.schema.companion(session_id, name)
        kind = b"list" if name == "chat" else await store.call(partial(_type, key), session_id=session_id)
        if kind == b"list":
            async for entry in _pages(store, key, session_id):
                counts["entries"] += 1
                yield _line({"type": "entry", "list": name, "json": entry.decode("utf-8", "replace")})
        elif kind == b"hash":
            async for field, value in _hash_pages(store, key, session_id):
                counts["fields"] += 1
                yield _line({"type": "field", "hash": name, "name": field.decode("utf-8", "replace"),
                             **_text_or_base64(value)})  # fmt: skip
    async for field, value in _hash_pages(store, keys.ids, session_id):
        counts["fields"] += 1
        yield _line({"type": "field", "hash": "msgids", "name": field.decode("utf-8", "replace"),
                     **_text_or_base64(value)})  # fmt: skip
    yield _line({"type": "end", "session_id": session_id, **counts})


async def _pages(store: SessionStore, key: str, session_id: str) -> AsyncIterator[bytes]:
    start = 0
    while True:
        page: list[bytes] = await store.call(partial(_range, key, start, start + PAGE - 1), session_id=session_id)
        for entry in page:
            yield entry
        if len(page) < PAGE:
            return
        start += PAGE


async def _hash_pages(store: SessionStore, key: str, session_id: str) -> AsyncIterator[tuple[bytes, bytes]]:
    cursor: bytes | str = "0"
    seen: set[bytes] = set()
    found: list[tuple[bytes, bytes]] = []
    while True:
        reply: list[Any] = await store.call(partial(_hscan, key, cursor), session_id=session_id)
        cursor, flat = reply[0], reply[1]
        for i in range(0, len(flat), 2):
            if flat[i] not in seen:  # HSCAN may repeat a field
                seen.add(flat[i])
                found.append((flat[i], flat[i + 1]))
        if cursor in (b"0", "0"):
            break
    # sorted, so two exports of the same hash give the same bytes
    for field, value in sorted(found):
        yield field, value


async def export_user(store: SessionStore, user_id: str) -> AsyncIterator[bytes]:
    """Yield the JSON Lines of every session indexed under ``user_id``, in session-id order."""
    after = None
    while True:
        page = await store.list_user_sessions(user_id, limit=100, after=after)
        for session_id in sorted(info.session_id for info in page):
            try:
                async for line in export_session(store, session_id):
                    yield line
            except SessionNotFoundError:
                continue  # it expired or was deleted meanwhile
        if page.next_after is None:
            return
        after = page.next_after


async def import_sessions(
    store: SessionStore, lines: AsyncIterable[bytes] | Iterable[bytes], *, replace: bool = False
) -> list[str]:
    """Load exported sessions; return their ids.

    Args:
        store: Where to load them.
        lines: The JSON Lines (bytes), from a file or an export.
        replace: Delete a session that already exists under an imported id
            first; without it, such a session raises.

    Raises:
        SessionExistsError: a session exists under an imported id.
        CorruptedEntryError: a line is not part of an export.
    """
    imported: list[str] = []
    current: _Import | None = None
    async for number, raw in _numbered(lines):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise CorruptedEntryError(f"line {number} is not JSON ({exc})", key="import") from exc
        kind = record.get("type") if isinstance(record, dict) else None
        if kind == "session":
            if current is not None:
                raise CorruptedEntryError(f"line {number}: a session begins before the last one ended", key="import")
            if record.get("version") != FORMAT_VERSION:
                raise CorruptedEntryError(f"line {number}: export format {record.get('version')!r}", key="import")
            current = await _Import.begin(store, record, replace=replace)
        elif kind in ("entry", "field"):
            if current is None:
                raise CorruptedEntryError(f"line {number}: {kind} outside a session", key="import")
            await current.add(record)
        elif kind == "end":
            if current is None or record.get("session_id") != current.session_id:
                raise CorruptedEntryError(f"line {number}: an end without its session", key="import")
            await current.finish()
            imported.append(current.session_id)
            current = None
        elif raw.strip():
            raise CorruptedEntryError(f"line {number} is not part of an export", key="import")
    if current is not None:
        raise CorruptedEntryError(f"the export of session {current.session_id!r} is cut short", key="import")
    return imported


async def _numbered(lines: AsyncIterable[bytes] | Iterable[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    number = 0
    if isinstance(lines, AsyncIterable):
        async for line in lines:
            number += 1
            yield number, line
    else:
        for line in lines:
            number += 1
            yield number, line


class _Import:
    """One session being imported: lines are buffered a page at a time and written in order."""

    def __init__(self, store: SessionStore, session_id: str, meta: dict[str, str]) -> None:
        self.store = store
        self.session_id = session_id
        self.meta = meta
        self.keys = store.schema.keys(session_id)
        self.pending: list[tuple[str, str, bytes, bytes | None]] = []  # (op, key, item, value)

    @classmethod
    async def begin(cls, store: SessionStore, record: dict[str, Any], *, replace: bool) -> _Import:
        session_id = _validate.identifier(record.get("session_id"))
        meta = record.get("meta")
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise CorruptedEntryError("the session line's meta is not a map of strings", key=session_id)
        session = cls(store, session_id, meta)
        if await store.exists(session_id):
            if not replace:
                raise SessionExistsError(session_id, reason="pass replace=True to overwrite it")
            await store.delete_session(session_id)
        # what an interrupted import left (no meta: never visible) goes first
        companions = [n for n in meta.get("companions", "").split(",") if n]
        stale = [session.keys.chat, session.keys.ids, *(store.schema.companion(session_id, n) for n in companions)]
        await store.call(lambda client: client.delete(stale), session_id=session_id)
        return session

    def _key(self, name: str) -> str:
        if name == "chat":
            return self.keys.chat
        if name == "msgids":
            return self.keys.ids
        return self.store.schema.companion(self.session_id, name)

    async def add(self, record: dict[str, Any]) -> None:
        if record["type"] == "entry":
            entry = record.get("json")
            if not isinstance(entry, str):
                raise CorruptedEntryError("an entry line without its JSON", key=self.session_id)
            self.pending.append(("rpush", self._key(str(record.get("list"))), entry.encode("utf-8"), None))
        else:
            name = record.get("name")
            if not isinstance(name, str):
                raise CorruptedEntryError("a field line without its name", key=self.session_id)
            key = self._key(str(record.get("hash")))
            self.pending.append(("hset", key, name.encode("utf-8"), _value(record, self.session_id)))
        if len(self.pending) >= PAGE:
            await self._flush()

    async def _flush(self) -> None:
        pending, self.pending = self.pending, []
        if not pending:
            return

        def fill(batch: Batch | ClusterBatch) -> None:
            for op, key, item, value in pending:
                if op == "rpush":
                    batch.rpush(key, [item])
                else:
                    batch.hset(key, {item: value or b""})

        await self.store.pipeline(fill, session_id=self.session_id)

    async def finish(self) -> None:
        await self._flush()
        meta, store, keys = self.meta, self.store, self.keys
        companions = [n for n in meta.get("companions", "").split(",") if n]
        every = [keys.chat, keys.ids, *(store.schema.companion(self.session_id, n) for n in companions)]
        ttl = int(meta.get("ttl") or 0)
        expires_at = float(meta["expires_at"]) if meta.get("expires_at") else None
        left_ms = int((expires_at - time.time()) * 1000) if expires_at is not None else ttl * 1000

        def write(batch: Batch | ClusterBatch) -> None:
            batch.hset(keys.meta, dict(meta))  # last: the session appears whole
            if ttl > 0:
                for key in [keys.meta, *every]:
                    batch.pexpire(key, max(left_ms, 1))

        await store.pipeline(write, session_id=self.session_id)
        owner = meta.get("user_id")
        if owner and store._index_key(owner) is not None:
            await scripts.index_add(
                store._requests, index=store.schema.user_sessions(owner), session_id=self.session_id,
                ttl=ttl if ttl > 0 else 0, user_id=owner,
            )  # fmt: skip
