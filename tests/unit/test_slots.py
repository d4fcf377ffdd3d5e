"""The store's in-flight limit: slots are never lost or doubled when queued callers are cancelled."""

from __future__ import annotations

import asyncio

import pytest

from glide_memory._transport._slots import Slots


async def test_a_waiter_cancelled_and_skipped_by_a_release_leaves_cleanly() -> None:
    """Cancelled, then popped by a release before it runs: it raises CancelledError only, and the slot is free."""
    slots = Slots(1)
    assert slots.try_take()
    waiter = asyncio.create_task(slots.take())
    await asyncio.sleep(0)  # queued
    waiter.cancel()  # cancels the future it waits on, at once
    slots.release()  # skips the cancelled waiter: the slot is free again
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slots.try_take() and not slots.try_take()


async def test_a_slot_handed_to_a_cancelled_waiter_passes_on() -> None:
    """A waiter handed the slot as it is cancelled gives it to the next one in line."""
    slots = Slots(1)
    assert slots.try_take()
    first, second = asyncio.create_task(slots.take()), asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    slots.release()  # hands the slot to the first
    first.cancel()  # before it ran
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)  # it got the slot
    assert not slots.try_take()
    slots.release()
    assert slots.try_take()
