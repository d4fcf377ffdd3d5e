"""Strands ``SessionMessage`` <-> stored toolkit messages (pure).

A Strands message is stored as an ordinary toolkit message: top-level
``role`` and ``content`` (Strands content blocks, bytes as Strands' base64
envelopes), id ``<agent>:<message_id>``, and what else Strands keeps under
``metadata["strands_message"]``: the message id, creation and update times,
the redacted version if any, and any extra keys of the message dict. So the
core API (``get_messages``, exports, windows) reads a Strands conversation
like any other; Strands' content is Bedrock Converse's, which the core's
windows and converters (``get_context(format=...)``) read natively.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import msgspec
import orjson
from strands.types.session import SessionMessage, decode_bytes_values, encode_bytes_values

from glide_memory import Message, Role
from glide_memory.errors import CorruptedEntryError

_ROLES = {role.value: role for role in Role}
_ENVELOPE = b"__bytes_encoded__"

RECORD = "strands_message"
"""The metadata key of what the adapter keeps about a Strands message."""
_LEGACY_RECORD = "strands"  # glide-memory 0.1's key, read while migrating

KIND = "strands"
"""The record kind (and companion name) of the adapter's records."""

DEFAULT_AGENT_ID = "default"
"""The agent whose messages are the session's main conversation; Strands' default agent id."""


def thread_of_agent(agent_id: str) -> str | None:
    """Return the session thread an agent talks in: the main conversation for the default agent."""
    return None if agent_id == DEFAULT_AGENT_ID else agent_id


def message_id(agent_id: str, number: int) -> str:
    """Return the toolkit message id of a Strands agent's message number ``number``."""
    return f"{agent_id}:{number}"


def to_stored(message: SessionMessage, agent_id: str) -> Message:
    """Return the toolkit :class:`Message` that stores ``message``."""
    body: dict[str, Any] = dict(message.message)
    redact: Any = message.redact_message
    has_bytes = _has_bytes(body) or _has_bytes(redact)
    if has_bytes:
        body, redact = encode_bytes_values(body), encode_bytes_values(redact)
    role = _ROLES.get(body.pop("role", None))
    if role is None:
        raise CorruptedEntryError(f"Strands message has role {message.message.get('role')!r}", key=agent_id)
    content = body.pop("content", [])
    record: dict[str, Any] = {
        "message_id": message.message_id,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
    }
    if body:
        record["extra"] = body
    if redact is not None:
        record["redact_message"] = redact
    if has_bytes:
        record["bytes"] = True  # so a restore decodes envelopes only where there are some
    return Message(
        role=role,
        content=content,
        id=message_id(agent_id, message.message_id),
        metadata={RECORD: record},
    )


def _has_bytes(value: object) -> bool:
    if isinstance(value, bytes):
        return True
    if isinstance(value, dict):
        return any(_has_bytes(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_bytes(item) for item in value)
    return False


class _Record(msgspec.Struct, gc=False):
    """What the adapter keeps about a Strands message, as stored (the fast path's view)."""

    message_id: Any = msgspec.UNSET
    created_at: str = ""
    updated_at: str = ""
    extra: dict[str, Any] | None = None
    redact_message: Any = None
    bytes: bool = False


class _Metadata(msgspec.Struct, gc=False):
    strands_message: _Record | None = None
    strands: _Record | None = None  # glide-memory 0.1's key


class _Stored(msgspec.Struct, gc=False):
    role: Any
    content: Any
    metadata: _Metadata | None = None


_decode_stored = msgspec.json.Decoder(_Stored).decode


def from_stored(raw: bytes, *, key: str, position: int, session_id: str) -> SessionMessage:
    """Return the ``SessionMessage`` stored as ``raw``; entries written by other code get their position as id.

    Raises:
        CorruptedEntryError: ``raw`` is not a message document.
    """
    return from_stored_many([(position, raw)], key=key, session_id=session_id)[0]


def from_stored_many(entries: Iterable[tuple[int, bytes]], *, key: str, session_id: str) -> list[SessionMessage]:
    """Return the ``SessionMessage`` of each ``(position, raw)`` entry (a restore's hot loop).

    Raises:
        CorruptedEntryError: an entry is not a message document.
    """
    out: list[SessionMessage] = []
    append, decode, unset = out.append, _decode_stored, msgspec.UNSET
    for position, raw in entries:
        try:
            doc = decode(raw)
        except msgspec.DecodeError:
            append(_from_unusual(raw, key=key, position=position, session_id=session_id))
            continue
        metadata, content = doc.metadata, doc.content
        if content.__class__ is str:
            content = [{"text": content}]  # a plain message added through the core API
        body: dict[str, Any] = {"role": doc.role, "content": content}
        record = None if metadata is None else metadata.strands_message
        if record is None:  # another writer's entry, or 0.1's: only a scan tells whether bytes are enveloped
            record = None if metadata is None else metadata.strands
            envelopes = _ENVELOPE in raw
            if record is None:
                append(_message(body, None, position, "", "", envelopes=envelopes))
                continue
        else:
            envelopes = record.bytes
        if record.extra:
            body.update(record.extra)
        number = position if record.message_id is unset else record.message_id
        append(_message(body, record.redact_message, number, record.created_at, record.updated_at, envelopes=envelopes))
    return out


def _from_unusual(raw: bytes, *, key: str, position: int, session_id: str) -> SessionMessage:
    """Decode an entry the typed fast path refuses: not JSON, or metadata other code shaped its own way."""
    try:
        doc = orjson.loads(raw)
        role, content = doc["role"], doc["content"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise CorruptedEntryError(f"not a message ({exc})", key=key, index=position, session_id=session_id) from exc
    if isinstance(content, str):
        content = [{"text": content}]
    metadata = doc.get("metadata")
    record = metadata.get(RECORD, metadata.get(_LEGACY_RECORD)) if isinstance(metadata, dict) else None
    if not isinstance(record, dict):
        record = {}
    # this release's records say whether bytes were enveloped; other entries need the scan
    current = isinstance(metadata, dict) and isinstance(metadata.get(RECORD), dict)
    body: dict[str, Any] = {"role": role, "content": content}
    extra = record.get("extra")
    if extra:
        body.update(extra)
    return _message(
        body,
        record.get("redact_message"),
        record.get("message_id", position),
        record.get("created_at", ""),
        record.get("updated_at", ""),
        envelopes=record.get("bytes") is True if current else _ENVELOPE in raw,
    )


_FIELDS = ("message", "message_id", "redact_message", "created_at", "updated_at")
_DIRECT = (
    not hasattr(SessionMessage, "__slots__") and tuple(f.name for f in dataclasses.fields(SessionMessage)) == _FIELDS
)
"""Whether a SessionMessage can be built without its __init__ (its fields are the ones this module fills)."""
_new = object.__new__


def _message(
    body: dict[str, Any], redact: Any, number: Any, created: Any, updated: Any, *, envelopes: bool
) -> SessionMessage:
    if envelopes:
        body, redact = decode_bytes_values(body), decode_bytes_values(redact)
    if _DIRECT:  # a restore builds thousands: skip the generated __init__ and its default factories
        message = _new(SessionMessage)
        message.__dict__ = {
            "message": body,
            "message_id": number,
            "redact_message": redact,
            "created_at": created,
            "updated_at": updated,
        }
        return message
    return SessionMessage(
        message=body,  # type: ignore[arg-type]
        message_id=number,
        redact_message=redact,
        created_at=created,
        updated_at=updated,
    )
