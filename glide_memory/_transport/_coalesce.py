"""Coalescing: function calls made while others are in flight leave together, as one pipelined batch.

glide spends most of a request's cost in Python before anything reaches
the wire (marshalling the arguments, a future, a write to its core), the
same for one command as for a batch of many. Under concurrency that cost,
not the server, bounds throughput. So a call that finds nothing of the
store in flight is sent at once (a lone caller waits no longer), and calls
made while requests are in flight queue and are sent together as one
non-atomic batch (a pipeline, in which each function call stays atomic on
its own): at the end of the event loop's turn, or as soon as a batch's
worth has queued (a third of the calls in flight, 16 to 64). The size
keeps client and server busy at once: a batch's replies come back
together, after its last call ran, so with 100 tasks in one batch the
server idled while the client built the next and the client idled while
the server ran it.

A batch is one request of glide's, but not one unit of success: each call
gets its own reply or its own error, and a batch that fails as a whole
fails each of its calls, which the request path then retries one by one,
as it would have retried each alone (every write is idempotent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from glide import Batch, ClusterBatch, GlideClient, GlideClusterClient, GlideError

from glide_memory._transport._slots import Slots

BATCH = 64
"""Calls in one batch at most."""

BATCH_MIN = 16
"""A batch leaves once this many calls queued, or a third of the calls in flight if that is more."""

SHARE = 3
"""The batch size aims at a third of the calls in flight: about three batches take turns, so that the
client builds one while the server runs another, and each is as large as that allows (a batch costs
the client a fixed part). 100 and 1,000 tasks appending: a fixed 32 calls gave 1,000 tasks 0.79x to
0.90x the throughput of 100; this rule 0.98x to 1.04x, 100 tasks about the same (one batch of
everything: 0.80x the floor function's throughput)."""

_Call = tuple[str, list[str], list[str | bytes], bool, "asyncio.Future[Any]"]


class Coalescer:
    """The function calls of one client, sent alone when nothing is in flight and batched otherwise.

    Args:
        client: The glide client the calls go through.
        slots: The store's in-flight limit: each glide request sent here (a
            call alone, or a batch) holds one of its slots, as every other
            request of the store does. With none free, calls wait in the
            queue, and everything queued leaves as one batch when one frees.
    """

    def __init__(self, client: GlideClient | GlideClusterClient, slots: Slots) -> None:
        self._client = client
        self._cluster = isinstance(client, GlideClusterClient)
        self._slots = slots
        self._in_flight = 0
        self._calls_out = 0
        self._queue: list[_Call] = []
        self._flushing = False
        self._waiting = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        """Batches sent (of two calls or more), for the benchmarks' and tests' eyes."""

    async def fcall(self, function: str, keys: list[str], args: list[str | bytes], read_only: bool) -> Any:
        """Call ``function``; raise what glide raised for this call (or for its whole batch)."""
        if not self._in_flight and not self._queue and self._slots.try_take():
            self._in_flight += 1
            self._calls_out += 1
            try:
                return await self._one(function, keys, args, read_only)
            finally:
                self._in_flight -= 1
                self._calls_out -= 1
                self._slots.release()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((function, keys, args, read_only, future))
        if len(self._queue) >= self._batch_size() and not self._waiting and self._slots.try_take():
            self._start()
        elif not self._flushing:
            self._flushing = True
            loop.call_soon(self._flush)
        return await future

    def _one(self, function: str, keys: list[str], args: list[str | bytes], read_only: bool) -> Any:
        send = self._client.fcall_ro if read_only else self._client.fcall
        return send(function, keys=keys, arguments=args)

    def _flush(self) -> None:
        """Send what queued during this loop turn as one request, or wait for a slot to send it."""
        self._flushing = False
        if not self._queue or self._waiting:
            return
        if self._slots.try_take():
            self._start()
        else:
            self._waiting = True
            self._track(self._when_free())

    async def _when_free(self) -> None:
        """Wait for a slot, then send everything queued by then as one batch."""
        try:
            await self._slots.take()
        finally:
            self._waiting = False
        self._start()

    def _batch_size(self) -> int:
        """Return how many queued calls make a batch now (see SHARE)."""
        return min(BATCH, max(BATCH_MIN, self._calls_out // SHARE))

    def _start(self) -> None:
        """Send the first batch of the queue as one request, with the slot the caller took."""
        size = self._batch_size()
        calls, self._queue = self._queue[:size], self._queue[size:]
        if not calls:
            self._slots.release()
            return
        self._in_flight += 1
        self._calls_out += len(calls)
        self._track(self._send(calls))
        if self._queue and not self._flushing:  # the rest leaves at the end of this turn, slots allowing
            self._flushing = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, calls: list[_Call]) -> None:
        try:
            if len(calls) == 1:
                function, keys, args, read_only, _ = calls[0]
                replies: list[Any] = [await self._one(function, keys, args, read_only)]
            else:
                self.batches += 1
                replies = await self._exec(calls)
            if len(replies) != len(calls):
                raise GlideError(f"a batch of {len(calls)} calls got {len(replies)} replies")
        except Exception as exc:  # the whole batch failed: so did each of its calls
            for *_, future in calls:
                if not future.done():
                    future.set_exception(exc)
        except BaseException:
            for *_, future in calls:
                future.cancel()
            raise
        else:
            for (*_, future), reply in zip(calls, replies, strict=True):
                if future.done():
                    continue  # its caller was cancelled; the call may still have been applied
                if isinstance(reply, GlideError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        finally:
            self._in_flight -= 1
            self._calls_out -= len(calls)
            self._slots.release()

    async def _exec(self, calls: list[_Call]) -> list[Any]:
        batch: Batch | ClusterBatch = ClusterBatch(is_atomic=False) if self._cluster else Batch(is_atomic=False)
        for function, keys, args, read_only, _ in calls:
            if read_only:
                batch.fcall_ro(function, keys=keys, arguments=args)
            else:
                batch.fcall(function, keys=keys, arguments=args)
        if isinstance(self._client, GlideClusterClient):
            assert isinstance(batch, ClusterBatch)
            replies = await self._client.exec(batch, raise_on_error=False)
        else:
            assert isinstance(batch, Batch)
            replies = await self._client.exec(batch, raise_on_error=False)
        return list(replies or [])
