"""SessionStore against a real server: sessions, messages, metadata, errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from glide_memory import (
    CorruptedEntryError,
    InvalidContentError,
    InvalidFieldError,
    InvalidIdError,
    InvalidInputError,
    InvalidRoleError,
    InvalidTokensError,
    Message,
    Role,
    SessionExistsError,
    SessionNotFoundError,
    SessionStore,
)
from tests.support import Client


async def test_create_session_writes_cookbook_meta_and_index(store: SessionStore, client: Client, user_id: str) -> None:
    """create_session stores the cookbook's meta fields as strings and indexes the session."""
    info = await store.create_session(user_id, model="claude-3-haiku", title="Valkey questions")
    raw = {k.decode(): v.decode() for k, v in (await client.hgetall(f"meta:{info.session_id}")).items()}
    assert raw["user_id"] == user_id
    assert raw["model"] == "claude-3-haiku"
    assert raw["title"] == "Valkey questions"
    assert raw["message_count"] == "0"
    assert raw["token_count"] == "0"
    assert float(raw["created_at"]) == info.created_at == float(raw["last_active"])
    assert await client.sismember(f"user_sessions:{user_id}", info.session_id)
    assert 86390 < await client.ttl(f"meta:{info.session_id}") <= 86400  # the default: 24 h, as the cookbook
    assert info.expires_in_seconds == 86400 and info.ttl == 86400


async def test_session_without_ttl_never_expires(store: SessionStore, client: Client, user_id: str) -> None:
    """ttl=None keeps a session (and its index) until deleted, through appends and touches."""
    sid = (await store.create_session(user_id, ttl=None)).session_id
    await store.add_message(sid, "user", "keep me")
    await store.touch(sid)
    for key in (f"meta:{sid}", f"chat:{sid}", f"msgids:{sid}", f"user_sessions:{user_id}"):
        assert await client.ttl(key) == -1, key
    info = await store.get_session_info(sid)
    assert info.ttl is None and info.expires_in_seconds is None
    await store.touch(sid, ttl=60)
    assert 0 < await client.ttl(f"chat:{sid}") <= 60
    await store.touch(sid, ttl=None)
    assert await client.ttl(f"chat:{sid}") == await client.ttl(f"meta:{sid}") == -1


async def test_generated_ids_are_long_and_distinct(store: SessionStore, user_id: str) -> None:
    """Generated session ids carry 128 random bits and do not repeat."""
    ids = {(await store.create_session(user_id)).session_id for _ in range(20)}
    assert len(ids) == 20
    assert all(len(sid) == 32 and int(sid, 16) >= 0 for sid in ids)


async def test_existing_id_raises_and_changes_nothing(
    store: SessionStore, client: Client, user_id: str, make_id: Callable[[], str]
) -> None:
    """Creating a session with a taken id raises and leaves owner and indexes alone."""
    sid = make_id()
    await store.create_session(user_id, session_id=sid, title="first")
    with pytest.raises(SessionExistsError) as caught:
        await store.create_session("intruder-" + user_id, session_id=sid, title="second")
    assert caught.value.session_id == sid
    info = await store.get_session_info(sid)
    assert (info.user_id, info.title) == (user_id, "first")
    assert not await client.exists([f"user_sessions:intruder-{user_id}"])


