"""Data written by the session-management cookbook's raw commands and by the store read the same."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from glide_memory import KeySchema, Role, SessionStore
from tests.support import Client


async def _cookbook_create(client: Client, session_id: str, user_id: str) -> None:
    now = str(time.time())
    await client.hset(
        f"meta:{session_id}",
        {
            "user_id": user_id,
            "model": "claude-3-haiku",
            "created_at": now,
            "last_active": now,
            "message_count": "0",
            "token_count": "0",
            "title": "Raw session",
        },
    )
    await client.expire(f"meta:{session_id}", 3600)
    await client.sadd(f"user_sessions:{user_id}", [session_id])


async def _cookbook_add(client: Client, session_id: str, role: str, content: str, tokens: int) -> None:
    await client.rpush(f"chat:{session_id}", [json.dumps({"role": role, "content": content})])
    await client.hincrby(f"meta:{session_id}", "message_count", 1)
    await client.hincrby(f"meta:{session_id}", "token_count", tokens)
    await client.hset(f"meta:{session_id}", {"last_active": str(time.time())})


async def test_store_reads_cookbook_data(
    store: SessionStore, client: Client, user_id: str, make_id: Callable[[], str]
) -> None:
    """A session written with raw HSET/RPUSH/HINCRBY reads correctly and keeps counting."""
    sid = make_id()
    await _cookbook_create(client, sid, user_id)
    await _cookbook_add(client, sid, "user", "Grüß dich, 世界", 12)
    await _cookbook_add(client, sid, "assistant", "Hello!", 7)
    messages = await store.get_messages(sid)
    assert [(m.role, m.content, m.tokens, m.timestamp) for m in messages] == [
        (Role.USER, "Grüß dich, 世界", 0, None),
        (Role.ASSISTANT, "Hello!", 0, None),
    ]
    info = await store.get_session_info(sid)
    assert (info.user_id, info.model, info.title) == (user_id, "claude-3-haiku", "Raw session")
    assert (info.message_count, info.token_count, info.messages_stored) == (2, 19, 2)
    assert info.expires_in_seconds is not None and 3590 < info.expires_in_seconds <= 3600
    assert info.ttl is None and info.metadata == {}
    await store.add_message(sid, "user", "more", 5)
    info = await store.get_session_info(sid)
    assert (info.message_count, info.token_count) == (3, 24)
    # no ttl field: the chat list takes the meta key's remaining time, so both expire together
    assert abs(await client.ttl(f"chat:{sid}") - await client.ttl(f"meta:{sid}")) <= 1
    assert [s.session_id for s in await store.list_user_sessions(user_id)] == [sid]


async def test_cookbook_reads_store_data(store: SessionStore, client: Client, user_id: str) -> None:
    """Data the store writes reads with the cookbook's json.loads, HGETALL and SMEMBERS."""
    info = await store.create_session(user_id, model="m", title="t", ttl=600)
    sid = info.session_id
    await store.add_message(sid, "user", "¿Qué tal? 🙂", tokens_used=12)
    await store.add_message(sid, "assistant", [{"type": "text", "text": "bien"}], tokens_used=3)
    raw = [json.loads(item) for item in await client.lrange(f"chat:{sid}", 0, -1)]
    assert [(m["role"], m["content"]) for m in raw] == [
        ("user", "¿Qué tal? 🙂"),
        ("assistant", [{"type": "text", "text": "bien"}]),
    ]
    meta = {k.decode(): v.decode() for k, v in (await client.hgetall(f"meta:{sid}")).items()}
    assert int(meta["message_count"]) == 2 and int(meta["token_count"]) == 15
    assert float(meta["last_active"]) >= float(meta["created_at"]) > 0
    assert (meta["user_id"], meta["model"], meta["title"]) == (user_id, "m", "t")
    assert sid.encode() in await client.smembers(f"user_sessions:{user_id}")
    assert 0 < await client.ttl(f"meta:{sid}") <= 600


async def test_reindex_rebuilds_index_of_raw_data(ns_store: SessionStore, client: Client, namespace: str) -> None:
    """reindex_user_sessions indexes meta hashes written without the index, in this namespace only."""
    for n in range(30):
        await client.hset(f"{namespace}meta:s{n}", {"user_id": f"u{n % 3}", "created_at": str(float(n))})
    await client.hset(f"{namespace}meta:orphan", {"title": "no owner"})
    await client.set(f"{namespace}meta:string", "not a hash")
    await client.hset(f"{namespace}x:meta:s99", {"user_id": "u0"})
    assert await ns_store.list_user_sessions("u0") == []
    assert (await ns_store.reindex_user_sessions(count=7)).indexed == 30
    listed = {s.session_id for s in await ns_store.list_user_sessions("u0")}
    assert listed == {f"s{n}" for n in range(0, 30, 3)}


async def test_reindex_escapes_glob_characters(client: Client, namespace: str) -> None:
    """A namespace holding glob characters matches only its own keys during reindex."""
    globby = SessionStore(client, schema=KeySchema(namespace=namespace + "*["))
    plain = SessionStore(client, schema=KeySchema(namespace=namespace + "x["))
    async with globby, plain:
        await plain.create_session("u", session_id="other")
        await client.hset(f"{namespace}*[meta:mine", {"user_id": "u"})
        assert (await globby.reindex_user_sessions()).indexed == 1
        assert [s.session_id for s in await globby.list_user_sessions("u")] == ["mine"]
