"""Provider format converters: exact round trips, cross-format rules, bad input (no server)."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from collections.abc import Callable
from typing import Any, cast

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from glide_memory.errors import InvalidContentError
from glide_memory.formats import (
    from_anthropic,
    from_openai_chat,
    from_openai_responses,
    to_anthropic,
    to_openai_chat,
    to_openai_responses,
)
from glide_memory.integrations.strands.formats import from_strands, to_strands
from glide_memory.models import Message, Role

JSON = dict[str, Any]

# ---------------------------------------------------------------------------
# Documented examples, as the providers' guides write them.

# OpenAI function calling guide (Chat Completions): the model's tool call
# (content null) is appended, then the tool's reply, then the final answer.
CHAT_WEATHER: list[JSON] = [
    {"role": "user", "content": "What's the weather like in Paris today?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_12345xyz",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"latitude":48.8566,"longitude":2.3522}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_12345xyz", "content": "14"},
    {"role": "assistant", "content": "The current temperature in Paris is 14°C (57.2°F)."},
]

# The same assistant turn as ``completion.choices[0].message.model_dump()`` gives it.
CHAT_SDK_DUMP: JSON = {
    "content": None,
    "refusal": None,
    "role": "assistant",
    "annotations": [],
    "audio": None,
    "function_call": None,
    "tool_calls": CHAT_WEATHER[1]["tool_calls"],
}

# OpenAI cookbook parallel function calling: three calls, tool replies with ``name``.
CHAT_PARALLEL: list[JSON] = [
    {"role": "user", "content": "What's the weather like in San Francisco, Tokyo, and Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{city}",
                "type": "function",
                "function": {"name": "get_current_weather", "arguments": f'{{"location": "{city}"}}'},
            }
            for city in ("San Francisco", "Tokyo", "Paris")
        ],
    },
    *(
        {
            "tool_call_id": f"call_{city}",
            "role": "tool",
            "name": "get_current_weather",
            "content": json.dumps({"location": city, "temperature": temperature, "unit": "fahrenheit"}),
        }
        for city, temperature in (("San Francisco", "72"), ("Tokyo", "10"), ("Paris", "22"))
    ),
]

CHAT_IMAGES: list[JSON] = [
    {"role": "developer", "content": "Describe images briefly."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What's in this image?"},
            {
                "type": "image_url",
                "image_url": {
                    "url": "https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/"
                    "Gfp-wisconsin-madison-the-nature-boardwalk.jpg/"
                    "2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg",
                    "detail": "high",
                },
            },
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ=="}},
        ],
    },
]

# OpenAI function calling guide (Responses API): ``input_messages.append(tool_call)``
# with the model's output item, then the function_call_output.
RESPONSES_WEATHER: list[JSON] = [
    {"role": "user", "content": "What's the weather like in Paris today?"},
    {
        "type": "function_call",
        "id": "fc_12345xyz",
        "call_id": "call_12345xyz",
        "name": "get_weather",
        "arguments": '{"latitude":48.8566,"longitude":2.3522}',
        "status": "completed",
    },
    {"type": "function_call_output", "call_id": "call_12345xyz", "output": "14"},
    {
        "id": "msg_67b73f697ba4819183a15cc17d011509",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "The current temperature in Paris is 14°C.", "annotations": []}],
    },
]

RESPONSES_IMAGES: list[JSON] = [
    {"role": "developer", "content": "Describe images briefly."},
    {
        "role": "user",
        "content": [
            {"type": "input_text", "text": "what's in this image?"},
            {
                "type": "input_image",
                "image_url": "https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/"
                "Gfp-wisconsin-madison-the-nature-boardwalk.jpg/"
                "2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg",
            },
        ],
    },
    {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==", "detail": "high"}
        ],
    },
]

# Anthropic tool use guide: tool_use in the assistant turn, tool_result in the next user turn.
ANTHROPIC_SYSTEM = "You are a weather assistant. Answer in one sentence."
TOOLU = "toolu_01A09q90qw90lq917835lq9"
ANTHROPIC_WEATHER: list[JSON] = [
    {"role": "user", "content": "What's the weather like in San Francisco?"},
    {
        "role": "assistant",
        "content": [
            {
                "type": "text",
                "text": "<thinking>I need to use get_weather, and the user wants SF, "
                "which is likely San Francisco, CA.</thinking>",
            },
            {
                "type": "tool_use",
                "id": TOOLU,
                "name": "get_weather",
                "input": {"location": "San Francisco, CA", "unit": "celsius"},
            },
        ],
    },
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": TOOLU, "content": "15 degrees"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "It is 15 degrees Celsius in San Francisco."}]},
]

ANTHROPIC_IMAGES: list[JSON] = [
    {
        "role": "user",
        "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRgABAQ=="}},
            {
                "type": "image",
                "source": {
                    "type": "url",
                    "url": "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg",
                },
            },
            {"type": "text", "text": "Compare these two images.", "cache_control": {"type": "ephemeral"}},
        ],
    }
]

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
)

# Strands Agents: Bedrock-shaped blocks, image bytes, tool results with text and json.
STRANDS_SYSTEM = "You are a weather assistant."
STRANDS_CONVERSATION: list[JSON] = [
    {"role": "user", "content": [{"text": "What is the weather in Seattle?"}]},
    {
        "role": "assistant",
        "content": [
            {"text": "Let me check."},
            {
                "toolUse": {
                    "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                    "name": "weather",
                    "input": {"city": "Seattle"},
                }
            },
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "toolResult": {
                    "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                    "status": "success",
                    "content": [{"text": "Rainy, 12°C"}, {"json": {"temp_c": 12, "sky": "rain"}}],
                }
            }
        ],
    },
    {"role": "assistant", "content": [{"text": "It is rainy and 12°C in Seattle."}]},
    {
        "role": "user",
        "content": [{"text": "What is in this picture?"}, {"image": {"format": "png", "source": {"bytes": PNG}}}],
    },
]


# ---------------------------------------------------------------------------
# Helpers


def identical(a: object, b: object) -> bool:
    """Return whether a and b are equal with the same types throughout (1 is not True or 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(identical(value, b[key]) for key, value in a.items())
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def assert_storable(messages: list[Message]) -> None:
    """Assert every field a converter filled survives JSON exactly, as the codec stores it."""
    for message in messages:
        for value in (message.content, message.tool_calls, message.metadata):
            assert identical(orjson.loads(orjson.dumps(value)), value)
        assert (message.tokens, message.timestamp, message.id) == (0, None, None)


def assert_valid_anthropic(system: str | list[JSON] | None, messages: list[JSON]) -> None:
    """Assert Anthropic's structural rules: alternation, paired tool ids, no foreign keys."""
    assert system is None or isinstance(system, str) or all(block["type"] == "text" for block in system)
    allowed = {
        "text": {"type", "text", "cache_control", "citations"},
        "image": {"type", "source", "cache_control"},
        "tool_use": {"type", "id", "name", "input", "cache_control"},
        "tool_result": {"type", "tool_use_id", "content", "is_error", "cache_control"},
        "thinking": {"type", "thinking", "signature"},
    }
    pending: set[str] = set()
    for index, message in enumerate(messages):
        assert message["role"] == ("user" if index % 2 == 0 else "assistant"), messages
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            assert set(block) <= allowed[block["type"]], block
        results = [block["tool_use_id"] for block in blocks if block["type"] == "tool_result"]
        assert set(results) == pending, (results, pending)
        assert blocks[: len(results)] == [b for b in blocks if b["type"] == "tool_result"]
        pending = {block["id"] for block in blocks if block["type"] == "tool_use"}
        assert not pending or message["role"] == "assistant"
        for block in blocks:
            if block["type"] == "tool_use":
                assert isinstance(block["input"], dict)


def assert_valid_chat(messages: list[JSON]) -> None:
    """Assert Chat Completions' structural rules: each tool call answered right after, known keys only."""
    pending: list[str] = []
    for message in messages:
        if message["role"] == "tool":
            assert message["tool_call_id"] in pending
            pending.remove(message["tool_call_id"])
            continue
        assert not pending, f"unanswered tool calls {pending}"
        assert set(message) <= {"role", "content", "name", "tool_calls", "tool_call_id"}
        pending = [call["id"] for call in message.get("tool_calls", [])]
        for call in message.get("tool_calls", []):
            assert set(call) == {"id", "type", "function"} and isinstance(call["function"]["arguments"], str)
        for part in message["content"] if isinstance(message["content"], list) else []:
            assert part["type"] in ("text", "image_url") and set(part) == {"type", part["type"]}
    assert not pending


# ---------------------------------------------------------------------------
# Exact round trips of the documented examples


ROUND_TRIPS: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
    ("chat weather", lambda: to_openai_chat(from_openai_chat(CHAT_WEATHER)), lambda: CHAT_WEATHER),
    ("chat sdk dump", lambda: to_openai_chat(from_openai_chat([CHAT_SDK_DUMP])), lambda: [CHAT_SDK_DUMP]),
    ("chat parallel", lambda: to_openai_chat(from_openai_chat(CHAT_PARALLEL)), lambda: CHAT_PARALLEL),
    ("chat images", lambda: to_openai_chat(from_openai_chat(CHAT_IMAGES)), lambda: CHAT_IMAGES),
    (
        "responses weather",
        lambda: to_openai_responses(from_openai_responses(RESPONSES_WEATHER)),
        lambda: RESPONSES_WEATHER,
    ),
    (
        "responses images",
        lambda: to_openai_responses(from_openai_responses(RESPONSES_IMAGES)),
        lambda: RESPONSES_IMAGES,
    ),
    (
        "anthropic weather",
        lambda: to_anthropic(from_anthropic(ANTHROPIC_WEATHER, system=ANTHROPIC_SYSTEM)),
        lambda: (ANTHROPIC_SYSTEM, ANTHROPIC_WEATHER),
    ),
    ("anthropic images", lambda: to_anthropic(from_anthropic(ANTHROPIC_IMAGES)), lambda: (None, ANTHROPIC_IMAGES)),
    (
        "strands",
        lambda: to_strands(from_strands(STRANDS_CONVERSATION, system_prompt=STRANDS_SYSTEM)),
        lambda: (STRANDS_SYSTEM, STRANDS_CONVERSATION),
    ),
]


