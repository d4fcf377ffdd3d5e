"""The per-user index: pages, removal of dead members, and a TTL that outlives the user's sessions."""

from __future__ import annotations

import itertools

import pytest

from glide_memory import InvalidInputError, Reindexed, SessionStore
from tests.support import Client


async def test_pages_cover_every_session_once(ns_store: SessionStore, user_id: str) -> None:
    """Paging with limit/after visits each of 25 sessions exactly once, each page newest first."""
    created = {(await ns_store.create_session(user_id)).session_id for _ in range(25)}
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = await ns_store.list_user_sessions(user_id, limit=10, after=after)
        assert len(page) <= 10 and page.unreachable == ()
        assert [s.last_active for s in page] == sorted((s.last_active for s in page), reverse=True)
        seen += [s.session_id for s in page]
        pages += 1
        after = page.next_after
        if after is None:
            break
    assert pages == 3 and len(seen) == 25 and set(seen) == created
    everything = await ns_store.list_user_sessions(user_id)
    assert len(everything) == 25 and everything.next_after is None
    with pytest.raises(InvalidInputError):
        await ns_store.list_user_sessions(user_id, limit=0)


async def test_reindex_removes_members_whose_session_is_gone(
    ns_store: SessionStore, client: Client, namespace: str
) -> None:
    """reindex drops index members of deleted or foreign sessions and keeps live ones."""
    live = (await ns_store.create_session("alice")).session_id
    gone = (await ns_store.create_session("alice")).session_id
    theirs = (await ns_store.create_session("bob")).session_id
    await client.delete([ns_store.schema.meta(gone)])  # as if it had expired
    await client.sadd(ns_store.schema.user_sessions("alice"), [theirs])
    seen: list[Reindexed] = []
    report = await ns_store.reindex_user_sessions(count=10, progress=seen.append)
    assert report.indexed == 2 and report.removed == 2
    # one report per SCAN page, running totals, the last one equal to the result
    assert len(seen) == report.pages >= 2 and seen[-1] == report
    assert [r.pages for r in seen] == list(range(1, report.pages + 1))
    assert all(a.indexed <= b.indexed and a.removed <= b.removed for a, b in itertools.pairwise(seen))
    assert await client.smembers(ns_store.schema.user_sessions("alice")) == {live.encode()}


async def test_index_outlives_its_sessions_and_follows_them(ns_store: SessionStore, client: Client) -> None:
    """The index outlives its longest-lived session by a margin, follows activity, and stays while one never expires."""
    index = ns_store.schema.user_sessions("carol")
    short = (await ns_store.create_session("carol", ttl=60)).session_id
    assert 60 < await client.ttl(index) <= 60 + 3600
    await ns_store.create_session("carol", ttl=7200)
    assert 7200 < await client.ttl(index) <= 7200 + 3600
    await ns_store.touch(short, ttl=20000)
    assert 20000 < await client.ttl(index) <= 20000 + 3600
    await ns_store.create_session("carol", ttl=None)
    assert await client.ttl(index) == -1
