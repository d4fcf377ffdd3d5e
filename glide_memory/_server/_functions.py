"""One typed wrapper per server function: it builds the function's arguments and reads its reply.

The functions are the ``.lua`` files beside this module, joined into one
library (:mod:`._library`) that the request path loads on first use and
again whenever a node lacks it (a restart without persistence, a new
cluster node, ``FUNCTION FLUSH``). Each wrapper turns its function's tagged
reply into a value or, through the one error map, an exception, so nothing
here parses free text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from glide_memory._transport import Attempts, Requests, from_tag

INDEX_MARGIN_SECONDS = 3600
"""How long a user's index outlives the longest-lived session in it."""


def _text(value: Any) -> str | None:
    if value is None or value is False:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# -- one wrapper per function ------------------------------------------------


async def create(
    requests: Requests,
    *,
    meta: str,
    index: str | None,
    session_id: str,
    ttl: int,
    fields: Sequence[tuple[str, str]],
    user_id: str | None,
) -> tuple[bool, str | None, str | None]:
    """Create the meta HASH (and the index entry when ``index`` is given).

    Returns:
        ``(True, None, None)`` when created, else ``(False, owner,
        created_at)`` of the session that already holds the id.
    """
    args: list[str | bytes] = [str(ttl), session_id, str(INDEX_MARGIN_SECONDS)]
    for name, value in fields:
        args += (name, value)
    keys = [meta] if index is None else [meta, index]
    reply = await requests.fcall("create", keys, args, session_id=session_id, user_id=user_id)
    if _text(reply[0]) == "ok":
        return True, None, None
    return False, _text(reply[1]), _text(reply[2])


async def index_add(requests: Requests, *, index: str, session_id: str, ttl: int, user_id: str) -> None:
    """Add a session to its user's index, extending the index's TTL to cover it."""
    args = [session_id, str(ttl), str(INDEX_MARGIN_SECONDS)]
    await requests.fcall("index_add", [index], args, session_id=session_id, user_id=user_id)


class Stale(Exception):
    """The caller's companion keys are not the stored ones; ``companions`` holds the stored list."""

    def __init__(self, companions: str) -> None:
        super().__init__(companions)
        self.companions = companions


