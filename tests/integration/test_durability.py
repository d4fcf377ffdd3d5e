"""Durable acknowledgements against a real primary with a real replica.

A primary and a replica (``replicaof``) run as embedded servers of this
module's own; a paused replica is a real ``SIGSTOP`` of its process. The
checks read the replica and the primary directly, never through the store.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from glide_memory import (
    ConfigurationError,
    Durability,
    DurabilityError,
    EmbeddedServer,
    InvalidInputError,
    KeySchema,
    Message,
    Role,
    SessionStore,
    acl_setuser,
)
from glide_memory._transport._resp import ask
from tests.faultproxy import FaultProxy
from tests.integration.test_acl import core_lifecycle

SHORT = Durability(replicas=1, timeout=0.3)
"""One replica, given little time: a paused replica makes it fail fast."""


def _info(port: int, section: str) -> str:
    reply = ask(port, "INFO", section)
    return reply.decode() if isinstance(reply, bytes) else str(reply)


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[EmbeddedServer, EmbeddedServer]]:
    """A primary and its one replica, linked and in sync."""
    with EmbeddedServer() as primary:
        replica = EmbeddedServer(config={"replicaof": f"127.0.0.1 {primary.port}"})
        with replica:
            deadline = time.monotonic() + 20
            while "master_link_status:up" not in _info(replica.port, "replication") or (
                "connected_slaves:1" not in _info(primary.port, "replication")
            ):
                assert time.monotonic() < deadline, "the replica never linked to its primary"
                time.sleep(0.05)
            yield primary, replica


@pytest.fixture
def primary(pair: tuple[EmbeddedServer, EmbeddedServer]) -> EmbeddedServer:
    return pair[0]


@pytest.fixture
def replica(pair: tuple[EmbeddedServer, EmbeddedServer]) -> EmbeddedServer:
    return pair[1]


@pytest.fixture
async def store(primary: EmbeddedServer) -> AsyncIterator[SessionStore]:
    """A store on the primary that asks for nothing beyond its acknowledgement by default."""
    async with await SessionStore.connect(primary.url, request_timeout_ms=500) as store:
        yield store


@pytest.fixture
async def durable_store(primary: EmbeddedServer) -> AsyncIterator[SessionStore]:
    """A store on the primary whose every write waits for the replica, briefly."""
    async with await SessionStore.connect(primary.url, durability=SHORT, request_timeout_ms=500) as store:
        yield store


@contextmanager
def paused(server: EmbeddedServer) -> Iterator[None]:
    """Stop the server's process (SIGSTOP) for the block; it keeps its connections but answers nothing."""
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


def _entries(port: int, key: str) -> list[bytes]:
    reply = ask(port, "LRANGE", key, "0", "-1")
    assert isinstance(reply, list)
    return [entry for entry in reply if isinstance(entry, bytes)]


async def _replica_catches_up(replica: EmbeddedServer, key: str, length: int) -> None:
    deadline = time.monotonic() + 10
    while len(_entries(replica.port, key)) != length:
        assert time.monotonic() < deadline, "the replica never caught up"
        await asyncio.sleep(0.02)


async def test_acknowledged_writes_are_on_the_replica_at_return(
    durable_store: SessionStore, primary: EmbeddedServer, replica: EmbeddedServer
) -> None:
    """Every durable write is on the replica when it returns: no polling, read at once."""
    info = await durable_store.create_session("u1")
    chat, meta = durable_store.schema.chat(info.session_id), durable_store.schema.meta(info.session_id)
    assert ask(replica.port, "EXISTS", meta) == 1
    for n in range(20):
        await durable_store.add_message(info.session_id, "user", f"m{n}", 1)
        assert len(_entries(replica.port, chat)) == n + 1
    await durable_store.put_record(info.session_id, "kind", "r", "v")
    assert ask(replica.port, "HGET", durable_store.schema.companion(info.session_id, "kind"), "r") == b"v"
    assert await durable_store.delete_session(info.session_id) is True
    assert ask(replica.port, "EXISTS", meta) == 0
    assert ask(replica.port, "EXISTS", chat) == 0


async def test_a_durable_write_is_one_request(durable_store: SessionStore) -> None:
    """The write and its WAIT go in one batch: one request per write once the primaries were checked."""
    sid = (await durable_store.create_session("u1")).session_id
    await durable_store.add_message(sid, "user", "first")  # the first append also extends the user's index
    sent = durable_store.requests_sent
    for n in range(5):
        await durable_store.add_message(sid, "user", f"m{n}")
    assert durable_store.requests_sent - sent == 5


