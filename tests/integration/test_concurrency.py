"""Many concurrent writers: nothing lost, nothing refused."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from glide import Batch

from glide_memory import SessionNotFoundError, SessionStore
from glide_memory._transport._coalesce import BATCH, BATCH_MIN
from tests.support import Client


async def test_concurrent_appends_to_one_session_are_exact(store: SessionStore, client: Client, user_id: str) -> None:
    """50 tasks x 40 appends leave message_count, LLEN and token_count exact, each writer in order."""
    sid = (await store.create_session(user_id)).session_id

    async def writer(w: int) -> None:
        for n in range(40):
            await store.add_message(sid, "user", f"{w}:{n}", tokens_used=w + 1, metadata={"w": w, "n": n})

    await asyncio.gather(*(writer(w) for w in range(50)))
    info = await store.get_session_info(sid)
    assert info.message_count == 2000
    assert info.messages_stored == await client.llen(f"chat:{sid}") == 2000
    assert info.token_count == 40 * sum(w + 1 for w in range(50))
    order: dict[int, list[int]] = {}
    for message in await store.get_messages(sid):
        assert message.metadata is not None
        order.setdefault(message.metadata["w"], []).append(message.metadata["n"])
    assert all(seen == list(range(40)) for seen in order.values())


async def test_five_thousand_concurrent_calls_all_succeed(store: SessionStore, user_id: str) -> None:
    """5,000 concurrent add_message calls queue behind the in-flight bound instead of failing."""
    sids = [(await store.create_session(user_id)).session_id for _ in range(10)]
    await asyncio.gather(*(store.add_message(sids[n % 10], "user", f"m{n}", 1) for n in range(5000)))
    infos = await store.list_user_sessions(user_id)
    assert sum(info.message_count for info in infos) == 5000
    assert all(info.messages_stored == 500 for info in infos)


async def test_in_flight_bound_is_respected(client: Client, user_id: str) -> None:
    """A store never has more glide requests in flight than max_in_flight: calls alone and batches alike.

    Calls arrive one loop turn apart over a slow link, so the coalescer sends a
    batch per turn while earlier ones are in flight, until the bound holds the
    rest back.
    """
    store = SessionStore(client, max_in_flight=7)
    sid = (await store.create_session(user_id)).session_id
    peak = active = batched = 0
    originals = {name: getattr(client, name) for name in ("fcall", "exec")}

    def counting(name: str) -> Callable[..., Awaitable[object]]:
        async def request(*args: object, **kwargs: object) -> object:
            nonlocal peak, active, batched
            active += 1
            batched += name == "exec"
            peak = max(peak, active)
            try:
                await asyncio.sleep(0.005)  # a slow link: each request stays in flight while more calls arrive
                return await originals[name](*args, **kwargs)
            finally:
                active -= 1

        return request

    for name in originals:
        object.__setattr__(client, name, counting(name))
    try:
        calls = []
        for n in range(200):
            calls.append(asyncio.ensure_future(store.add_message(sid, "user", str(n))))
            await asyncio.sleep(0)
        await asyncio.gather(*calls)
    finally:
        for name in originals:
            object.__delattr__(client, name)
    assert peak == 7, "the bound was never reached, or was passed"
    assert batched > 0, "calls made while others were in flight went alone"
    assert (await store.get_session_info(sid)).message_count == 200


async def test_calls_queued_together_leave_in_capped_batches(client: Client, user_id: str) -> None:
    """1,000 calls made in one loop turn leave as batches that grow with the calls in flight, up to BATCH.

    One batch of everything would keep the server idle while the client builds
    it, and the client idle while the server runs it.
    """
    store = SessionStore(client)
    sid = (await store.create_session(user_id)).session_id
    sizes: list[int] = []
    peak = active = 0
    original = client.exec

    async def counting(batch: Batch, *args: Any, **kwargs: Any) -> object:
        nonlocal peak, active
        sizes.append(len(batch.commands))
        active += 1
        peak = max(peak, active)
        try:
            return await original(batch, *args, **kwargs)
        finally:
            active -= 1

    object.__setattr__(client, "exec", counting)
    try:
        await asyncio.gather(*(store.add_message(sid, "user", str(n), message_id=f"m{n}") for n in range(1000)))
    finally:
        object.__delattr__(client, "exec")
    assert sum(sizes) == 999, "all but the first call, which found nothing in flight, went in batches"
    assert sizes[0] == BATCH_MIN and max(sizes) == BATCH, sizes
    assert sizes[: sizes.index(BATCH)] == sorted(sizes[: sizes.index(BATCH)]), "batches grow with the calls out"
    assert peak > 1, "each batch waited for the one before"
    assert sorted(str(m.id) for m in await store.get_messages(sid)) == sorted(f"m{n}" for n in range(1000))


async def test_cancelled_callers_never_leak_an_in_flight_slot(client: Client, user_id: str) -> None:
    """Callers cancelled while queued or in flight give their slot back: the store keeps serving at full width."""
    store = SessionStore(client, max_in_flight=2)
    sid = (await store.create_session(user_id)).session_id
    for round_ in range(5):
        tasks = [asyncio.create_task(store.add_message(sid, "user", f"{round_}:{n}")) for n in range(40)]
        await asyncio.sleep(0.001 * round_)  # cancel at different points: queued, in flight, handed a slot
        for task in tasks[::2]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert all(task.result() for task in tasks[1::2])
    # two slots still free: 100 more calls get through, and a leak would hang them
    await asyncio.wait_for(asyncio.gather(*(store.add_message(sid, "user", f"after {n}") for n in range(100))), 60)
    stored = await store.get_messages(sid)
    assert sum(m.content.startswith("after ") for m in stored if isinstance(m.content, str)) == 100


async def test_one_call_failing_in_a_batch_fails_alone(store: SessionStore, user_id: str) -> None:
    """Calls sent together each get their own outcome: the ones on a missing session fail, the others land once."""
    sid = (await store.create_session(user_id)).session_id
    calls = [
        store.add_message(sid if n % 2 else "no-such-session", "user", f"m{n}", message_id=f"m{n}") for n in range(60)
    ]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    failed = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)]
    assert failed == list(range(0, 60, 2))
    assert all(isinstance(outcomes[n], SessionNotFoundError) for n in failed)
    assert [m.id for m in await store.get_messages(sid)] == [f"m{n}" for n in range(1, 60, 2)]
