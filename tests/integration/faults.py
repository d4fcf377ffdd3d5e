"""A ledger of what writers were told, checked against what the server stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from glide_memory import GlideMemoryError, SessionStore


@dataclass
class Ledger:
    """What concurrent writers sent and were told, per session, for the exactly-once checks."""

    acknowledged: dict[str, list[str]] = field(default_factory=dict)
    errors: list[GlideMemoryError] = field(default_factory=list)
    longest_call: float = 0.0

    async def write(self, store: SessionStore, session_id: str, message_id: str) -> None:
        """Append one message of one token; record it if acknowledged, record the error if not."""
        started = time.monotonic()
        try:
            await store.add_message(session_id, "user", f"text of {message_id}", 1, message_id=message_id)
        except GlideMemoryError as exc:
            self.errors.append(exc)
            return
        finally:
            self.longest_call = max(self.longest_call, time.monotonic() - started)
        self.acknowledged.setdefault(session_id, []).append(message_id)

    async def check(self, store: SessionStore) -> dict[str, int]:
        """Assert nothing acknowledged was lost or duplicated and the counters match; return the totals."""
        totals = {"acknowledged": 0, "stored": 0, "lost": 0, "duplicated": 0}
        for session_id, sent in self.acknowledged.items():
            stored = [m.id for m in await store.get_messages(session_id)]
            info = await store.get_session_info(session_id)
            totals["acknowledged"] += len(sent)
            totals["stored"] += len(stored)
            totals["lost"] += len(set(sent) - set(stored))
            totals["duplicated"] += len(stored) - len(set(stored))
            # order per writer is preserved: each writer's ids appear in the order it sent them
            for writer in {message_id.rsplit("-", 1)[0] for message_id in sent}:
                mine = [m for m in stored if m is not None and m.rsplit("-", 1)[0] == writer]
                assert mine == sorted(mine, key=lambda m: int(m.rsplit("-", 1)[1])), writer
            # a write that failed may still have been applied, once: the counters follow the list exactly
            assert info.message_count == info.messages_stored == info.token_count == len(stored), session_id
        assert totals["lost"] == 0 and totals["duplicated"] == 0, totals
        return totals


async def run_writers(
    ledger: Ledger,
    store: SessionStore,
    session_ids: list[str],
    fault: Callable[[], Awaitable[None]],
    *others: Callable[[asyncio.Event], Awaitable[None]],
) -> None:
    """Run one sequential writer per session (ids ``<session>-<n>``) until ``fault`` has run to its end.

    ``others`` run alongside, each given the event that is set once the fault is over.
    """
    done = asyncio.Event()

    async def run_fault() -> None:
        try:
            await fault()
        finally:
            done.set()

    async def writer(session_id: str) -> None:
        n = 0
        while not done.is_set() or n < 20:
            await ledger.write(store, session_id, f"{session_id}-{n}")
            n += 1
            await asyncio.sleep(0.005)

    await asyncio.gather(run_fault(), *(other(done) for other in others), *(writer(sid) for sid in session_ids))