@pytest.mark.parametrize(("name", "round_trip", "original"), ROUND_TRIPS, ids=[case[0] for case in ROUND_TRIPS])
def test_documented_examples_round_trip_exactly(
    name: str, round_trip: Callable[[], object], original: Callable[[], object]
) -> None:
    """Every documented provider example comes back identical, value types included."""
    before = copy.deepcopy(original())
    assert identical(round_trip(), before)
    assert identical(original(), before)  # the input was not modified


def test_chat_weather_is_stored_in_neutral_form_without_metadata() -> None:
    """A documented Chat Completions tool conversation needs no patch: null content is [] and calls stay verbatim."""
    assert from_openai_chat(CHAT_WEATHER) == [
        Message(role=Role.USER, content="What's the weather like in Paris today?"),
        Message(role=Role.ASSISTANT, content=[], tool_calls=CHAT_WEATHER[1]["tool_calls"]),
        Message(role=Role.TOOL, content="14", tool_call_id="call_12345xyz"),
        Message(role=Role.ASSISTANT, content="The current temperature in Paris is 14°C (57.2°F)."),
    ]


def test_chat_fields_without_a_neutral_home_go_to_the_openai_chat_patch() -> None:
    """developer, SDK-dump fields, a missing content key and image detail are kept as minimal patches."""
    stored = from_openai_chat([CHAT_IMAGES[0], CHAT_SDK_DUMP, {"role": "assistant", "tool_calls": []}, CHAT_IMAGES[1]])
    assert stored[0].role is Role.SYSTEM and stored[0].metadata == {"openai_chat": {"role": "developer"}}
    assert stored[1].metadata == {
        "openai_chat": {"refusal": None, "annotations": [], "audio": None, "function_call": None}
    }
    assert stored[2].content == [] and stored[2].metadata == {"openai_chat": {"_absent": ["content"]}}
    image, data = cast(list[JSON], stored[3].content)[1:]
    assert image["openai_chat"] == {"image_url": {"detail": "high"}}
    assert data == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRgABAQ=="},
    }
    assert_storable(stored)


