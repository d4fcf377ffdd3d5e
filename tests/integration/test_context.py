"""Context a model accepts: pinned prompts, whole tool exchanges, lossless summaries, provider formats."""

from __future__ import annotations

import asyncio

import pytest

from glide_memory import InvalidInputError, Message, Role, SessionStore, SummaryConflictError
from tests.support import Client

CALL = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}


async def summarize_text(previous: Message | None, messages: list[Message]) -> str:
    """A deterministic summarizer: what it covered, after the previous summary."""
    before = f"{previous.content} + " if previous else ""
    return before + " | ".join(str(m.content) for m in messages)


async def test_system_prompt_survives_the_count_window(store: SessionStore, user_id: str) -> None:
    """After a system prompt and ten turns with max_messages=6, the prompt is still first and six turns follow."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "system", "You are terse.", 4)
    for n in range(10):
        await store.add_message(sid, "user", f"turn {n}", 1, max_messages=6)
    stored = await store.get_messages(sid)
    assert [m.content for m in stored] == ["You are terse.", *(f"turn {n}" for n in range(4, 10))]
    assert stored[0].pinned and not stored[1].pinned


async def test_pinned_messages_anywhere_are_kept_in_order(store: SessionStore, user_id: str) -> None:
    """A message pinned mid-conversation survives trimming and moves to the front, in order with the others."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "system", "rules", 1)
    await store.add_message(sid, "user", "keep me", 1, message_id="keep")
    assert await store.pin_message(sid, "keep")
    for n in range(8):
        await store.add_message(sid, "user", f"t{n}", 1, max_messages=3)
    assert [m.content for m in await store.get_messages(sid)] == ["rules", "keep me", "t5", "t6", "t7"]
    assert await store.pin_message(sid, "keep", pinned=False)
    await store.add_message(sid, "user", "t8", 1, max_messages=3)
    assert [m.content for m in await store.get_messages(sid)] == ["rules", "t6", "t7", "t8"]
    assert not await store.pin_message(sid, "never-stored")
    found = await store.get_message_by_id(sid, "keep")
    assert found is None  # it was trimmed once unpinned


async def test_count_window_never_opens_with_an_orphan_tool_result(store: SessionStore, user_id: str) -> None:
    """When the window cuts a tool call, its results go too (OpenAI tool_calls and Anthropic blocks)."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "user", "weather?", 1)
    await store.add_message(sid, "assistant", "", 1, tool_calls=[CALL])
    await store.add_message(sid, "tool", "sunny", 1, tool_call_id="call_1")
    await store.add_message(sid, "assistant", [{"type": "tool_use", "id": "t2", "name": "clock", "input": {}}], 1)
    await store.add_message(sid, "user", [{"type": "tool_result", "tool_use_id": "t2", "content": "noon"}], 1)
    await store.add_message(sid, "assistant", "It is sunny at noon.", 1)
    await store.add_message(sid, "user", "thanks", 1, max_messages=4)  # would keep from the tool reply
    assert [m.content for m in await store.get_messages(sid)] == [
        [{"type": "tool_use", "id": "t2", "name": "clock", "input": {}}],
        [{"type": "tool_result", "tool_use_id": "t2", "content": "noon"}],
        "It is sunny at noon.",
        "thanks",
    ]
    await store.add_message(sid, "user", "bye", 1, max_messages=3)  # cuts the tool_use: its result goes too
    assert [m.content for m in await store.get_messages(sid)] == ["It is sunny at noon.", "thanks", "bye"]


async def test_token_window_keeps_pins_and_whole_tool_exchanges(store: SessionStore, user_id: str) -> None:
    """The token window returns the pinned prompt first and never starts with a tool reply cut from its call."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "system", "You help with weather.", 2)
    await store.add_message(sid, "user", "weather in Paris?", 3)
    await store.add_message(sid, "assistant", "", 5, tool_calls=[CALL])
    await store.add_message(sid, "tool", '{"temp": 21}', 2, tool_call_id="call_1")
    window = await store.history(sid).window(max_tokens=6)
    assert [m.role for m in window] == [Role.SYSTEM]  # the tool reply alone would be an orphan
    window = await store.get_window(sid, max_tokens=9)
    assert [m.role for m in window] == [Role.SYSTEM, Role.ASSISTANT, Role.TOOL]
    assert [m.role for m in await store.get_window(sid)] == [Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.TOOL]


