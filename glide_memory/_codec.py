"""Messages and session metadata to and from their stored form (pure).

A message is stored as one orjson document with top-level ``"role"`` and
``"content"``, as the session-management cookbook writes them with
``json.dumps``; optional fields are written only when set. Metadata lives in
a HASH of strings: Unix seconds as decimal strings, counters as integers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from hashlib import blake2b
from typing import Any

import msgspec
import orjson

from glide_memory import _validate
from glide_memory.errors import (
    CorruptedEntryError,
    InvalidContentError,
    InvalidRoleError,
)
from glide_memory.models import Message, Role, SessionInfo

RESERVED_FIELDS = frozenset(
    {
        "user_id",
        "model",
        "created_at",
        "last_active",
        "message_count",
        "token_count",
        "title",
        "ttl",
        "expires_at",
        "companions",
        "pinned",
        "summary",
    }
)
"""Meta HASH fields the toolkit owns (also as ``<field>:<list>`` for a thread); caller metadata may not use them."""


def is_reserved(name: str) -> bool:
    """Return whether a meta field name belongs to the toolkit."""
    return name in RESERVED_FIELDS or name.partition(":")[0] in RESERVED_FIELDS


DIGEST_SIZE = 8
"""Bytes of the BLAKE2b digest that tells a retried message from a different one under the same id."""

_MAX_DEPTH = 200  # orjson refuses deeper nesting; say so before it does
_ROLES = {role.value: role for role in Role}


def tool_kind(message: Message) -> str | None:
    """Return ``"call"``, ``"result"``, ``"both"`` or ``None``: the message's part in a tool exchange."""
    calls = bool(message.tool_calls)
    results = message.role is Role.TOOL
    if isinstance(message.content, list):
        for block in message.content:
            kind = block.get("type")
            # Anthropic's blocks, and Bedrock Converse's (which Strands sessions store)
            calls = calls or kind == "tool_use" or "toolUse" in block
            results = results or kind == "tool_result" or "toolResult" in block
    if calls and results:
        return "both"
    return "call" if calls else "result" if results else None


def build_message(
    role: Role,
    content: Any,
    tokens: int,
    timestamp: float | None,
    id: str | None = None,
    name: str | None = None,
    tool_calls: Any = None,
    tool_call_id: str | None = None,
    metadata: Any = None,
    pinned: bool = False,
) -> Message:
    """Return a :class:`Message` from already-checked values, positionally."""
    return Message(
        role=role,
        content=content,
        tokens=tokens,
        timestamp=timestamp,
        id=id,
        name=name,
        tool_calls=tool_calls,
        tool_call_id=tool_call_id,
        metadata=metadata,
        pinned=pinned,
    )


def coerce_role(role: object, *, session_id: str | None = None) -> Role:
    """Return ``role`` as a :class:`Role`, or raise :class:`InvalidRoleError`."""
    found = _ROLES.get(role) if isinstance(role, str) else None
    if found is None:
        allowed = ", ".join(_ROLES)
        raise InvalidRoleError(f"role must be one of {allowed}, not {role!r}", session_id=session_id)
    return found


def check_tokens(tokens: object, *, session_id: str | None = None) -> int:
    """Return ``tokens`` if it is an int from 0 to 2**63-1, else raise :class:`InvalidTokensError`."""
    return _validate.tokens(tokens, session_id=session_id)