def test_responses_function_calls_become_one_assistant_message_with_tool_calls() -> None:
    """Consecutive function_call items form one assistant message whose entries keep the items' id and status."""
    items = [
        {"type": "function_call", "call_id": "call_a", "name": "f", "arguments": "{}"},
        {
            "type": "function_call",
            "id": "fc_b",
            "call_id": "call_b",
            "name": "g",
            "arguments": '{"x":1}',
            "status": "completed",
        },
    ]
    stored = from_openai_responses(items)
    assert stored == [
        Message(
            role=Role.ASSISTANT,
            content=[],
            tool_calls=[
                {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "g", "arguments": '{"x":1}'},
                    "openai_responses": {"id": "fc_b", "status": "completed"},
                },
            ],
        )
    ]
    assert to_openai_responses(stored) == items
    assert to_openai_chat(stored) == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": '{"x":1}'}},
            ],
        }
    ]


def test_anthropic_content_is_stored_verbatim() -> None:
    """Anthropic blocks are the neutral form, so they are stored as given, cache_control included."""
    stored = from_anthropic(
        ANTHROPIC_IMAGES, system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    )
    assert stored == [
        Message(
            role=Role.SYSTEM, content=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
        ),
        Message(role=Role.USER, content=ANTHROPIC_IMAGES[0]["content"]),
    ]


def test_strands_image_bytes_are_stored_as_base64_and_json_results_as_marked_text() -> None:
    """Strands bytes become base64 text and a json tool result becomes compact JSON text, so storage is JSON."""
    stored = from_strands(STRANDS_CONVERSATION)
    assert_storable(stored)
    result = cast(list[JSON], stored[2].content)[0]
    assert result == {
        "type": "tool_result",
        "tool_use_id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
        "content": [
            {"type": "text", "text": "Rainy, 12°C"},
            {"type": "text", "text": '{"temp_c":12,"sky":"rain"}', "converse": {"_json": True}},
        ],
    }
    image = cast(list[JSON], stored[4].content)[1]
    assert image == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()},
    }


def test_strands_error_status_and_extra_fields_round_trip() -> None:
    """An error tool result maps to is_error, and tracking_id, metadata and reasoningSignature are kept."""
    messages = [
        {
            "role": "assistant",
            "tracking_id": "7f1c9a52-3b1e-4f6a-9a5d-2b8f0c1d7e44",
            "metadata": {"usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}},
            "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": [1, 2], "reasoningSignature": "sig"}}],
        },
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": "t1", "status": "error", "content": [{"text": "boom"}]}}],
        },
    ]
    stored = from_strands(messages)
    assert cast(list[JSON], stored[1].content)[0]["is_error"] is True
    assert to_strands(stored) == (None, messages)


def test_anthropic_consecutive_same_role_turns_are_not_merged_back() -> None:
    """Anthropic input with two user turns in a row comes back as two turns, not one."""
    messages = [{"role": "user", "content": "Hello"}, {"role": "user", "content": "Are you there?"}]
    stored = from_anthropic(messages)
    assert stored[1].metadata == {"anthropic": {"_separate": True}}
    assert to_anthropic(stored) == (None, messages)


def test_anthropic_thinking_blocks_pass_through_and_are_dropped_elsewhere() -> None:
    """Thinking blocks return to Anthropic as given and are left out for OpenAI and Strands."""
    thinking = {
        "type": "thinking",
        "thinking": "The user wants SF weather.",
        "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h",
    }
    messages = [
        {"role": "user", "content": "Weather in SF?"},
        {"role": "assistant", "content": [thinking, ANTHROPIC_WEATHER[1]["content"][1]]},
    ]
    stored = from_anthropic(messages)
    assert to_anthropic(stored) == (None, messages)
    assert to_openai_chat(stored)[1]["content"] is None
    assert to_strands(stored)[1][1]["content"] == [
        {
            "toolUse": {
                "toolUseId": TOOLU,
                "name": "get_weather",
                "input": {"location": "San Francisco, CA", "unit": "celsius"},
            }
        }
    ]


def test_non_object_tool_input_is_wrapped_for_anthropic() -> None:
    """A Strands toolUse whose input is not an object reaches Anthropic as {"_raw": <its JSON>}."""
    stored = from_strands(
        [{"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": [1, "ü"]}}]}]
    )
    assert to_anthropic(stored)[1][0]["content"] == [
        {"type": "tool_use", "id": "t", "name": "f", "input": {"_raw": '[1,"ü"]'}}
    ]
    assert to_openai_chat(stored)[0]["tool_calls"][0]["function"]["arguments"] == '[1,"ü"]'


def test_redacted_thinking_round_trips_for_anthropic() -> None:
    """A redacted_thinking block is stored and returned to Anthropic as given."""
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}]},
    ]
    assert to_anthropic(from_anthropic(messages)) == (None, messages)


# ---------------------------------------------------------------------------
# Cross-format conversions


def test_chat_tool_conversation_to_anthropic() -> None:
    """Chat Completions tool_calls become tool_use blocks with parsed input and the tool reply a tool_result turn."""
    assert to_anthropic(from_openai_chat(CHAT_WEATHER)) == (
        None,
        [
            {"role": "user", "content": "What's the weather like in Paris today?"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "call_12345xyz",
                        "name": "get_weather",
                        "input": {"latitude": 48.8566, "longitude": 2.3522},
                    }
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_12345xyz", "content": "14"}]},
            {"role": "assistant", "content": "The current temperature in Paris is 14°C (57.2°F)."},
        ],
    )


