"""The in-flight limit of one store: every glide request it sends, alone or as a batch, holds one slot."""

from __future__ import annotations

import asyncio
import collections
import contextlib


class Slots:
    """An in-flight limit that costs two integer operations while it is not reached.

    asyncio.Semaphore costs about 2 µs a call in coroutine frames, about a
    tenth of an append's whole Python cost; this fast path skips them. Past
    the limit, callers queue in order and a finishing call hands its slot to
    the first one still waiting.
    """

    __slots__ = ("_free", "_waiting")

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    async def take(self) -> None:
        """Wait for a slot (call only when :meth:`try_take` failed)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # a slot was handed over as this task was cancelled: pass it on
            else:
                # a release() may already have popped it (and skipped it, being cancelled)
                with contextlib.suppress(ValueError):
                    self._waiting.remove(waiter)
            raise

    def try_take(self) -> bool:
        """Take a free slot if there is one and nobody is queued before us."""
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return True
        return False

    def release(self) -> None:
        """Give the slot back, or straight to the first caller still waiting."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1
