"""Exactly once: a repeated write is a no-op that succeeds; a different write under a used id is refused."""

from __future__ import annotations

import pytest

from glide_memory import Message, MessageConflictError, Role, SessionExistsError, SessionStore
from tests.support import Client, snapshot


async def test_retried_messages_are_stored_once(store: SessionStore, user_id: str) -> None:
    """Sending each of ten messages twice with its id stores ten messages and counts their tokens once."""
    sid = (await store.create_session(user_id)).session_id
    for _ in range(2):
        for n in range(10):
            await store.add_message(sid, "user", f"m{n}", 5, message_id=f"id-{n}")
    info = await store.get_session_info(sid)
    assert (info.message_count, info.token_count, info.messages_stored) == (10, 50, 10)
    assert [m.id for m in await store.get_messages(sid)] == [f"id-{n}" for n in range(10)]


async def test_same_id_with_other_content_is_refused(store: SessionStore, client: Client, user_id: str) -> None:
    """Reusing a message id for a different message raises MessageConflictError and writes nothing."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "user", "original", 3, message_id="m1")
    before = await snapshot(client, f"*{sid}*")
    for change in ({"content": "edited"}, {"tokens_used": 4}, {"role": "assistant"}, {"name": "bob"}):
        arguments = {"role": "user", "content": "original", "tokens_used": 3, **change}
        with pytest.raises(MessageConflictError) as caught:
            await store.add_message(sid, message_id="m1", **arguments)  # type: ignore[arg-type]
        assert caught.value.message_id == "m1" and caught.value.session_id == sid and not caught.value.retryable
    assert await snapshot(client, f"*{sid}*") == before


async def test_a_repeat_is_recognised_later_and_after_trimming(store: SessionStore, user_id: str) -> None:
    """The ids cover the session's lifetime: a repeat is a no-op even after the window trimmed the message."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "user", "first", 1, message_id="first")
    for n in range(5):
        await store.add_message(sid, "user", f"m{n}", 1, max_messages=3)
    await store.add_message(sid, "user", "first", 1, message_id="first", max_messages=3)
    info = await store.get_session_info(sid)
    assert (info.message_count, info.token_count) == (6, 6)
    assert [m.content for m in await store.get_messages(sid)] == ["m2", "m3", "m4"]
    await store.clear_messages(sid)
    await store.add_message(sid, "user", "first", 1, message_id="first")
    assert await store.count_messages(sid) == 0


async def test_add_messages_applies_only_the_new_ones(store: SessionStore, user_id: str) -> None:
    """A batch mixing stored and new ids appends only the new ones, in order, with exact counters."""
    sid = (await store.create_session(user_id)).session_id
    first = [Message(role=Role.USER, content=f"m{n}", tokens=n, id=f"id{n}") for n in range(5)]
    await store.add_messages(sid, first)
    more = [*first[2:], *(Message(role=Role.USER, content=f"m{n}", tokens=n, id=f"id{n}") for n in range(5, 8))]
    await store.add_messages(sid, more)
    info = await store.get_session_info(sid)
    assert (info.message_count, info.token_count) == (8, sum(range(8)))
    assert [m.content for m in await store.get_messages(sid)] == [f"m{n}" for n in range(8)]
    clash = [Message(role=Role.USER, content="new", id="id9"), Message(role=Role.USER, content="changed", id="id1")]
    with pytest.raises(MessageConflictError):
        await store.add_messages(sid, clash)
    assert await store.count_messages(sid) == 8  # the batch is refused as a whole


async def test_add_messages_with_thousands_of_repeats(store: SessionStore, user_id: str) -> None:
    """A batch of 3,000 messages, sent twice, is stored once (the id checks are chunked on the server)."""
    sid = (await store.create_session(user_id)).session_id
    batch = [Message(role=Role.USER, content=f"m{n}", tokens=1, id=f"i{n}") for n in range(3000)]
    await store.add_messages(sid, batch)
    await store.add_messages(sid, batch)
    info = await store.get_session_info(sid)
    assert (info.message_count, info.token_count, info.messages_stored) == (3000, 3000, 3000)


async def test_generated_ids_are_returned_and_stored(store: SessionStore, user_id: str) -> None:
    """Without a message_id the store generates one, returns it, and stores it with the message."""
    sid = (await store.create_session(user_id)).session_id
    sent = [await store.add_message(sid, "user", f"m{n}") for n in range(3)]
    assert len({m.id for m in sent}) == 3
    assert [m.id for m in await store.get_messages(sid)] == [m.id for m in sent]


async def test_message_ids_expire_and_go_with_the_session(store: SessionStore, client: Client, user_id: str) -> None:
    """The msgids hash lives in the session's slot, shares its TTL and is deleted with it."""
    sid = (await store.create_session(user_id, ttl=120)).session_id
    await store.add_message(sid, "user", "hi")
    ids = store.schema.keys(sid).ids
    assert 0 < await client.ttl(ids) <= 120
    assert abs(await client.ttl(ids) - await client.ttl(store.schema.chat(sid))) <= 1
    await store.delete_session(sid)
    assert not await client.exists([ids])


async def test_create_session_with_explicit_id(store: SessionStore, user_id: str) -> None:
    """exist_ok returns the owner's existing session; another user's id or exist_ok=False raises."""
    sid = (await store.create_session(user_id, title="first")).session_id
    await store.add_message(sid, "user", "hi", 2)
    again = await store.create_session(user_id, session_id=sid, title="second", exist_ok=True)
    assert (again.session_id, again.title, again.message_count) == (sid, "first", 1)
    with pytest.raises(SessionExistsError):
        await store.create_session(user_id, session_id=sid)
    with pytest.raises(SessionExistsError, match="another user"):
        await store.create_session("other-" + user_id, session_id=sid, exist_ok=True)


async def test_a_create_that_was_applied_is_recognised(client: Client, user_id: str) -> None:
    """A create whose first attempt was applied (same creation time, same owner) succeeds instead of raising."""
    store = SessionStore(client, clock=lambda: 1_700_000_000.25)
    first = await store.create_session(user_id, session_id=f"fixed-{user_id}")
    # what the store's own retry sends after a lost reply: the same id, owner and creation time
    again = await store.create_session(user_id, session_id=f"fixed-{user_id}")
    assert again == first
    assert [s.session_id for s in await store.list_user_sessions(user_id)] == [first.session_id]
