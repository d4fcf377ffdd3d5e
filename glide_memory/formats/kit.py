"""Building blocks for exact converters: checks, patches, tool calls, turns, and readers.

The converters (OpenAI Chat Completions and Responses, Anthropic, Bedrock
Converse) are built from these. A converter's ``to_X`` may pass a *reader*
that first turns messages stored in another provider's shape into neutral
form (the others read Converse-shaped messages, which Strands sessions
store, this way). Nothing here is a registry: what a converter reads is
decided by its module alone.

A converter ``from_X`` turns each provider object into neutral form, renders
that neutral form back with ``to_X``'s own code, and keeps the difference
from the original as a *patch*; ``to_X`` lays the patch over what it renders.
So ``to_X(from_X(x)) == x`` holds by construction, and the patch is empty for
everything the neutral form holds by itself. A patch maps field names to
their original values, a nested patch for a nested object, plus bookkeeping
keys that are never provider fields:

| key | meaning |
|---|---|
| ``_absent`` | fields the original lacked, removed from the rendering |
| ``_separate`` | this turn followed one of the same role; do not merge them |
| ``_json`` | this text block was a JSON value (a converter's own rule) |
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn, TypeAlias

from glide_memory.errors import InvalidContentError
from glide_memory.models import Content, Message, Role

JSONDict: TypeAlias = dict[str, Any]
"""A provider object (message, item, part, block) or a neutral block."""

NAMESPACES: frozenset[str] = frozenset({"openai_chat", "openai_responses", "anthropic", "converse"})
"""Keys under which each converter keeps its patches, in metadata, blocks and tool calls."""

Reader = Callable[[list[Message]], list[Message]]
"""Turns stored messages of another shape (a run of Converse messages, say) into neutral form."""


ABSENT = "_absent"
SEPARATE = "_separate"
JSON_VALUE = "_json"
_BOOKKEEPING = frozenset({ABSENT, SEPARATE, JSON_VALUE})

DROPPED = frozenset({"thinking", "redacted_thinking"})
"""Anthropic block types no other provider accepts: other converters leave them out."""

_ROLES = {role.value: role for role in Role}
_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+);base64,([A-Za-z0-9+/]*={0,2})", re.ASCII)


def fail(message: str) -> NoReturn:
    """Raise :class:`InvalidContentError` with ``message``."""
    raise InvalidContentError(message)


def as_dict(value: object, what: str) -> JSONDict:
    """Return ``value`` if it is a dict, else fail naming ``what``."""
    if not isinstance(value, dict):
        fail(f"{what} must be an object, not {type(value).__name__}")
    return value


def as_list(value: object, what: str) -> list[Any]:
    """Return ``value`` if it is a list, else fail naming ``what``."""
    if not isinstance(value, list):
        fail(f"{what} must be a list, not {type(value).__name__}")
    return value


def field_str(obj: JSONDict, key: str, what: str) -> str:
    """Return ``obj[key]`` if it is a string, else fail."""
    value = obj.get(key)
    if not isinstance(value, str):
        fail(f"{what} needs a string {key!r}")
    return value


def optional_str(obj: JSONDict, key: str, what: str) -> str | None:
    """Return ``obj[key]`` if it is a string, ``None`` if missing or null, else fail."""
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        fail(f"{what}: {key!r} must be a string, not {type(value).__name__}")
    return value


def field_dict(obj: JSONDict, key: str, what: str) -> JSONDict:
    """Return ``obj[key]`` if it is a dict, else fail."""
    return as_dict(obj.get(key), f"{what} {key!r}")


def clone(value: Any) -> Any:
    """Return a copy of ``value`` that shares no dict or list with it."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value