async def test_create_rejects_bad_input_before_writing(
    store: SessionStore, client: Client, user_id: str, make_id: Callable[[], str]
) -> None:
    """Bad ids, fields and TTLs raise from the error tree and write nothing."""
    sid = make_id()
    with pytest.raises(InvalidFieldError):
        await store.create_session(user_id, session_id=sid, metadata={"token_count": "9"})
    with pytest.raises(InvalidFieldError):
        await store.create_session(user_id, session_id=sid, metadata={"plan": 3})  # type: ignore[dict-item]
    with pytest.raises(InvalidFieldError):
        await store.create_session(user_id, session_id=sid, title=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        await store.create_session(user_id, session_id=sid, ttl=0)
    with pytest.raises(InvalidIdError):
        await store.create_session("", session_id=sid)
    with pytest.raises(InvalidIdError):
        await store.create_session(user_id, session_id="bad\nid")
    assert not await client.exists([f"meta:{sid}", f"chat:{sid}", f"user_sessions:{user_id}"])


async def test_add_message_appends_counts_and_returns_message(
    store: SessionStore, client: Client, user_id: str
) -> None:
    """add_message RPUSHes JSON, HINCRBYs both counters and updates last_active."""
    sid = (await store.create_session(user_id)).session_id
    before = await store.get_session_info(sid)
    first = await store.add_message(sid, "user", "How fast is HINCRBY?", tokens_used=12)
    second = await store.add_message(sid, Role.ASSISTANT, "About 0.1 ms.", 7, name="bot", metadata={"k": [1, 2]})
    assert first.role is Role.USER and first.tokens == 12 and first.timestamp is not None
    raw = await client.lrange(f"chat:{sid}", 0, -1)
    assert [json.loads(item)["content"] for item in raw] == ["How fast is HINCRBY?", "About 0.1 ms."]
    assert json.loads(raw[1])["role"] == "assistant"
    info = await store.get_session_info(sid)
    assert (info.message_count, info.token_count, info.messages_stored) == (2, 19, 2)
    assert info.last_active >= before.last_active
    assert await store.get_messages(sid) == [first, second]


async def test_add_message_to_missing_session_creates_nothing(
    store: SessionStore, client: Client, make_id: Callable[[], str]
) -> None:
    """Appending to an unknown session raises SessionNotFoundError and writes no key."""
    sid = make_id()
    with pytest.raises(SessionNotFoundError) as caught:
        await store.add_message(sid, "user", "hello", 1)
    assert caught.value.session_id == sid
    assert not await client.exists([f"chat:{sid}", f"meta:{sid}"])


@pytest.mark.parametrize(
    ("role", "content", "tokens", "error"),
    [
        ("wizard", "hi", 1, InvalidRoleError),
        ("user", "hi", -1, InvalidTokensError),
        ("user", "hi", True, InvalidTokensError),
        ("user", "hi", 1.5, InvalidTokensError),
        ("user", 42, 1, InvalidContentError),
        ("user", [{"x": float("nan")}], 1, InvalidContentError),
        ("user", [{"x": b"bytes"}], 1, InvalidContentError),
        ("user", ["not a block"], 1, InvalidContentError),
        ("user", "lone \ud800 surrogate", 1, InvalidContentError),
    ],
)
async def test_bad_message_input_leaves_session_intact(
    store: SessionStore, user_id: str, role: str, content: object, tokens: object, error: type[Exception]
) -> None:
    """Each kind of bad message raises its own error and leaves stored data as it was."""
    sid = (await store.create_session(user_id)).session_id
    kept = await store.add_message(sid, "user", "kept", 3)
    with pytest.raises(error) as caught:
        await store.add_message(sid, role, content, tokens)  # type: ignore[arg-type]
    assert caught.value.session_id == sid  # type: ignore[attr-defined]
    info = await store.get_session_info(sid)
    assert (info.message_count, info.token_count) == (1, 3)
    assert await store.get_messages(sid) == [kept]


async def test_sliding_window_trims_in_the_same_call(store: SessionStore, user_id: str) -> None:
    """max_messages keeps the newest N messages while message_count keeps counting appends."""
    sid = (await store.create_session(user_id)).session_id
    for n in range(7):
        await store.add_message(sid, "user", f"m{n}", 1, max_messages=3)
    assert [m.content for m in await store.get_messages(sid)] == ["m4", "m5", "m6"]
    info = await store.get_session_info(sid)
    assert (info.message_count, info.token_count, info.messages_stored) == (7, 7, 3)


async def test_store_default_window_applies(client: Client, user_id: str) -> None:
    """A store-wide max_messages trims every session unless a call overrides it."""
    async with SessionStore(client, max_messages=2) as windowed:
        sid = (await windowed.create_session(user_id)).session_id
        for n in range(4):
            await windowed.add_message(sid, "user", f"m{n}")
        assert [m.content for m in await windowed.get_messages(sid)] == ["m2", "m3"]
        await windowed.add_message(sid, "user", "m4", max_messages=5)
        assert len(await windowed.get_messages(sid)) == 3
    with pytest.raises(InvalidInputError):
        SessionStore(client, max_messages=0)


async def test_ttl_set_on_both_keys_and_refreshed(store: SessionStore, client: Client, user_id: str) -> None:
    """A session's TTL covers chat and meta and is refreshed by each message."""
    sid = (await store.create_session(user_id, ttl=100)).session_id
    assert 99 <= await client.ttl(f"meta:{sid}") <= 100
    await client.expire(f"meta:{sid}", 10)
    await store.add_message(sid, "user", "hi", 1)
    assert 99 <= await client.ttl(f"meta:{sid}") <= 100
    assert 99 <= await client.ttl(f"chat:{sid}") <= 100
    info = await store.get_session_info(sid)
    assert info.ttl == 100 and info.expires_in_seconds is not None and 99 <= info.expires_in_seconds <= 100


async def test_store_default_ttl_and_touch(client: Client, user_id: str) -> None:
    """The store's default TTL applies to new sessions and touch() can change it."""
    async with SessionStore(client, ttl=50) as store:
        sid = (await store.create_session(user_id)).session_id
        await store.add_message(sid, "user", "hi")
        assert 49 <= await client.ttl(f"chat:{sid}") <= 50
        await store.touch(sid, ttl=500)
        assert 499 <= await client.ttl(f"meta:{sid}") <= 500
        assert 499 <= await client.ttl(f"chat:{sid}") <= 500
        await client.expire(f"meta:{sid}", 5)
        await store.touch(sid)
        assert 499 <= await client.ttl(f"meta:{sid}") <= 500
        assert (await store.get_session_info(sid)).ttl == 500


async def test_expired_session_is_gone_and_pruned_from_index(store: SessionStore, client: Client, user_id: str) -> None:
    """Once a session expires it raises SessionNotFoundError and leaves the user index."""
    live = (await store.create_session(user_id)).session_id
    doomed = (await store.create_session(user_id, ttl=100)).session_id
    await store.add_message(doomed, "user", "bye", 1)
    await client.pexpire(f"meta:{doomed}", 1)
    await client.pexpire(f"chat:{doomed}", 1)
    # two PEXPIREs give two deadlines (the toolkit's scripts give both keys one): wait for both
    while await client.exists([f"meta:{doomed}", f"chat:{doomed}"]):
        pass
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "add_message": lambda: store.add_message(doomed, "user", "again"),
        "get_messages": lambda: store.get_messages(doomed),
        "get_session_info": lambda: store.get_session_info(doomed),
        "touch": lambda: store.touch(doomed),
    }
    for name, call in calls.items():
        with pytest.raises(SessionNotFoundError):
            await call()
            pytest.fail(f"{name} did not raise")
    assert not await client.exists([f"chat:{doomed}"])
    assert [s.session_id for s in await store.list_user_sessions(user_id)] == [live]
    assert not await client.sismember(f"user_sessions:{user_id}", doomed)