def test_parallel_tool_results_merge_into_one_anthropic_user_turn() -> None:
    """Consecutive tool messages, and user text after them, merge into one user turn in order."""
    follow_up = {"role": "user", "content": "And in Berlin?"}
    system, messages = to_anthropic(from_openai_chat([*CHAT_PARALLEL, follow_up]))
    assert system is None
    assert len(messages) == 3
    assert messages[1]["content"] == [
        {"type": "tool_use", "id": f"call_{city}", "name": "get_current_weather", "input": {"location": city}}
        for city in ("San Francisco", "Tokyo", "Paris")
    ]
    assert messages[2] == {
        "role": "user",
        "content": [
            *(
                {"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m["content"]}
                for m in CHAT_PARALLEL[2:]
            ),
            {"type": "text", "text": "And in Berlin?"},
        ],
    }
    assert_valid_anthropic(system, messages)


def test_anthropic_tool_conversation_to_openai_chat() -> None:
    """tool_use blocks become tool_calls with compact JSON arguments and each tool_result a tool message."""
    stored = from_anthropic(ANTHROPIC_WEATHER, system=ANTHROPIC_SYSTEM)
    assert to_openai_chat(stored) == [
        {"role": "system", "content": ANTHROPIC_SYSTEM},
        {"role": "user", "content": "What's the weather like in San Francisco?"},
        {
            "role": "assistant",
            "content": [ANTHROPIC_WEATHER[1]["content"][0]],
            "tool_calls": [
                {
                    "id": TOOLU,
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"location":"San Francisco, CA","unit":"celsius"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": TOOLU, "content": "15 degrees"},
        {"role": "assistant", "content": [{"type": "text", "text": "It is 15 degrees Celsius in San Francisco."}]},
    ]


def test_anthropic_tool_conversation_to_openai_responses() -> None:
    """tool_use blocks become function_call items after the assistant's text and tool_result a function_call_output."""
    items = to_openai_responses(from_anthropic(ANTHROPIC_WEATHER, system=ANTHROPIC_SYSTEM))
    assert items[2:5] == [
        {
            "role": "assistant",
            "content": [{"type": "output_text", "text": ANTHROPIC_WEATHER[1]["content"][0]["text"], "annotations": []}],
        },
        {
            "type": "function_call",
            "call_id": TOOLU,
            "name": "get_weather",
            "arguments": '{"location":"San Francisco, CA","unit":"celsius"}',
        },
        {"type": "function_call_output", "call_id": TOOLU, "output": "15 degrees"},
    ]
    assert items[0] == {"role": "system", "content": ANTHROPIC_SYSTEM}


def test_strands_conversation_to_openai_chat() -> None:
    """Strands toolUse, toolResult (text and json) and image bytes become valid Chat Completions messages."""
    assert to_openai_chat(from_strands(STRANDS_CONVERSATION, system_prompt=STRANDS_SYSTEM)) == [
        {"role": "system", "content": STRANDS_SYSTEM},
        {"role": "user", "content": [{"type": "text", "text": "What is the weather in Seattle?"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Let me check."}],
            "tool_calls": [
                {
                    "id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Seattle"}'},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
            "content": 'Rainy, 12°C\n{"temp_c":12,"sky":"rain"}',
        },
        {"role": "assistant", "content": [{"type": "text", "text": "It is rainy and 12°C in Seattle."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}},
            ],
        },
    ]


def test_strands_conversation_to_anthropic_is_valid() -> None:
    """Strands blocks become Anthropic blocks, patches stripped, error status as is_error."""
    system, messages = to_anthropic(from_strands(STRANDS_CONVERSATION, system_prompt=STRANDS_SYSTEM))
    assert system == STRANDS_SYSTEM
    assert messages[2]["content"][0]["content"][1] == {"type": "text", "text": '{"temp_c":12,"sky":"rain"}'}
    assert_valid_anthropic(system, messages)


def test_images_convert_between_data_urls_and_base64_sources() -> None:
    """A data: URL becomes a base64 source for Anthropic and Strands, and back; detail is left out."""
    stored = from_openai_chat(CHAT_IMAGES)
    system, messages = to_anthropic(stored)
    assert system == "Describe images briefly."
    assert messages[0]["content"][1:] == [
        {"type": "image", "source": {"type": "url", "url": CHAT_IMAGES[1]["content"][1]["image_url"]["url"]}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRgABAQ=="}},
    ]
    assert to_openai_chat(from_anthropic(messages))[0]["content"][2] == CHAT_IMAGES[1]["content"][2]
    assert to_openai_responses(from_anthropic(ANTHROPIC_IMAGES))[0]["content"][0] == {
        "type": "input_image",
        "image_url": "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==",
    }
    assert to_strands(from_openai_responses(RESPONSES_IMAGES[2:]))[1][0]["content"][0] == {
        "image": {"format": "jpeg", "source": {"bytes": base64.b64decode("/9j/4AAQSkZJRgABAQ==")}}
    }


def test_directly_written_messages_convert_for_every_provider() -> None:
    """Messages written with add_message (empty text beside tool_calls, a tool reply) give valid provider input."""
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"Zürich"}'}}
    stored = [
        Message(role=Role.SYSTEM, content="Be terse."),
        Message(role=Role.SYSTEM, content="Use metric units."),
        Message(role=Role.USER, content="Population of Zürich?"),
        Message(role=Role.ASSISTANT, content="", tool_calls=[call]),
        Message(role=Role.TOOL, content="421,878", tool_call_id="call_1", name="lookup"),
        Message(role=Role.ASSISTANT, content="About 422,000."),
    ]
    system, messages = to_anthropic(stored)
    assert system == [{"type": "text", "text": "Be terse."}, {"type": "text", "text": "Use metric units."}]
    assert messages[1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "call_1", "name": "lookup", "input": {"q": "Zürich"}}],
    }
    assert_valid_anthropic(system, messages)
    assert to_openai_responses(stored)[3:5] == [
        {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": '{"q":"Zürich"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "421,878"},
    ]
    strands_system, strands_messages = to_strands(stored)
    assert strands_system == [{"text": "Be terse."}, {"text": "Use metric units."}]
    assert strands_messages[2] == {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "call_1", "status": "success", "content": [{"text": "421,878"}]}}],
    }
    assert_valid_chat(to_openai_chat(stored))


def test_tool_results_in_a_user_message_become_tool_messages_in_order() -> None:
    """Each tool_result block becomes its own tool message, in order, before the user's remaining text."""
    user = {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "a",
                "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
            },
            {"type": "tool_result", "tool_use_id": "b", "content": "three", "is_error": True},
            {"type": "tool_result", "tool_use_id": "c"},
            {"type": "text", "text": "Thanks!"},
        ],
    }
    assert to_openai_chat(from_anthropic([user])) == [
        {"role": "tool", "tool_call_id": "a", "content": "one\ntwo"},
        {"role": "tool", "tool_call_id": "b", "content": "three"},
        {"role": "tool", "tool_call_id": "c", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "Thanks!"}]},
    ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city": "Paris"}', {"city": "Paris"}),
        ("", {}),
        ("  ", {}),
        ("[1, 2]", {"_raw": "[1, 2]"}),
        ('{"city": "Par', {"_raw": '{"city": "Par'}),
    ],
)
def test_tool_call_arguments_parse_into_an_input_object(arguments: str, expected: JSON) -> None:
    """Arguments that are a JSON object are parsed; blank ones give {} and anything else is kept under _raw."""
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    stored = [Message(role=Role.ASSISTANT, content=[], tool_calls=[call])]
    assert to_anthropic(stored)[1][0]["content"] == [{"type": "tool_use", "id": "c", "name": "f", "input": expected}]
    assert to_strands(stored)[1][0]["content"] == [{"toolUse": {"toolUseId": "c", "name": "f", "input": expected}}]