async def test_a_paused_replica_gives_a_durability_error_and_the_retry_no_duplicate(
    durable_store: SessionStore, primary: EmbeddedServer, replica: EmbeddedServer
) -> None:
    """SIGSTOP: DurabilityError within the timeout, the write on the primary; SIGCONT: the retry confirms it once."""
    sid = (await durable_store.create_session("u1")).session_id
    chat = durable_store.schema.chat(sid)
    sent = durable_store.requests_sent
    with paused(replica):
        started = time.monotonic()
        with pytest.raises(DurabilityError) as caught:
            await durable_store.add_message(sid, "user", "kept", 3, message_id="m-kept")
        elapsed = time.monotonic() - started
        assert _entries(primary.port, chat) and b"m-kept" in _entries(primary.port, chat)[0]
    error = caught.value
    assert elapsed < SHORT.timeout + 2.0, elapsed  # WAIT's own timeout, not the store's 10 s retry budget
    assert error.message_ids == ("m-kept",)
    assert (error.replicas_acknowledged, error.replicas_requested) == (0, 1)
    assert error.retryable and error.session_id == sid
    assert "applied on the primary" in str(error)
    assert durable_store.requests_sent - sent == 2, "a DurabilityError must not be retried as a new write"
    # the replica is back: the retry with the same id writes nothing twice and is confirmed
    retried = await durable_store.add_message(sid, "user", "kept", 3, message_id="m-kept")
    assert retried.id == "m-kept"
    assert len(_entries(primary.port, chat)) == 1
    assert len(_entries(replica.port, chat)) == 1
    info = await durable_store.get_session_info(sid)
    assert (info.message_count, info.token_count) == (1, 3)


async def test_a_retry_on_a_new_connection_is_not_falsely_confirmed(
    store: SessionStore, primary: EmbeddedServer, replica: EmbeddedServer
) -> None:
    """A repeat writes nothing; a new connection has nothing to WAIT for, unless the barrier gives it something.

    With the replica paused, a plain write lands on the primary only. A new
    store (new connections) then repeats it durably: the repeat is a no-op,
    and WAIT on its fresh connection would confirm at once. It must not.
    """
    sid = (await store.create_session("u1")).session_id
    with paused(replica):
        await store.add_message(sid, "user", "only on the primary", message_id="m1")
        async with await SessionStore.connect(primary.url, request_timeout_ms=500) as fresh:
            with pytest.raises(DurabilityError):
                await fresh.add_message(sid, "user", "only on the primary", message_id="m1", durability=SHORT)
            with pytest.raises(DurabilityError):
                await fresh.create_session("u1", session_id=sid, exist_ok=True, durability=SHORT)
    await _replica_catches_up(replica, store.schema.chat(sid), 1)


async def test_reads_are_not_held_behind_a_waiting_write(durable_store: SessionStore, replica: EmbeddedServer) -> None:
    """WAIT blocks its connection; durable writes have their own, so the store's reads go on meanwhile."""
    sid = (await durable_store.create_session("u1")).session_id
    await durable_store.add_message(sid, "user", "before")
    slow = Durability(replicas=1, timeout=5.0)
    with paused(replica):
        write = asyncio.ensure_future(durable_store.add_message(sid, "user", "waits", durability=slow))
        deadline = time.monotonic() + 3
        while len(contents := [m.content for m in await durable_store.get_messages(sid)]) < 2:
            assert time.monotonic() < deadline, "the durable write never reached the primary"
            await asyncio.sleep(0.02)
        # the write is applied and its WAIT blocks the durable connection; the store's reads went on meanwhile
        assert contents == ["before", "waits"]
        assert not write.done(), "the read should have returned while the durable write still waited"
    # the replica is back within the write's timeout: its WAIT is satisfied and the write returns
    assert (await write).content == "waits"


async def test_the_per_call_durability_overrides_the_default(
    store: SessionStore, durable_store: SessionStore, replica: EmbeddedServer
) -> None:
    """``durability=`` on one call: asked of a plain store it waits, and ``Durability()`` turns a default off."""
    sid = (await store.create_session("u1")).session_id
    with paused(replica):
        await store.add_message(sid, "user", "plain")  # nothing asked: the primary's ack is enough
        await durable_store.add_message(sid, "user", "not waited", durability=Durability())
        with pytest.raises(DurabilityError):
            await store.add_message(sid, "user", "waited", durability=SHORT)
    assert len(await store.get_messages(sid)) == 3


