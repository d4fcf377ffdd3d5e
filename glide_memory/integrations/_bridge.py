"""Run the async store from synchronous code, on a loop in a background thread.

glide's asyncio client delivers every reply in the process through the first
event loop that used it, so adapters share one long-lived loop here (started
on first use, stopped when the last user releases it) instead of one loop
each: a second loop would wait forever once the first went idle.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from glide_memory.errors import BridgeError, ServerTimeoutError

T = TypeVar("T")

DEFAULT_CALL_TIMEOUT = 60.0
"""Seconds a synchronous call waits for its coroutine; above the store's own 10 s retry budget."""


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