def same(a: object, b: object) -> bool:
    """Return whether ``a == b`` with the same types throughout (``1`` is not ``True`` or ``1.0``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(item, b[key]) for key, item in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def diff(original: JSONDict, rendered: JSONDict) -> JSONDict:
    """Return the patch that :func:`overlay` lays over ``rendered`` to give ``original``."""
    patch: JSONDict = {}
    for key, value in original.items():
        if key not in rendered:
            patch[key] = clone(value)
        elif not same(value, rendered[key]):
            other = rendered[key]
            both = isinstance(value, dict) and isinstance(other, dict)
            patch[key] = diff(value, other) if both else clone(value)
    absent = [key for key in rendered if key not in original]
    if absent:
        patch[ABSENT] = absent
    return patch


def overlay(rendered: JSONDict, patch: JSONDict | None) -> JSONDict:
    """Lay ``patch`` over ``rendered`` (a dict the caller just built) and return it."""
    if not patch:
        return rendered
    for key, value in patch.items():
        if key == ABSENT:
            for name in as_list(value, "a patch's _absent"):
                rendered.pop(name, None)
        elif key in _BOOKKEEPING:
            continue
        elif isinstance(value, dict) and isinstance(rendered.get(key), dict):
            rendered[key] = overlay(dict(rendered[key]), value)
        else:
            rendered[key] = clone(value)
    return rendered


def patch_of(message: Message, namespace: str) -> JSONDict | None:
    """Return the patch a message's metadata keeps for ``namespace``, if any."""
    if message.metadata is None or message.metadata.get(namespace) is None:
        return None
    return as_dict(message.metadata[namespace], f"metadata[{namespace!r}]")


def block_patch(block: JSONDict, namespace: str) -> JSONDict | None:
    """Return the patch a block or tool call keeps for ``namespace``, if any."""
    patch = block.get(namespace)
    return None if patch is None else as_dict(patch, f"a block's {namespace!r} patch")


def with_patch(message: Message, namespace: str, patch: JSONDict) -> Message:
    """Return ``message`` keeping ``patch`` under ``metadata[namespace]`` (unchanged if empty)."""
    if not patch:
        return message
    return message.replace(metadata={**(message.metadata or {}), namespace: patch})


def without_namespaces(obj: JSONDict) -> JSONDict:
    """Return a copy of ``obj`` without the converters' patch keys."""
    return {key: clone(value) for key, value in obj.items() if key not in NAMESPACES}


def check_message(message: object, what: str) -> Role:
    """Return the role of ``message``, failing unless every field has a convertible type."""
    if not isinstance(message, Message):
        fail(f"{what} must be a Message, not {type(message).__name__}")
    role = _ROLES.get(message.role) if isinstance(message.role, str) else None
    if role is None:
        fail(f"{what} has an unknown role {message.role!r}")
    if not isinstance(message.content, str):
        for index, block in enumerate(as_list(message.content, f"{what} content")):
            as_dict(block, f"{what} content[{index}]")
    for name in ("name", "tool_call_id"):
        value = getattr(message, name)
        if value is not None and not isinstance(value, str):
            fail(f"{what}: {name} must be a string, not {type(value).__name__}")
    if message.tool_calls is not None:
        as_list(message.tool_calls, f"{what} tool_calls")
    if message.metadata is not None:
        as_dict(message.metadata, f"{what} metadata")
    return role


def checked(messages: object, reader: Reader | None = None) -> Iterator[tuple[str, Role, Message]]:
    """Yield ``(what, role, message)`` for each stored message, failing on anything else.

    ``reader`` first turns messages stored in another shape into neutral form.
    """
    if not isinstance(messages, list | tuple):
        fail(f"messages must be a list of Message, not {type(messages).__name__}")
    readable = list(messages) if reader is None else reader(list(messages))
    for index, message in enumerate(readable):
        what = f"messages[{index}]"
        yield what, check_message(message, what), message


def as_blocks(content: Content) -> list[JSONDict]:
    """Return content as a list of blocks (empty text gives no block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content)


def source_from_url(url: str) -> JSONDict:
    """Return the neutral image source of an OpenAI image URL (``data:`` URLs become base64)."""
    match = _DATA_URL.fullmatch(url)
    if match:
        return {"type": "base64", "media_type": match[1], "data": match[2]}
    return {"type": "url", "url": url}


def url_from_source(block: JSONDict, what: str) -> str:
    """Return the OpenAI image URL of a neutral image block (base64 becomes a ``data:`` URL)."""
    source = field_dict(block, "source", what)
    kind = source.get("type")
    if kind == "url":
        return field_str(source, "url", f"{what} source")
    if kind == "base64":
        media_type = field_str(source, "media_type", f"{what} source")
        return f"data:{media_type};base64,{field_str(source, 'data', f'{what} source')}"
    fail(f"{what}: an image source of type {kind!r} has no URL form")


def compact_json(value: object) -> str:
    """Return ``value`` as compact JSON text, non-ASCII kept as is."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidContentError(f"value cannot be written as JSON: {exc}") from exc


