"""A session is one unit: threads and records live in its slot, share its TTL and go with delete_session."""

from __future__ import annotations

import pytest

from glide_memory import EmbeddedServer, InvalidIdError, Message, Role, SessionNotFoundError, SessionStore
from tests.support import Client, keys_matching


async def test_threads_are_conversations_of_one_session(store: SessionStore, user_id: str) -> None:
    """Messages go to named threads or the main conversation; counters and messages_stored cover them all."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "user", "main", 1)
    await store.add_message(sid, "user", "to agent a", 2, thread="agent a")
    await store.add_messages(sid, [Message(role=Role.ASSISTANT, content="b", tokens=3)], thread="b/ü")
    assert [m.content for m in await store.get_messages(sid)] == ["main"]
    assert [m.content for m in await store.get_messages(sid, thread="agent a")] == ["to agent a"]
    assert await store.count_messages(sid, thread="b/ü") == 1
    assert await store.count_messages(sid, thread="never written") == 0
    assert await store.threads(sid) == ["agent a", "b/ü"]
    info = await store.get_session_info(sid)
    assert (info.message_count, info.messages_stored, info.token_count) == (3, 3, 6)
    listed = await store.list_user_sessions(user_id)
    assert [(s.message_count, s.messages_stored) for s in listed] == [(3, 3)]
    history = store.history(sid, thread="agent a")
    await history.append("assistant", "reply", 1)
    assert [m.content async for m in history] == ["to agent a", "reply"]
    assert await history.clear() == 2 and await store.count_messages(sid) == 1


async def test_message_ids_are_unique_across_threads(store: SessionStore, user_id: str) -> None:
    """An id stored in one thread is a repeat (or a conflict) in every other: exactly once per session."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "user", "x", message_id="m1", thread="a")
    await store.add_message(sid, "user", "x", message_id="m1", thread="b")  # a repeat: no-op
    assert await store.count_messages(sid, thread="b") == 0


async def test_records_are_kept_apart_from_metadata(store: SessionStore, user_id: str) -> None:
    """Records never show in SessionInfo.metadata and cannot be touched through update_session."""
    sid = (await store.create_session(user_id, metadata={"plan": "pro"})).session_id
    assert await store.put_record(sid, "integration", "state", b'{"a": 1}')
    assert not await store.put_record(sid, "integration", "state", b"again", only_if="absent")
    assert await store.put_record(sid, "integration", "state", "v2", only_if="present")
    assert not await store.put_record(sid, "integration", "other", "x", only_if="present")
    assert await store.get_record(sid, "integration", "state") == b"v2"
    assert await store.get_records(sid, "integration", ["state", "nope"]) == [b"v2", None]
    assert await store.records(sid, "integration") == {"state": b"v2"}
    assert (await store.get_session_info(sid)).metadata == {"plan": "pro"}
    with pytest.raises(InvalidIdError):
        await store.put_record(sid, "meta", "x", "y")
    assert await store.delete_record(sid, "integration", "state")
    assert not await store.delete_record(sid, "integration", "state")
    with pytest.raises(SessionNotFoundError):
        await store.put_record("no-such-session", "integration", "state", "x")


async def test_replace_message_edits_in_place(store: SessionStore, user_id: str) -> None:
    """replace_message swaps the stored message with the same id and leaves the counters alone."""
    sid = (await store.create_session(user_id)).session_id
    for n in range(5):
        await store.add_message(sid, "user", f"m{n}", 1, message_id=f"id{n}", thread="t")
    edited = Message(role=Role.USER, content="[redacted]", tokens=1, id="id3")
    assert await store.replace_message(sid, edited, thread="t")
    assert [m.content for m in await store.get_messages(sid, thread="t")] == ["m0", "m1", "m2", "[redacted]", "m4"]
    assert not await store.replace_message(sid, Message(role=Role.USER, content="x", id="gone"), thread="t")
    await store.add_message(sid, "user", "[redacted]", 1, message_id="id3", thread="t")  # the new version: a no-op
    info = await store.get_session_info(sid)
    assert (info.message_count, info.messages_stored) == (5, 5)


