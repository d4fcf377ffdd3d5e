"""Where an adapter's store lives, and how calls from any thread or event loop reach it.

LlamaIndex calls chat stores from everywhere: its sync wrappers run
coroutines with ``asyncio_run`` (a fresh loop, or a worker thread when a loop
is running), agents await from the application's loop. glide answers a
client only on the loop that created it, so every call is carried out on the
store's own loop: awaited directly when the caller is on it, handed over
(``run_coroutine_threadsafe``) when it is not, waited for when the caller is
synchronous.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from glide_memory import BridgeError, InvalidInputError, KeySchema, ServerTimeoutError, SessionStore, StoreClosedError
from glide_memory.integrations._bridge import SharedLoop, run_on

T = TypeVar("T")

_CONNECT_TIMEOUT = 30.0  # seconds a constructor waits for its store (an embedded server takes a moment)


def loop_of(store: SessionStore) -> asyncio.AbstractEventLoop:
    """Return the event loop the store's glide client answers on.

    Raises:
        BridgeError: the client does not say.
    """
    loop = store.loop
    if loop is None:
        raise BridgeError("cannot tell which event loop the store's glide client belongs to")
    return loop


class Binding:
    """An adapter's store and its event loop: the caller's store, or one the adapter owns on the shared loop.

    Args:
        store: A store to use; stays the caller's, and its loop must keep
            running while other threads call the adapter.
        url: A ``valkey://`` URL for a store the adapter creates (and
            closes), on the shared background loop; with neither ``store``
            nor ``url``, ``VALKEY_URL`` or an embedded server.
        schema: Key names of a store the adapter creates.
        call_timeout: Seconds a call routed to the store's loop may take.
    """

    def __init__(
        self, *, store: SessionStore | None, url: str | None, schema: KeySchema | None, call_timeout: float
    ) -> None:
        if store is not None and url is not None:
            raise InvalidInputError("pass a store or a url, not both")
        if store is not None and schema is not None:
            raise InvalidInputError("schema names the keys of a store the adapter creates; yours has its own")
        if isinstance(call_timeout, bool) or not isinstance(call_timeout, int | float) or not call_timeout > 0:
            raise InvalidInputError(f"call_timeout must be a positive number of seconds, not {call_timeout!r}")
        self.timeout = float(call_timeout)
        self.owns_store = store is None
        self.closed = False
        if store is None:
            self.loop = SharedLoop.acquire()
            try:
                store = run_on(
                    self.loop, SessionStore.connect(url, schema=schema), timeout=max(self.timeout, _CONNECT_TIMEOUT)
                )
            except BaseException:
                SharedLoop.release()
                raise
        else:
            if not isinstance(store, SessionStore):
                raise InvalidInputError(f"store must be a SessionStore, not {type(store).__name__}")
            self.loop = loop_of(store)
        self.store = store

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Carry out ``coro`` on the store's loop and wait for its result, from synchronous code.

        Raises:
            StoreClosedError: the adapter is closed.
            BridgeError: called on the store's own loop, where waiting would
                block it forever (use the async methods there).
            ServerTimeoutError: no result within the call timeout.
        """
        if self.closed:
            coro.close()
            raise StoreClosedError("the chat store is closed")
        return run_on(self.loop, coro, self.timeout)

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the store's loop, from any event loop.

        Raises:
            StoreClosedError: the adapter is closed.
            BridgeError: the store's loop is not running.
            ServerTimeoutError: a call handed to the store's loop took longer
                than the call timeout; the usual cause is that the store's
                loop is blocked waiting for this very call (a synchronous
                LlamaIndex wrapper called on it).
        """
        if self.closed:
            coro.close()
            raise StoreClosedError("the chat store is closed")
        if asyncio.get_running_loop() is self.loop:
            return await coro
        if not self.loop.is_running():
            coro.close()
            raise BridgeError(
                "the store's event loop is not running, so nothing can carry out this call: keep that loop "
                "running while other loops use the chat store, or let the chat store own its store (url=...)"
            )
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError as exc:
            raise ServerTimeoutError(
                f"no reply within {self.timeout} s from the store's event loop; if a synchronous LlamaIndex "
                "call (memory.put, Memory.from_defaults(chat_history=...)) runs on that loop, it blocks the "
                "loop this call needs: use the async methods there, or give the chat store a url"
            ) from exc

    def close(self) -> None:
        """Close the store the adapter created and release the shared loop; idempotent."""
        if self.closed:
            return
        if self.owns_store:
            try:
                run_on(self.loop, self.store.close(), self.timeout)
            finally:
                self.closed = True
                SharedLoop.release()
        self.closed = True

    async def aclose(self) -> None:
        """Close the store the adapter created and release the shared loop, from async code; idempotent."""
        if self.closed:
            return
        if self.owns_store:
            try:
                await self.call(self.store.close())
            finally:
                self.closed = True
                await asyncio.to_thread(SharedLoop.release)
        self.closed = True