async def test_get_messages_last_and_single_reads(store: SessionStore, user_id: str) -> None:
    """get_messages(last=N) returns the newest N in order; get_message reads one by index."""
    sid = (await store.create_session(user_id)).session_id
    for n in range(5):
        await store.add_message(sid, "user", f"m{n}")
    assert [m.content for m in await store.get_messages(sid, last=2)] == ["m3", "m4"]
    assert [m.content for m in await store.get_messages(sid, last=50)] == [f"m{n}" for n in range(5)]
    assert await store.get_messages(sid, last=0) == []
    first, latest = await store.get_message(sid, 0), await store.get_message(sid, -1)
    assert first is not None and latest is not None
    assert (first.content, latest.content) == ("m0", "m4")
    assert await store.get_message(sid, 99) is None
    assert await store.count_messages(sid) == 5
    with pytest.raises(InvalidInputError):
        await store.get_messages(sid, last=-1)
    with pytest.raises(InvalidInputError):
        await store.get_message(sid, "0")  # type: ignore[arg-type]


async def test_token_window_returns_newest_fitting_tail(store: SessionStore, user_id: str) -> None:
    """get_window returns the newest messages whose tokens fit the budget, oldest first."""
    sid = (await store.create_session(user_id)).session_id
    for n, tokens in enumerate([50, 10, 20, 30, 5]):
        await store.add_message(sid, "user", f"m{n}", tokens)
    assert [m.content for m in await store.get_window(sid, max_tokens=55)] == ["m2", "m3", "m4"]
    assert [m.content for m in await store.get_window(sid, max_tokens=54)] == ["m3", "m4"]
    assert [m.content for m in await store.get_window(sid, max_tokens=1000, last=2)] == ["m3", "m4"]
    assert [m.content for m in await store.get_window(sid, max_tokens=1000)] == [f"m{n}" for n in range(5)]
    assert await store.get_window(sid, max_tokens=4) == []
    with pytest.raises(InvalidInputError):
        await store.get_window(sid, max_tokens=-1)