async def test_token_counter_counts_when_the_caller_does_not(client: Client, user_id: str) -> None:
    """A store's token_counter fills tokens_used when it is left out; explicit counts win."""
    store = SessionStore(client, token_counter=lambda message: len(str(message.content)) // 4 + 1)
    sid = (await store.create_session(user_id)).session_id
    counted = await store.add_message(sid, "user", "x" * 40)
    given = await store.add_message(sid, "user", "y" * 40, 3)
    batch = await store.add_messages(sid, [Message(role=Role.USER, content="z" * 8)])
    assert (counted.tokens, given.tokens, batch[0].tokens) == (11, 3, 3)
    assert (await store.get_session_info(sid)).token_count == 17
    with pytest.raises(InvalidInputError, match="token_counter"):
        await SessionStore(client, token_counter=lambda message: -1).add_message(sid, "user", "bad")


async def test_summaries_archive_instead_of_deleting(store: SessionStore, user_id: str) -> None:
    """summarize keeps the summary and a watermark; covered messages stay readable in the archive."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "system", "rules", 1)
    for n in range(6):
        await store.add_message(sid, "user", f"m{n}", 2, message_id=f"m{n}")
    summary = await store.summarize(sid, summarize_text, keep_last=2)
    assert summary is not None and (summary.covered, summary.through) == (4, "m3")
    assert summary.message.content == "m0 | m1 | m2 | m3" and summary.message.pinned
    assert [m.content for m in await store.get_messages(sid)] == ["rules", "m4", "m5"]
    everything = await store.get_messages(sid, include_archived=True)
    assert [m.content for m in everything] == ["rules", "m0", "m1", "m2", "m3", "m4", "m5"]  # as they came in
    context = await store.get_context(sid)
    assert [m.content for m in context] == ["rules", "m0 | m1 | m2 | m3", "m4", "m5"]
    info = await store.get_session_info(sid)
    assert (info.message_count, info.token_count) == (7, 13)  # counters are untouched
    await store.add_message(sid, "user", "m6", 2, message_id="m6")
    again = await store.summarize(sid, summarize_text, keep_last=1)
    assert again is not None and again.covered == 6 and again.message.content == "m0 | m1 | m2 | m3 + m4 | m5"
    assert (await store.get_summary(sid)) == again
    assert await store.summarize(sid, summarize_text, keep_last=5) is None  # nothing left to cover


async def test_summaries_fit_a_token_budget(store: SessionStore, user_id: str) -> None:
    """keep_tokens keeps the newest within a budget; get_context gives its budget to pins and summary first."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "system", "rules", 3)
    for n in range(6):
        await store.add_message(sid, "user", f"m{n}", 5)
    await store.summarize(sid, lambda previous, messages: _text("short"), keep_tokens=10)
    assert [m.content for m in await store.get_messages(sid)] == ["rules", "m4", "m5"]
    context = await store.get_context(sid, max_tokens=9)
    assert [m.content for m in context] == ["rules", "short", "m5"]  # 3 + 1 + 5 tokens


async def _text(text: str) -> str:
    return text


async def test_appends_during_a_summary_are_kept(store: SessionStore, user_id: str) -> None:
    """Messages appended while the summarizer runs are neither lost nor covered."""
    sid = (await store.create_session(user_id)).session_id
    for n in range(5):
        await store.add_message(sid, "user", f"m{n}", 1, message_id=f"m{n}")

    async def slow(previous: Message | None, messages: list[Message]) -> str:
        await store.add_message(sid, "user", "arrived meanwhile", 1, message_id="late")
        return await summarize_text(previous, messages)

    summary = await store.summarize(sid, slow, keep_last=1)
    assert summary is not None and summary.through == "m3"
    assert [m.content for m in await store.get_messages(sid)] == ["m4", "arrived meanwhile"]
    assert [m.id for m in await store.get_messages(sid, include_archived=True)] == [
        "m0",
        "m1",
        "m2",
        "m3",
        "m4",
        "late",
    ]


async def test_racing_summarizers_leave_one_summary(store: SessionStore, user_id: str) -> None:
    """Two summarizers racing on one session: one summary is stored, the other raises and stores nothing."""
    sid = (await store.create_session(user_id)).session_id
    for n in range(6):
        await store.add_message(sid, "user", f"m{n}", 1, message_id=f"m{n}")
    started, second_done = asyncio.Event(), asyncio.Event()

    async def first(previous: Message | None, messages: list[Message]) -> str:
        started.set()
        await second_done.wait()  # the other summary is stored while this summarizer runs
        return "first"

    async def second(previous: Message | None, messages: list[Message]) -> str:
        return "second"

    async def run_second() -> object:
        await started.wait()
        try:
            return await store.summarize(sid, second, keep_last=2)
        finally:
            second_done.set()

    results = await asyncio.gather(store.summarize(sid, first, keep_last=2), run_second(), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1 and isinstance(losers[0], SummaryConflictError)
    assert losers[0].retryable
    stored = await store.get_summary(sid)
    assert stored is not None and stored.message.content == "second" and stored.covered == 4
    everything = await store.get_messages(sid, include_archived=True)
    assert [m.id for m in everything] == [f"m{n}" for n in range(6)]  # each message once


async def test_a_summary_never_splits_a_tool_exchange(store: SessionStore, user_id: str) -> None:
    """When the kept part would open with a tool result, the result is summarized with its call."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "user", "weather?", 1)
    await store.add_message(sid, "assistant", "", 1, tool_calls=[CALL])
    await store.add_message(sid, "tool", "sunny", 1, tool_call_id="call_1")
    await store.add_message(sid, "assistant", "Sunny.", 1)
    summary = await store.summarize(sid, summarize_text, keep_last=2)
    assert summary is not None and summary.covered == 3
    assert [m.content for m in await store.get_messages(sid)] == ["Sunny."]


async def test_context_in_provider_formats(store: SessionStore, user_id: str) -> None:
    """get_context returns ready-to-send OpenAI messages and Anthropic system + messages."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "system", "You help with weather.", 2)
    await store.add_message(sid, "user", "weather in Paris?", 3)
    await store.add_message(sid, "assistant", None or "", 5, tool_calls=[CALL])
    await store.add_message(sid, "tool", '{"temp": 21}', 2, tool_call_id="call_1")
    openai = await store.get_context(sid, format="openai")
    assert openai == [
        {"role": "system", "content": "You help with weather."},
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "content": '{"temp": 21}', "tool_call_id": "call_1"},
    ]
    anthropic = await store.get_context(sid, format="anthropic")
    assert anthropic["system"] == "You help with weather."
    assert [m["role"] for m in anthropic["messages"]] == ["user", "assistant", "user"]
    assert anthropic["messages"][1]["content"][-1] == {
        "type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}
    }  # fmt: skip
    assert anthropic["messages"][2]["content"][0]["type"] == "tool_result"
    responses = await store.get_context(sid, format="openai_responses")
    assert [item.get("type", "message") for item in responses][-2:] == ["function_call", "function_call_output"]
    with pytest.raises(InvalidInputError):
        await store.get_context(sid, format="gemini")  # type: ignore[call-overload]


async def test_a_summary_keeps_a_call_whose_results_are_still_to_come(store: SessionStore) -> None:
    """A trailing call without results is not summarized, so its results never arrive orphaned."""
    sid = (await store.create_session(None)).session_id
    await store.add_message(sid, "user", "q", 1, message_id="q")
    await store.add_message(sid, "assistant", "", 1, message_id="call", tool_calls=[CALL])

    async def summarizer(previous: Message | None, messages: list[Message]) -> str:
        return "s"

    summary = await store.summarize(sid, summarizer, keep_last=0)
    assert summary is not None and summary.through == "q"
    await store.add_message(sid, "tool", "21", 1, tool_call_id="call_1")
    assert [m.id for m in await store.get_messages(sid)][-2:][0] == "call"
