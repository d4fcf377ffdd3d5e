"""OpenAI Responses API ``input`` items <-> stored messages.

| Responses item | stored :class:`~glide_memory.models.Message` |
|---|---|
| message ``{"role", "content"}`` | a message of that role (1) |
| role ``developer`` | ``Role.SYSTEM``, patch ``{"role": "developer"}`` |
| parts ``input_text``, ``output_text`` | ``{"type": "text", "text"}`` (2) |
| part ``input_image`` | image block: ``data:`` URL -> base64, else url source (2) |
| consecutive ``function_call`` items | ONE assistant message, ``content=[]`` (3) |
| ``function_call_output`` | ``tool`` message: ``call_id`` -> ``tool_call_id``, ``output`` -> content |
| other item fields | ``metadata["openai_responses"]``, verbatim |

(1) also in the ``"type": "message"`` form, and with ``id`` and ``status``
(kept in the patch).
(2) ``annotations``, ``logprobs``, ``detail`` and a ``type`` unusual for the
role are kept in the block's patch.
(3) one ``tool_calls`` entry per item (``call_id`` -> ``id``); the item's
``id`` and ``status`` are kept in the entry's ``"openai_responses"`` patch.

:func:`to_openai_responses` writes stored messages from any source as:

| stored | Responses items |
|---|---|
| system / user / assistant content | a message item ``{"role", "content"}`` (4) |
| assistant ``tool_calls``, ``tool_use`` blocks | ``function_call`` items after the message item (5) |
| ``tool`` message | ``function_call_output``; list content as parts |
| ``tool_result`` block (user) | ``function_call_output`` before the rest of the user's (6) |
| ``thinking``, ``redacted_thinking`` | left out |

(4) text parts are ``input_text``, or ``output_text`` with ``annotations:
[]`` for the assistant.
(5) the message item is left out if it would be empty.
(6) ``output``: the result's text blocks joined by newlines; the user
message itself is left out if nothing else remains.

Other item types (``reasoning``, ``item_reference``, built-in tool calls...)
and parts (``input_file``, ``input_image`` by ``file_id``, ``refusal``) raise
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
    diff,
    fail,
    field_str,
    overlay,
    patch_of,
    result_text,
    source_from_url,
    url_from_source,
    with_patch,
)
from glide_memory.models import Content, Message, Role

NS = "openai_responses"
"""The metadata, block and tool-call key of this format's patches."""

_ROLES = {"system": Role.SYSTEM, "developer": Role.SYSTEM, "user": Role.USER, "assistant": Role.ASSISTANT}


def from_openai_responses(items: object) -> list[Message]:
    """Return stored messages for a Responses API ``input`` list.

    Args:
        items: The request's ``input`` items, as plain dicts.

    Returns:
        Stored messages which :func:`to_openai_responses` turns back into an
        equal list.

    Raises:
        InvalidContentError: ``items`` is not a list of supported items.
    """
    items = as_list(items, "input")
    converted: list[Message] = []
    index = 0
    while index < len(items):
        what = f"input[{index}]"
        item = as_dict(items[index], what)
        kind = item.get("type", "message")
        if kind == "function_call":
            calls = []
            while index < len(items) and isinstance(items[index], dict) and items[index].get("type") == kind:
                calls.append(_call(items[index], f"input[{index}]"))
                index += 1
            converted.append(Message(role=Role.ASSISTANT, content=[], tool_calls=calls))
            continue
        if kind == "message":
            role = _ROLES.get(field_str(item, "role", what))
            if role is None:
                fail(f"{what}: unknown role {item['role']!r}")
            message = Message(role=role, content=_content(item.get("content"), role, f"{what} content"))
        elif kind == "function_call_output":
            content = _content(item.get("output"), Role.TOOL, f"{what} output")
            message = Message(role=Role.TOOL, content=content, tool_call_id=field_str(item, "call_id", what))
        else:
            fail(f"{what}: item type {kind!r} is not supported")
        converted.append(with_patch(message, NS, diff(item, _render(message, what)[-1])))
        index += 1
    return converted


