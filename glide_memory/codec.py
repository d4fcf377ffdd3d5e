"""Messages and session metadata to and from their stored form (pure).

A message is stored as one orjson document with top-level ``"role"`` and
``"content"``, as the session-management cookbook writes them with
``json.dumps``; optional fields are written only when set. Metadata lives in
a HASH of strings: Unix seconds as decimal strings, counters as integers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from glide_memory.errors import (
    CorruptedEntryError,
    InvalidContentError,
    InvalidFieldError,
    InvalidRoleError,
    InvalidTokensError,
)
from glide_memory.models import Message, Role, SessionInfo

RESERVED_FIELDS = frozenset(
    {"user_id", "model", "created_at", "last_active", "message_count", "token_count", "title", "ttl"}
)
"""Meta HASH fields the toolkit owns; caller metadata may not use them."""

_MAX_DEPTH = 200  # orjson refuses deeper nesting; say so before it does
_ROLES = {role.value: role for role in Role}

# Reads build thousands of messages: setting the slots directly skips the
# frozen dataclass's keyword __init__ and halves the cost of each one.
_new = object.__new__
(_set_role, _set_content, _set_tokens, _set_ts, _set_id, _set_name, _set_calls, _set_call_id, _set_meta) = (
    getattr(Message, name).__set__
    for name in ("role", "content", "tokens", "timestamp", "id", "name", "tool_calls", "tool_call_id", "metadata")
)


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
) -> Message:
    """Return a :class:`Message` from already-checked values, positionally and fast."""
    message = _new(Message)
    _set_role(message, role)
    _set_content(message, content)
    _set_tokens(message, tokens)
    _set_ts(message, timestamp)
    _set_id(message, id)
    _set_name(message, name)
    _set_calls(message, tool_calls)
    _set_call_id(message, tool_call_id)
    _set_meta(message, metadata)
    return message


def coerce_role(role: object, *, session_id: str | None = None) -> Role:
    """Return ``role`` as a :class:`Role`, or raise :class:`InvalidRoleError`."""
    found = _ROLES.get(role) if isinstance(role, str) else None
    if found is None:
        allowed = ", ".join(_ROLES)
        raise InvalidRoleError(f"role must be one of {allowed}, not {role!r}", session_id=session_id)
    return found


def check_tokens(tokens: object, *, session_id: str | None = None) -> int:
    """Return ``tokens`` if it is a non-negative int, else raise :class:`InvalidTokensError`."""
    if type(tokens) is not int or tokens < 0:
        raise InvalidTokensError(f"tokens must be a non-negative int, not {tokens!r}", session_id=session_id)
    return tokens


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


def encode_message(message: Message, *, session_id: str | None = None) -> bytes:
    """Validate ``message`` and return its stored JSON form.

    Raises:
        InvalidRoleError, InvalidTokensError, InvalidContentError: a field
            cannot be stored exactly.
    """
    doc: dict[str, Any] = {
        "role": coerce_role(message.role, session_id=session_id).value,
        "content": message.content,
    }
    check_content(message.content, session_id=session_id)
    if check_tokens(message.tokens, session_id=session_id):
        doc["tokens"] = message.tokens
    if message.timestamp is not None:
        ts = message.timestamp
        if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
            raise InvalidContentError(f"timestamp {message.timestamp!r} is not a finite number", session_id=session_id)
        doc["ts"] = message.timestamp
    for name in ("id", "name", "tool_call_id"):
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
    if message.metadata is not None:
        if not isinstance(message.metadata, dict):
            raise InvalidContentError("metadata must be a dict", session_id=session_id)
        _check_json(message.metadata, "metadata", session_id)
        doc["metadata"] = message.metadata
    try:
        return orjson.dumps(doc)
    except orjson.JSONEncodeError as exc:  # lone surrogates, integers past 64 bits
        raise InvalidContentError(f"message cannot be encoded: {exc}", session_id=session_id) from exc


def decode_message(raw: bytes, *, key: str, index: int, session_id: str | None = None) -> Message:
    """Return the :class:`Message` stored as ``raw`` at ``key[index]``.

    Raises:
        CorruptedEntryError: ``raw`` is not a message document.
    """
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptedEntryError(f"not JSON ({exc})", key=key, index=index, session_id=session_id) from exc
    if not isinstance(doc, dict):
        raise CorruptedEntryError("not a JSON object", key=key, index=index, session_id=session_id)
    raw_role = doc.get("role")
    role = _ROLES.get(raw_role) if isinstance(raw_role, str) else None
    if role is None:
        raise CorruptedEntryError(f"unknown role {raw_role!r}", key=key, index=index, session_id=session_id)
    content = doc.get("content")
    if not isinstance(content, str) and not (
        isinstance(content, list) and all(isinstance(block, dict) for block in content)
    ):
        raise CorruptedEntryError(
            "content is neither text nor a list of blocks", key=key, index=index, session_id=session_id
        )
    if len(doc) == 2:  # the common {"role", "content"} entry of other writers
        return build_message(role, content, 0, None)
    get = doc.get
    tokens, timestamp = get("tokens", 0), get("ts")
    ids = (get("id"), get("name"), get("tool_call_id"))
    tool_calls, metadata = get("tool_calls"), get("metadata")
    if (
        type(tokens) is not int
        or (timestamp is not None and (type(timestamp) is bool or not isinstance(timestamp, int | float)))
        or any(value is not None and not isinstance(value, str) for value in ids)
        or (
            tool_calls is not None
            and not (isinstance(tool_calls, list) and all(isinstance(c, dict) for c in tool_calls))
        )
        or (metadata is not None and not isinstance(metadata, dict))
    ):
        raise CorruptedEntryError("a field has the wrong type", key=key, index=index, session_id=session_id)
    return build_message(role, content, tokens, timestamp, ids[0], ids[1], tool_calls, ids[2], metadata)


def format_time(seconds: float) -> str:
    """Return Unix seconds as the decimal string the cookbook stores."""
    return repr(float(seconds))


def check_fields(fields: Mapping[str, object], *, session_id: str | None = None, allow_none: bool = False) -> None:
    """Raise :class:`InvalidFieldError` unless ``fields`` are storable caller metadata.

    Args:
        fields: Field names and string values (``None`` to delete, if allowed).
        session_id: The session concerned, carried by the error.
        allow_none: Accept ``None`` values, which mean "remove the field".
    """
    for name, value in fields.items():
        if not isinstance(name, str) or not name:
            raise InvalidFieldError(f"field name {name!r} must be a non-empty str", session_id=session_id)
        if name in RESERVED_FIELDS:
            raise InvalidFieldError(f"field {name!r} is reserved for the toolkit", session_id=session_id)
        if value is None and allow_none:
            continue
        if not isinstance(value, str):
            raise InvalidFieldError(f"field {name!r} must be a str, not {type(value).__name__}", session_id=session_id)


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
        ttl = int(fields[current]) if current in fields else None
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
        metadata={
            name: value.decode("utf-8", "replace") for name, value in fields.items() if name not in RESERVED_FIELDS
        },
    )