def test_non_ascii_text_survives_every_conversion() -> None:
    """Non-ASCII text and tool arguments come through unescaped in every format."""
    text = "Wie wird das Wetter in München? 天気は？ 🌦️"
    stored = [
        Message(role=Role.USER, content=text),
        Message(
            role=Role.ASSISTANT,
            content=[{"type": "tool_use", "id": "t", "name": "wetter", "input": {"stadt": "München"}}],
        ),
    ]
    chat = to_openai_chat(stored)
    assert chat[0]["content"] == text and chat[1]["tool_calls"][0]["function"]["arguments"] == '{"stadt":"München"}'
    assert to_openai_chat(from_openai_chat(chat)) == chat
    assert to_anthropic(from_openai_chat(chat)) == (
        None,
        [{"role": "user", "content": text}, to_anthropic(stored)[1][1]],
    )
    assert to_strands(stored)[1][0]["content"] == [{"text": text}]
    assert to_openai_responses(stored)[0] == {"role": "user", "content": text}


def test_outputs_share_nothing_with_stored_messages() -> None:
    """Changing a converter's output leaves the stored messages as they were."""
    stored = from_anthropic(ANTHROPIC_WEATHER, system=ANTHROPIC_SYSTEM)
    before = copy.deepcopy(stored)
    for output in (to_openai_chat(stored), to_openai_responses(stored), to_anthropic(stored)[1], to_strands(stored)[1]):
        for item in output:
            for value in item.values():
                if isinstance(value, list):
                    for entry in value:
                        if isinstance(entry, dict):
                            entry.clear()
                    value.clear()
    assert stored == before


def test_developer_role_becomes_system_for_other_providers() -> None:
    """A Chat Completions developer message is the system prompt for Anthropic and a system item for Responses."""
    stored = from_openai_chat(CHAT_IMAGES[:1])
    assert to_anthropic(stored) == ("Describe images briefly.", [])
    assert to_openai_responses(stored) == [{"role": "system", "content": "Describe images briefly."}]


# ---------------------------------------------------------------------------
# Bad input


def _message(**fields: Any) -> Message:
    return Message(**fields)


