"""OpenAI Chat Completions ``messages`` <-> stored messages.

| Chat Completions | stored :class:`~glide_memory.models.Message` |
|---|---|
| ``role`` system, user, assistant, tool | the same :class:`~glide_memory.models.Role` |
| ``role`` developer | ``Role.SYSTEM``, patch ``{"role": "developer"}`` |
| ``content`` string / null / parts | the string / ``[]`` / blocks |
| no ``content`` key | ``[]``, patch ``{"_absent": ["content"]}`` |
| part ``text`` | ``{"type": "text", "text"}`` |
| part ``image_url``, ``data:<type>;base64,<data>`` | image block, ``base64`` source |
| part ``image_url``, another URL | image block, ``url`` source |
| ``image_url.detail`` | block patch ``{"image_url": {"detail"}}`` |
| ``tool_calls``, ``tool_call_id``, ``name`` | the same fields, ``tool_calls`` verbatim |
| other fields (``refusal``, ``audio``...) | ``metadata["openai_chat"]``, verbatim |

:func:`to_openai_chat` also takes messages from any other source:

| stored | Chat Completions |
|---|---|
| ``tool_use`` block (assistant) | ``tool_calls`` entry, after stored ones (1) |
| ``tool_result`` block (user) | ``tool`` message, before the rest of the user's (2) |
| ``thinking``, ``redacted_thinking`` | left out |
| base64 image | ``data:<media_type>;base64,<data>`` URL |
| other formats' fields and patches | left out |

(1) ``arguments`` is the compact JSON of ``input``.
(2) content: the result's text blocks joined by newlines; ``is_error`` is
dropped; the user message itself is left out if nothing else remains.

Other part types (``input_audio``, ``file``, ``refusal``), the deprecated
``function`` role and non-function tool calls raise
:class:`~glide_memory.errors.InvalidContentError`.
"""

from __future__ import annotations

from glide_memory.formats.converse import neutral
from glide_memory.formats.kit import (
    DROPPED,
    JSONDict,
    as_dict,
    as_list,
    block_patch,
    call_from_tool_use,
    check_tool_call,
    checked,
    clone,
    diff,
    fail,
    field_dict,
    field_str,
    optional_str,
    overlay,
    patch_of,
    result_text,
    source_from_url,
    url_from_source,
    with_patch,
    without_namespaces,
)
from glide_memory.models import Content, Message, Role

NS = "openai_chat"
"""The metadata and block key of this format's patches."""

_ROLES = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "tool": Role.TOOL,
}


def from_openai_chat(messages: object) -> list[Message]:
    """Return stored messages for a Chat Completions ``messages`` list.

    Args:
        messages: The request's ``messages``, as plain dicts.

    Returns:
        One :class:`Message` per item, which :func:`to_openai_chat` turns back
        into an equal list.

    Raises:
        InvalidContentError: ``messages`` is not a list of Chat Completions
            messages, or holds a part or tool call this module does not convert.
    """
    converted = []
    for index, item in enumerate(as_list(messages, "messages")):
        what = f"messages[{index}]"
        item = as_dict(item, what)
        role = _ROLES.get(field_str(item, "role", what))
        if role is None:
            fail(f"{what}: unknown role {item['role']!r}")
        raw = item.get("content")
        content: Content
        if raw is None:
            content = []
        elif isinstance(raw, str):
            content = raw
        else:
            content = [_block(part, f"{what} content[{i}]") for i, part in enumerate(as_list(raw, f"{what} content"))]
        tool_calls = item.get("tool_calls")
        if tool_calls is not None:
            calls = as_list(tool_calls, f"{what} tool_calls")
            tool_calls = [clone(check_tool_call(call, f"{what} tool_calls[{i}]")) for i, call in enumerate(calls)]
        tool_call_id = optional_str(item, "tool_call_id", what)
        if role is Role.TOOL and tool_call_id is None:
            fail(f"{what}: a tool message needs a tool_call_id")
        message = Message(
            role=role,
            content=content,
            name=optional_str(item, "name", what),
            tool_calls=tool_calls,
            tool_call_id=tool_call_id,
        )
        converted.append(with_patch(message, NS, diff(item, _render(message, what)[-1])))
    return converted


def to_openai_chat(messages: object) -> list[JSONDict]:
    """Return Chat Completions ``messages`` for stored messages from any source.

    Args:
        messages: Stored messages, oldest first.

    Returns:
        New dicts sharing nothing with ``messages``; a user message holding
        tool results gives one ``tool`` message per result.

    Raises:
        InvalidContentError: a message has no Chat Completions form (an image
            in a tool result, a tool message without ``tool_call_id``...).
    """
    return [rendered for what, _, message in checked(messages, neutral) for rendered in _render(message, what)]


def _render(message: Message, what: str) -> list[JSONDict]:
    role = Role(message.role)
    content = message.content
    rendered: list[JSONDict] = []
    calls: list[JSONDict] = []
    body: str | list[JSONDict] | None = content if isinstance(content, str) else None
    if isinstance(content, list):
        parts = []
        for index, block in enumerate(content):
            where = f"{what} content[{index}]"
            kind = field_str(block, "type", where)
            if kind == "tool_result":
                if role is not Role.USER:
                    fail(f"{where}: only user messages carry tool results")
                call_id = field_str(block, "tool_use_id", where)
                rendered.append({"role": "tool", "tool_call_id": call_id, "content": result_text(block, where)})
            elif kind == "tool_use":
                if role is not Role.ASSISTANT:
                    fail(f"{where}: only assistant messages carry tool uses")
                calls.append(call_from_tool_use(block, where))
            elif kind not in DROPPED:
                parts.append(_part(block, where))
        if rendered and not parts:
            return rendered
        body = parts or None
    out: JSONDict = {"role": role.value, "content": body}
    if message.name is not None:
        out["name"] = message.name
    if message.tool_calls is not None or calls:
        stored = [
            without_namespaces(check_tool_call(call, f"{what} tool_calls[{i}]"))
            for i, call in enumerate(message.tool_calls or [])
        ]
        out["tool_calls"] = [*stored, *calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    elif role is Role.TOOL:
        fail(f"{what}: a tool message needs a tool_call_id")
    rendered.append(overlay(out, patch_of(message, NS)))
    return rendered


def _part(block: JSONDict, what: str) -> JSONDict:
    kind = block.get("type")
    if kind == "text":
        part: JSONDict = {"type": "text", "text": field_str(block, "text", what)}
    elif kind == "image":
        part = {"type": "image_url", "image_url": {"url": url_from_source(block, what)}}
    else:
        fail(f"{what}: a {kind!r} block has no Chat Completions form")
    return overlay(part, block_patch(block, NS))


def _block(part: object, what: str) -> JSONDict:
    part = as_dict(part, what)
    kind = field_str(part, "type", what)
    if kind == "text":
        block: JSONDict = {"type": "text", "text": field_str(part, "text", what)}
    elif kind == "image_url":
        url = field_str(field_dict(part, "image_url", what), "url", f"{what} image_url")
        block = {"type": "image", "source": source_from_url(url)}
    else:
        fail(f"{what}: content part type {kind!r} is not supported")
    patch = diff(part, _part(block, what))
    if patch:
        block[NS] = patch
    return block