def _check_json(value: object, what: str, session_id: str | None, depth: int = 0) -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidContentError(f"{what} holds {value!r}, which JSON cannot hold", session_id=session_id)
        return
    if depth >= _MAX_DEPTH:
        raise InvalidContentError(f"{what} is nested deeper than {_MAX_DEPTH} levels", session_id=session_id)
    if isinstance(value, list):
        for item in value:
            _check_json(item, what, session_id, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidContentError(f"{what} has a non-string key {key!r}", session_id=session_id)
            _check_json(item, what, session_id, depth + 1)
        return
    raise InvalidContentError(
        f"{what} holds a {type(value).__name__}, which JSON cannot hold exactly", session_id=session_id
    )


def check_content(content: object, *, session_id: str | None = None) -> None:
    """Raise :class:`InvalidContentError` unless ``content`` is text or a list of blocks."""
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not all(isinstance(block, dict) for block in content):
        raise InvalidContentError(
            f"content must be a str or a list of dict blocks, not {type(content).__name__}",
            session_id=session_id,
        )
    _check_json(content, "content", session_id)


def _add_tool_fields(doc: dict[str, Any], message: Message, session_id: str | None) -> None:
    for name in ("name", "tool_call_id"):
        value = getattr(message, name)
        if value is not None:
            if not isinstance(value, str):
                raise InvalidContentError(f"{name} must be a str, not {type(value).__name__}", session_id=session_id)
            doc[name] = value
    if message.tool_calls is not None:
        if not isinstance(message.tool_calls, list) or not all(isinstance(c, dict) for c in message.tool_calls):
            raise InvalidContentError("tool_calls must be a list of dicts", session_id=session_id)
        _check_json(message.tool_calls, "tool_calls", session_id)
        doc["tool_calls"] = message.tool_calls


def encode_message(message: Message, *, session_id: str | None = None) -> tuple[bytes, str]:
    """Validate ``message`` and return its stored JSON form and its digest (hex).

    The digest covers everything but the timestamp and the id, so a retry
    of the same message under the same id (even made later) matches it,
    and a different message under that id does not. ``message.id`` and
    ``message.timestamp`` must be set.

    Raises:
        InvalidRoleError, InvalidTokensError, InvalidContentError: a field
            cannot be stored exactly.
    """
    role = message.role
    if role.__class__ is not Role:
        role = coerce_role(role, session_id=session_id)
    content = message.content
    if content.__class__ is not str:
        check_content(content, session_id=session_id)
    doc: dict[str, Any] = {"role": role.value, "content": content}
    tokens = message.tokens
    if tokens.__class__ is not int or not 0 <= tokens <= _validate.MAX_COUNTER:
        check_tokens(tokens, session_id=session_id)
    if tokens:
        doc["tokens"] = tokens
    if not (message.name is None and message.tool_call_id is None and message.tool_calls is None):
        _add_tool_fields(doc, message, session_id)
    if message.metadata is not None:
        if not isinstance(message.metadata, dict):
            raise InvalidContentError("metadata must be a dict", session_id=session_id)
        _check_json(message.metadata, "metadata", session_id)
        doc["metadata"] = message.metadata
    ts = message.timestamp
    if ts.__class__ is not float or not -_validate.MAX_TIMESTAMP <= ts <= _validate.MAX_TIMESTAMP:
        ts = _validate.timestamp(ts, session_id=session_id)
    message_id = _validate.identifier(message.id, kind="message id", session_id=session_id)
    pinned = message.pinned
    if pinned.__class__ is not bool:
        raise InvalidContentError(f"pinned must be a bool, not {pinned!r}", session_id=session_id)
    kind = tool_kind(message)
    try:
        body = orjson.dumps(doc)
        # what is not the message's content goes last, spliced on, so the body is serialized once for both uses:
        # the time, the pin, the tool hint the server's windows read, and the id
        tail = b',"ts":' + orjson.dumps(ts)
        if pinned:
            tail += b',"pinned":true'
        if kind is not None:
            tail += b',"tool":"' + kind.encode() + b'"'
        tail += b',"id":' + orjson.dumps(message_id) + b"}"
    except orjson.JSONEncodeError as exc:  # lone surrogates, integers past 64 bits
        raise InvalidContentError(f"message cannot be encoded: {exc}", session_id=session_id) from exc
    return body[:-1] + tail, blake2b(body, digest_size=DIGEST_SIZE).hexdigest()


_decode = msgspec.json.Decoder(Message).decode


def decode_message(raw: bytes, *, key: str, index: int, session_id: str | None = None) -> Message:
    """Return the :class:`Message` stored as ``raw`` at ``key[index]``.

    Raises:
        CorruptedEntryError: ``raw`` is not a message document (not JSON, no
            role or content, or a field of the wrong type).
    """
    try:
        return _decode(raw)
    except msgspec.DecodeError as exc:  # ValidationError included
        raise CorruptedEntryError(str(exc), key=key, index=index, session_id=session_id) from exc


def decode_messages(raws: Sequence[bytes], *, key: str, first: int, session_id: str | None = None) -> list[Message]:
    """Return the :class:`Message` of each of ``raws``, stored from ``key[first]`` on.

    Raises:
        CorruptedEntryError: an entry is not a message document (the first such, by its index).
    """
    try:
        return [_decode(raw) for raw in raws]  # one comprehension: a call per entry cost 2 µs in 50
    except msgspec.DecodeError:
        pass
    return [decode_message(raw, key=key, index=first + n, session_id=session_id) for n, raw in enumerate(raws)]


def format_time(seconds: float) -> str:
    """Return Unix seconds as the decimal string the cookbook stores."""
    return repr(float(seconds))


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def decode_session_info(
    session_id: str,
    raw: Mapping[bytes, bytes],
    *,
    messages_stored: int,
    pttl_ms: int,
    key: str,
) -> SessionInfo:
    """Return the :class:`SessionInfo` of a meta HASH read as ``raw``.

    Args:
        session_id: The session's id.
        raw: The HGETALL reply.
        messages_stored: LLEN of the session's chat list.
        pttl_ms: PTTL of the meta key (negative when it does not expire).
        key: The meta key, named by errors.

    Raises:
        CorruptedEntryError: a timestamp or counter does not parse.
    """
    fields = {name.decode("utf-8", "replace"): value for name, value in raw.items()}
    current = ""
    try:
        current = "created_at"
        created_at = float(fields.get(current, b"0"))
        current = "last_active"
        last_active = float(fields.get(current, fields.get("created_at", b"0")))
        current = "message_count"
        message_count = int(fields.get(current, b"0"))
        current = "token_count"
        token_count = int(fields.get(current, b"0"))
        current = "ttl"
        ttl = (int(fields[current]) or None) if current in fields else None  # "0": never expires
    except ValueError as exc:
        raise CorruptedEntryError(
            f"field {current!r} holds {fields[current]!r}", key=key, session_id=session_id
        ) from exc
    return SessionInfo(
        session_id=session_id,
        user_id=_text(fields.get("user_id")),
        model=_text(fields.get("model")),
        title=_text(fields.get("title")),
        created_at=created_at,
        last_active=last_active,
        message_count=message_count,
        token_count=token_count,
        messages_stored=messages_stored,
        expires_in_seconds=pttl_ms / 1000 if pttl_ms >= 0 else None,
        ttl=ttl,
        metadata={name: value.decode("utf-8", "replace") for name, value in fields.items() if not is_reserved(name)},
    )


def stored_form(message: Message) -> bytes:
    """Return the JSON a message is stored as (its ``id`` and ``timestamp`` must be set).

    Raises:
        InvalidRoleError, InvalidTokensError, InvalidContentError, InvalidIdError: it cannot be stored exactly.
    """
    return encode_message(message)[0]


def read_stored(raw: bytes) -> Message:
    """Return the :class:`Message` a stored entry holds (what :meth:`SessionStore.read_range` returns).

    Raises:
        CorruptedEntryError: ``raw`` is not a stored message.
    """
    return decode_message(raw, key="?", index=0)