BAD_INPUT: list[tuple[str, Callable[[], object]]] = [
    ("chat: not a list", lambda: from_openai_chat({"role": "user", "content": "hi"})),
    ("chat: item not an object", lambda: from_openai_chat([["role", "user"]])),
    ("chat: unknown role", lambda: from_openai_chat([{"role": "robot", "content": "hi"}])),
    ("chat: unhashable role", lambda: from_openai_chat([{"role": ["user"], "content": "hi"}])),
    ("chat: deprecated function role", lambda: from_openai_chat([{"role": "function", "name": "f", "content": "x"}])),
    ("chat: content a number", lambda: from_openai_chat([{"role": "user", "content": 5}])),
    (
        "chat: unknown part",
        lambda: from_openai_chat([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]),
    ),
    ("chat: part without text", lambda: from_openai_chat([{"role": "user", "content": [{"type": "text"}]}])),
    ("chat: tool without id", lambda: from_openai_chat([{"role": "tool", "content": "14"}])),
    (
        "chat: custom tool call",
        lambda: from_openai_chat([{"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "custom": {}}]}]),
    ),
    (
        "chat: call without arguments",
        lambda: from_openai_chat([{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]}]),
    ),
    ("responses: not a list", lambda: from_openai_responses("What's the weather?")),
    ("responses: reasoning item", lambda: from_openai_responses([{"type": "reasoning", "id": "rs_1", "summary": []}])),
    (
        "responses: output without call_id",
        lambda: from_openai_responses([{"type": "function_call_output", "output": "14"}]),
    ),
    (
        "responses: call without arguments",
        lambda: from_openai_responses([{"type": "function_call", "call_id": "c", "name": "f"}]),
    ),
    (
        "responses: file part",
        lambda: from_openai_responses([{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]),
    ),
    (
        "responses: image by file id",
        lambda: from_openai_responses([{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]),
    ),
    ("responses: tool role message", lambda: from_openai_responses([{"role": "tool", "content": "x"}])),
    ("anthropic: not a list", lambda: from_anthropic({"role": "user", "content": "hi"})),
    ("anthropic: system role", lambda: from_anthropic([{"role": "system", "content": "hi"}])),
    ("anthropic: unknown block", lambda: from_anthropic([{"role": "user", "content": [{"type": "video"}]}])),
    (
        "anthropic: result without id",
        lambda: from_anthropic([{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]),
    ),
    (
        "anthropic: input not an object",
        lambda: from_anthropic(
            [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "x"}]}]
        ),
    ),
    ("anthropic: missing content", lambda: from_anthropic([{"role": "user"}])),
    ("anthropic: system a number", lambda: from_anthropic([], system=5)),
    ("anthropic: system image", lambda: from_anthropic([], system=[{"type": "image", "source": {}}])),
    ("strands: not a list", lambda: from_strands(None)),
    ("strands: content a string", lambda: from_strands([{"role": "user", "content": "hi"}])),
    ("strands: unknown block", lambda: from_strands([{"role": "user", "content": [{"video": {}}]}])),
    ("strands: two keys in a block", lambda: from_strands([{"role": "user", "content": [{"text": "a", "image": {}}]}])),
    (
        "strands: result without id",
        lambda: from_strands([{"role": "user", "content": [{"toolResult": {"status": "success", "content": []}}]}]),
    ),
    (
        "strands: image in S3",
        lambda: from_strands(
            [
                {
                    "role": "user",
                    "content": [
                        {"image": {"format": "png", "source": {"location": {"type": "s3", "uri": "s3://b/k"}}}}
                    ],
                }
            ]
        ),
    ),
    ("strands: json outside a result", lambda: from_strands([{"role": "user", "content": [{"json": {}}]}])),
    ("chat: name not a string", lambda: from_openai_chat([{"role": "user", "content": "hi", "name": 5}])),
    (
        "anthropic: tool_use inside a result",
        lambda: from_anthropic(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t", "content": [ANTHROPIC_WEATHER[1]["content"][1]]}
                    ],
                }
            ]
        ),
    ),
    (
        "anthropic: is_error not a bool",
        lambda: from_anthropic(
            [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}]}]
        ),
    ),
    ("strands: system role", lambda: from_strands([{"role": "system", "content": [{"text": "hi"}]}])),
    (
        "strands: toolUse without input",
        lambda: from_strands([{"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "f"}}]}]),
    ),
    (
        "strands: cachePoint in system prompt",
        lambda: from_strands([], system_prompt=[{"text": "hi"}, {"cachePoint": {"type": "default"}}]),
    ),
    (
        "strands: image in system prompt",
        lambda: from_strands([], system_prompt=[{"image": {"format": "png", "source": {"bytes": PNG}}}]),
    ),
    ("to: not a list", lambda: to_openai_chat("hello")),
    ("to: dicts instead of messages", lambda: to_anthropic([{"role": "user", "content": "hi"}])),
    ("to: unknown role", lambda: to_openai_responses([_message(role="robot", content="hi")])),
    ("to: tool without id (chat)", lambda: to_openai_chat([Message(role=Role.TOOL, content="14")])),
    ("to: tool without id (anthropic)", lambda: to_anthropic([Message(role=Role.TOOL, content="14")])),
    ("to: tool without id (responses)", lambda: to_openai_responses([Message(role=Role.TOOL, content="14")])),
    ("to: tool without id (strands)", lambda: to_strands([Message(role=Role.TOOL, content="14")])),
    ("to: block without text", lambda: to_anthropic([Message(role=Role.USER, content=[{"type": "text"}])])),
    ("to: unknown block", lambda: to_openai_chat([Message(role=Role.USER, content=[{"type": "mystery"}])])),
    ("to: block not an object", lambda: to_strands([_message(role=Role.USER, content=["text"])])),
    ("to: bad tool call", lambda: to_anthropic([Message(role=Role.ASSISTANT, content="", tool_calls=[{"id": "c"}])])),
    (
        "to: tool calls on a user",
        lambda: to_openai_responses(
            [Message(role=Role.USER, content="", tool_calls=[CHAT_WEATHER[1]["tool_calls"][0]])]
        ),
    ),
    (
        "to: tool_use in a user turn",
        lambda: to_openai_chat([Message(role=Role.USER, content=[ANTHROPIC_WEATHER[1]["content"][1]])]),
    ),
    (
        "to: image in a tool result",
        lambda: to_openai_chat(
            from_anthropic(
                [
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "t", "content": ANTHROPIC_IMAGES[0]["content"][:1]}
                        ],
                    }
                ]
            )
        ),
    ),
    ("to: image url for strands", lambda: to_strands(from_anthropic(ANTHROPIC_IMAGES))),
    (
        "to: image system prompt",
        lambda: to_anthropic([Message(role=Role.SYSTEM, content=ANTHROPIC_IMAGES[0]["content"][:1])]),
    ),
    (
        "to: bad base64 for strands",
        lambda: to_strands(
            [
                Message(
                    role=Role.USER,
                    content=[{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "***"}}],
                )
            ]
        ),
    ),
    ("to: name not a string", lambda: to_openai_chat([_message(role=Role.USER, content="hi", name=5)])),
    (
        "to: tool result on an assistant",
        lambda: to_openai_responses(
            [Message(role=Role.ASSISTANT, content=[{"type": "tool_result", "tool_use_id": "t"}])]
        ),
    ),
    (
        "to: tool_use on a user (responses)",
        lambda: to_openai_responses([Message(role=Role.USER, content=[ANTHROPIC_WEATHER[1]["content"][1]])]),
    ),
    (
        "to: tool_use without input",
        lambda: to_openai_chat([Message(role=Role.ASSISTANT, content=[{"type": "tool_use", "id": "t", "name": "f"}])]),
    ),
    (
        "to: tool_use without input (strands)",
        lambda: to_strands([Message(role=Role.ASSISTANT, content=[{"type": "tool_use", "id": "t", "name": "f"}])]),
    ),
    (
        "to: tool input not JSON",
        lambda: to_openai_chat(
            from_strands(
                [{"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": b"x"}}]}]
            )
        ),
    ),
    (
        "to: image source by file",
        lambda: to_openai_chat(
            [Message(role=Role.USER, content=[{"type": "image", "source": {"type": "file", "file_id": "f"}}])]
        ),
    ),
    (
        "to: document for responses",
        lambda: to_openai_responses([Message(role=Role.USER, content=[{"type": "document", "source": {}}])]),
    ),
    (
        "to: tool result on an assistant (chat)",
        lambda: to_openai_chat([Message(role=Role.ASSISTANT, content=[{"type": "tool_result", "tool_use_id": "t"}])]),
    ),
    (
        "to: not an image for strands",
        lambda: to_strands(
            [
                Message(
                    role=Role.USER,
                    content=[
                        {"type": "image", "source": {"type": "base64", "media_type": "application/pdf", "data": ""}}
                    ],
                )
            ]
        ),
    ),
    (
        "to: corrupted json result",
        lambda: to_strands(
            [
                Message(
                    role=Role.USER,
                    content=[
                        {
                            "type": "tool_result",
                            "tool_use_id": "t",
                            "content": [{"type": "text", "text": "{", "converse": {"_json": True}}],
                        }
                    ],
                )
            ]
        ),
    ),
    (
        "to: document for strands",
        lambda: to_strands([Message(role=Role.USER, content=[{"type": "document", "source": {}}])]),
    ),
    (
        "to: metadata patch not an object",
        lambda: to_openai_chat([Message(role=Role.USER, content="hi", metadata={"openai_chat": "x"})]),
    ),
]


@pytest.mark.parametrize(("name", "call"), BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_raises_invalid_content_error(name: str, call: Callable[[], object]) -> None:
    """Malformed or unsupported input raises InvalidContentError, never KeyError or TypeError."""
    with pytest.raises(InvalidContentError):
        call()


# ---------------------------------------------------------------------------
# Properties

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
words = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=8)
json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False) | text
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8
)
json_objects = st.dictionaries(text, json_values, max_size=3)
b64 = st.binary(max_size=12).map(lambda data: base64.b64encode(data).decode())
urls = st.sampled_from(["https://example.com/cat.png", "data:image/png;charset=x,abc", "data:,"]) | b64.map(
    lambda data: f"data:image/png;base64,{data}"
)
details = st.sampled_from(["auto", "low", "high"])
arguments = text | json_objects.map(json.dumps)

