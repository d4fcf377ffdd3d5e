"""Amazon Bedrock Converse messages (the shape Strands Agents keeps) <-> stored messages, as plain dicts.

| Converse (and ``strands.types.content``) | stored :class:`~glide_memory.models.Message` |
|---|---|
| ``system_prompt``, string or ``[{"text"}]`` | a first ``Role.SYSTEM`` message |
| ``{"role", "content": [blocks]}`` | that role (``tracking_id``, ``metadata`` in the patch) |
| ``{"text"}`` | ``{"type": "text", "text"}`` |
| ``{"toolUse": {"toolUseId", "name", "input"}}`` | ``{"type": "tool_use", "id", "name", "input"}`` (1) |
| ``{"toolResult": {"toolUseId", "status", "content"}}`` | ``{"type": "tool_result", "tool_use_id", "content"}`` (2) |
| result item ``{"json": value}`` | text block of compact JSON, patch ``{"_json": true}`` |
| ``{"image": {"format", "source": {"bytes"}}}`` | image, base64 source, ``image/<format>`` |
| a turn of the same role as the one before | patch ``{"_separate": true}`` |

(1) ``reasoningSignature`` is kept in the block's patch.
(2) ``"is_error": true`` when status is ``"error"``; content items as blocks.

Patches live under ``"converse"``. :func:`to_converse` writes stored messages
from any source with the same turn rules as Anthropic (system apart, tool
messages and tool calls as ``toolResult``/``toolUse`` blocks, consecutive
same-role turns merged, string content as one ``{"text"}`` block), drops
``thinking`` blocks, and raises
:class:`~glide_memory.errors.InvalidContentError` for images given by URL
(Converse needs the bytes) and for block types it does not convert
(``reasoningContent``, ``cachePoint``, ``document``, ``video``...).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeAlias

from glide_memory.errors import InvalidContentError
from glide_memory.formats.kit import (
    DROPPED,
    JSON_VALUE,
    SEPARATE,
    JSONDict,
    as_blocks,
    as_dict,
    as_list,
    block_patch,
    build_turns,
    clone,
    compact_json,
    diff,
    fail,
    field_dict,
    field_str,
    overlay,
    with_patch,
)
from glide_memory.models import Content, Message, Role

NS = "converse"
"""The metadata and block key of this format's patches."""

ConverseSystem: TypeAlias = str | list[dict[str, Any]] | None
"""A Converse ``system`` (Strands' ``SystemPrompt``): absent, a string or ``[{"text": ...}]`` blocks."""


def from_converse(messages: object, system_prompt: object = None) -> list[Message]:
    """Return stored messages for a Converse (Strands) conversation.

    Args:
        messages: The agent's ``messages``: dicts with ``role`` and ``content``.
        system_prompt: The agent's system prompt, if any.

    Returns:
        Stored messages (image bytes as base64 text) which :func:`to_converse`
        turns back into an equal ``(system_prompt, messages)``.

    Raises:
        InvalidContentError: the input is not a Converse conversation this
            module converts.
    """
    converted = []
    if system_prompt is not None:
        content: Content = system_prompt if isinstance(system_prompt, str) else _system_blocks(system_prompt)
        converted.append(Message(role=Role.SYSTEM, content=content))
    previous = None
    for index, item in enumerate(as_list(messages, "messages")):
        what = f"messages[{index}]"
        item = as_dict(item, what)
        role = field_str(item, "role", what)
        if role not in ("user", "assistant"):
            fail(f"{what}: role must be user or assistant, not {role!r}")
        raw = as_list(item.get("content"), f"{what} content")
        blocks = [_block(block, f"{what} content[{i}]") for i, block in enumerate(raw)]
        patch = diff(item, _render(role, blocks, None, what))
        if role == previous:
            patch[SEPARATE] = True
        previous = role
        converted.append(with_patch(Message(role=Role(role), content=blocks), NS, patch))
    return converted


def to_converse(messages: object) -> tuple[ConverseSystem, list[JSONDict]]:
    """Return a Converse ``(system, messages)`` for stored messages from any source.

    Args:
        messages: Stored messages, oldest first.

    Returns:
        The system prompt and alternating turns, new objects sharing nothing
        with ``messages``.

    Raises:
        InvalidContentError: a message has no Converse form.
    """
    system_messages, turns = build_turns(messages, NS)
    system: ConverseSystem = None
    if len(system_messages) == 1 and isinstance(system_messages[0].content, str):
        system = system_messages[0].content
    elif system_messages:
        blocks = [block for message in system_messages for block in as_blocks(message.content)]
        if any(block.get("type") != "text" for block in blocks):
            fail("system messages must hold text only")
        system = [_item(block, f"system[{index}]") for index, block in enumerate(blocks)]
    rendered = [_render(turn.role, turn.content, turn.patch, f"turn[{i}]") for i, turn in enumerate(turns)]
    return system, rendered


def _system_blocks(system_prompt: object) -> list[JSONDict]:
    blocks = [_block(block, f"system_prompt[{i}]") for i, block in enumerate(as_list(system_prompt, "system_prompt"))]
    if any(block["type"] != "text" for block in blocks):
        fail("system_prompt holds text blocks only")
    return blocks


def _render(role: str, content: Content, patch: JSONDict | None, what: str) -> JSONDict:
    items = [
        _item(block, f"{what} content[{index}]")
        for index, block in enumerate(as_blocks(content))
        if field_str(as_dict(block, f"{what} content[{index}]"), "type", what) not in DROPPED
    ]
    return overlay({"role": role, "content": items}, patch)