def to_openai_responses(messages: object) -> list[JSONDict]:
    """Return Responses API ``input`` items for stored messages from any source.

    Args:
        messages: Stored messages, oldest first.

    Returns:
        New dicts sharing nothing with ``messages``.

    Raises:
        InvalidContentError: a message has no Responses form.
    """
    return [item for what, _, message in checked(messages, neutral) for item in _render(message, what)]


def _render(message: Message, what: str) -> list[JSONDict]:
    role = Role(message.role)
    patch = patch_of(message, NS)
    if role is Role.TOOL:
        if message.tool_call_id is None:
            fail(f"{what}: a tool message needs a tool_call_id")
        output = _parts(message.content, role, what)
        return [overlay({"type": "function_call_output", "call_id": message.tool_call_id, "output": output}, patch)]
    if message.tool_calls and role is not Role.ASSISTANT:
        fail(f"{what}: only assistant messages carry tool_calls")
    rendered: list[JSONDict] = []
    calls = [_call_item(call, f"{what} tool_calls[{i}]") for i, call in enumerate(message.tool_calls or [])]
    content = message.content
    if isinstance(content, list):
        kept = []
        for index, block in enumerate(content):
            where = f"{what} content[{index}]"
            kind = field_str(block, "type", where)
            if kind == "tool_result":
                if role is not Role.USER:
                    fail(f"{where}: only user messages carry tool results")
                call_id = field_str(block, "tool_use_id", where)
                text = result_text(block, where)
                rendered.append({"type": "function_call_output", "call_id": call_id, "output": text})
            elif kind == "tool_use":
                if role is not Role.ASSISTANT:
                    fail(f"{where}: only assistant messages carry tool uses")
                calls.append(_call_item(call_from_tool_use(block, where), where))
            elif kind not in DROPPED:
                kept.append(block)
        if rendered and not kept:
            return rendered
        content = kept
    body = _parts(content, role, what)
    if body or not calls:  # a tool-calling turn without text needs no message item
        rendered.append(overlay({"role": role.value, "content": body}, patch))
    return rendered + calls


def _call(item: JSONDict, what: str) -> JSONDict:
    function = {"name": field_str(item, "name", what), "arguments": field_str(item, "arguments", what)}
    call: JSONDict = {"id": field_str(item, "call_id", what), "type": "function", "function": function}
    patch = diff(item, _call_item(call, what))
    if patch:
        call[NS] = patch
    return call


def _call_item(call: object, what: str) -> JSONDict:
    call = check_tool_call(call, what)
    function = call["function"]
    item = {"type": "function_call", "call_id": call["id"], "name": function["name"]}
    return overlay({**item, "arguments": function["arguments"]}, block_patch(call, NS))


def _content(raw: object, role: Role, what: str) -> Content:
    if isinstance(raw, str):
        return raw
    return [_block(part, role, f"{what}[{i}]") for i, part in enumerate(as_list(raw, what))]


def _parts(content: Content, role: Role, what: str) -> str | list[JSONDict]:
    if isinstance(content, str):
        return content
    return [_part(block, role, f"{what} content[{i}]") for i, block in enumerate(content)]


def _part(block: JSONDict, role: Role, what: str) -> JSONDict:
    kind = block.get("type")
    if kind == "text":
        text = field_str(block, "text", what)
        if role is Role.ASSISTANT:
            part: JSONDict = {"type": "output_text", "text": text, "annotations": []}
        else:
            part = {"type": "input_text", "text": text}
    elif kind == "image":
        part = {"type": "input_image", "image_url": url_from_source(block, what)}
    else:
        fail(f"{what}: a {kind!r} block has no Responses form")
    return overlay(part, block_patch(block, NS))


def _block(part: object, role: Role, what: str) -> JSONDict:
    part = as_dict(part, what)
    kind = field_str(part, "type", what)
    if kind in ("input_text", "output_text"):
        block: JSONDict = {"type": "text", "text": field_str(part, "text", what)}
    elif kind == "input_image":
        block = {"type": "image", "source": source_from_url(field_str(part, "image_url", what))}
    else:
        fail(f"{what}: content part type {kind!r} is not supported")
    patch = diff(part, _part(block, role, what))
    if patch:
        block[NS] = patch
    return block
