"""Where an adapter's store lives, and how calls from any thread or event loop reach it.

Frameworks call their memory from everywhere: synchronous code in worker
threads, ``asyncio.run`` on fresh loops, the application's own loop. glide
answers a client only on the loop that created it, so every call is carried
out on the store's own loop (:class:`Binding`): awaited directly when the
caller is on it, handed over (``run_coroutine_threadsafe``) when it is not,
waited for when the caller is synchronous (:func:`run_on`).

A store an adapter creates itself lives on one process-wide background loop
(:class:`SharedLoop`, started on first use, stopped when the last user
releases it) instead of one loop each: glide's asyncio client delivers every
reply in the process through the first event loop that used it, so a second
loop would wait forever once the first went idle.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from glide_memory import KeySchema, SessionStore
from glide_memory.errors import BridgeError, InvalidInputError, ServerTimeoutError, StoreClosedError

T = TypeVar("T")

DEFAULT_CALL_TIMEOUT = 60.0
"""Seconds a synchronous call waits for its coroutine; above the store's own 10 s retry budget."""

_CONNECT_TIMEOUT = 30.0  # seconds a constructor waits for its store (an embedded server takes a moment)


class SharedLoop:
    """The process-wide background event loop, reference-counted."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _users = 0
    _hooked = False

    @classmethod
    def acquire(cls) -> asyncio.AbstractEventLoop:
        """Return the running background loop, starting it if needed."""
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name="glide-memory-loop", daemon=True)
                thread.start()
                ready.wait()
                cls._loop, cls._thread = loop, thread
                if not cls._hooked:
                    atexit.register(cls._stop_at_exit)
                    cls._hooked = True
            cls._users += 1
            return cls._loop

    @classmethod
    def release(cls) -> None:
        """Drop one user; the last one stops the loop and joins its thread."""
        with cls._lock:
            cls._users -= 1
            if cls._users > 0 or cls._loop is None:
                return
            loop, thread = cls._loop, cls._thread
            cls._loop, cls._thread = None, None
        cls._shutdown(loop, thread)

    @classmethod
    def running(cls) -> bool:
        """Whether the background loop is running."""
        return cls._loop is not None

    @staticmethod
    def _shutdown(loop: asyncio.AbstractEventLoop, thread: threading.Thread | None) -> None:
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        if not loop.is_running():
            loop.close()

    @classmethod
    def _stop_at_exit(cls) -> None:
        with cls._lock:
            loop, thread = cls._loop, cls._thread
            cls._loop, cls._thread, cls._users = None, None, 0
        if loop is not None:
            cls._shutdown(loop, thread)


def run_on(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], timeout: float = DEFAULT_CALL_TIMEOUT) -> T:
    """Run ``coro`` on ``loop`` (running in another thread) and return its result.

    Raises:
        BridgeError: called from ``loop``'s own thread, where waiting would
            deadlock, or ``loop`` is not running.
        ServerTimeoutError: no result within ``timeout`` seconds; the usual
            cause is that the loop glide delivers replies on is blocked.
    """
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    if current is loop or not loop.is_running():
        coro.close()
        if current is loop:
            raise BridgeError(
                "a synchronous call was made on the event loop the store belongs to, where waiting would block "
                "the loop forever: run it in a worker thread, e.g. agent = await asyncio.to_thread(Agent, ...) "
                "and await asyncio.to_thread(agent, prompt)"
            )
        raise BridgeError(
            "the store's event loop is not running, so nothing can carry out this call: keep that loop "
            "running (in its own thread) while synchronous code uses the store"
        )
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError as exc:
        future.cancel()
        raise ServerTimeoutError(
            f"no reply within {timeout} s; if this process used glide on another event loop first, "
            "that loop must keep running (glide reads every reply through it)"
        ) from exc


class Binding:
    """An adapter's store and its event loop: the caller's store, or one the adapter owns on the shared loop.

    Args:
        store: A store to use; stays the caller's, and its loop must keep
            running while other threads or loops call the adapter.
        url: A ``valkey://`` URL for a store the adapter creates (and
            closes), on the shared background loop; with neither ``store``
            nor ``url``, ``VALKEY_URL`` or an embedded server.
        schema: Key names of a store the adapter creates.
        call_timeout: Seconds a call routed to the store's loop may take.
        name: The adapter as its errors name it, e.g. ``"the chat store"``.
        closed_error: The error a call after :meth:`close` raises, given its message.
        blocked_hint: What a :class:`~glide_memory.ServerTimeoutError` from a
            blocked store loop advises, in the framework's terms.
        lazy: Start the shared loop and connect a store the adapter creates
            on the first call instead of now, so construction sends nothing
            (the store is then had with :meth:`ready`).

    Raises:
        InvalidInputError: both ``store`` and ``url`` (or ``schema``), a
            ``store`` that is not a :class:`SessionStore`, or a
            ``call_timeout`` that is not a positive number.
        BridgeError: the store's glide client does not say which loop it belongs to.
    """

    def __init__(
        self,
        *,
        store: SessionStore | None,
        url: str | None,
        schema: KeySchema | None,
        call_timeout: float,
        name: str,
        closed_error: Callable[[str], Exception] = StoreClosedError,
        blocked_hint: str = "it is blocked, e.g. by a synchronous call waiting on it",
        lazy: bool = False,
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
        self._name = name
        self._closed_error = closed_error
        self._blocked_hint = blocked_hint
        self._url, self._schema = url, schema
        self._guard = threading.Lock()
        self._acquired = False  # holds a use of the shared loop, to release once
        self._connecting: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if store is not None:
            if not isinstance(store, SessionStore):
                raise InvalidInputError(f"store must be a SessionStore, not {type(store).__name__}")
            self._loop = store.loop
            if self._loop is None:
                raise BridgeError("cannot tell which event loop the store's glide client belongs to")
        self._store = store
        if store is None and not lazy:
            try:
                self._store = run_on(
                    self.loop, SessionStore.connect(url, schema=schema), timeout=max(self.timeout, _CONNECT_TIMEOUT)
                )
            except BaseException:
                self._let_go()
                raise

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The store's event loop; the shared background loop, started now if need be, for a store the adapter owns."""
        with self._guard:
            if self._loop is None:
                self.check_open()
                self._loop = SharedLoop.acquire()
                self._acquired = True
            return self._loop

    @property
    def store(self) -> SessionStore:
        """The store; a lazy binding has one only once a call connected it (see :meth:`ready`)."""
        if self._store is None:
            raise BridgeError(f"{self._name} has not connected its store yet")
        return self._store

    async def ready(self) -> SessionStore:
        """Return the store, connecting first if a lazy binding has not yet; await it on the store's loop."""
        if self._store is not None:
            return self._store
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            store = self._store
            if store is None:
                store = self._store = await SessionStore.connect(self._url, schema=self._schema)
        return store

    def check_open(self) -> None:
        """Raise the adapter's closed error if it is closed."""
        if self.closed:
            raise self._refusal()

    def _refusal(self) -> Exception:
        return self._closed_error(f"{self._name} is closed")

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Carry out ``coro`` on the store's loop and wait for its result, from synchronous code.

        Raises:
            closed_error: the adapter is closed.
            BridgeError: called on the store's own loop, where waiting would
                block it forever (use the async methods there), or that loop
                is not running.
            ServerTimeoutError: no result within the call timeout.
        """
        if self.closed:
            coro.close()
            raise self._refusal()
        return run_on(self.loop, coro, self.timeout)

    async def call(self, coro: Coroutine[Any, Any, T], *, bounded: bool = True) -> T:
        """Await ``coro`` on the store's loop, from any event loop.

        Args:
            coro: The work, to be run on the store's loop.
            bounded: Wait at most the call timeout for a call handed to the
                store's loop; ``False`` waits as long as it takes.

        Raises:
            closed_error: the adapter is closed.
            BridgeError: the store's loop is not running.
            ServerTimeoutError: a call handed to the store's loop took longer
                than the call timeout; the usual cause is that the store's
                loop is blocked waiting for this very call.
        """
        if self.closed:
            coro.close()
            raise self._refusal()
        loop = self.loop
        if asyncio.get_running_loop() is loop:
            return await coro
        if not loop.is_running():
            coro.close()
            raise BridgeError(
                "the store's event loop is not running, so nothing can carry out this call: keep that loop "
                f"running (e.g. in its own thread) while other loops use {self._name}"
            )
        future = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
        if not bounded:
            return await future
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError as exc:
            raise ServerTimeoutError(
                f"no reply within {self.timeout} s from the store's event loop; {self._blocked_hint}"
            ) from exc

    def close(self) -> None:
        """Close the store the adapter created and release the shared loop; idempotent. A caller's store stays open."""
        if self.closed:
            return
        self.closed = True
        self._let_go()

    async def aclose(self) -> None:
        """Close the store the adapter created and release the shared loop, from async code; idempotent.

        Raises:
            BridgeError: called on the shared loop itself, which closing may stop.
        """
        if self.closed:
            return
        if self._acquired and asyncio.get_running_loop() is self._loop:
            raise BridgeError(
                f"{self._name}'s own store runs on a background loop: close it from another loop or thread"
            )
        self.closed = True
        if self._acquired:
            await asyncio.to_thread(self._let_go)

    def _let_go(self) -> None:
        """Close the store the adapter created, if any, and release the shared loop if it holds it."""
        with self._guard:
            acquired, self._acquired = self._acquired, False
        if not acquired or self._loop is None:
            return
        try:
            if self._store is not None:
                run_on(self._loop, self._store.close(), self.timeout)
        finally:
            SharedLoop.release()
