"""The stored list is valid model input: under a count window it never holds a tool result without its call.

Checked for both provider styles (OpenAI ``tool_calls``/``tool_call_id``,
Anthropic ``tool_use``/``tool_result`` blocks), with and without pinned
system messages, one message per call and batches, including a window that
cuts a call while its result is still to come.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glide_memory import Message, Role, SessionStore

KINDS = st.sampled_from(["user", "call", "result", "system", "text"])


def _call(style: str, number: int) -> Message:
    cid = f"c{number}"
    if style == "openai":
        call = {"id": cid, "type": "function", "function": {"name": "f", "arguments": "{}"}}
        return Message(role=Role.ASSISTANT, content="", tool_calls=[call])
    return Message(role=Role.ASSISTANT, content=[{"type": "tool_use", "id": cid, "name": "f", "input": {}}])


def _result(style: str, number: int) -> Message:
    cid = f"c{number}"
    if style == "openai":
        return Message(role=Role.TOOL, content="42", tool_call_id=cid)
    return Message(role=Role.USER, content=[{"type": "tool_result", "tool_use_id": cid, "content": "42"}])


def _messages(style: str, kinds: list[str]) -> list[Message]:
    messages, calls, answered = [], 0, 0
    for kind in kinds:
        if kind == "call":
            calls += 1
            messages.append(_call(style, calls))
        elif kind == "result":
            if answered >= calls:
                continue  # a result answers a call made before it
            answered += 1
            messages.append(_result(style, answered))
        elif kind == "system":
            messages.append(Message(role=Role.SYSTEM, content="rules"))
        else:
            messages.append(Message(role=Role.USER if kind == "user" else Role.ASSISTANT, content=kind))
    return messages


def _calls_and_answers(message: Message) -> tuple[set[str], set[str]]:
    calls = {c["id"] for c in message.tool_calls or []}
    answers = {message.tool_call_id} if message.role is Role.TOOL and message.tool_call_id else set()
    blocks: list[Any] = message.content if isinstance(message.content, list) else []
    calls |= {b["id"] for b in blocks if b.get("type") == "tool_use"}
    answers |= {b["tool_use_id"] for b in blocks if b.get("type") == "tool_result"}
    return calls, answers


def _assert_valid(stored: list[Message]) -> None:
    made: set[str] = set()
    for message in stored:
        calls, answers = _calls_and_answers(message)
        assert answers <= made, f"a result without its call: {[m.content for m in stored]}"
        made |= calls


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    style=st.sampled_from(["openai", "anthropic"]),
    kinds=st.lists(KINDS, min_size=1, max_size=10),
    window=st.integers(min_value=1, max_value=4),
    batch=st.integers(min_value=1, max_value=3),
)
async def test_the_stored_list_never_holds_an_orphaned_result(
    store: SessionStore, style: str, kinds: list[str], window: int, batch: int
) -> None:
    """Whatever the order of calls, results and other messages, the stored list keeps each result with its call."""
    sid = (await store.create_session(None)).session_id
    messages = _messages(style, kinds)
    for start in range(0, len(messages), batch):
        await store.add_messages(sid, messages[start : start + batch], max_messages=window)
        stored = await store.get_messages(sid)
        _assert_valid(stored)
        assert len([m for m in stored if not m.pinned]) <= window


async def test_a_result_after_its_call_was_cut_is_not_stored(store: SessionStore) -> None:
    """A window cuts a call while its result is still to come; the late result is counted but not stored."""
    for style in ("openai", "anthropic"):
        sid = (await store.create_session(None)).session_id
        await store.add_message(sid, "system", "rules", 1)
        await store.add_messages(sid, [_call(style, 1)], max_messages=1)
        await store.add_message(sid, "user", "meanwhile", 1, max_messages=1)
        await store.add_messages(sid, [_result(style, 1)], max_messages=1)
        assert [m.content for m in await store.get_messages(sid)] == ["rules", "meanwhile"]
        assert (await store.get_session_info(sid)).message_count == 4


async def test_a_window_keeps_a_whole_exchange_that_fits(store: SessionStore) -> None:
    """A call and its result inside the window both stay."""
    sid = (await store.create_session(None)).session_id
    await store.add_message(sid, "user", "q", 1, max_messages=2)
    await store.add_messages(sid, [_call("openai", 1)], max_messages=2)
    await store.add_messages(sid, [_result("openai", 1)], max_messages=2)
    stored = await store.get_messages(sid)
    assert [(m.role, m.tool_call_id) for m in stored] == [(Role.ASSISTANT, None), (Role.TOOL, "c1")]