def _block(item: object, what: str, *, in_result: bool = False) -> JSONDict:
    item = as_dict(item, what)
    if len(item) != 1:
        fail(f"{what} must hold exactly one key (text, toolUse, toolResult, image...)")
    ((kind, value),) = item.items()
    block: JSONDict
    if kind == "text" and isinstance(value, str):
        block = {"type": "text", "text": value}
    elif kind == "json" and in_result:
        block = {"type": "text", "text": compact_json(value), NS: {JSON_VALUE: True}}
    elif kind == "image":
        block = _image(as_dict(value, f"{what} image"), what)
    elif kind == "toolUse" and not in_result:
        use = as_dict(value, f"{what} toolUse")
        if "input" not in use:
            fail(f"{what}: toolUse needs an 'input'")
        block = {"type": "tool_use", "id": field_str(use, "toolUseId", what), "name": field_str(use, "name", what)}
        block["input"] = clone(use["input"])
    elif kind == "toolResult" and not in_result:
        result = as_dict(value, f"{what} toolResult")
        contents = as_list(result.get("content"), f"{what} toolResult content")
        block = {
            "type": "tool_result",
            "tool_use_id": field_str(result, "toolUseId", what),
            "content": [_block(c, f"{what} toolResult content[{i}]", in_result=True) for i, c in enumerate(contents)],
        }
        if field_str(result, "status", what) == "error":
            block["is_error"] = True
    else:
        fail(f"{what}: block {kind!r} is not supported here")
    patch = diff(item, _item(block, what))
    if patch:
        block[NS] = {**(block.get(NS) or {}), **patch}
    return block


def _image(image: JSONDict, what: str) -> JSONDict:
    data = field_dict(image, "source", what).get("bytes")
    if not isinstance(data, bytes):
        fail(f"{what}: only images given as bytes are supported")
    media_type = f"image/{field_str(image, 'format', what)}"
    source = {"type": "base64", "media_type": media_type, "data": base64.b64encode(data).decode()}
    return {"type": "image", "source": source}


def _item(block: object, what: str) -> JSONDict:
    block = as_dict(block, what)
    kind = block.get("type")
    patch = block_patch(block, NS)
    item: JSONDict
    if kind == "text":
        text = field_str(block, "text", what)
        item = {"json": _load(text, what)} if patch and patch.get(JSON_VALUE) else {"text": text}
    elif kind == "image":
        source = field_dict(block, "source", what)
        if source.get("type") != "base64":
            fail(f"{what}: Converse takes image bytes, not a {source.get('type')!r} source")
        media_type = field_str(source, "media_type", what)
        if not media_type.startswith("image/"):
            fail(f"{what}: media type {media_type!r} is not an image")
        try:
            data = base64.b64decode(field_str(source, "data", what), validate=True)
        except binascii.Error as exc:
            raise InvalidContentError(f"{what}: image data is not base64 ({exc})") from exc
        item = {"image": {"format": media_type.removeprefix("image/"), "source": {"bytes": data}}}
    elif kind == "tool_use":
        if "input" not in block:
            fail(f"{what}: a tool_use block needs an 'input'")
        use = {"toolUseId": field_str(block, "id", what), "name": field_str(block, "name", what)}
        item = {"toolUse": {**use, "input": clone(block["input"])}}
    elif kind == "tool_result":
        content = block.get("content", [])
        if isinstance(content, str):
            items = [{"text": content}]
        else:
            items = [_item(c, f"{what} content[{i}]") for i, c in enumerate(as_list(content, f"{what} content"))]
        status = "error" if block.get("is_error") is True else "success"
        item = {"toolResult": {"toolUseId": field_str(block, "tool_use_id", what), "status": status, "content": items}}
    else:
        fail(f"{what}: a {kind!r} block has no Converse form")
    return overlay(item, patch)


def _load(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidContentError(f"{what}: a json result holds invalid JSON ({exc})") from exc


BLOCKS = frozenset(
    {"text", "toolUse", "toolResult", "image", "document", "video", "reasoningContent", "cachePoint",
     "guardContent", "citationsContent", "json"}
)  # fmt: skip
"""The keys of Converse content blocks (each block is an object with exactly one of them)."""

_ENVELOPE = "__bytes_encoded__"  # how Strands keeps bytes in JSON: {"__bytes_encoded__": true, "data": base64}


def is_converse(message: object) -> bool:
    """Whether a stored message holds Converse content blocks (``{"toolUse": ...}``) rather than neutral ones."""
    if not isinstance(message, Message) or not isinstance(message.content, list) or not message.content:
        return False
    return all(
        isinstance(block, dict) and "type" not in block and len(block) == 1 and next(iter(block)) in BLOCKS
        for block in message.content
    )


def neutral(messages: list[Any]) -> list[Any]:
    """Return ``messages`` with every run of Converse-shaped ones in neutral form (a reader for ``to_X``)."""
    if not any(is_converse(message) for message in messages):
        return messages
    out: list[Any] = []
    run: list[Message] = []
    for message in [*messages, None]:
        if message is not None and is_converse(message):
            run.append(message)
            continue
        if run:
            out += from_converse([{"role": str(m.role), "content": _unwrapped(m.content)} for m in run])
            run = []
        if message is not None:
            out.append(message)
    return out


def _unwrapped(value: Any) -> Any:
    """Return ``value`` with bytes envelopes turned back into bytes."""
    if isinstance(value, dict):
        if value.get(_ENVELOPE) is True and isinstance(value.get("data"), str):
            return base64.b64decode(value["data"])
        return {key: _unwrapped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrapped(item) for item in value]
    return value
