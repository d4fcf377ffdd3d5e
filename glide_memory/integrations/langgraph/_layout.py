r"""Where a LangGraph thread's checkpoints, channel values and writes live in its session, and their bytes (pure).

A LangGraph thread is a toolkit session (session id = ``thread_id``). What
LangGraph stores lives in two record families of that session, so in its
hash slot, with its TTL, gone with ``delete_session``:

``langgraph:<thread>`` (:data:`KIND`), written by one atomic ``put_records`` per ``put``:

- ``c/<ns>/<id>``: a checkpoint (without its channel values), its metadata
  and its parent's id. The value is a header line naming the checkpoint's
  channel-value records, then the body::

      b/<ns>/<channel>/<version> b/<ns>/<channel>/<version> ...\n<msgpack body>

- ``l/<ns>``: the id of the namespace's latest checkpoint.
- ``b/<ns>/<channel>/<version>``: one channel value, written once per
  version (only channels in ``new_versions``), shared by the checkpoints
  that have that version.

``langgraph-writes:<thread>`` (:data:`WRITES_KIND`), one ``put_records`` per ``put_writes``:

- ``<ns>/<id>/<task_id>/<idx>``: one pending write of a task.

Each part of a name is percent-encoded (``urllib.parse.quote`` with no safe
characters), so a name splits back unambiguously on ``/`` and holds none of
SCAN's glob characters; LangGraph's ids (uuids) and versions stay as they are,
so names sort as the ids do. Values are serialized by the saver's ``serde``
(``dumps_typed``: type and bytes, stored exactly) and framed with msgpack.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import quote, unquote

import msgspec

from glide_memory.errors import CorruptedEntryError

KIND = "langgraph"
"""The record family of checkpoints, latest pointers and channel values (``langgraph:<thread>``)."""

WRITES_KIND = "langgraph-writes"
"""The record family of pending writes (``langgraph-writes:<thread>``)."""

_encoder = msgspec.msgpack.Encoder()
_body_decoder = msgspec.msgpack.Decoder(tuple[str, str | None, str, bytes, str, bytes])
_blob_decoder = msgspec.msgpack.Decoder(tuple[str, bytes])
_write_decoder = msgspec.msgpack.Decoder(tuple[str, str, str, bytes, str])

Typed = tuple[str, bytes]
"""What ``serde.dumps_typed`` returns: a type name and the bytes."""


def part(text: str) -> str:
    """Return one part of a record name: ``text`` percent-encoded, with no ``/`` and no glob character."""
    return quote(text, safe="")


def checkpoint_name(ns: str, checkpoint_id: str) -> str:
    """Return the record name of a checkpoint."""
    return f"c/{part(ns)}/{part(checkpoint_id)}"


def latest_name(ns: str) -> str:
    """Return the record name of a namespace's latest-checkpoint pointer."""
    return f"l/{part(ns)}"


def blob_name(ns: str, channel: str, version: str | int | float) -> str:
    """Return the record name of one version of one channel's value."""
    return f"b/{part(ns)}/{part(channel)}/{part(str(version))}"


def write_name(ns: str, checkpoint_id: str, task_id: str, idx: int) -> str:
    """Return the record name of one pending write."""
    return f"{part(ns)}/{part(checkpoint_id)}/{part(task_id)}/{idx}"


def split_checkpoint_name(name: str) -> tuple[str, str]:
    """Return ``(ns, checkpoint_id)`` of a checkpoint record name."""
    _, ns, checkpoint_id = name.split("/", 2)
    return unquote(ns), unquote(checkpoint_id)


def split_write_name(name: str) -> tuple[str, str]:
    """Return ``(ns, checkpoint_id)`` of a pending write's record name."""
    ns, checkpoint_id, _ = name.split("/", 2)
    return unquote(ns), unquote(checkpoint_id)


class Entry(NamedTuple):
    """A stored checkpoint, still serialized: what ``c/<ns>/<id>`` holds."""

    checkpoint_id: str
    parent_id: str | None
    checkpoint: Typed
    metadata: Typed
    blobs: list[str]
    """The record names of the checkpoint's channel values."""


def encode_entry(entry: Entry) -> bytes:
    """Return the stored form of a checkpoint record."""
    body = _encoder.encode(
        (entry.checkpoint_id, entry.parent_id, entry.checkpoint[0], entry.checkpoint[1], *entry.metadata)
    )
    return " ".join(entry.blobs).encode() + b"\n" + body


def _corrupted(kind: str, thread_id: str, name: str, exc: Exception) -> CorruptedEntryError:
    return CorruptedEntryError(
        f"record {name!r} does not decode: {exc}", key=f"{kind}:{thread_id}", session_id=thread_id
    )


def decode_entry(raw: bytes, *, thread_id: str, name: str = "c/...") -> Entry:
    """Return the checkpoint record ``raw`` holds.

    Raises:
        CorruptedEntryError: ``raw`` is not a checkpoint record.
    """
    header, sep, body = raw.partition(b"\n")
    try:
        if not sep:
            raise ValueError("no header line")
        cid, parent, cp_type, cp_bytes, md_type, md_bytes = _body_decoder.decode(body)
    except (ValueError, msgspec.DecodeError) as exc:
        raise _corrupted(KIND, thread_id, name, exc) from exc
    return Entry(cid, parent, (cp_type, cp_bytes), (md_type, md_bytes), header.decode().split())


def encode_typed(value: Typed) -> bytes:
    """Return the stored form of a channel value serialized by ``serde.dumps_typed``."""
    return _encoder.encode(value)


def decode_typed(raw: bytes, *, thread_id: str, name: str = "b/...") -> Typed:
    """Return the ``(type, bytes)`` a channel-value record holds."""
    try:
        return _blob_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise _corrupted(KIND, thread_id, name, exc) from exc


class StoredWrite(NamedTuple):
    """A pending write, its value still serialized."""

    task_id: str
    channel: str
    value: Typed
    task_path: str
    idx: int


def encode_write(task_id: str, channel: str, value: Typed, task_path: str) -> bytes:
    """Return the stored form of a pending write."""
    return _encoder.encode((task_id, channel, value[0], value[1], task_path))


def decode_write(name: str, raw: bytes, *, thread_id: str) -> StoredWrite:
    """Return the pending write record ``name`` holds."""
    try:
        task_id, channel, kind, data, task_path = _write_decoder.decode(raw)
        idx = int(name.rsplit("/", 1)[1])
    except (ValueError, msgspec.DecodeError) as exc:
        raise _corrupted(WRITES_KIND, thread_id, name, exc) from exc
    return StoredWrite(task_id, channel, (kind, data), task_path, idx)


def as_text(value: Any) -> str:
    """Return a reply element (bytes from the server) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)
