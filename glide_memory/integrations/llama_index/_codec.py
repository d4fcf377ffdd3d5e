"""LlamaIndex ``ChatMessage`` <-> stored toolkit messages (pure).

A ChatMessage is stored as an ordinary toolkit message, so the core API
(``get_messages``, exports, windows, ``get_context(format=...)``) reads it
like any other:

- ``role``: LlamaIndex's roles mapped onto the toolkit's four (``developer``
  is a system message, ``chatbot`` and ``model`` are assistants,
  ``function`` is a tool), the original kept when it differs;
- ``content``: the message's text (its text blocks joined by newlines, as
  ``ChatMessage.content`` reads it; ``""`` when it has none);
- ``tool_calls`` / ``tool_call_id``: Chat Completions tool calls taken from
  ``ToolCallBlock`` blocks or OpenAI-shaped ``additional_kwargs``;
- ``metadata["llama_index"]``: what the text does not say, as LlamaIndex
  serializes it (``model_dump(mode="json")``): the original role, the
  blocks unless the message is one text block, and ``additional_kwargs``.
  A plain text message carries no record at all.

So every message round-trips exactly as through LlamaIndex's own JSON
(``ChatMessage.model_validate(message.model_dump(mode="json"))``), which is
what its SQL and Redis chat stores keep; messages other code stored read as
text messages of their role.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import msgspec
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
from pydantic import ValidationError

from glide_memory import CorruptedEntryError, InvalidContentError, InvalidInputError, Message, Role

RECORD = "llama_index"
"""The metadata key of what the adapter keeps about a ChatMessage beyond its text."""

_TO_KIT: dict[str, Role] = {
    MessageRole.SYSTEM.value: Role.SYSTEM,
    MessageRole.DEVELOPER.value: Role.SYSTEM,
    MessageRole.USER.value: Role.USER,
    MessageRole.ASSISTANT.value: Role.ASSISTANT,
    MessageRole.CHATBOT.value: Role.ASSISTANT,
    MessageRole.MODEL.value: Role.ASSISTANT,
    MessageRole.TOOL.value: Role.TOOL,
    MessageRole.FUNCTION.value: Role.TOOL,
}
_FROM_KIT: dict[Role, MessageRole] = {
    Role.SYSTEM: MessageRole.SYSTEM,
    Role.USER: MessageRole.USER,
    Role.ASSISTANT: MessageRole.ASSISTANT,
    Role.TOOL: MessageRole.TOOL,
}
_decode_raw = msgspec.json.Decoder(Message).decode


def kit_role(role: str) -> Role:
    """Return the toolkit role a LlamaIndex role is stored under."""
    found = _TO_KIT.get(role)
    if found is None:  # a role newer than this module: an assistant-like turn is the safest reading
        return Role.ASSISTANT
    return found


def to_stored(message: ChatMessage, message_id: str) -> Message:
    """Return the toolkit :class:`Message` that stores ``message`` under ``message_id``.

    Raises:
        InvalidInputError: ``message`` is not a ChatMessage.
        InvalidContentError: its ``additional_kwargs`` hold values JSON cannot.
    """
    if not isinstance(message, ChatMessage):
        raise InvalidInputError(f"messages must be llama_index ChatMessage values, not {type(message).__name__}")
    role = message.role.value if isinstance(message.role, MessageRole) else str(message.role)
    role_of_kit = kit_role(role)
    record: dict[str, Any] = {}
    if role != role_of_kit.value:
        record["role"] = role
    blocks = message.blocks
    if len(blocks) == 1 and type(blocks[0]) is TextBlock:
        text = blocks[0].text
        dumped: list[dict[str, Any]] = []
    else:
        text = "\n".join(block.text for block in blocks if isinstance(block, TextBlock))
        dumped = [_dump(block) for block in blocks]
        record["blocks"] = dumped
    kwargs: dict[str, Any] = {}
    if message.additional_kwargs:
        kwargs = _dump(message, include={"additional_kwargs"})["additional_kwargs"]
        record["additional_kwargs"] = kwargs
    tool_calls = _tool_calls(dumped, kwargs) if role_of_kit is Role.ASSISTANT else None
    call_id = kwargs.get("tool_call_id") if role_of_kit is Role.TOOL else None
    return Message(
        role=role_of_kit,
        content=text,
        id=message_id,
        tool_calls=tool_calls or None,
        tool_call_id=call_id if isinstance(call_id, str) and call_id else None,
        metadata={RECORD: record} if record else None,
    )


def _dump(model: Any, include: set[str] | None = None) -> dict[str, Any]:
    try:
        return dict(model.model_dump(mode="json", include=include))
    except (ValueError, TypeError) as exc:  # pydantic's serialization errors are ValueErrors
        raise InvalidContentError(f"a ChatMessage JSON cannot hold: {exc}") from exc


def _tool_calls(blocks: list[dict[str, Any]], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the message's tool calls in Chat Completions form, from its blocks or its OpenAI kwargs."""
    calls = []
    for block in blocks:
        if block.get("block_type") == "tool_call":
            arguments = block.get("tool_kwargs", {})
            calls.append(_call(block.get("tool_call_id"), block.get("tool_name"), arguments))
    listed = kwargs.get("tool_calls")
    if not calls and isinstance(listed, list):  # an OpenAI LLM's calls, serialized
        for call in listed:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                calls.append(_call(call.get("id"), function.get("name"), function.get("arguments", "")))
    return [call for call in calls if call]