chat_text_part = st.fixed_dictionaries({"type": st.just("text"), "text": text})
chat_part = chat_text_part | st.fixed_dictionaries(
    {"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": urls}, optional={"detail": details})}
)
chat_call = st.fixed_dictionaries(
    {"id": ids, "type": st.just("function"), "function": st.fixed_dictionaries({"name": ids, "arguments": arguments})}
)
chat_message = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "developer", "user"]), "content": text | st.lists(chat_part, max_size=3)},
        optional={"name": ids},
    ),
    st.fixed_dictionaries(
        {"role": st.just("assistant")},
        optional={
            "content": st.none() | text | st.lists(chat_text_part, max_size=2),
            "tool_calls": st.lists(chat_call, max_size=3),
            "refusal": st.none() | text,
            "name": ids,
        },
    ),
    st.fixed_dictionaries(
        {"role": st.just("tool"), "tool_call_id": ids, "content": text | st.lists(chat_text_part, max_size=2)}
    ),
)


@given(st.lists(chat_message, max_size=6))
def test_chat_round_trip_is_exact(messages: list[JSON]) -> None:
    """Any Chat Completions conversation comes back identical, and its stored form is JSON."""
    stored = from_openai_chat(messages)
    assert_storable(stored)
    assert identical(to_openai_chat(stored), messages)


responses_part: st.SearchStrategy[JSON] = st.one_of(
    st.fixed_dictionaries({"type": st.just("input_text"), "text": text}),
    st.fixed_dictionaries({"type": st.just("output_text"), "text": text}, optional={"annotations": st.just([])}),
    st.fixed_dictionaries({"type": st.just("input_image"), "image_url": urls}, optional={"detail": details}),
)
status = st.sampled_from(["completed", "in_progress", "incomplete"])
responses_item = st.one_of(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "developer", "user", "assistant"]),
            "content": text | st.lists(responses_part, max_size=3),
        },
        optional={"type": st.just("message"), "id": ids, "status": status},
    ),
    st.fixed_dictionaries(
        {"type": st.just("function_call"), "call_id": ids, "name": ids, "arguments": arguments},
        optional={"id": ids, "status": status},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("function_call_output"),
            "call_id": ids,
            "output": text | st.lists(responses_part, max_size=2),
        },
        optional={"id": ids, "status": status},
    ),
)


@given(st.lists(responses_item, max_size=6))
def test_responses_round_trip_is_exact(items: list[JSON]) -> None:
    """Any Responses input list comes back identical, grouped function calls included."""
    stored = from_openai_responses(items)
    assert_storable(stored)
    assert identical(to_openai_responses(stored), items)


anthropic_text = st.fixed_dictionaries(
    {"type": st.just("text"), "text": text}, optional={"cache_control": st.just({"type": "ephemeral"})}
)
anthropic_image = st.fixed_dictionaries(
    {
        "type": st.just("image"),
        "source": st.fixed_dictionaries(
            {"type": st.just("base64"), "media_type": st.sampled_from(["image/png", "image/jpeg"]), "data": b64}
        )
        | st.fixed_dictionaries({"type": st.just("url"), "url": urls}),
    }
)
anthropic_block = st.one_of(
    anthropic_text,
    anthropic_image,
    st.fixed_dictionaries({"type": st.just("tool_use"), "id": ids, "name": ids, "input": json_objects}),
    st.fixed_dictionaries(
        {"type": st.just("tool_result"), "tool_use_id": ids},
        optional={"content": text | st.lists(anthropic_text | anthropic_image, max_size=2), "is_error": st.booleans()},
    ),
    st.fixed_dictionaries({"type": st.just("thinking"), "thinking": text, "signature": ids}),
)
anthropic_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant"]), "content": text | st.lists(anthropic_block, max_size=4)}
)


@given(st.lists(anthropic_message, max_size=6), st.none() | text | st.lists(anthropic_text, max_size=2))
def test_anthropic_round_trip_is_exact(messages: list[JSON], system: str | list[JSON] | None) -> None:
    """Any Anthropic conversation and system prompt come back identical, same-role runs included."""
    stored = from_anthropic(messages, system=system)
    assert_storable(stored)
    assert identical(to_anthropic(stored), (system, messages))


strands_image = st.fixed_dictionaries(
    {
        "image": st.fixed_dictionaries(
            {
                "format": st.sampled_from(["png", "jpeg", "gif", "webp"]),
                "source": st.fixed_dictionaries({"bytes": st.binary(max_size=16)}),
            }
        )
    }
)
strands_result_item = st.one_of(
    st.fixed_dictionaries({"text": text}), st.fixed_dictionaries({"json": json_values}), strands_image
)
strands_block = st.one_of(
    st.fixed_dictionaries({"text": text}),
    strands_image,
    st.fixed_dictionaries(
        {
            "toolUse": st.fixed_dictionaries(
                {"toolUseId": ids, "name": ids, "input": json_values}, optional={"reasoningSignature": ids}
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "toolResult": st.fixed_dictionaries(
                {
                    "toolUseId": ids,
                    "status": st.sampled_from(["success", "error"]),
                    "content": st.lists(strands_result_item, max_size=3),
                }
            )
        }
    ),
)
strands_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant"]), "content": st.lists(strands_block, max_size=4)},
    optional={"tracking_id": ids},
)


@given(
    st.lists(strands_message, max_size=6),
    st.none() | text | st.lists(st.fixed_dictionaries({"text": text}), max_size=2),
)
def test_strands_round_trip_is_exact(messages: list[JSON], system_prompt: str | list[JSON] | None) -> None:
    """Any Strands conversation comes back identical, image bytes and json results included."""
    stored = from_strands(messages, system_prompt=system_prompt)
    assert_storable(stored)
    assert identical(to_strands(stored), (system_prompt, messages))


