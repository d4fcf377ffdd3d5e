"""ChatHistory: one session's messages as an object."""

from __future__ import annotations

import pytest

from glide_memory import CorruptedEntryError, Message, Role, SessionNotFoundError, SessionStore
from tests.support import Client


async def test_history_appends_reads_and_windows(store: SessionStore, user_id: str) -> None:
    """append, messages, window, get, length and info all act on the bound session."""
    sid = (await store.create_session(user_id)).session_id
    history = store.history(sid)
    await history.append("system", "Be brief.", 3)
    await history.append("user", "Hi", 2)
    tool_call = [{"type": "tool_use", "id": "c1", "name": "clock", "input": {"tz": "UTC"}}]
    await history.append("assistant", tool_call, 4, tool_calls=[{"id": "c1", "name": "clock"}])
    await history.append(
        "tool", [{"type": "tool_result", "tool_use_id": "c1", "content": "12:00"}], 1, tool_call_id="c1"
    )
    assert await history.length() == 4
    assert [m.role for m in await history.messages()] == [Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.TOOL]
    (latest_result,) = await history.messages(last=1)
    assert latest_result.content[0]["content"] == "12:00"  # type: ignore[index]
    # the pinned system prompt takes its 3 tokens first; a result whose call does not fit is left out too
    assert [m.role for m in await history.window(max_tokens=8)] == [Role.SYSTEM, Role.ASSISTANT, Role.TOOL]
    assert [m.role for m in await history.window(max_tokens=5)] == [Role.SYSTEM]
    second = await history.get(1)
    assert second is not None and second.content == "Hi"
    latest = await history.get(-2)
    assert latest is not None and latest.tool_calls == [{"id": "c1", "name": "clock"}]
    assert (await history.info()).token_count == 10
    assert "ChatHistory" in repr(history)


async def test_history_iterates_all_pages_in_order(store: SessionStore, user_id: str) -> None:
    """async for yields every message oldest first across several pages."""
    sid = (await store.create_session(user_id)).session_id
    history = store.history(sid)
    stored = await history.extend([Message(role=Role.USER, content=f"m{n}", tokens=1) for n in range(250)])
    seen = [message async for message in history]
    assert seen == stored
    await history.clear()
    assert [message async for message in history] == []
    assert (await history.info()).message_count == 250


async def test_history_iteration_names_corrupted_entry(store: SessionStore, client: Client, user_id: str) -> None:
    """Iteration stops with CorruptedEntryError naming the absolute index of a bad entry."""
    sid = (await store.create_session(user_id)).session_id
    history = store.history(sid)
    await history.extend([Message(role=Role.USER, content=str(n)) for n in range(120)])
    await client.lset(f"chat:{sid}", 110, '{"role": "alien", "content": "x"}')
    seen = []
    with pytest.raises(CorruptedEntryError) as caught:
        async for message in history:
            seen.append(message)
    assert (caught.value.key, caught.value.index) == (f"chat:{sid}", 110)
    assert len(seen) == 110


async def test_history_of_deleted_session_raises(store: SessionStore, user_id: str) -> None:
    """Every read of a history whose session was deleted raises SessionNotFoundError."""
    sid = (await store.create_session(user_id)).session_id
    history = store.history(sid)
    await history.append("user", "hi")
    await store.delete_session(sid)
    for call in (history.messages(), history.length(), history.window(max_tokens=10), history.get(0)):
        with pytest.raises(SessionNotFoundError) as caught:
            await call
        assert caught.value.session_id == sid
    with pytest.raises(SessionNotFoundError):
        async for _ in history:
            pass


async def test_append_without_tokens_uses_the_token_counter(client: Client) -> None:
    """ChatHistory.append leaves tokens_used to the store's token_counter, as add_message does."""
    store = SessionStore(client, token_counter=lambda message: len(str(message.content)))
    sid = (await store.create_session(None)).session_id
    history = store.history(sid)
    await history.append("user", "four")
    await history.append("user", "given", tokens_used=1)
    assert [m.tokens for m in await history.messages()] == [4, 1]
    assert (await history.info()).token_count == 5
