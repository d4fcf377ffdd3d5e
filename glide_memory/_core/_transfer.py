"""Exporting sessions as JSON Lines and importing them back, byte for byte.

One session exports as:

- a ``session`` line: the id, every meta field, and the names of its
  companion keys;
- one ``entry`` line per stored message of each list (``list``: ``chat``, a
  thread's or an archive's companion name), the stored JSON kept verbatim
  as a string, so nothing is re-encoded;
- one ``field`` line per field of each companion HASH (the message ids, the
  records of integrations, what semantic recall keeps), values as UTF-8 text
  or base64;
- an ``end`` line with the counts.

Lists are read a page at a time, so memory stays bounded whatever their
length; the fields of a hash are sorted before they are written (so two
exports of one session are the same bytes), which holds the message ids in
memory: about 50 bytes for each message the session ever stored. The
export is not a snapshot of a session being written.
Importing writes each session's lists and hashes first and its meta last, so
an interrupted import leaves no visible half session (importing again
clears what it left), and sets each key's TTL to what was left of it when
exported (its ``expires_at``). Each page of a list is appended by a server
function told the list's length before it, so a page the store retries is
applied once. Export, import and export again gives the same bytes, and
importing one export twice (with ``replace``) leaves the same data as once.
Through a user's view, export reads only that user's sessions and import
writes only sessions the export says that user owns.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from functools import partial
from typing import Any

import orjson
from glide import Batch, ClusterBatch, GlideClient, GlideClusterClient

from glide_memory._core._parts import Parts, Scope
from glide_memory._core._sessions import Sessions, _index_key
from glide_memory._core._users import Users
from glide_memory._server import functions
from glide_memory.errors import CorruptedEntryError, SessionExistsError, SessionNotFoundError

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


class Transfer:
    """Export and import for one store or view."""

    def __init__(self, parts: Parts, scope: Scope, sessions: Sessions, users: Users) -> None:
        self._parts = parts
        self._scope = scope
        self._sessions = sessions
        self._users = users

    async def _call(self, command: Any, session_id: str) -> Any:
        client = self._parts.client
        return await self._parts.requests.run(lambda: command(client), session_id=session_id)

    async def export_session(self, session_id: str) -> AsyncIterator[bytes]:
        """Yield the JSON Lines of one session (see the module docstring)."""
        parts = self._parts
        keys = parts.schema.keys(session_id)
        replies = await self._scope.read(parts, session_id, keys.meta, [("HGETALL", keys.meta, ())])
        meta: dict[bytes, bytes] = {} if replies is None else replies[0]
        if not meta:
            raise SessionNotFoundError(session_id)
        fields = {name.decode("utf-8", "replace"): value.decode("utf-8", "replace") for name, value in meta.items()}
        companions = sorted(name for name in fields.get("companions", "").split(",") if name)
        yield _line({"type": "session", "version": FORMAT_VERSION, "session_id": session_id, "meta": fields})
        counts = {"entries": 0, "fields": 0}
        for name in ["chat", *companions]:
            key = keys.chat if name == "chat" else parts.schema.companion(session_id, name)
            kind = b"list" if name == "chat" else await self._call(partial(_type, key), session_id)
            if kind == b"list":
                async for entry in self._pages(key, session_id):
                    counts["entries"] += 1
                    yield _line({"type": "entry", "list": name, "json": entry.decode("utf-8", "replace")})
            elif kind == b"hash":
                async for field, value in self._hash_pages(key, session_id):
                    counts["fields"] += 1
                    yield _line({"type": "field", "hash": name, "name": field.decode("utf-8", "replace"),
                                 **_text_or_base64(value)})  # fmt: skip
        for name, key in (("msgids", keys.ids), ("vec", keys.vectors), ("vecmsg", keys.copies)):
            async for field, value in self._hash_pages(key, session_id):
                counts["fields"] += 1
                yield _line({"type": "field", "hash": name, "name": field.decode("utf-8", "replace"),
                             **_text_or_base64(value)})  # fmt: skip
        yield _line({"type": "end", "session_id": session_id, **counts})

    async def _pages(self, key: str, session_id: str) -> AsyncIterator[bytes]:
        start = 0
        while True:
            page: list[bytes] = await self._call(partial(_range, key, start, start + PAGE - 1), session_id)
            for entry in page:
                yield entry
            if len(page) < PAGE:
                return
            start += PAGE

    async def _hash_pages(self, key: str, session_id: str) -> AsyncIterator[tuple[bytes, bytes]]:
        cursor: bytes | str = "0"
        seen: set[bytes] = set()
        found: list[tuple[bytes, bytes]] = []
        while True:
            reply: list[Any] = await self._call(partial(_hscan, key, cursor), session_id)
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

    async def export_user(self, user_id: str) -> AsyncIterator[bytes]:
        """Yield the JSON Lines of every session indexed under ``user_id``, in session-id order."""
        self._scope.check_user(user_id, "export the sessions")
        after = None
        while True:
            page = await self._users.list_sessions(user_id, limit=100, after=after)
            for session_id in sorted(info.session_id for info in page):
                try:
                    async for line in self.export_session(session_id):
                        yield line
                except SessionNotFoundError:
                    continue  # it expired or was deleted meanwhile
            if page.next_after is None:
                return
            after = page.next_after

    async def import_sessions(self, lines: AsyncIterable[bytes] | Iterable[bytes], *, replace: bool) -> list[str]:
        """Load exported sessions; return their ids (see :meth:`SessionStore.import_sessions`)."""
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
                    raise CorruptedEntryError(
                        f"line {number}: a session begins before the last one ended", key="import"
                    )
                if record.get("version") != FORMAT_VERSION:
                    raise CorruptedEntryError(f"line {number}: export format {record.get('version')!r}", key="import")
                current = await self._begin(record, replace=replace)
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

    async def _begin(self, record: dict[str, Any], *, replace: bool) -> _Import:
        parts = self._parts
        session_id = parts.schema.session_id(record.get("session_id"))
        meta = record.get("meta")
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise CorruptedEntryError("the session line's meta is not a map of strings", key=session_id)
        if not self._scope.allows(meta.get("user_id")):
            raise self._scope.forbidden(session_id)
        session = _Import(parts, session_id, meta)
        if await self._sessions.exists(session_id):
            if not replace:
                raise SessionExistsError(session_id, reason="pass replace=True to overwrite it")
            await self._sessions.delete(session_id)
        # what an interrupted import left (no meta: never visible) goes first
        companions = [n for n in meta.get("companions", "").split(",") if n]
        stale = [
            session.keys.chat, session.keys.ids, session.keys.vectors, session.keys.copies,
            *(parts.schema.companion(session_id, n) for n in companions),
        ]  # fmt: skip
        await self._call(lambda client: client.delete(stale), session_id)
        return session


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
    """One session being imported: lines are buffered a page at a time and written in order, each page once."""

    def __init__(self, parts: Parts, session_id: str, meta: dict[str, str]) -> None:
        self.parts = parts
        self.session_id = session_id
        self.meta = meta
        self.keys = parts.schema.keys(session_id)
        self.entries: dict[str, list[bytes]] = {}  # list key -> entries waiting
        self.fields: list[tuple[str, bytes, bytes]] = []  # (hash key, field, value) waiting
        self.lengths: dict[str, int] = {}  # list key -> entries written so far
        self.waiting = 0

    def _key(self, name: str) -> str:
        if name == "chat":
            return self.keys.chat
        if name == "msgids":
            return self.keys.ids
        if name == "vec":
            return self.keys.vectors
        if name == "vecmsg":
            return self.keys.copies
        return self.parts.schema.companion(self.session_id, name)

    async def add(self, record: dict[str, Any]) -> None:
        if record["type"] == "entry":
            entry = record.get("json")
            if not isinstance(entry, str):
                raise CorruptedEntryError("an entry line without its JSON", key=self.session_id)
            self.entries.setdefault(self._key(str(record.get("list"))), []).append(entry.encode("utf-8"))
        else:
            name = record.get("name")
            if not isinstance(name, str):
                raise CorruptedEntryError("a field line without its name", key=self.session_id)
            key = self._key(str(record.get("hash")))
            self.fields.append((key, name.encode("utf-8"), _value(record, self.session_id)))
        self.waiting += 1
        if self.waiting >= PAGE:
            await self._flush()

    async def _flush(self) -> None:
        entries, fields = self.entries, self.fields
        self.entries, self.fields, self.waiting = {}, [], 0
        requests = self.parts.requests
        for key, page in entries.items():
            before = self.lengths.get(key, 0)
            self.lengths[key] = await functions.import_list(
                requests, key, session_id=self.session_id, before=before, entries=page
            )
        if fields:

            def fill(batch: Batch | ClusterBatch) -> None:
                for key, name, value in fields:
                    batch.hset(key, {name: value})  # a field set twice holds the same value

            await requests.pipeline(fill, session_id=self.session_id)

    async def finish(self) -> None:
        await self._flush()
        meta, parts, keys = self.meta, self.parts, self.keys
        companions = [n for n in meta.get("companions", "").split(",") if n]
        every = [
            keys.chat, keys.ids, keys.vectors, keys.copies,
            *(parts.schema.companion(self.session_id, n) for n in companions),
        ]  # fmt: skip
        ttl = int(meta.get("ttl") or 0)
        expires_at = float(meta["expires_at"]) if meta.get("expires_at") else None
        left_ms = int((expires_at - time.time()) * 1000) if expires_at is not None else ttl * 1000

        def write(batch: Batch | ClusterBatch) -> None:
            batch.hset(keys.meta, dict(meta))  # last: the session appears whole
            if ttl > 0:
                for key in [keys.meta, *every]:
                    batch.pexpire(key, max(left_ms, 1))

        await parts.requests.pipeline(write, session_id=self.session_id)
        owner = meta.get("user_id")
        index = _index_key(parts, owner)
        if owner and index is not None:
            await functions.index_add(
                parts.requests, index=index, session_id=self.session_id, ttl=ttl if ttl > 0 else 0, user_id=owner
            )
