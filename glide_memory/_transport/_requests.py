"""The one request path: every server call of a store goes through :class:`Requests`.

It refuses calls after close, refuses calls glide could never answer on
this event loop (valkey-glide #7122) instead of hanging, keeps the store
below glide's in-flight limit, retries transient failures with exponential
backoff and full jitter inside a per-call deadline, (re)loads the function
library when a node lacks it, and maps every glide error through the one
error map (:mod:`._errors`).

Retrying is safe because every write is idempotent: appends carry message
ids checked on the server, creates carry their creation time, and the other
writes set absolute values.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import glide.glide_client as _glide_core
from glide import AllPrimaries, Batch, ClusterBatch, GlideClient, GlideClusterClient, GlideError, InfoSection

from glide_memory._transport._coalesce import Coalescer
from glide_memory._transport._durable import DurableWrites
from glide_memory._transport._errors import is_function_missing, may_have_applied, translate
from glide_memory._transport._slots import Slots
from glide_memory._transport._telemetry import RETRIES, server_of
from glide_memory.errors import (
    ConfigurationError,
    EventLoopError,
    GlideMemoryError,
    InvalidInputError,
    PermissionDeniedError,
    StoreClosedError,
)
from glide_memory.models import Durability

T = TypeVar("T")

MISS: Any = object()
"""What :meth:`Requests.attempt` returns when the caller's general path must take over."""

DEFAULT_MAX_IN_FLIGHT = 256
"""Requests one store keeps in flight at most; glide refuses past 1,000."""