async def test_token_window_spans_many_pages(store: SessionStore, user_id: str) -> None:
    """The server-side walk crosses its 64-entry pages without losing or repeating messages."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_messages(sid, [Message(role=Role.USER, content=f"m{n}", tokens=1) for n in range(300)])
    window = await store.get_window(sid, max_tokens=200)
    assert [m.content for m in window] == [f"m{n}" for n in range(100, 300)]


async def test_update_session_sets_and_removes_fields(store: SessionStore, user_id: str) -> None:
    """update_session sets model, title and caller fields, and None removes a field."""
    sid = (await store.create_session(user_id, title="old", metadata={"plan": "free"})).session_id
    await store.update_session(sid, title="new", model="m2", plan=None, locale="de")
    info = await store.get_session_info(sid)
    assert (info.title, info.model, info.metadata) == ("new", "m2", {"locale": "de"})
    with pytest.raises(InvalidFieldError):
        await store.update_session(sid, message_count="0")
    with pytest.raises(InvalidFieldError):
        await store.update_session(sid, title=3)  # type: ignore[arg-type]
    with pytest.raises(SessionNotFoundError):
        await store.update_session(sid + "x", title="t")
    assert (await store.get_session_info(sid)).title == "new"


async def test_delete_session_removes_everything_and_nothing_else(
    store: SessionStore, client: Client, user_id: str, make_id: Callable[[], str]
) -> None:
    """delete_session removes chat, meta and index entry, and spares ids sharing a prefix."""
    base = make_id()
    short, longer = base, base + "c"
    for sid in (short, longer):
        await store.create_session(user_id, session_id=sid)
        await store.add_message(sid, "user", "hi")
    assert await store.delete_session(short) is True
    assert not await client.exists([f"chat:{short}", f"meta:{short}"])
    assert await client.smembers(f"user_sessions:{user_id}") == {longer.encode()}
    assert [m.content for m in await store.get_messages(longer)] == ["hi"]
    assert await store.delete_session(short) is False


async def test_list_user_sessions_newest_first_one_user_only(store: SessionStore, user_id: str) -> None:
    """list_user_sessions returns only the user's sessions, most recently active first."""
    old = (await store.create_session(user_id, title="old")).session_id
    new = (await store.create_session(user_id, title="new")).session_id
    await store.create_session("other-" + user_id)
    await store.add_message(old, "user", "bump")
    sessions = await store.list_user_sessions(user_id)
    assert [s.session_id for s in sessions] == [old, new]
    assert sessions[0].messages_stored == 1 and sessions[0].user_id == user_id
    assert await store.list_user_sessions("nobody-" + user_id) == []


async def test_index_entry_of_another_owner_is_pruned(store: SessionStore, client: Client, user_id: str) -> None:
    """An index member whose meta names another owner is not listed and is removed."""
    theirs = (await store.create_session("other-" + user_id)).session_id
    mine = (await store.create_session(user_id)).session_id
    await client.sadd(f"user_sessions:{user_id}", [theirs, "bad\x01id"])
    assert [s.session_id for s in await store.list_user_sessions(user_id)] == [mine]
    assert await client.smembers(f"user_sessions:{user_id}") == {mine.encode(), b"bad\x01id"}


