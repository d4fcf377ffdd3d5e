"""Edits of a stored list: pop, rewrite, remove by id and archive, each atomic and exactly once."""

from __future__ import annotations

import pytest

from glide_memory import Message, PermissionDeniedError, Role, SessionNotFoundError, SessionStore
from tests.support import Client, snapshot

CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def _user(text: str, message_id: str | None = None, tokens: int = 1) -> Message:
    return Message(role=Role.USER, content=text, id=message_id, tokens=tokens)


async def test_pop_removes_the_newest_and_releases_its_id(store: SessionStore, user_id: str) -> None:
    """pop_message returns the newest message, keeps the counters, and its id can be appended again."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_messages(sid, [_user("a", "a"), _user("b", "b")])
    popped = await store.pop_message(sid)
    assert popped is not None and (popped.id, popped.content) == ("b", "b")
    assert [m.id for m in await store.get_messages(sid)] == ["a"]
    await store.add_message(sid, "user", "b again", 1, message_id="b")
    assert [m.content for m in await store.get_messages(sid)] == ["a", "b again"]
    info = await store.get_session_info(sid)
    assert (info.message_count, info.messages_stored) == (3, 2)


async def test_pop_of_an_empty_list_or_thread_returns_none(store: SessionStore, user_id: str) -> None:
    """Popping an empty conversation or a thread never written returns None; a missing session raises."""
    sid = (await store.create_session(user_id)).session_id
    assert await store.pop_message(sid) is None
    assert await store.pop_message(sid, thread="never") is None
    with pytest.raises(SessionNotFoundError):
        await store.pop_message("no-such-session-pop")


async def test_popping_a_pinned_message_keeps_windows_right(store: SessionStore, user_id: str) -> None:
    """A popped pinned message leaves the pin count, so the count window keeps counting right."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "user", "u1", 1)
    await store.add_message(sid, "system", "rules", 1)
    await store.pop_message(sid)
    for n in range(3):
        await store.add_message(sid, "user", f"u{n + 2}", 1, max_messages=2)
    assert [m.content for m in await store.get_messages(sid)] == ["u3", "u4"]


async def test_set_messages_replaces_the_list(store: SessionStore, user_id: str) -> None:
    """set_messages stores exactly the given list; new ids are counted, dropped ids are released."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_messages(sid, [_user("a", "a", 2), _user("b", "b", 3)])
    stored = await store.set_messages(sid, [_user("b", "b", 3), _user("summary", "s", 5)], thread=None)
    assert [m.id for m in stored] == ["b", "s"]
    assert [m.content for m in await store.get_messages(sid)] == ["b", "summary"]
    info = await store.get_session_info(sid)
    assert (info.message_count, info.token_count) == (3, 10)
    await store.add_message(sid, "user", "a is new again", 1, message_id="a")
    assert [m.id for m in await store.get_messages(sid)] == ["b", "s", "a"]
    assert await store.set_messages(sid, []) == []
    assert await store.get_messages(sid) == []


async def test_set_messages_of_a_thread_registers_it(store: SessionStore, user_id: str) -> None:
    """A thread written by set_messages is a thread like any other: listed, expiring and deleted with the session."""
    sid = (await store.create_session(user_id)).session_id
    await store.set_messages(sid, [_user("x", "x")], thread="agent")
    assert await store.threads(sid) == ["agent"]
    assert [m.content for m in await store.get_messages(sid, thread="agent")] == ["x"]
    assert await store.delete_session(sid)


async def test_delete_messages_by_id(store: SessionStore, user_id: str) -> None:
    """delete_messages removes just the named messages, wherever they are, and reports how many."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_messages(sid, [_user(t, t) for t in "abcde"])
    assert await store.delete_messages(sid, ["b", "d", "zz"]) == 2
    assert [m.id for m in await store.get_messages(sid)] == ["a", "c", "e"]
    assert await store.delete_messages(sid, []) == 0
    assert await store.delete_messages(sid, ["a"], thread="none-here") == 0


async def test_archive_moves_the_oldest_and_keeps_tool_exchanges_whole(store: SessionStore, user_id: str) -> None:
    """archive_messages moves the oldest unpinned messages, with the results of calls it moved, and keeps pins."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "system", "rules", 1, message_id="sys")
    await store.add_message(sid, "user", "q", 1, message_id="q")
    await store.add_message(sid, "assistant", "", 1, message_id="call", tool_calls=[CALL])
    await store.add_message(sid, "tool", "42", 1, message_id="result", tool_call_id="c1")
    await store.add_message(sid, "assistant", "it is 42", 1, message_id="answer")
    assert await store.archive_messages(sid, 2) == 3
    assert [m.id for m in await store.get_messages(sid)] == ["sys", "answer"]
    assert [m.id for m in await store.get_archived_messages(sid)] == ["q", "call", "result"]
    assert [m.id for m in await store.get_messages(sid, include_archived=True)] == [
        "sys", "q", "call", "result", "answer",
    ]  # fmt: skip
    assert await store.archive_messages(sid, 0) == 0


async def test_a_view_may_not_edit_another_users_list(ns_store: SessionStore, client: Client, namespace: str) -> None:
    """Every edit through another user's view is refused and changes nothing."""
    sid = (await ns_store.create_session("alice")).session_id
    await ns_store.add_message(sid, "user", "mine", 1, message_id="m")
    before = await snapshot(client, f"{namespace}*")
    bob = ns_store.for_user("bob")
    for attempt in (
        bob.pop_message(sid),
        bob.set_messages(sid, []),
        bob.delete_messages(sid, ["m"]),
        bob.archive_messages(sid, 1),
        bob.get_archived_messages(sid),
    ):
        with pytest.raises(PermissionDeniedError):
            await attempt
    assert await snapshot(client, f"{namespace}*") == before


async def test_edits_expire_with_the_session(store: SessionStore, client: Client, user_id: str) -> None:
    """The ops hash an edit writes never outlives the session's meta and goes with delete_session."""
    sid = (await store.create_session(user_id, ttl=100)).session_id
    await store.add_messages(sid, [_user("a", "a"), _user("b", "b")])
    await store.pop_message(sid)
    ops = store.schema.keys(sid).ops
    assert 0 < await client.pttl(ops) <= await client.pttl(store.schema.meta(sid)) + 1000
    await store.delete_session(sid)
    assert not await client.exists([ops])