def parse_arguments(arguments: str) -> JSONDict:
    """Return tool-call arguments as an input object.

    Blank text gives ``{}``; text that is not a JSON object is kept whole as
    ``{"_raw": arguments}`` so nothing is lost and the input stays an object.
    """
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"_raw": arguments}


def check_tool_call(call: object, what: str) -> JSONDict:
    """Return ``call`` if it is a Chat Completions function tool call, else fail."""
    call = as_dict(call, what)
    field_str(call, "id", what)
    if call.get("type", "function") != "function":
        fail(f"{what}: tool call type {call.get('type')!r} is not supported")
    function = field_dict(call, "function", what)
    field_str(function, "name", f"{what} function")
    field_str(function, "arguments", f"{what} function")
    return call


def call_from_tool_use(block: JSONDict, what: str) -> JSONDict:
    """Return the Chat Completions tool call of a neutral ``tool_use`` block."""
    if "input" not in block:
        fail(f"{what}: a tool_use block needs an 'input'")
    return {
        "id": field_str(block, "id", what),
        "type": "function",
        "function": {"name": field_str(block, "name", what), "arguments": compact_json(block["input"])},
    }


def tool_use_from_call(call: object, what: str) -> JSONDict:
    """Return the neutral ``tool_use`` block of a Chat Completions tool call."""
    function = check_tool_call(call, what)["function"]
    return {
        "type": "tool_use",
        "id": as_dict(call, what)["id"],
        "name": function["name"],
        "input": parse_arguments(function["arguments"]),
    }


def result_text(block: JSONDict, what: str) -> str:
    """Return a ``tool_result`` block's content as text: its text blocks joined by newlines."""
    content = block.get("content", "")
    if isinstance(content, str):
        return content
    texts = []
    for index, item in enumerate(as_list(content, f"{what} content")):
        item = as_dict(item, f"{what} content[{index}]")
        if item.get("type") != "text":
            fail(f"{what}: a {item.get('type')!r} block in a tool result has no OpenAI form (text only)")
        texts.append(field_str(item, "text", f"{what} content[{index}]"))
    return "\n".join(texts)


@dataclass(slots=True)
class Turn:
    """One user or assistant turn of a provider that keeps system apart and alternates roles."""

    role: str
    content: Content
    patch: JSONDict | None


def build_turns(messages: object, namespace: str, reader: Reader | None = None) -> tuple[list[Message], list[Turn]]:
    """Return the system messages and the alternating turns of stored messages.

    ``tool`` messages become user turns holding a ``tool_result`` block,
    assistant ``tool_calls`` become ``tool_use`` blocks after the content, and
    consecutive turns of one role are merged unless the later one's patch
    under ``namespace`` says ``_separate``.
    """
    system: list[Message] = []
    turns: list[Turn] = []
    for what, role, message in checked(messages, reader):
        content: Content = message.content
        if role is Role.SYSTEM:
            system.append(message)
            continue
        if message.tool_calls and role is not Role.ASSISTANT:
            fail(f"{what}: only assistant messages carry tool_calls")
        if role is Role.TOOL:
            if message.tool_call_id is None:
                fail(f"{what}: a tool message needs a tool_call_id")
            content = [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}]
        elif message.tool_calls:
            calls = [tool_use_from_call(call, f"{what} tool_calls[{i}]") for i, call in enumerate(message.tool_calls)]
            content = [*as_blocks(content), *calls]
        name = "assistant" if role is Role.ASSISTANT else "user"
        patch = patch_of(message, namespace)
        if turns and turns[-1].role == name and not (patch and patch.get(SEPARATE)):
            turns[-1].content = [*as_blocks(turns[-1].content), *as_blocks(content)]
        else:
            turns.append(Turn(name, content, patch))
    return system, turns
