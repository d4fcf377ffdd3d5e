"""Faults injected for real: killed servers, cancellations, memory refusal. Nothing acknowledged is lost or doubled."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

import pytest

from glide_memory import EmbeddedServer, OutOfMemoryError, SessionStore, parse_url
from tests.faultproxy import FaultProxy
from tests.integration.faults import Ledger, run_writers


async def test_kill_9_and_restart_under_writers(tmp_path: Path) -> None:
    """Two kill -9 and restarts of an AOF server under 10 writers: 0 lost, 0 duplicated, 0 errors surfaced."""
    server = EmbeddedServer(data_dir=tmp_path, persistent=True).start()
    try:
        async with await SessionStore.connect(server.url, request_timeout_ms=500) as store:
            sessions = [(await store.create_session(f"u{n}")).session_id for n in range(10)]
            ledger = Ledger()

            async def crash_twice() -> None:
                for _ in range(2):
                    await asyncio.sleep(0.6)
                    await asyncio.to_thread(server.kill)
                    await asyncio.sleep(1.0)  # the outage: every call waits and retries
                    await asyncio.to_thread(server.start)

            await run_writers(ledger, store, sessions, crash_twice)
            assert ledger.errors == []
            totals = await ledger.check(store)
            assert totals["acknowledged"] > 200
            print(f"kill -9 x2 under 10 writers: {totals}, longest call {ledger.longest_call:.2f} s")
    finally:
        server.stop()


async def test_cancellation_storm_then_retry_with_the_same_ids(store: SessionStore, user_id: str) -> None:
    """Cancelling hundreds of in-flight appends, then retrying each with its id, stores every message exactly once."""
    sid = (await store.create_session(user_id)).session_id
    rng = random.Random(7)
    ids = [f"c-{n}" for n in range(600)]

    async def send(message_id: str) -> None:
        await store.add_message(sid, "user", message_id, 1, message_id=message_id)

    tasks = [asyncio.create_task(send(message_id)) for message_id in ids]
    await asyncio.sleep(0)
    for _ in range(40):
        for task in rng.sample(tasks, 15):
            task.cancel()
        await asyncio.sleep(rng.uniform(0, 0.002))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    cancelled = [mid for mid, result in zip(ids, results, strict=True) if isinstance(result, asyncio.CancelledError)]
    assert cancelled, "the storm cancelled nothing"
    unexpected = [r for r in results if not (r is None or isinstance(r, asyncio.CancelledError))]
    assert not unexpected, [repr(r) for r in unexpected[:3]]
    before_retry = await store.count_messages(sid)
    await asyncio.gather(*(send(message_id) for message_id in cancelled))  # the caller retries what it lost track of
    stored = [m.id or "" for m in await store.get_messages(sid)]
    assert sorted(stored) == sorted(ids)
    info = await store.get_session_info(sid)
    assert info.message_count == info.token_count == info.messages_stored == 600
    print(f"cancelled {len(cancelled)} of 600; {before_retry - (600 - len(cancelled))} were applied anyway")


async def test_memory_refusal_under_writers() -> None:
    """With maxmemory switched on and off under writers, each call is stored once or refused with OutOfMemoryError."""
    with EmbeddedServer() as server:
        async with await SessionStore.connect(server.url) as store:
            sessions = [(await store.create_session(f"u{n}")).session_id for n in range(5)]
            ledger = Ledger()

            async def squeeze() -> None:
                for _ in range(3):
                    await asyncio.sleep(0.15)
                    await store.client.custom_command(["CONFIG", "SET", "maxmemory", "1"])
                    await asyncio.sleep(0.15)
                    await store.client.custom_command(["CONFIG", "SET", "maxmemory", "0"])

            await run_writers(ledger, store, sessions, squeeze)
            assert ledger.errors, "no write was refused"
            assert all(isinstance(error, OutOfMemoryError) for error in ledger.errors)
            totals = await ledger.check(store)
            assert totals["stored"] == totals["acknowledged"]  # a refused write wrote nothing


@pytest.mark.parametrize("writers", [20])
async def test_many_writers_one_session_exactly_once(store: SessionStore, user_id: str, writers: int) -> None:
    """Writers racing on one session, each sending every message twice, store each once with exact counters."""
    sid = (await store.create_session(user_id)).session_id

    async def writer(w: int) -> None:
        for n in range(25):
            for _ in range(2):
                await store.add_message(sid, "user", f"{w}/{n}", 1, message_id=f"w{w}-{n}")

    await asyncio.gather(*(writer(w) for w in range(writers)))
    info = await store.get_session_info(sid)
    assert info.message_count == info.messages_stored == info.token_count == writers * 25


NETWORK_FAULTS = {
    "latency above the timeout": lambda proxy: proxy.delay(0.8),
    "resets": lambda proxy: proxy.reset(),
    "blackhole": lambda proxy: proxy.blackhole(),
    "refused connections": lambda proxy: proxy.refuse(),
    "cut mid-request": lambda proxy: proxy.drop_after(300),
}


@pytest.mark.parametrize("fault", list(NETWORK_FAULTS))
async def test_network_faults_heal_within_the_budget(valkey_url: str, fault: str) -> None:
    """Through a faulty proxy, writers and creators see no error, and nothing is lost, doubled or indexed twice."""
    upstream = parse_url(valkey_url)
    with FaultProxy(upstream.host, upstream.port) as proxy:
        async with await SessionStore.connect(proxy.url, request_timeout_ms=500) as store:
            owner = f"creator-{uuid.uuid4().hex}"
            sessions = [(await store.create_session(f"u{n}")).session_id for n in range(8)]
            ledger = Ledger()
            created: list[str] = []

            async def inject() -> None:
                for _ in range(2):
                    await asyncio.sleep(0.3)
                    await asyncio.to_thread(NETWORK_FAULTS[fault], proxy)
                    await asyncio.sleep(1.2)
                    await asyncio.to_thread(proxy.heal)

            async def creator() -> None:
                for _ in range(6):
                    created.append((await store.create_session(owner)).session_id)
                    await asyncio.sleep(0.25)

            await asyncio.gather(run_writers(ledger, store, sessions, inject), creator(), creator())
            assert ledger.errors == []
            totals = await ledger.check(store)
            listed = {info.session_id for info in await store.list_user_sessions(owner)}
            assert listed == set(created) and len(created) == 12
            print(f"{fault}: {totals}, errors 0, longest call {ledger.longest_call:.2f} s, 12 of 12 sessions indexed")