def _call(call_id: object, name: object, arguments: object) -> dict[str, Any]:
    if not isinstance(name, str):
        return {}
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {
        "id": call_id if isinstance(call_id, str) else "",
        "type": "function",
        "function": {"name": name, "arguments": text},
    }


def from_stored(message: Message, *, key: str) -> ChatMessage:
    """Return the ChatMessage ``message`` (of chat ``key``) stores; one other code stored reads as text of its role.

    Raises:
        CorruptedEntryError: the adapter's record does not make a ChatMessage.
    """
    record = message.metadata.get(RECORD) if message.metadata else None
    if record is None:
        if type(message.content) is str and message.tool_calls is None and message.tool_call_id is None:
            return ChatMessage(role=_FROM_KIT[message.role], blocks=[TextBlock(text=message.content)])
        return _foreign(message)
    if not isinstance(record, dict):
        raise CorruptedEntryError(f"message {message.id!r}: its {RECORD!r} record is not an object", key=key)
    blocks = record.get("blocks")
    data = {
        "role": record.get("role", _FROM_KIT[message.role].value),
        "additional_kwargs": record.get("additional_kwargs", {}),
        "blocks": blocks if blocks is not None else [{"block_type": "text", "text": _text(message.content)}],
    }
    try:
        return ChatMessage.model_validate(data)
    except ValidationError as exc:
        raise CorruptedEntryError(f"message {message.id!r} does not make a ChatMessage: {exc}", key=key) from exc


def _foreign(message: Message) -> ChatMessage:
    """Read a message stored by other code: its text, and its tool fields as OpenAI kwargs."""
    kwargs: dict[str, Any] = {}
    if message.tool_calls is not None:
        kwargs["tool_calls"] = message.tool_calls
    if message.tool_call_id is not None:
        kwargs["tool_call_id"] = message.tool_call_id
    text = _text(message.content)
    return ChatMessage(role=_FROM_KIT[message.role], blocks=[TextBlock(text=text)], additional_kwargs=kwargs)


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [block["text"] for block in content if isinstance(block, dict) and isinstance(block.get("text"), str)]
        return "\n".join(texts)
    return ""


def from_raw(entries: Iterable[tuple[int, bytes]], *, key: str) -> list[tuple[Message, ChatMessage]]:
    """Decode raw stored entries (``(position, bytes)``, as ``read_range`` gives them).

    Raises:
        CorruptedEntryError: an entry is not a toolkit message.
    """
    out = []
    for position, raw in entries:
        try:
            stored = _decode_raw(raw)
        except msgspec.DecodeError as exc:
            raise CorruptedEntryError(f"not a message ({exc})", key=key, index=position) from exc
        out.append((stored, from_stored(stored, key=key)))
    return out
