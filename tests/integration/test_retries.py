"""A retried write reports what its first application did, and is applied once.

Each case runs a write through a proxy that lets the request reach the
server but holds its reply past the client's request timeout: the first
attempt is applied, its reply is lost, and the store retries by itself.
The call must then return what the first application did (created, the
count it cleared, the message it popped, the summary it stored), never a
false conflict, a zero or a second copy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from glide_memory import KeySchema, Message, Role, SessionStore, Summary, parse_url
from tests.faultproxy import FaultProxy
from tests.support import Client, keys_matching

FCALL = b"$5\r\nFCALL\r\n"
"""A write of ours on the wire: the command name of FCALL (FCALL_RO, a read, does not match)."""

REQUEST_TIMEOUT_MS = 400
HELD = 0.6
"""Seconds a reply is held: past the request timeout, so the first attempt's reply is lost."""


async def _fcalls(client: Client) -> int:
    stats = await client.custom_command(["INFO", "commandstats"])
    text = (stats if isinstance(stats, bytes) else next(iter(stats.values()))).decode()
    for line in text.splitlines():
        if line.startswith("cmdstat_fcall:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


@dataclass
class Proxied:
    """A store whose replies can be lost, beside the direct store and client of the same namespace."""

    store: SessionStore
    direct: SessionStore
    client: Client
    proxy: FaultProxy

    async def lose_first_reply(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``call`` with the reply of its first write lost; return what it returned after retrying."""
        before, sent = await _fcalls(self.client), self.store.requests_sent
        self.proxy.delay_replies_after(FCALL, HELD)
        task = asyncio.ensure_future(call())
        deadline = time.monotonic() + 10
        while await _fcalls(self.client) == before:  # the first attempt reached the server and ran
            assert time.monotonic() < deadline, "the write never reached the server"
            assert not task.done(), task
            await asyncio.sleep(0.005)
        self.proxy.heal()
        result = await task
        assert self.store.requests_sent - sent >= 2, "the store did not retry: the fault missed"
        return result


@pytest.fixture
async def proxied(valkey_url: str, client: Client, namespace: str) -> AsyncIterator[Proxied]:
    """A store through a fault proxy, and the direct one, sharing a namespace of this test's own."""
    upstream = parse_url(valkey_url)
    schema = KeySchema(namespace=namespace)
    with FaultProxy(upstream.host, upstream.port) as proxy:
        async with (
            await SessionStore.connect(proxy.url, schema=schema, request_timeout_ms=REQUEST_TIMEOUT_MS) as store,
            SessionStore(client, schema=schema) as direct,
        ):
            yield Proxied(store, direct, client, proxy)


async def _session(p: Proxied, messages: int = 0) -> str:
    sid = (await p.direct.create_session("u1")).session_id
    if messages:
        await p.direct.add_messages(
            sid, [Message(role=Role.USER, content=f"m{n}", id=f"m{n}", tokens=1) for n in range(messages)]
        )
    return sid


async def test_create(proxied: Proxied) -> None:
    """A retried create returns the session it made; there is one session, indexed once."""
    info = await proxied.lose_first_reply(lambda: proxied.store.create_session("u1", session_id="s-create"))
    assert info.session_id == "s-create" and info.user_id == "u1"
    assert [s.session_id for s in await proxied.direct.list_user_sessions("u1")] == ["s-create"]


async def test_add_message(proxied: Proxied) -> None:
    """A retried append returns its message, stored once and counted once."""
    sid = await _session(proxied)
    message = await proxied.lose_first_reply(lambda: proxied.store.add_message(sid, "user", "hi", 2))
    assert [m.id for m in await proxied.direct.get_messages(sid)] == [message.id]
    info = await proxied.direct.get_session_info(sid)
    assert (info.message_count, info.token_count) == (1, 2)


async def test_add_messages(proxied: Proxied) -> None:
    """A retried batch append stores each message once."""
    sid = await _session(proxied)
    batch = [Message(role=Role.USER, content=f"b{n}", tokens=1) for n in range(3)]
    stored = await proxied.lose_first_reply(lambda: proxied.store.add_messages(sid, batch))
    assert [m.id for m in await proxied.direct.get_messages(sid)] == [m.id for m in stored]
    assert (await proxied.direct.get_session_info(sid)).message_count == 3


@pytest.mark.parametrize("only_if", ["absent", "present"])
async def test_put_record_conditionally(proxied: Proxied, only_if: str) -> None:
    """A retried conditional put reports True: its own write landed, the retry found it there."""
    sid = await _session(proxied)
    if only_if == "present":
        await proxied.direct.put_record(sid, "kind", "r", "old")
    written = await proxied.lose_first_reply(
        lambda: proxied.store.put_record(sid, "kind", "r", "new", only_if=only_if)  # type: ignore[arg-type]
    )
    assert written is True
    assert await proxied.direct.get_record(sid, "kind", "r") == b"new"


async def test_delete_record(proxied: Proxied) -> None:
    """A retried record delete reports True: the record existed and this call removed it."""
    sid = await _session(proxied)
    await proxied.direct.put_record(sid, "kind", "r", "x")
    assert await proxied.lose_first_reply(lambda: proxied.store.delete_record(sid, "kind", "r")) is True
    assert await proxied.direct.get_record(sid, "kind", "r") is None


async def test_put_records(proxied: Proxied) -> None:
    """A retried multi-record write leaves exactly the values written."""
    sid = await _session(proxied)
    await proxied.direct.put_record(sid, "kind", "gone", "x")
    await proxied.lose_first_reply(lambda: proxied.store.put_records(sid, "kind", {"a": "1", "gone": None}))
    assert await proxied.direct.records(sid, "kind") == {"a": b"1"}


async def test_clear_messages(proxied: Proxied) -> None:
    """A retried clear reports how many messages it removed, not zero."""
    sid = await _session(proxied, messages=3)
    assert await proxied.lose_first_reply(lambda: proxied.store.clear_messages(sid)) == 3
    assert await proxied.direct.count_messages(sid) == 0


async def test_history_clear(proxied: Proxied) -> None:
    """ChatHistory.clear, retried, reports the count too."""
    sid = await _session(proxied, messages=2)
    assert await proxied.lose_first_reply(lambda: proxied.store.history(sid).clear()) == 2


async def test_delete_session(proxied: Proxied) -> None:
    """A retried delete reports True and leaves no key of the session."""
    sid = await _session(proxied, messages=2)
    assert await proxied.lose_first_reply(lambda: proxied.store.delete_session(sid)) is True
    assert await keys_matching(proxied.client, f"*{sid}*") == []


async def test_delete_user(proxied: Proxied) -> None:
    """A retried delete_user counts every session it deleted."""
    for _ in range(2):
        await _session(proxied, messages=1)
    assert await proxied.lose_first_reply(lambda: proxied.store.delete_user("u1")) == 2
    assert await proxied.direct.list_user_sessions("u1") == []


async def test_pop_message(proxied: Proxied) -> None:
    """A retried pop returns the message it popped and pops no other."""
    sid = await _session(proxied, messages=3)
    popped = await proxied.lose_first_reply(lambda: proxied.store.pop_message(sid))
    assert popped is not None and popped.id == "m2"
    assert [m.id for m in await proxied.direct.get_messages(sid)] == ["m0", "m1"]


async def test_set_messages(proxied: Proxied) -> None:
    """A retried replace stores the list once and counts the new ids once."""
    sid = await _session(proxied, messages=2)
    new = [Message(role=Role.USER, content="s", id="s", tokens=5)]
    await proxied.lose_first_reply(lambda: proxied.store.set_messages(sid, new))
    assert [m.id for m in await proxied.direct.get_messages(sid)] == ["s"]
    assert (await proxied.direct.get_session_info(sid)).token_count == 7


async def test_delete_messages(proxied: Proxied) -> None:
    """A retried delete by id reports how many it removed."""
    sid = await _session(proxied, messages=3)
    assert await proxied.lose_first_reply(lambda: proxied.store.delete_messages(sid, ["m0", "m2"])) == 2
    assert [m.id for m in await proxied.direct.get_messages(sid)] == ["m1"]


async def test_archive_messages(proxied: Proxied) -> None:
    """A retried archive reports how many it moved and moves them once."""
    sid = await _session(proxied, messages=3)
    assert await proxied.lose_first_reply(lambda: proxied.store.archive_messages(sid, 2)) == 2
    assert [m.id for m in await proxied.direct.get_archived_messages(sid)] == ["m0", "m1"]
    assert [m.id for m in await proxied.direct.get_messages(sid)] == ["m2"]


async def test_replace_and_pin(proxied: Proxied) -> None:
    """A retried edit and a retried pin report that they found the message."""
    sid = await _session(proxied, messages=1)
    edited = Message(role=Role.USER, content="edited", id="m0", tokens=1)
    assert await proxied.lose_first_reply(lambda: proxied.store.replace_message(sid, edited)) is True
    assert await proxied.lose_first_reply(lambda: proxied.store.pin_message(sid, "m0")) is True
    (stored,) = await proxied.direct.get_messages(sid)
    assert (stored.content, stored.pinned) == ("edited", True)


async def test_touch_and_update(proxied: Proxied) -> None:
    """A retried touch and a retried update leave what one application leaves."""
    sid = await _session(proxied)
    await proxied.lose_first_reply(lambda: proxied.store.touch(sid, ttl=500))
    await proxied.lose_first_reply(lambda: proxied.store.update_session(sid, title="t"))
    info = await proxied.direct.get_session_info(sid)
    assert (info.ttl, info.title) == (500, "t")


async def test_summarize(proxied: Proxied) -> None:
    """A retried summary store returns the summary, not a SummaryConflictError, and archives once."""
    sid = await _session(proxied, messages=4)

    async def summarizer(previous: Message | None, messages: list[Message]) -> str:
        return f"{len(messages)} messages"

    summary: Summary = await proxied.lose_first_reply(lambda: proxied.store.summarize(sid, summarizer, keep_last=1))
    assert summary.covered == 3 and summary.message.content == "3 messages"
    assert [m.id for m in await proxied.direct.get_archived_messages(sid)] == ["m0", "m1", "m2"]
    stored = await proxied.direct.get_summary(sid)
    assert stored is not None and stored.message.id == summary.message.id


async def test_import(proxied: Proxied) -> None:
    """A retried import page is appended once: the import equals its export."""
    sid = await _session(proxied, messages=3)
    exported = [line async for line in proxied.direct.export_session(sid)]
    await proxied.direct.delete_session(sid)
    assert await proxied.lose_first_reply(lambda: proxied.store.import_sessions(exported)) == [sid]
    assert [line async for line in proxied.direct.export_session(sid)] == exported


async def test_importing_twice_equals_importing_once(proxied: Proxied) -> None:
    """Importing one export twice, replacing, leaves the data byte for byte as one import does."""
    sid = await _session(proxied, messages=3)
    exported = [line async for line in proxied.direct.export_session(sid)]
    await proxied.direct.import_sessions(exported, replace=True)
    once = [line async for line in proxied.direct.export_session(sid)]
    await proxied.direct.import_sessions(exported, replace=True)
    assert [line async for line in proxied.direct.export_session(sid)] == once == exported
