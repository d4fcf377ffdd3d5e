"""A user's data lifecycle: export and import byte for byte, and erasure under concurrent writes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from glide_memory import Message, Role, SessionExistsError, SessionStore
from tests.support import Client, keys_matching


async def full_session(store: SessionStore, user_id: str) -> str:
    """A session holding everything: messages, a pinned prompt, a thread, records, a summary and its archive."""
    sid = (await store.create_session(user_id, title="Ünïcode 🙂", metadata={"plan": "pro"})).session_id
    await store.add_message(sid, "system", "rules", 2)
    for n in range(6):
        await store.add_message(sid, "user", f"m{n} ünï", n)
    await store.add_messages(sid, [Message(role=Role.ASSISTANT, content=[{"type": "text", "text": "x"}])], thread="a")
    await store.put_record(sid, "integration", "text", "value")
    await store.put_record(sid, "integration", "binary", b"\x00\xff\xfe")

    async def summarizer(previous: Message | None, messages: list[Message]) -> str:
        return "summary"

    await store.summarize(sid, summarizer, keep_last=2)
    return sid


async def test_export_import_export_is_byte_identical(ns_store: SessionStore, client: Client, namespace: str) -> None:
    """Exporting a user, deleting them, importing and exporting again gives the same bytes and the same data."""
    user = f"u-{uuid.uuid4().hex}"
    sids = sorted([await full_session(ns_store, user), await full_session(ns_store, user)])
    first = b"".join([line async for line in ns_store.export_user(user)])
    assert first.count(b'"type":"session"') == 2 and first.count(b'"type":"end"') == 2
    before = {sid: await ns_store.get_messages(sid, include_archived=True) for sid in sids}
    assert await ns_store.delete_user(user) == 2
    assert await keys_matching(client, f"{namespace}*") == []
    assert await ns_store.import_sessions(first.splitlines(keepends=True)) == sids
    again = b"".join([line async for line in ns_store.export_user(user)])
    assert again == first
    for sid in sids:
        assert await ns_store.get_messages(sid, include_archived=True) == before[sid]
        assert (await ns_store.get_session_info(sid)).metadata == {"plan": "pro"}
        await ns_store.add_message(sid, "user", "m0 ünï", 0, message_id=before[sid][1].id)  # ids survive: a no-op
        assert len(await ns_store.get_messages(sid, include_archived=True)) == len(before[sid])
    assert {s.session_id for s in await ns_store.list_user_sessions(user)} == set(sids)
    with pytest.raises(SessionExistsError):
        await ns_store.import_sessions(first.splitlines(keepends=True))
    assert await ns_store.import_sessions(first.splitlines(keepends=True), replace=True) == sids


async def test_export_of_a_long_session_streams(store: SessionStore, user_id: str) -> None:
    """A 3,000-message session exports one line per message (plus ids and the header), page by page."""
    sid = (await store.create_session(user_id)).session_id
    await store.add_messages(sid, [Message(role=Role.USER, content=f"m{n}") for n in range(3000)])
    lines = [line async for line in store.export_session(sid)]
    assert len(lines) == 1 + 3000 + 3000 + 1


async def test_delete_user_under_concurrent_creates(ns_store: SessionStore, client: Client) -> None:
    """Sessions created while a user is being deleted are either deleted too or stay indexed; none is orphaned."""
    user = f"u-{uuid.uuid4().hex}"
    for _ in range(30):
        await ns_store.create_session(user)
    created: list[str] = []

    async def keep_creating() -> None:
        for _ in range(20):
            created.append((await ns_store.create_session(user)).session_id)
            await asyncio.sleep(0.001)

    deleted, _ = await asyncio.gather(ns_store.delete_user(user), keep_creating())
    survivors = {sid for sid in created if await ns_store.exists(sid)}
    indexed = {m.decode() for m in await client.smembers(ns_store.schema.user_sessions(user))}
    assert survivors <= indexed  # every survivor is still indexed
    assert deleted + len(survivors) == 50


async def test_delete_user_spares_other_users(ns_store: SessionStore, client: Client) -> None:
    """A stale index member naming another user's session leaves that session alone."""
    mine = (await ns_store.create_session("alice")).session_id
    theirs = (await ns_store.create_session("bob")).session_id
    await client.sadd(ns_store.schema.user_sessions("alice"), [theirs, "bad\x01id"])
    assert await ns_store.delete_user("alice") == 1
    assert not await ns_store.exists(mine) and await ns_store.exists(theirs)
    assert await client.exists([ns_store.schema.user_sessions("alice")]) == 0
