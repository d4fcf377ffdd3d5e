"""OpenAI Agents SDK session items <-> stored messages (pure).

Each item is one stored :class:`~glide_memory.models.Message`, so a
session's items are its main conversation: ``store.get_messages`` reads them
with a sensible role and content, windows keep tool calls with their results,
and ``get_items(limit)`` and ``pop_item`` are a list range and a pop.

| item | role | content | tool fields |
|---|---|---|---|
| message, role ``user`` | user | its text: a str, or text and image blocks | |
| message, role ``assistant`` | assistant | text blocks (``output_text``, ``refusal``) | |
| message, role ``system`` or ``developer`` | system | as for ``user`` | |
| ``function_call``, other ``*_call`` with a ``call_id`` | assistant | ``[]`` | ``tool_calls``: one call (1) |
| ``*_call_output`` with a ``call_id`` | tool | the output's text (2) | ``tool_call_id`` |
| message of another role | user | as for ``user`` | |
| anything else (``reasoning``, hosted tool calls, ...) | assistant | ``[]`` | |
| a value that is not a dict (SQLiteSession keeps those too) | user | a str as is, else its JSON text | |

(1) Chat Completions form: ``function.name`` is the tool's name (the item's
type for built-in tools) and ``function.arguments`` its ``arguments`` or
``input`` (else the JSON of the item's other fields).
(2) A str as is, text and image parts as blocks, anything else ``[]``.

The exact item is ``metadata["openai_agents"]``: the JSON text that
``SQLiteSession`` would store (``json.dumps``), decoded with ``json.loads``,
so every item comes back exactly as that reference implementation returns
it, and an item it cannot serialize raises the same ``TypeError`` before
anything is written. Messages written by other code (no such key) are read
through :func:`glide_memory.formats.to_openai_responses`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

from glide_memory import InvalidContentError, Message, Role
from glide_memory.formats import to_openai_responses
from glide_memory.formats.kit import source_from_url

KEY = "openai_agents"
"""The metadata key holding an item's exact JSON text."""

_ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT, "system": Role.SYSTEM, "developer": Role.SYSTEM}
_TEXT_PARTS = {"input_text": "text", "output_text": "text", "refusal": "refusal"}
_CALL_FIELDS = frozenset({"type", "id", "call_id", "status", "name"})
# a lone surrogate (a JSON "\ud800" escape decodes to one) cannot be stored as UTF-8
_SURROGATE = re.compile("[\ud800-\udfff]")


def to_messages(items: Iterable[Any]) -> list[Message]:
    """Return one stored message per item, each with a fresh id, oldest first.

    Raises:
        TypeError: an item holds a value JSON cannot hold (as ``json.dumps``
            says); nothing was converted.
        ValueError: an item holds a circular reference (as ``json.dumps`` says).
    """
    base = uuid.uuid4().hex
    return [to_message(item, f"{base}.{n}") for n, item in enumerate(items)]


def to_message(item: Any, message_id: str) -> Message:
    """Return the stored message of one item (see the module's table)."""
    text = json.dumps(item, ensure_ascii=False)
    if _SURROGATE.search(text):
        text = json.dumps(item)  # \u escapes keep the lone surrogate exactly
    metadata = {KEY: text}
    if not isinstance(item, dict):
        content = _clean(item if isinstance(item, str) else text)
        return Message(role=Role.USER, content=content, id=message_id, metadata=metadata)
    kind = item.get("type", "message")
    call_id = item.get("call_id")
    if kind == "message" and item.get("role") in _ROLES:
        role = _ROLES[item["role"]]
        return Message(role=role, content=_content(item.get("content")), id=message_id, metadata=metadata)
    if isinstance(kind, str) and isinstance(call_id, str) and call_id:
        if kind.endswith("_output"):
            output = _content(item.get("output"))
            return Message(role=Role.TOOL, content=output, tool_call_id=call_id, id=message_id, metadata=metadata)
        if kind.endswith("_call"):
            function = {"name": _name(item, kind), "arguments": _arguments(item)}
            call = {"id": call_id, "type": "function", "function": function}
            return Message(role=Role.ASSISTANT, content=[], tool_calls=[call], id=message_id, metadata=metadata)
    if kind == "message":  # a message of a role the toolkit lacks: the caller wrote it
        return Message(role=Role.USER, content=_content(item.get("content")), id=message_id, metadata=metadata)
    return Message(role=Role.ASSISTANT, content=[], id=message_id, metadata=metadata)


def items_of(message: Message) -> list[Any]:
    """Return the items a stored message stands for: its exact item, or its Responses form.

    A message this adapter wrote gives back its one item exactly; one that
    other code wrote gives its :func:`~glide_memory.formats.to_openai_responses`
    items (none if it has no Responses form, or its item text does not decode).
    """
    metadata = message.metadata
    text = metadata.get(KEY) if metadata else None
    if isinstance(text, str):
        try:
            return [json.loads(text)]
        except ValueError:
            return []
    try:
        return list(to_openai_responses([message]))
    except InvalidContentError:
        return []


def _content(raw: object) -> str | list[dict[str, Any]]:
    """Return readable content: a str as is, text and image parts as blocks, nothing else."""
    if isinstance(raw, str):
        return _clean(raw)
    if not isinstance(raw, list):
        return []
    blocks: list[dict[str, Any]] = []
    for part in raw:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        field = _TEXT_PARTS.get(kind) if isinstance(kind, str) else None
        if field is not None and isinstance(part.get(field), str):
            blocks.append({"type": "text", "text": _clean(part[field])})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            blocks.append({"type": "image", "source": source_from_url(_clean(part["image_url"]))})
    return blocks


def _name(item: dict[str, Any], kind: str) -> str:
    name = item.get("name")
    return _clean(name) if isinstance(name, str) and name else kind


def _arguments(item: dict[str, Any]) -> str:
    for field in ("arguments", "input"):
        value = item.get(field)
        if isinstance(value, str):
            return _clean(value)
    rest = {key: value for key, value in item.items() if key not in _CALL_FIELDS}
    return _clean(json.dumps(rest, ensure_ascii=False))


def _clean(text: str) -> str:
    """Return ``text`` with any lone surrogate replaced: the readable view only, the item keeps it."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text