async def test_corrupted_entry_is_named_and_others_stay_readable(
    store: SessionStore, client: Client, user_id: str
) -> None:
    """A garbage list entry raises CorruptedEntryError with key and index; the rest read by index."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "user", "before")
    await client.rpush(f"chat:{sid}", [b"\xff not json"])
    await store.add_message(sid, "assistant", "after")
    with pytest.raises(CorruptedEntryError) as caught:
        await store.get_messages(sid)
    assert (caught.value.key, caught.value.index, caught.value.session_id) == (f"chat:{sid}", 1, sid)
    with pytest.raises(CorruptedEntryError) as caught_last:
        await store.get_messages(sid, last=2)
    assert caught_last.value.index == -2  # with last=N positions count from the end
    before, after = await store.get_message(sid, 0), await store.get_message(sid, 2)
    assert before is not None and before.content == "before"
    assert after is not None and after.content == "after"
    with pytest.raises(CorruptedEntryError):
        await store.get_message(sid, -2)


async def test_corrupted_counter_blocks_append_without_partial_write(
    store: SessionStore, client: Client, user_id: str
) -> None:
    """A non-integer token_count fails add_message before anything is written."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "user", "one", 1)
    await client.hset(f"meta:{sid}", {"token_count": "lots"})
    with pytest.raises(CorruptedEntryError) as caught:
        await store.add_message(sid, "user", "two", 1)
    assert caught.value.key == f"meta:{sid}"
    assert await client.llen(f"chat:{sid}") == 1
    assert await client.hget(f"meta:{sid}", "message_count") == b"1"
    with pytest.raises(CorruptedEntryError):
        await store.get_session_info(sid)


async def test_wrong_key_type_is_reported_not_overwritten(
    store: SessionStore, client: Client, user_id: str, make_id: Callable[[], str]
) -> None:
    """A chat key of the wrong type makes add_message raise and keeps the counters."""
    sid = (await store.create_session(user_id)).session_id
    await client.set(f"chat:{sid}", "someone else's string")
    with pytest.raises(CorruptedEntryError) as caught:
        await store.add_message(sid, "user", "hi", 2)
    assert caught.value.key == f"chat:{sid}"
    assert await client.get(f"chat:{sid}") == b"someone else's string"
    assert await client.hget(f"meta:{sid}", "token_count") == b"0"
    other = make_id()
    await client.set(f"meta:{other}", "not a hash")
    with pytest.raises(CorruptedEntryError) as caught_meta:
        await store.add_message(other, "user", "hi")
    assert caught_meta.value.key == f"meta:{other}"
    assert not await client.exists([f"chat:{other}"])  # the push was undone


async def test_add_messages_is_one_atomic_batch(store: SessionStore, user_id: str) -> None:
    """add_messages stores many messages at once with exact counters and timestamps."""
    sid = (await store.create_session(user_id)).session_id
    batch = [Message(role=Role.USER, content=f"m{n}", tokens=n) for n in range(2500)]
    stored = await store.add_messages(sid, batch)
    assert all(m.timestamp is not None for m in stored)
    info = await store.get_session_info(sid)
    assert (info.message_count, info.token_count, info.messages_stored) == (2500, sum(range(2500)), 2500)
    assert await store.get_messages(sid) == stored
    assert await store.add_messages(sid, []) == []
    with pytest.raises(SessionNotFoundError):
        await store.add_messages(sid + "x", [])


async def test_clear_messages_keeps_session_and_counters(store: SessionStore, user_id: str) -> None:
    """clear_messages empties the list but keeps the session and its lifetime counters."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_message(sid, "user", "a", 4)
    await store.add_message(sid, "user", "b", 4)
    assert await store.clear_messages(sid) == 2
    info = await store.get_session_info(sid)
    assert (info.messages_stored, info.message_count, info.token_count) == (0, 2, 8)
    assert await store.exists(sid)
    with pytest.raises(SessionNotFoundError):
        await store.clear_messages(sid + "x")


async def test_session_without_owner_is_not_indexed(
    store: SessionStore, client: Client, make_id: Callable[[], str]
) -> None:
    """create_session(None) stores a session with no user_id field and no index entry."""
    sid = make_id()
    info = await store.create_session(None, session_id=sid, ttl=60)
    assert info.user_id is None
    assert await client.hget(f"meta:{sid}", "user_id") is None
    await store.add_message(sid, "user", "hi", 1)
    assert (await store.get_session_info(sid)).user_id is None
    assert await store.delete_session(sid) is True