# A conversation in the abstract: system prompt, then exchanges of
# (question, [(call id, tool name, input, result)], answer).
Exchange = tuple[str, list[tuple[str, str, JSON, str]], str]
conversations = st.tuples(
    words,
    st.lists(
        st.tuples(
            words, st.lists(st.tuples(ids, ids, json_objects, words), max_size=3, unique_by=lambda c: c[0]), words
        ),
        min_size=1,
        max_size=3,
    ),
)


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def as_chat(system: str, exchanges: list[Exchange]) -> list[JSON]:
    out: list[JSON] = [{"role": "system", "content": system}]
    for question, calls, answer in exchanges:
        out.append({"role": "user", "content": question})
        if calls:
            tool_calls = [
                {"id": i, "type": "function", "function": {"name": n, "arguments": _compact(a)}} for i, n, a, _ in calls
            ]
            out.append({"role": "assistant", "content": None, "tool_calls": tool_calls})
            out.extend({"role": "tool", "tool_call_id": i, "content": r} for i, _, _, r in calls)
        out.append({"role": "assistant", "content": answer})
    return out


def as_responses(system: str, exchanges: list[Exchange]) -> list[JSON]:
    out: list[JSON] = [{"role": "system", "content": system}]
    for question, calls, answer in exchanges:
        out.append({"role": "user", "content": question})
        out.extend({"type": "function_call", "call_id": i, "name": n, "arguments": _compact(a)} for i, n, a, _ in calls)
        out.extend({"type": "function_call_output", "call_id": i, "output": r} for i, _, _, r in calls)
        out.append({"role": "assistant", "content": answer})
    return out


def as_anthropic(system: str, exchanges: list[Exchange]) -> tuple[str, list[JSON]]:
    out: list[JSON] = []
    for question, calls, answer in exchanges:
        out.append({"role": "user", "content": question})
        if calls:
            out.append(
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a, _ in calls],
                }
            )
            out.append(
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": i, "content": r} for i, _, _, r in calls],
                }
            )
        out.append({"role": "assistant", "content": answer})
    return system, out


def as_strands(system: str, exchanges: list[Exchange]) -> tuple[str, list[JSON]]:
    out: list[JSON] = []
    for question, calls, answer in exchanges:
        out.append({"role": "user", "content": [{"text": question}]})
        if calls:
            out.append(
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": i, "name": n, "input": a}} for i, n, a, _ in calls],
                }
            )
            results = [
                {"toolResult": {"toolUseId": i, "status": "success", "content": [{"text": r}]}} for i, _, _, r in calls
            ]
            out.append({"role": "user", "content": results})
        out.append({"role": "assistant", "content": [{"text": answer}]})
    return system, out


SOURCES: dict[str, Callable[[str, list[Exchange]], list[Message]]] = {
    "chat": lambda s, x: from_openai_chat(as_chat(s, x)),
    "responses": lambda s, x: from_openai_responses(as_responses(s, x)),
    "anthropic": lambda s, x: from_anthropic(as_anthropic(s, x)[1], system=s),
}
TARGETS: dict[str, tuple[Callable[[list[Message]], object], Callable[[str, list[Exchange]], object]]] = {
    "chat": (to_openai_chat, as_chat),
    "responses": (to_openai_responses, as_responses),
    "anthropic": (to_anthropic, as_anthropic),
    "strands": (to_strands, as_strands),
}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("target", list(TARGETS))
@given(conversation=conversations)
def test_tool_conversations_convert_exactly_between_formats(
    source: str, target: str, conversation: tuple[str, list[Exchange]]
) -> None:
    """A tool-using conversation written in one format converts to exactly its canonical form in another."""
    system, exchanges = conversation
    convert, render = TARGETS[target]
    assert identical(convert(SOURCES[source](system, exchanges)), render(system, exchanges))


@given(conversation=conversations)
def test_strands_tool_conversations_give_valid_provider_input(conversation: tuple[str, list[Exchange]]) -> None:
    """A Strands tool conversation converts to structurally valid Anthropic and Chat Completions input."""
    system, messages = as_strands(*conversation)
    stored = from_strands(messages, system_prompt=system)
    assert_valid_anthropic(*to_anthropic(stored))
    assert_valid_chat(to_openai_chat(stored))
    assert identical(to_strands(from_anthropic(*reversed(to_anthropic(stored)))), (system, messages))


VOCABULARY = [
    "role",
    "content",
    "type",
    "text",
    "tool_calls",
    "tool_call_id",
    "function",
    "arguments",
    "name",
    "id",
    "input",
    "source",
    "image_url",
    "url",
    "call_id",
    "output",
    "toolUse",
    "toolResult",
    "toolUseId",
    "status",
    "image",
    "json",
    "tool_use_id",
    "user",
    "assistant",
    "tool",
    "system",
    "developer",
    "tool_use",
    "tool_result",
    "message",
    "function_call",
    "function_call_output",
    "input_text",
    "base64",
    "bytes",
]
near_miss = st.recursive(
    json_scalars | st.sampled_from(VOCABULARY) | st.binary(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(VOCABULARY), inner, max_size=4),
    max_leaves=12,
)


@given(near_miss, near_miss)
def test_from_converters_raise_only_invalid_content_error(value: object, extra: object) -> None:
    """Arbitrary input to any from_ converter converts or raises InvalidContentError, nothing else."""
    for convert in (
        from_openai_chat,
        from_openai_responses,
        lambda v: from_anthropic(v, system=extra),
        lambda v: from_strands(v, system_prompt=extra),
    ):
        with contextlib.suppress(InvalidContentError):
            convert(value)


@given(
    st.lists(
        st.builds(
            _message,
            role=st.sampled_from([*Role, "robot"]),
            content=text | st.lists(st.dictionaries(st.sampled_from(VOCABULARY), near_miss, max_size=4), max_size=3),
            tool_calls=st.none() | st.lists(near_miss, max_size=2),
            tool_call_id=st.none() | ids,
            metadata=st.none()
            | st.dictionaries(st.sampled_from(["openai_chat", "anthropic", "strands", "x"]), near_miss),
        ),
        max_size=4,
    )
)
def test_to_converters_raise_only_invalid_content_error(messages: list[Message]) -> None:
    """Arbitrary stored messages convert or raise InvalidContentError, nothing else."""
    for convert in (to_openai_chat, to_openai_responses, to_anthropic, to_strands):
        with contextlib.suppress(InvalidContentError):
            convert(messages)