MINIMUM_SERVER = (7, 0)
"""The oldest server the function library runs on: Valkey 7.2 (which reports 7.2) or Redis 7.0."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Library:
    """A server function library the request path loads where it is missing.

    Attributes:
        name: The library's name.
        code: Its full source, for ``FUNCTION LOAD``.
        functions: Each operation's function name.
        barrier: The operation durable writes send after the write (see :mod:`._durable`).
        replaces: Whether an installed library of the given name is one this
            one supersedes (removed when this one is loaded).
    """

    name: str
    code: str
    functions: dict[str, str]
    barrier: str
    replaces: Callable[[str, str], bool]


class Attempts:
    """What became of the attempts of one call, for writes whose retry must report the first one's result."""

    __slots__ = ("maybe_applied",)

    def __init__(self) -> None:
        self.maybe_applied = False
        """Whether an attempt before the last one may have been applied (it timed out or lost its connection)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How a store retries transient failures (timeouts, lost connections, failover, migration).

    Args:
        deadline: Seconds one call may take, all attempts and waits
            included; 0 turns retrying off. A timed-out attempt may still be
            applied later: writes are idempotent, so retrying it is safe.
        initial_backoff: Upper bound of the first wait, in seconds.
        max_backoff: Upper bound of any wait, in seconds.
        multiplier: Growth of the upper bound per attempt.

    Each wait is drawn uniformly between 0 and the bound ("full jitter"), so
    many clients recovering together do not retry in lockstep.
    """

    deadline: float = 10.0
    initial_backoff: float = 0.02
    max_backoff: float = 1.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        for name in ("deadline", "initial_backoff", "max_backoff", "multiplier"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
                raise InvalidInputError(f"RetryPolicy.{name} must be a finite number >= 0, not {value!r}")
        if self.multiplier < 1:
            raise InvalidInputError("RetryPolicy.multiplier must be at least 1")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """Return a policy that never retries: every failure reaches the caller at once."""
        return cls(deadline=0.0)

    def backoff(self, attempt: int) -> float:
        """Return the wait before retry number ``attempt`` (0-based), with full jitter."""
        bound = min(self.max_backoff, self.initial_backoff * self.multiplier**attempt)
        return random.uniform(0, bound)  # noqa: S311 - jitter, not secrecy


def check_event_loop(
    client_loop: asyncio.AbstractEventLoop | None = None, *, connecting: bool = False, session_id: str | None = None
) -> None:
    """Raise :class:`EventLoopError` if glide could never deliver a reply to the running loop.

    Args:
        client_loop: The loop the client was created on, if there is one.
        connecting: The call creates a client, which moves glide's reader
            onto this loop if the loop it was on is closed.
        session_id: The session concerned, carried by the error.
    """
    running = asyncio.get_running_loop()
    if client_loop is not None and client_loop is not running:
        raise EventLoopError(
            "this store's glide client belongs to another event loop (the one it was created on); "
            "glide clients cannot move between loops: create the store on the loop that uses it, "
            "or hand calls to its loop with asyncio.run_coroutine_threadsafe",
            session_id=session_id,
        )
    reader = getattr(_glide_core, "_async_pipe_loop", None)
    if reader is None or reader is running or (connecting and reader.is_closed()):
        return
    if reader.is_closed() or not reader.is_running():
        state = "closed" if reader.is_closed() else "not running"
        raise EventLoopError(
            f"glide delivers every reply of this process through the first event loop that used glide, "
            f"and that loop is {state}, so this call would never get its reply (valkey-glide #7122). "
            "Use one event loop for all glide clients (e.g. pytest-asyncio with loop scope 'session'), "
            "keep the first loop running in a thread, or close it before creating clients on another",
            session_id=session_id,
        )


class Requests:
    """The request path of one store over one glide client.

    Args:
        client: The glide client.
        max_in_flight: Requests in flight at most; further callers queue.
        retry: The retry policy.
        durability: What writes wait for by default (see :class:`~glide_memory.models.Durability`).
    """

    def __init__(
        self,
        client: GlideClient | GlideClusterClient,
        *,
        library: Library,
        max_in_flight: int,
        retry: RetryPolicy,
        durability: Durability | None = None,
    ) -> None:
        self.client = client
        self.library = library
        self.cluster = isinstance(client, GlideClusterClient)
        self.retry = retry
        self.closed = False
        self._slots = Slots(max_in_flight)
        self.sent = 0
        """Requests sent, retries and batches included (a batch is one request: one round trip)."""
        loop = getattr(client, "_loop", None)  # glide binds a client to the loop that created it
        self.client_loop: asyncio.AbstractEventLoop | None = (
            loop if isinstance(loop, asyncio.AbstractEventLoop) else None
        )
        self._library_loads = 0
        self._loading: asyncio.Lock | None = None
        self.durable = DurableWrites(self, durability)
        self.coalescer = Coalescer(client, self._slots)
        self.server = server_of(client)
        """The first address the client was configured with, for telemetry."""

    # -- the checks made before anything is sent -----------------------------

    def check_usable(self, session_id: str | None = None) -> None:
        """Raise if the store is closed or glide could not answer on the running loop."""
        if self.closed:
            raise StoreClosedError("the store is closed", session_id=session_id)
        check_event_loop(self.client_loop, session_id=session_id)

    # -- calls -----------------------------------------------------------------

    async def run(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        key: str | None = None,
        deadline: float | None = None,
        attempts: Attempts | None = None,
        limited: bool = True,
    ) -> T:
        """Send ``call()`` with retries; raise a :class:`GlideMemoryError` when it fails for good.

        Args:
            call: Makes one attempt; called again for each retry.
            session_id: The session concerned, carried by errors.
            user_id: The user concerned, carried by errors.
            key: The key concerned, named by ``CorruptedEntryError``.
            deadline: Seconds for this call instead of the policy's (0: one attempt).
            attempts: Told whether an earlier attempt may have been applied.
            limited: Take one of the ``max_in_flight`` slots per attempt
                (``False``: ``call`` goes through the coalescer, which takes
                one per glide request it sends, from the same slots).
        """
        self.check_usable(session_id)
        budget = self.retry.deadline if deadline is None else deadline
        start = time.monotonic()
        attempt = loads = 0
        while True:
            seen = self._library_loads
            if limited and not self._slots.try_take():
                await self._slots.take()
            self.sent += 1
            try:
                return await call()
            except GlideError as exc:
                cause: GlideError = exc
                if attempts is not None and may_have_applied(exc):
                    attempts.maybe_applied = True
                missing = is_function_missing(exc) and loads < 2
                failure = None if missing else translate(exc, session_id=session_id, user_id=user_id, key=key)
            finally:
                if limited:
                    self._slots.release()
            if (cell := RETRIES.get()) is not None and failure is None:
                cell[0] += 1  # an observed operation (see _telemetry) retries: count it
            if failure is None:
                # a node without our library (restarted, new, flushed): load it everywhere, then retry at once
                await self._load_library(seen, session_id)
                loads += 1
                continue
            elapsed = time.monotonic() - start
            wait = self.retry.backoff(attempt)
            if not failure.retryable or elapsed + wait >= budget:
                if attempt and failure.retryable:
                    failure.args = (f"{failure.args[0]} (gave up after {attempt + 1} attempts in {elapsed:.1f} s)",)
                raise failure from cause
            attempt += 1
            if (cell := RETRIES.get()) is not None:
                cell[0] += 1
            await asyncio.sleep(wait)
            if self.closed:
                raise StoreClosedError("the store was closed while a call was retrying", session_id=session_id)

    async def fcall(
        self,
        name: str,
        keys: Sequence[str],
        args: Sequence[str | bytes],
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        read_only: bool = False,
        attempts: Attempts | None = None,
    ) -> Any:
        """Call one of the library's functions (``name`` as in :attr:`Library.functions`).

        A write waits for the durability its call (or the store) asks for.
        """
        function = self.library.functions[name]
        key_list, arg_list = list(keys), list(args)
        if not read_only and (durability := self.durable.wanted()) is not None:
            return await self.durable.fcall(
                function, key_list, arg_list, durability, session_id=session_id, user_id=user_id, attempts=attempts
            )
        coalescer = self.coalescer
        return await self.run(
            lambda: coalescer.fcall(function, key_list, arg_list, read_only),
            session_id=session_id,
            user_id=user_id,
            key=key_list[0] if key_list else None,
            attempts=attempts,
            limited=False,
        )

    async def attempt(self, name: str, keys: list[str], args: list[str | bytes]) -> Any:
        """Make one attempt at a write function, the shortest way, for a caller that has a general path.

        Returns the function's reply, or :data:`MISS` when the general path
        must take over: the store is closed, a durability is asked, or the
        attempt failed (it may have been applied: the general path's retry
        of the same write is a repeat).
        """
        if self.closed or self.durable.wanted() is not None:
            return MISS
        check_event_loop(self.client_loop)
        self.sent += 1
        try:
            return await self.coalescer.fcall(self.library.functions[name], keys, args, False)
        except GlideError:
            if (cell := RETRIES.get()) is not None:
                cell[0] += 1  # what follows is a retry
            return MISS

    async def pipeline(
        self,
        fill: Callable[[Batch | ClusterBatch], object],
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        atomic: bool = False,
        deadline: float | None = None,
    ) -> list[Any]:
        """Send the commands ``fill`` adds to one batch, in one round trip, and return the replies."""
        client = self.client

        async def send() -> list[Any]:
            if isinstance(client, GlideClusterClient):
                cluster_batch = ClusterBatch(is_atomic=atomic)
                fill(cluster_batch)
                return list(await client.exec(cluster_batch, raise_on_error=True) or [])
            batch = Batch(is_atomic=atomic)
            fill(batch)
            return list(await client.exec(batch, raise_on_error=True) or [])

        return await self.run(send, session_id=session_id, user_id=user_id, deadline=deadline)

    async def ensure_library(self) -> None:
        """Check the server's version and load the function library now (``connect()`` does, once)."""
        self.check_usable()
        client = self.client

        async def info() -> Any:
            return await client.info([InfoSection.SERVER])

        reply = await self.run(info)
        text = next(iter(reply.values())) if isinstance(reply, dict) else reply
        found = _server_version(text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text))
        if found is not None and found[:2] < MINIMUM_SERVER:
            raise ConfigurationError(
                f"the server runs version {'.'.join(map(str, found))}; glide-memory needs Valkey 7.2 or newer "
                "(or Redis 7.0 or newer) for its function library"
            )
        await self._load_library(self._library_loads, None)

    async def _load_library(self, seen: int, session_id: str | None) -> None:
        if self._loading is None:
            self._loading = asyncio.Lock()
        async with self._loading:
            if self._library_loads != seen:
                return  # another caller loaded it meanwhile
            client, library = self.client, self.library

            async def load() -> object:
                if isinstance(client, GlideClusterClient):
                    return await client.function_load(library.code, replace=True, route=AllPrimaries())
                return await client.function_load(library.code, replace=True)

            try:
                await self.run(load, session_id=session_id)
            except GlideMemoryError as exc:
                exc.args = (
                    f"{exc.args[0]}; loading the function library {library.name} failed "
                    "(a restricted user needs +function|load, or run 'glide-memory functions load' as an admin)",
                )
                raise
            self._library_loads += 1
            # a least-privilege user may not list or delete libraries: an admin's load cleans up
            with contextlib.suppress(PermissionDeniedError):
                await self._remove_replaced(session_id)

    async def _remove_replaced(self, session_id: str | None) -> None:
        """Delete the libraries ours supersedes (older releases' and other builds'), on every primary."""
        client, library = self.client, self.library

        async def listed() -> Any:
            if isinstance(client, GlideClusterClient):
                return await client.function_list(library_name_pattern="glide_memory_*", route=AllPrimaries())
            return await client.function_list(library_name_pattern="glide_memory_*")

        reply = await self.run(listed, session_id=session_id)
        replies = list(reply.values()) if isinstance(reply, dict) else [reply]
        names: set[str] = set()
        for node in replies:
            for entry in node or []:
                name = entry.get(b"library_name") if isinstance(entry, dict) else None
                if isinstance(name, bytes):
                    names.add(name.decode())
        for name in sorted(n for n in names if library.replaces(n, library.name)):

            async def delete(name: str = name) -> object:
                if isinstance(client, GlideClusterClient):
                    return await client.function_delete(name, route=AllPrimaries())
                return await client.function_delete(name)

            try:
                await self.run(delete, session_id=session_id)
            except GlideMemoryError as exc:
                if "not exist" not in str(exc.__cause__ or exc):  # another client removed it first
                    raise


def _server_version(info: str) -> tuple[int, ...] | None:
    """Return the server's version from ``INFO server`` (Valkey's own line first), or ``None``."""
    found: dict[str, str] = {}
    for line in info.splitlines():
        name, _, value = line.partition(":")
        if name in ("valkey_version", "redis_version"):
            found[name] = value.strip()
    text = found.get("valkey_version") or found.get("redis_version")
    if not text:
        return None
    try:
        return tuple(int(part) for part in text.split(".")[:3])
    except ValueError:
        return None