async def test_one_ttl_for_every_key_of_a_session(store: SessionStore, client: Client, user_id: str) -> None:
    """Touching a session refreshes its threads and records too, so nothing of it expires before the rest."""
    sid = (await store.create_session(user_id, ttl=600)).session_id
    await store.add_message(sid, "user", "main")
    await store.add_message(sid, "user", "side", thread="agent-1")
    await store.put_record(sid, "integration", "state", "x")
    keys = [key for key in await keys_matching(client, f"*{sid}*") if b"user_sessions" not in key]
    assert len(keys) == 5  # meta, chat, msgids, the thread and the records
    for n, key in enumerate(keys):  # as if time had passed, differently for each key
        await client.pexpire(key, 100_000 + 1000 * n)
    await store.touch(sid)
    ttls = [await client.pttl(key) for key in keys]
    assert all(590_000 < ttl <= 600_000 for ttl in ttls), ttls


async def test_a_second_store_learns_the_companions(client: Client, user_id: str) -> None:
    """A store that never saw a session's companions learns them and still refreshes and deletes them all."""
    first, second = SessionStore(client), SessionStore(client)
    sid = (await first.create_session(user_id, ttl=60)).session_id
    await first.add_message(sid, "user", "side", thread="t1")
    await first.put_record(sid, "integration", "state", "x")
    await second.touch(sid, ttl=120)
    keys = [key for key in await keys_matching(client, f"*{sid}*") if b"user_sessions" not in key]
    ttls = [await client.ttl(key) for key in keys]
    assert len(keys) == 4 and all(ttl > 60 for ttl in ttls)  # meta, msgids, thread, records
    await second.add_message(sid, "user", "more", thread="t2")  # first's cache is stale now
    await first.add_message(sid, "user", "again", thread="t1")
    assert await second.delete_session(sid)
    assert await keys_matching(client, f"*{sid}*") == []


async def test_core_only_acl_can_delete_plain_sessions() -> None:
    """A user granted only the core key patterns manages plain sessions end to end, delete included."""
    with EmbeddedServer() as server:
        async with await SessionStore.connect(server.url) as admin:
            await admin.client.custom_command(
                ["ACL", "SETUSER", "core", "on", ">pw", "~chat:*", "~meta:*", "~msgids:*", "~ops:*",
                 "~vec:*", "~vecmsg:*", "~user_sessions:*", "+@all"]
            )  # fmt: skip
        async with await SessionStore.connect(f"valkey://core:pw@127.0.0.1:{server.port}") as store:
            sid = (await store.create_session("u1")).session_id
            await store.add_message(sid, "user", "hi", 1)
            await store.touch(sid, ttl=600)
            assert [s.session_id for s in await store.list_user_sessions("u1")] == [sid]
            assert await store.delete_session(sid)
            assert await store.list_user_sessions("u1") == []


async def test_put_records_writes_and_removes_several_at_once(store: SessionStore) -> None:
    """put_records sets and removes several records of one kind in one atomic call."""
    sid = (await store.create_session(None)).session_id
    await store.put_record(sid, "integration", "gone", "old")
    before = store.requests_sent
    await store.put_records(sid, "integration", {"a": "1", "b": b"\x00\xff", "gone": None})
    assert store.requests_sent - before == 1
    assert await store.records(sid, "integration") == {"a": b"1", "b": b"\x00\xff"}
    with pytest.raises(SessionNotFoundError):
        await store.put_records("no-such-session-x", "integration", {"a": "1"})


async def test_a_store_that_never_saw_a_thread_still_edits_it(store: SessionStore, client: Client) -> None:
    """A fresh store (no companion cache) clears, pops and edits a thread and deletes a record it never saw."""
    sid = (await store.create_session(None)).session_id
    await store.add_messages(sid, [Message(role=Role.USER, content=f"t{n}", id=f"t{n}") for n in range(3)], thread="t")
    await store.put_record(sid, "integration", "state", "x")
    fresh = SessionStore(client)
    assert (await fresh.pop_message(sid, thread="t") or Message(role=Role.USER, content="")).id == "t2"
    assert await fresh.delete_messages(sid, ["t0"], thread="t") == 1
    assert await SessionStore(client).replace_message(sid, Message(role=Role.USER, content="e", id="t1"), thread="t")
    assert await SessionStore(client).delete_record(sid, "integration", "state")
    assert await SessionStore(client).clear_messages(sid, thread="t") == 1
    assert await store.threads(sid) == ["t"]
