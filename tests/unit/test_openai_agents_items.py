"""How GlideSession stores Agents SDK items as toolkit messages, without a server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from glide_memory import Message, Role
from glide_memory.formats import to_anthropic, to_openai_chat, to_openai_responses
from glide_memory.integrations.openai_agents import KEY
from glide_memory.integrations.openai_agents._items import items_of, to_message, to_messages

CONVERSATION: list[Any] = [
    {"role": "developer", "content": "Answer briefly."},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Two lookups."}]},
    {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "weather", "arguments": '{"city": "Paris"}'},
    {"type": "function_call", "id": "fc_2", "call_id": "c2", "name": "weather", "arguments": '{"city": "Rome"}'},
    {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    {"type": "function_call_output", "call_id": "c2", "output": "rain"},
    {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "x"}},
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Paris: sunny. Rome: rain.", "annotations": []}],
    },
]


def test_each_item_is_one_message_keeping_the_exact_item() -> None:
    """Every item becomes one message with a fresh distinct id whose metadata holds the item's JSON text."""
    messages = to_messages(CONVERSATION)
    assert len(messages) == len(CONVERSATION)
    assert len({m.id for m in messages}) == len(messages)
    assert [m.metadata for m in messages] == [{KEY: json.dumps(item, ensure_ascii=False)} for item in CONVERSATION]
    assert [item for m in messages for item in items_of(m)] == CONVERSATION


def test_roles_and_readable_content() -> None:
    """Developer and user text, tool calls and their outputs, and assistant text map onto the toolkit's fields."""
    messages = to_messages(CONVERSATION)
    assert [m.role for m in messages] == [
        Role.SYSTEM,
        Role.USER,
        Role.ASSISTANT,
        Role.ASSISTANT,
        Role.ASSISTANT,
        Role.TOOL,
        Role.TOOL,
        Role.ASSISTANT,
        Role.ASSISTANT,
    ]
    assert messages[1].content == "Weather in Paris and Rome?"
    assert messages[3].tool_calls == [
        {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}
    ]
    assert (messages[5].tool_call_id, messages[5].content) == ("c1", "sunny")
    assert messages[-1].content == [{"type": "text", "text": "Paris: sunny. Rome: rain."}]


def test_the_stored_messages_convert_to_every_provider_format() -> None:
    """The neutral messages of a tool-using conversation are valid input for the core's converters."""
    messages = [m.replace(timestamp=1.0) for m in to_messages(CONVERSATION)]
    chat = to_openai_chat(messages)
    assert [call["id"] for m in chat for call in m.get("tool_calls") or []] == ["c1", "c2"]
    assert [m["tool_call_id"] for m in chat if m["role"] == "tool"] == ["c1", "c2"]
    assert [item["type"] for item in to_openai_responses(messages) if item.get("type")] == [
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
    ]
    system, turns = to_anthropic(messages)
    assert system == "Answer briefly."
    assert turns[0] == {"role": "user", "content": "Weather in Paris and Rome?"}
    uses = [block["id"] for block in turns[1]["content"] if block["type"] == "tool_use"]
    results = [block["tool_use_id"] for block in turns[2]["content"]]
    assert uses == results == ["c1", "c2"]  # parallel calls in one turn, their results in the next


@pytest.mark.parametrize(
    ("item", "role", "content"),
    [
        ("plain text", Role.USER, "plain text"),
        (42, Role.USER, "42"),
        ({"role": "critic", "content": "meh"}, Role.USER, "meh"),
        ({"type": "item_reference", "id": "msg_0"}, Role.ASSISTANT, []),
        ({"role": "user", "content": "bad \ud800 text"}, Role.USER, "bad \ufffd text"),
    ],
)
def test_odd_items(item: Any, role: Role, content: Any) -> None:
    """Values the SDK has no type for, unknown items and lone surrogates still give a storable message."""
    message = to_message(item, "m-1")
    assert (message.role, message.content) == (role, content)
    assert items_of(message) == [item]


def test_unserializable_items_raise_type_error() -> None:
    """An item holding a value JSON cannot hold raises TypeError, as json.dumps (and SQLiteSession) does."""
    with pytest.raises(TypeError):
        to_messages([{"role": "user", "content": "ok"}, {"role": "user", "content": object()}])


def test_messages_of_other_code_read_through_the_responses_converter() -> None:
    """A message without the adapter's key reads as its Responses items; one with no Responses form as none."""
    plain = Message(
        role=Role.ASSISTANT,
        content="Hi",
        tool_calls=[{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    )
    assert items_of(plain) == to_openai_responses([plain])
    assert items_of(Message(role=Role.TOOL, content="orphan")) == []
    assert items_of(Message(role=Role.USER, content="x", metadata={KEY: "{not json"})) == []