def _checked(reply: Sequence[Any], *, session_id: str, user_id: str | None) -> Sequence[Any]:
    tag = _text(reply[0])
    if tag == "ok":
        return reply
    if tag == "stale":
        raise Stale(_text(reply[1]) or "")
    raise from_tag(reply, session_id=session_id, user_id=user_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Write:
    """One attempt at a write to a session: what every write function takes besides its own arguments.

    The core makes one per attempt, from the keys and companion names that
    ``Parts.with_companions`` declares for that attempt.
    """

    session_id: str
    owner: str | None
    """The scope's user, checked on the server (``None``: the whole store)."""
    now: str
    """The time of the write, as ``meta`` stores times."""
    keys: tuple[str, ...]
    """Every key the function declares: meta, chat, msgids, vec, vecmsg, each companion, then an edit's ops HASH."""
    companions: str
    """The companion names ``keys`` declares, comma-separated; the function checks them against the stored ones."""
    register: str = ""
    """A companion the write adds (``""``: none), declared in ``keys`` and ``companions`` already."""
    target: int = 0
    """The position in ``keys`` of the list or HASH written (0, the meta HASH: the session as a whole)."""
    pin_field: str = ""
    """The meta field counting the written list's pinned messages."""

    def head(self) -> list[str]:
        """Return how most write functions' arguments open: now, owner, companions, register, target (from 1)."""
        return [self.now, self.owner or "", self.companions, self.register, str(self.target + 1)]


async def _fcall(
    requests: Requests, function: str, write: Write, args: Sequence[str | bytes], documents: Sequence[str] = ()
) -> Any:
    """Call a write function with the write's keys (then ``documents``, search document keys); return its reply."""
    return await requests.fcall(
        function, [*write.keys, *documents], args, session_id=write.session_id, user_id=write.owner
    )


def _applied(reply: Any, write: Write) -> Sequence[Any]:
    """Return the reply of a write function that applied the write; raise what its tag says otherwise."""
    return _checked(reply, session_id=write.session_id, user_id=write.owner)


@dataclass(frozen=True, slots=True)
class Appended:
    """What an append did."""

    length: int
    """The list's length after the push (before trimming)."""
    applied: int
    """Messages written; the others were repeats of stored ones."""
    refreshed: bool
    """Whether the session's TTL was refreshed."""
    owner: str | None
    ttl: int | None
    """The session's TTL in seconds (0: never expires; ``None``: follows the meta key's)."""


@dataclass(frozen=True, slots=True)
class VectorData:
    """What semantic recall keeps of one message."""

    record: bytes | None
    """Its vector record (header and float32 vector); ``None``: a copy whose vector comes later."""
    document: str | None = None
    """The key of its search document, when a search module indexes the store's vectors."""
    role: str = ""
    """Its role, for the search document's TAG."""
    ts: str = ""
    """Its timestamp, for the search document's NUMERIC field."""


@dataclass(frozen=True, slots=True)
class SearchTags:
    """What the search documents of one write need besides the messages: their grace past the session's TTL."""

    grace: int
    session_id: str


NO_TAGS = SearchTags(0, "")

Encoded = tuple[str, str, int, bool, bytes, VectorData | None]
"""A message ready for a server function: id, digest, tokens, pinned, stored JSON, what recall keeps."""


def _recall_flag(vector: VectorData | None) -> str:
    if vector is None:
        return ""
    if vector.record is None:
        return "c"
    if vector.document is None:
        return "v"
    return f"d:{vector.role}:{vector.ts}"


def _documents(messages: Sequence[Encoded]) -> list[str]:
    """Return the keys of the search documents that ``messages`` write."""
    return [vector.document for *_, vector in messages if vector is not None and vector.document is not None]


def _packed(header: Sequence[str], messages: Sequence[Encoded], last: str) -> list[str | bytes]:
    """Return the arguments of ``append`` and ``rewrite`` after their header's own fields.

    One argument packs ``header``, each message's id, digest, tokens,
    pinned flag and recall flag, then ``last``; the payloads and the vector
    records follow.
    """
    fields = list(header)
    payloads: list[str | bytes] = []
    records: list[bytes] = []
    for message_id, digest, tokens, pinned, payload, vector in messages:
        fields += (message_id, digest, str(tokens), "1" if pinned else "0", _recall_flag(vector))
        payloads.append(payload)
        if vector is not None and vector.record is not None:
            records.append(vector.record)
    fields.append(last)
    # one packed argument: glide's client spends more per argument than the server's split does
    return ["\t".join(fields), *payloads, *records]


def append_one_arguments(*, now: str, window: int, owner: str | None, message: Encoded) -> list[str | bytes]:
    """Return the arguments of ``append`` for the common turn: one message to the main list, no recall.

    ``=`` first, then only what that turn needs, each an argument of its
    own (the function reads the rest as the main list's: see ``append.lua``).
    """
    message_id, digest, tokens, pinned, payload, _ = message
    return ["=", now, str(window), owner or "", "", message_id, digest, str(tokens), "1" if pinned else "0", payload]


async def append(
    requests: Requests,
    write: Write,
    *,
    window: int,
    thread: str,
    tags: SearchTags,
    messages: Sequence[Encoded],
) -> Appended:
    """Append messages to ``keys[target]``, each at most once per id, with what recall keeps of them.

    ``thread`` names the list's thread (``""``: the main conversation).

    Raises:
        Stale: ``companions`` are not the stored ones (plus ``register``).
    """
    documents = _documents(messages)
    total = sum(tokens for _, _, tokens, *_ in messages)
    header = [
        write.now, str(window), write.owner or "", write.companions, write.register, str(write.target + 1), str(total),
        write.pin_field, thread, str(len(documents)), str(tags.grace),
    ]  # fmt: skip
    reply = await _fcall(requests, "append", write, _packed(header, messages, tags.session_id), documents)
    return appended(reply, session_id=write.session_id, owner=write.owner)


def appended(reply: Any, *, session_id: str, owner: str | None) -> Appended:
    """Read the reply of ``append``.

    Raises:
        Stale: the companions it was called with are not the stored ones.
    """
    if reply.__class__ is int:  # the common turn: one message applied, no TTL refresh
        return Appended(reply, 1, False, None, None)
    if reply[0] != b"ok":
        _checked(reply, session_id=session_id, user_id=owner)
    owner_reply, ttl = reply[4], reply[5]
    return Appended(
        int(reply[1]),
        int(reply[2]),
        bool(reply[3]),
        None if owner_reply is None or owner_reply is False else _text(owner_reply),
        None if ttl is None or ttl is False else int(ttl),
    )


async def touch(requests: Requests, write: Write, *, ttl: int | None) -> tuple[int | None, str | None]:
    """Refresh every key's TTL (``ttl``: new TTL, 0 never expire, ``None`` keep); return ``(ttl, owner)``.

    Raises:
        Stale: ``companions`` are not the stored ones.
    """
    args = [write.now, "" if ttl is None else str(ttl), write.owner or "", write.companions]
    reply = _applied(await _fcall(requests, "touch", write, args), write)
    kept = reply[1]
    return (None if kept is None or kept is False else int(kept)), _text(reply[2])


async def update(
    requests: Requests,
    meta: str,
    *,
    session_id: str,
    owner: str | None,
    to_set: Sequence[tuple[str, str]],
    to_delete: Sequence[str],
) -> None:
    """Set and remove meta fields."""
    args: list[str | bytes] = [owner or "", str(len(to_set))]
    for name, value in to_set:
        args += (name, value)
    args += to_delete
    reply = await requests.fcall("update", [meta], args, session_id=session_id, user_id=owner)
    _checked(reply, session_id=session_id, user_id=owner)


async def clear(requests: Requests, write: Write, *, op: str) -> int:
    """Remove the messages of ``keys[target]``; return how many were removed (the first attempt's count on a retry).

    ``keys`` ends with the session's ops HASH.

    Raises:
        Stale: ``companions`` are not the stored ones.
    """
    args = [write.owner or "", write.companions, write.register, str(write.target + 1), write.pin_field, op, write.now]
    return int(_applied(await _fcall(requests, "clear", write, args), write)[1])


async def record(
    requests: Requests, write: Write, *, op: str, mode: str, fields: Sequence[tuple[str, bytes | None]]
) -> bool:
    """Write ``fields`` of the hash ``keys[target]``: with mode ``many`` each of them, atomically; else the one.

    A ``None`` value removes its field; mode ``delete`` removes the one
    field, whatever its value. ``keys`` ends with the session's ops HASH;
    ``op`` identifies a conditional write, so that a retried one reports
    what its first attempt did.

    Returns:
        Whether it was written or deleted; ``False`` when ``mode`` refused
        (``absent``: it exists; ``present``/``delete``: it does not).

    Raises:
        Stale: ``companions`` are not the stored ones (plus ``register``).
    """
    args: list[str | bytes] = [*write.head(), op, mode]
    if mode == "many":
        for field, data in fields:
            if data is not None:
                args += (field, data)
        removed = [field for field, data in fields if data is None]
        if removed:
            args += ("", *removed)
    else:
        ((name, value),) = fields
        args += (name, b"" if value is None else value)
    return bool(int(_applied(await _fcall(requests, "record", write, args), write)[1]))


async def replace(
    requests: Requests,
    write: Write,
    *,
    message_id: str,
    digest: str,
    payload: bytes,
    thread: str = "",
    vector: VectorData | None = None,
) -> int | None:
    """Replace the message ``message_id`` in ``keys[target]``; return its position, ``None`` if not stored.

    Raises:
        Stale: ``companions`` are not the stored ones.
    """
    args: list[str | bytes] = [
        *write.head(), message_id, digest, payload, write.pin_field, thread, _recall_flag(vector),
        b"" if vector is None else vector.record or b"", write.session_id,
    ]  # fmt: skip
    documents = [vector.document] if vector is not None and vector.document is not None else []
    position = _applied(await _fcall(requests, "replace", write, args, documents), write)[1]
    return None if position is None or position is False else int(position)


async def delete(
    requests: Requests,
    keys: Sequence[str],
    *,
    session_id: str,
    companions: str,
    owner: str | None,
    index: str | None,
    attempts: Attempts | None = None,
) -> tuple[int, str | None]:
    """Delete the session's keys (and, standalone, its index entry); return ``(keys deleted, owner)``.

    Raises:
        Stale: the companions changed since they were read.
    """
    all_keys = [*keys, index] if index is not None else list(keys)
    args = [companions, owner or "", session_id, "1" if index is not None else "0"]
    reply = await requests.fcall("delete", all_keys, args, session_id=session_id, user_id=owner, attempts=attempts)
    checked = _checked(reply, session_id=session_id, user_id=owner)
    return int(checked[1]), _text(checked[2])


async def find(
    requests: Requests, target: str, meta: str, *, session_id: str, message_id: str, owner: str | None
) -> tuple[int, bytes] | None:
    """Return ``(position, entry)`` of the stored message ``message_id`` in ``target``, or ``None``."""
    reply = await requests.fcall(
        "find", [target, meta], [message_id, owner or ""], session_id=session_id, user_id=owner, read_only=True
    )
    checked = _checked(reply, session_id=session_id, user_id=owner)
    if checked[1] is None or checked[1] is False:
        return None
    return int(checked[1]), checked[2]


@dataclass(frozen=True, slots=True)
class Context:
    """What the ``context`` function returned."""

    length: int
    pinned: list[tuple[int, bytes]]
    """``(position, entry)`` of each pinned message, oldest first."""
    summary: bytes | None
    first: int
    """The position of the first of ``newest``."""
    newest: list[bytes]


async def context(
    requests: Requests,
    target: str,
    meta: str,
    *,
    session_id: str,
    max_tokens: int | None,
    limit: int,
    pin_field: str,
    summary_field: str,
    owner: str | None,
) -> Context:
    """Return the pinned messages, the summary (when ``summary_field`` is given) and the newest that fit."""
    args = ["-1" if max_tokens is None else str(max_tokens), str(limit), pin_field, summary_field, owner or ""]
    reply = await requests.fcall("context", [target, meta], args, session_id=session_id, user_id=owner, read_only=True)
    reply = _checked(reply, session_id=session_id, user_id=owner)
    flat = reply[2]
    pinned = [(int(flat[i]), flat[i + 1]) for i in range(0, len(flat), 2)]
    summary = None if reply[3] is None or reply[3] is False else reply[3]
    return Context(int(reply[1]), pinned, summary, int(reply[4]), list(reply[5]))


async def summarize(
    requests: Requests,
    write: Write,
    *,
    archive: int,
    summary_field: str,
    previous: bytes,
    covered: int,
    first_id: str,
    last_id: str,
    summary: bytes,
) -> bool:
    """Archive the ``covered`` oldest unpinned messages of ``keys[target]`` in ``keys[archive]``; store ``summary``.

    Returns:
        ``False`` when the summary or the messages changed since they were read.

    Raises:
        Stale: ``companions`` are not the stored ones (plus ``register``).
    """
    args: list[str | bytes] = [
        *write.head(), str(archive + 1), summary_field, previous, str(covered), first_id, last_id, summary,
    ]  # fmt: skip
    reply = await _fcall(requests, "summarize", write, args)
    if _text(reply[0]) == "moved":
        return False
    _applied(reply, write)
    return True


# -- edits that carry an operation id: the last key is the session's ops HASH --


async def pop(requests: Requests, write: Write, *, op: str) -> bytes | None:
    """Remove the newest entry of ``keys[target]``; return it, ``None`` if the list was empty.

    Raises:
        Stale: ``companions`` are not the stored ones.
    """
    reply = _applied(await _fcall(requests, "pop", write, [*write.head(), write.pin_field, op]), write)
    return None if reply[1] is None or reply[1] is False else bytes(reply[1])


async def rewrite(
    requests: Requests, write: Write, *, op: str, thread: str, tags: SearchTags, messages: Sequence[Encoded]
) -> int:
    """Replace the entries of ``keys[target]`` with ``messages`` (and what recall keeps of them).

    Raises:
        Stale: ``companions`` are not the stored ones (plus ``register``).
    """
    documents = _documents(messages)
    header = [*write.head(), write.pin_field, op, thread, str(len(documents)), str(tags.grace)]
    reply = await _fcall(requests, "rewrite", write, _packed(header, messages, write.session_id), documents)
    return int(_applied(reply, write)[1])


async def remove(requests: Requests, write: Write, *, op: str, message_ids: Sequence[str]) -> int:
    """Remove the entries of ``keys[target]`` whose id is in ``message_ids``; return how many.

    Raises:
        Stale: ``companions`` are not the stored ones.
    """
    args = [*write.head(), write.pin_field, op, *message_ids]
    return int(_applied(await _fcall(requests, "remove", write, args), write)[1])


async def archive(requests: Requests, write: Write, *, archive: int, count: int, op: str) -> int:
    """Move the oldest ``count`` unpinned entries of ``keys[target]`` (and orphaned results) to ``keys[archive]``.

    Raises:
        Stale: ``companions`` are not the stored ones (plus ``register``).
    """
    args = [*write.head(), str(archive + 1), str(count), op]
    return int(_applied(await _fcall(requests, "archive", write, args), write)[1])


async def read(
    requests: Requests,
    meta: str,
    commands: Sequence[tuple[str, str, Sequence[str | bytes]]],
    *,
    session_id: str,
    owner: str,
) -> list[Any] | None:
    """Run read ``commands`` ``(name, key, arguments)`` if the session is in ``owner``'s scope, in one atomic call.

    Returns:
        Each command's reply (``HGETALL`` as a dict), or ``None`` when the session does not exist.

    Raises:
        PermissionDeniedError: the session belongs to another user, or to none.
    """
    keys = [meta]
    args: list[str | bytes] = [owner]
    for name, key, arguments in commands:
        if key not in keys:
            keys.append(key)
        args += (name, str(keys.index(key) + 1), str(len(arguments)), *arguments)
    reply = await requests.fcall("read", keys, args, session_id=session_id, user_id=owner, read_only=True)
    if _text(reply[0]) == "missing":
        return None
    replies = list(_checked(reply, session_id=session_id, user_id=owner)[1:])
    for position, (name, _, _) in enumerate(commands):
        if name == "HGETALL":
            flat = replies[position]
            replies[position] = {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}
        elif replies[position] is False:
            replies[position] = None
    return replies


async def import_list(requests: Requests, key: str, *, session_id: str, before: int, entries: Sequence[bytes]) -> int:
    """Append ``entries`` to the list ``key`` that held ``before`` entries, once; return its length after.

    Raises:
        CorruptedEntryError: something else wrote to the list meanwhile.
    """
    reply = await requests.fcall("import_list", [key], [str(before), *entries], session_id=session_id)
    if _text(reply[0]) == "moved":
        raise from_tag(
            [b"error", key.encode(), f"the list changed while it was imported (it holds {int(reply[1])} entries)"],
            session_id=session_id,
        )
    _checked(reply, session_id=session_id, user_id=None)
    return before + len(entries)


async def vec_put(
    requests: Requests,
    *,
    meta: str,
    target: str,
    vectors: str,
    copies: str,
    session_id: str,
    owner: str | None,
    entry: bytes,
    message_id: str,
    thread: str,
    vector: VectorData,
    expire_ms: int = 0,
) -> bool:
    """Write the vector of a message stored earlier, if it is still stored as ``entry``; return whether it was."""
    keys = [meta, target, vectors, copies]
    args: list[str | bytes] = [owner or "", entry, message_id, thread, vector.record or b""]
    if vector.document is not None:
        keys.append(vector.document)
        args += (str(expire_ms), vector.role, vector.ts, session_id)
    reply = await requests.fcall("vec_put", keys, args, session_id=session_id, user_id=owner)
    return bool(int(_checked(reply, session_id=session_id, user_id=owner)[1]))


async def recall_setup(requests: Requests, key: str, fields: dict[str, str]) -> dict[str, str]:
    """Record ``fields`` as the schema's recall setup unless one is recorded; return what is recorded."""
    args: list[str | bytes] = [item for pair in fields.items() for item in pair]
    reply = await requests.fcall("recall_setup", [key], args)
    flat = [_text(item) or "" for item in reply[1:]]
    return dict(zip(flat[::2], flat[1::2], strict=True))
