"""A store scoped to one user: another user's session raises PermissionDeniedError, atomically, for every call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from glide_memory import Message, PermissionDeniedError, Role, SessionStore
from tests.support import Client, snapshot

Call = Callable[[SessionStore, str], Awaitable[object]]

CALLS: list[Call] = [
    lambda s, sid: s.get_messages(sid),
    lambda s, sid: s.get_messages(sid, last=1),
    lambda s, sid: s.get_message(sid, 0),
    lambda s, sid: s.get_window(sid, max_tokens=100),
    lambda s, sid: s.count_messages(sid),
    lambda s, sid: s.get_session_info(sid),
    lambda s, sid: s.exists(sid),
    lambda s, sid: s.threads(sid),
    lambda s, sid: s.read_range(sid, 0, 5),
    lambda s, sid: s.get_record(sid, "integration", "state"),
    lambda s, sid: s.records(sid, "integration"),
    lambda s, sid: s.add_message(sid, "user", "intrusion", 1),
    lambda s, sid: s.add_messages(sid, [Message(role=Role.USER, content="x")], thread="t"),
    lambda s, sid: s.update_session(sid, title="mine now"),
    lambda s, sid: s.touch(sid, ttl=5),
    lambda s, sid: s.clear_messages(sid),
    lambda s, sid: s.replace_message(sid, Message(role=Role.USER, content="x", id="m1")),
    lambda s, sid: s.put_record(sid, "integration", "state", "stolen"),
    lambda s, sid: s.delete_session(sid),
    lambda s, sid: s.create_session("alice", session_id="x-" + sid),
]


@pytest.mark.parametrize("call", CALLS, ids=range(len(CALLS)))
async def test_another_users_session_is_refused_and_untouched(
    ns_store: SessionStore, client: Client, namespace: str, call: Call
) -> None:
    """Every call of bob's view on alice's session raises PermissionDeniedError and changes nothing."""
    sid = (await ns_store.create_session("alice", title="private")).session_id
    await ns_store.add_message(sid, "user", "secret", 3, message_id="m1")
    await ns_store.put_record(sid, "integration", "state", "x")
    before = await snapshot(client, f"{namespace}*")
    bob = ns_store.for_user("bob")
    with pytest.raises(PermissionDeniedError) as caught:
        await call(bob, sid)
    assert caught.value.user_id == "bob" or caught.value.session_id is not None
    assert not caught.value.retryable
    assert await snapshot(client, f"{namespace}*") == before


async def test_a_users_view_works_on_their_own_sessions(ns_store: SessionStore) -> None:
    """The owner's view creates, writes, reads, lists and deletes their sessions as the store does."""
    alice = ns_store.for_user("alice")
    sid = (await alice.create_session(None, title="mine")).session_id
    assert (await ns_store.get_session_info(sid)).user_id == "alice"
    await alice.add_message(sid, "user", "hello", 2)
    await alice.touch(sid)
    assert [m.content for m in await alice.get_messages(sid)] == ["hello"]
    assert [m.content for m in await alice.get_window(sid, max_tokens=10)] == ["hello"]
    assert await alice.count_messages(sid) == 1 and await alice.exists(sid)
    assert [s.session_id for s in await alice.list_user_sessions("alice")] == [sid]
    with pytest.raises(PermissionDeniedError):
        await alice.list_user_sessions("bob")
    with pytest.raises(PermissionDeniedError):
        await alice.reindex_user_sessions()
    assert await alice.delete_session(sid)
    await alice.close()  # a view's close leaves the store open
    assert not ns_store.closed and alice.user_id == "alice" and ns_store.user_id is None
