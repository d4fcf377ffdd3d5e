"""Anthropic Messages API ``system`` + ``messages`` <-> stored messages.

The stored (neutral) blocks are Anthropic's, so Anthropic content is stored
as given, every field included (``cache_control``, ``citations``...).

| Anthropic | stored :class:`~glide_memory.models.Message` |
|---|---|
| ``system``, string or text blocks | a first ``Role.SYSTEM`` message, content as given |
| ``{"role": "user"/"assistant", "content"}`` | a message of that role, content as given |
| blocks (1) | the same blocks |
| a turn of the same role as the one before | patch ``{"_separate": true}``: not merged back |
| any other message field | ``metadata["anthropic"]``, verbatim |

(1) ``text``, ``image``, ``document``, ``tool_use``, ``tool_result``,
``thinking``, ``redacted_thinking``, every field included.

:func:`to_anthropic` writes stored messages from any source as:

| stored | Anthropic |
|---|---|
| system messages, wherever they are | ``system`` (2) |
| assistant ``tool_calls`` | ``tool_use`` blocks after the content, ``input`` parsed (3) |
| ``tool`` message | user turn ``[{"type": "tool_result", "tool_use_id", "content"}]`` |
| consecutive turns of one role | one turn; strings become text blocks, empty ones dropped (4) |
| ``tool_use`` whose ``input`` is not an object | ``input`` ``{"_raw": <its compact JSON>}`` |
| other formats' patches (image ``detail``...) | left out |

(2) ``None`` if there are none; the content of the only one as it is; for
several, a list of their text blocks in order.
(3) blank ``arguments`` give ``{}``; arguments that are not a JSON object
give ``{"_raw": arguments}``.
(4) e.g. several tool results, or tool results then the user's text: the
API wants user and assistant turns to alternate.

``name`` has no Anthropic counterpart and is left out. Unknown block types
raise :class:`~glide_memory.errors.InvalidContentError`.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypeAlias, TypedDict

from glide_memory.formats.converse import neutral
from glide_memory.formats.kit import (
    SEPARATE,
    JSONDict,
    as_blocks,
    as_dict,
    as_list,
    build_turns,
    clone,
    compact_json,
    diff,
    fail,
    field_dict,
    field_str,
    overlay,
    with_patch,
    without_namespaces,
)
from glide_memory.models import Content, Message, Role

NS = "anthropic"
"""The metadata key of this format's patches."""

AnthropicSystem: TypeAlias = str | list[dict[str, Any]] | None


class AnthropicRequest(TypedDict):
    """The ``messages`` (and ``system``, when there is one) of an Anthropic Messages request: pass with ``**``."""

    messages: list[dict[str, Any]]
    system: NotRequired[str | list[dict[str, Any]]]


"""The ``system`` parameter: absent, a string or a list of text blocks."""

_RESULT_TYPES = frozenset({"text", "image", "document"})


def check_block(block: object, what: str, *, in_result: bool = False) -> JSONDict:
    """Return ``block`` if it is an Anthropic content block with its required fields, else fail."""
    block = as_dict(block, what)
    kind = field_str(block, "type", what)
    if in_result and kind not in _RESULT_TYPES:
        fail(f"{what}: a {kind!r} block cannot be part of a tool result")
    if kind == "text":
        field_str(block, "text", what)
    elif kind in ("image", "document"):
        field_dict(block, "source", what)
    elif kind == "tool_use":
        field_str(block, "id", what)
        field_str(block, "name", what)
        field_dict(block, "input", what)
    elif kind == "tool_result":
        field_str(block, "tool_use_id", what)
        content = block.get("content")
        if content is not None and not isinstance(content, str):
            for index, item in enumerate(as_list(content, f"{what} content")):
                check_block(item, f"{what} content[{index}]", in_result=True)
        if not isinstance(block.get("is_error", False), bool):
            fail(f"{what}: is_error must be a bool")
    elif kind == "thinking":
        field_str(block, "thinking", what)
        field_str(block, "signature", what)
    elif kind == "redacted_thinking":
        field_str(block, "data", what)
    else:
        fail(f"{what}: unknown block type {kind!r}")
    return block


def from_anthropic(messages: object, system: object = None) -> list[Message]:
    """Return stored messages for an Anthropic conversation.

    Args:
        messages: The request's ``messages``, as plain dicts.
        system: The request's ``system``: ``None``, a string or text blocks.

    Returns:
        The system prompt as a first ``Role.SYSTEM`` message (if any), then
        one message per turn; :func:`to_anthropic` turns them back into an
        equal ``(system, messages)``.

    Raises:
        InvalidContentError: the input is not an Anthropic conversation.
    """
    converted = []
    if system is not None:
        if not isinstance(system, str):
            for index, block in enumerate(as_list(system, "system")):
                if check_block(block, f"system[{index}]").get("type") != "text":
                    fail(f"system[{index}]: the system prompt holds text blocks only")
        converted.append(Message(role=Role.SYSTEM, content=clone(system)))
    previous = None
    for index, item in enumerate(as_list(messages, "messages")):
        what = f"messages[{index}]"
        item = as_dict(item, what)
        role = field_str(item, "role", what)
        if role not in ("user", "assistant"):
            fail(f"{what}: role must be user or assistant, not {role!r}")
        raw = item.get("content")
        if not isinstance(raw, str):
            for position, block in enumerate(as_list(raw, f"{what} content")):
                check_block(block, f"{what} content[{position}]")
        message = Message(role=Role(role), content=clone(raw))
        patch = diff(item, _render(role, message.content, None, what))
        if role == previous:
            patch[SEPARATE] = True
        previous = role
        converted.append(with_patch(message, NS, patch))
    return converted


def to_anthropic(messages: object) -> tuple[AnthropicSystem, list[JSONDict]]:
    """Return Anthropic ``(system, messages)`` for stored messages from any source.

    Args:
        messages: Stored messages, oldest first.

    Returns:
        The ``system`` parameter and alternating turns, new objects sharing
        nothing with ``messages``.

    Raises:
        InvalidContentError: a message has no Anthropic form.
    """
    system_messages, turns = build_turns(messages, NS, neutral)
    system: AnthropicSystem = None
    if len(system_messages) == 1 and isinstance(system_messages[0].content, str):
        system = system_messages[0].content
    elif system_messages:
        blocks = [block for message in system_messages for block in as_blocks(message.content)]
        system = [_block(block, f"system[{index}]") for index, block in enumerate(blocks)]
        if any(block["type"] != "text" for block in system):
            fail("system messages must hold text only")
    rendered = [_render(turn.role, turn.content, turn.patch, f"turn[{i}]") for i, turn in enumerate(turns)]
    return system, rendered


def _render(role: str, content: Content, patch: JSONDict | None, what: str) -> JSONDict:
    if not isinstance(content, str):
        content = [_block(block, f"{what} content[{index}]") for index, block in enumerate(content)]
    return overlay({"role": role, "content": content}, patch)


def _block(block: object, what: str) -> JSONDict:
    out = without_namespaces(as_dict(block, what))
    kind = out.get("type")
    if kind == "tool_use" and "input" in out and not isinstance(out["input"], dict):
        out["input"] = {"_raw": compact_json(out["input"])}
    elif kind == "tool_result" and isinstance(out.get("content"), list):
        out["content"] = [_block(item, f"{what} content[{i}]") for i, item in enumerate(out["content"])]
    return check_block(out, what)