async def test_more_replicas_than_exist_is_refused_before_writing(store: SessionStore, primary: EmbeddedServer) -> None:
    """Durability(replicas=2) with one replica: a ConfigurationError that says so, and nothing written."""
    sid = (await store.create_session("u1")).session_id
    with pytest.raises(ConfigurationError, match=r"replicas=2.*1 connected.*nothing was written"):
        await store.add_message(sid, "user", "never", durability=Durability(replicas=2))
    assert _entries(primary.port, store.schema.chat(sid)) == []


async def test_fsync_needs_appendonly(store: SessionStore, primary: EmbeddedServer) -> None:
    """fsync of a primary without appendonly is refused before writing; with appendonly it is confirmed."""
    sid = (await store.create_session("u1")).session_id
    with pytest.raises(ConfigurationError, match="appendonly"):
        await store.add_message(sid, "user", "never", durability=Durability(fsync=True))
    assert _entries(primary.port, store.schema.chat(sid)) == []
    assert ask(primary.port, "CONFIG", "SET", "appendonly", "yes") == b"OK"
    try:
        deadline = time.monotonic() + 10
        while "aof_rewrite_in_progress:0" not in _info(primary.port, "persistence") or (
            "aof_enabled:1" not in _info(primary.port, "persistence")
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        async with await SessionStore.connect(primary.url) as fresh:  # a new store checks the primary again
            await fresh.add_message(sid, "user", "synced", durability=Durability(fsync=True))
            await fresh.add_message(sid, "user", "synced too", durability=Durability(replicas=1, fsync=False))
    finally:
        ask(primary.port, "CONFIG", "SET", "appendonly", "no")
    assert len(_entries(primary.port, store.schema.chat(sid))) == 2


async def test_fsync_turned_off_after_the_check_reports_the_applied_write(
    primary: EmbeddedServer,
) -> None:
    """appendonly switched off after the store checked: WAITAOF fails after the write; DurabilityError says so."""
    ask(primary.port, "CONFIG", "SET", "appendonly", "yes")
    try:
        async with await SessionStore.connect(primary.url, durability=Durability(fsync=True)) as store:
            sid = (await store.create_session("u1")).session_id  # checked and confirmed
            ask(primary.port, "CONFIG", "SET", "appendonly", "no")
            with pytest.raises(DurabilityError, match="appendonly") as caught:
                await store.add_message(sid, "user", "applied", message_id="m-aof")
            assert caught.value.message_ids == ("m-aof",) and caught.value.fsync_confirmed is False
            assert len(_entries(primary.port, store.schema.chat(sid))) == 1
    finally:
        ask(primary.port, "CONFIG", "SET", "appendonly", "no")


async def test_bad_durability_is_refused_and_writes_nothing(store: SessionStore, primary: EmbeddedServer) -> None:
    """A durability that is not one, or an impossible one, is refused before anything is sent."""
    sid = (await store.create_session("u1")).session_id
    with pytest.raises(InvalidInputError, match="Durability or None"):
        await store.add_message(sid, "user", "never", durability=1)  # type: ignore[arg-type]
    for bad in ({"replicas": -1}, {"replicas": 1.5}, {"fsync": 1}, {"timeout": 0}, {"timeout": float("nan")}):
        with pytest.raises(InvalidInputError, match="Durability"):
            Durability(**bad)
    with pytest.raises(InvalidInputError, match="Durability or None"):
        SessionStore(store.client, durability="yes")  # type: ignore[arg-type]
    assert _entries(primary.port, store.schema.chat(sid)) == []


def _writes(sid: str) -> list[tuple[str, Callable[[SessionStore], Awaitable[Any]]]]:
    """Every write method of the store, each as one call on session ``sid`` (messages m0, m1 stored)."""

    async def summarizer(previous: Message | None, messages: list[Message]) -> str:
        return "a summary"

    return [
        ("create_session", lambda s: s.create_session("u1")),
        ("update_session", lambda s: s.update_session(sid, title="t")),
        ("touch", lambda s: s.touch(sid)),
        ("add_message", lambda s: s.add_message(sid, "user", "new")),
        ("add_messages", lambda s: s.add_messages(sid, [Message(role=Role.USER, content="x")])),
        ("replace_message", lambda s: s.replace_message(sid, Message(role=Role.USER, content="e", id="m1"))),
        ("pin_message", lambda s: s.pin_message(sid, "m1")),
        ("put_record", lambda s: s.put_record(sid, "kind", "r", "v")),
        ("put_records", lambda s: s.put_records(sid, "kind", {"a": "1"})),
        ("delete_record", lambda s: s.delete_record(sid, "kind", "r")),
        ("summarize", lambda s: s.summarize(sid, summarizer, keep_last=1)),
        ("archive_messages", lambda s: s.archive_messages(sid, 1)),
        ("delete_messages", lambda s: s.delete_messages(sid, ["m1"])),
        ("pop_message", lambda s: s.pop_message(sid)),
        ("set_messages", lambda s: s.set_messages(sid, [Message(role=Role.USER, content="s")])),
        ("clear_messages", lambda s: s.clear_messages(sid)),
        ("delete_session", lambda s: s.delete_session(sid)),
    ]


async def test_every_write_method_waits(
    store: SessionStore, durable_store: SessionStore, primary: EmbeddedServer, replica: EmbeddedServer
) -> None:
    """With the replica paused, each write method of a durable store raises DurabilityError, its write applied."""
    sid = (await store.create_session("u1")).session_id
    await store.add_messages(sid, [Message(role=Role.USER, content=f"m{n}", id=f"m{n}") for n in range(4)])
    writes = _writes(sid)
    taking = {
        name
        for name, method in inspect.getmembers(SessionStore, inspect.iscoroutinefunction)
        if "durability" in inspect.signature(method).parameters
    }
    assert taking - {name for name, _ in writes} == {"connect", "delete_user"}  # the default; tested below
    failed: list[str] = []
    with paused(replica):
        for name, call in writes:
            try:
                await call(durable_store)
            except DurabilityError:
                continue
            failed.append(name)
    assert failed == []
    assert ask(primary.port, "EXISTS", store.schema.meta(sid)) == 0  # the last write, applied on the primary


async def test_delete_user_waits(durable_store: SessionStore, primary: EmbeddedServer, replica: EmbeddedServer) -> None:
    """delete_user deletes each session durably: paused replica, DurabilityError, the sessions gone on the primary."""
    sids = [(await durable_store.create_session("u-gone")).session_id for _ in range(2)]
    with paused(replica), pytest.raises(DurabilityError):
        await durable_store.delete_user("u-gone")
    assert all(ask(primary.port, "EXISTS", durable_store.schema.meta(sid)) == 0 for sid in sids[:1])


async def test_a_durable_write_whose_reply_is_lost_is_retried_and_applied_once(
    primary: EmbeddedServer, replica: EmbeddedServer
) -> None:
    """The reply held past the batch timeout: the store retries, and the message is stored (and replicated) once."""
    with FaultProxy("127.0.0.1", primary.port) as proxy:
        async with await SessionStore.connect(proxy.url, durability=SHORT, request_timeout_ms=400) as store:
            sid = (await store.create_session("u1")).session_id
            await store.add_message(sid, "user", "warm")  # the durable client is connected and the primary checked
            sent = store.requests_sent
            proxy.delay_replies_after(b"$5\r\nFCALL\r\n", 1.0)  # past the batch's 400 + 300 ms
            task = asyncio.ensure_future(store.add_message(sid, "user", "once", 2, message_id="m-once"))
            await asyncio.sleep(0.9)
            proxy.heal()
            stored = await task
            assert stored.id == "m-once"
            assert store.requests_sent - sent >= 2, "the store did not retry: the fault missed"
            chat = store.schema.chat(sid)
    assert [b"m-once" in entry for entry in _entries(primary.port, chat)] == [False, True]
    assert len(_entries(replica.port, chat)) == 2


async def test_a_least_privilege_user_writes_durably(primary: EmbeddedServer, replica: EmbeddedServer) -> None:
    """acl_setuser's core rules cover durable writes (WAIT, the barrier's commands): the whole lifecycle runs."""
    async with await SessionStore.connect(primary.url) as admin:
        await admin.client.custom_command(
            list(acl_setuser("durable", "pw", namespace="acl:", record_kinds=["integration"]))
        )
    url = f"valkey://durable:pw@127.0.0.1:{primary.port}"
    durability = Durability(replicas=1, timeout=2.0)
    async with await SessionStore.connect(url, schema=KeySchema(namespace="acl:"), durability=durability) as store:
        await core_lifecycle(store)
        sid = (await store.create_session("u-acl")).session_id
        await store.add_message(sid, "user", "replicated")
        assert len(_entries(replica.port, store.schema.chat(sid))) == 1
        assert await store.delete_user("u-acl") == 1
    assert ask(replica.port, "EXISTS", store.schema.meta(sid)) == 0
