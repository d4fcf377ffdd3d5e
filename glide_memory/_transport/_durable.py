"""Durable writes: a write and its WAIT (or WAITAOF) in one request, to the write's primary.

A durable write is a non-atomic batch of three commands sent to the primary
that owns the write's keys (in a cluster, its slot's primary):

1. the write's function;
2. the ``barrier`` function on the write's first key, which leaves the key as
   it was but propagates a write, so the WAIT after it covers the first
   application of a write even when this attempt is a no-op repeat on a new
   connection (WAIT counts the replicas that hold the *connection's* last
   write, and a new connection without one has nothing to wait for);
3. ``WAIT replicas ms``, or ``WAITAOF 1 replicas ms`` with ``fsync``.

WAIT blocks the connection it arrives on until it returns, and glide has one
connection per node, so durable writes go through a second client the store
creates for them: a lagging replica delays durable writes, never the
store's reads and other writes.

The confirmations a :class:`~glide_memory.models.Durability` asks for are
checked once against the primaries (``INFO``): asking for more replicas than
a primary has, or ``fsync`` of a primary without ``appendonly``, is refused
before anything is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from typing import TYPE_CHECKING, Any

from glide import (
    AllPrimaries,
    Batch,
    BatchOptions,
    ClusterBatch,
    ClusterBatchOptions,
    GlideClient,
    GlideClusterClient,
    GlideError,
    InfoSection,
    SlotKeyRoute,
    SlotType,
)

from glide_memory._transport._errors import translate
from glide_memory.errors import ConfigurationError, DurabilityError, InvalidInputError, PermissionDeniedError
from glide_memory.models import Durability

if TYPE_CHECKING:
    from glide_memory._transport._requests import Attempts, Requests

GLIDE_DEFAULT_REQUEST_TIMEOUT_MS = 250

OVERRIDE: contextvars.ContextVar[Durability | None] = contextvars.ContextVar("glide_memory_durability", default=None)
"""The durability of the write being made, when its call names one (else the store's default holds)."""


class _Override:
    __slots__ = ("_durability", "_token")

    def __init__(self, durability: Durability) -> None:
        self._durability = durability
        self._token: contextvars.Token[Durability | None] | None = None

    def __enter__(self) -> None:
        self._token = OVERRIDE.set(self._durability)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            OVERRIDE.reset(self._token)


_UNCHANGED = contextlib.nullcontext()


def durable(durability: Durability | None) -> contextlib.AbstractContextManager[None]:
    """Return a context in which writes wait for ``durability`` (``None``: the store's default, at no cost)."""
    if durability is None:
        return _UNCHANGED
    if not isinstance(durability, Durability):
        raise InvalidInputError(f"durability must be a Durability or None, not {durability!r}")
    return _Override(durability)


_CONFIRMED_TAGS = (b"ok", b"exists")
"""Tagged replies after which the write (or the one it repeats) is on the primary, so its confirmation counts
(a reply that is no tagged table, e.g. append's plain length, is a write done too)."""


class DurableWrites:
    """The durable side of one store's request path: its own client, and what the primaries allow.

    Args:
        requests: The store's request path.
        default: The store's durability when a call names none.
    """

    def __init__(self, requests: Requests, default: Durability | None) -> None:
        self._requests = requests
        self.default = default if default is not None else Durability()
        self._client: GlideClient | GlideClusterClient | None = None
        self._creating: asyncio.Lock | None = None
        self._allowed: set[tuple[int, bool]] = set()

    def wanted(self) -> Durability | None:
        """Return the durability the current write needs, or ``None`` when it needs only the primary's ack."""
        durability = OVERRIDE.get() or self.default
        return durability if durability.required else None

    async def close(self) -> None:
        """Close the durable writes' client, if one was made."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def fcall(
        self,
        function: str,
        keys: list[str],
        args: list[str | bytes],
        durability: Durability,
        *,
        session_id: str | None,
        user_id: str | None,
        attempts: Attempts | None,
    ) -> Any:
        """Make one durable write (see the module docstring) and return the function's reply.

        Raises:
            DurabilityError: the write is on the primary but was not confirmed in time.
            ConfigurationError: the primaries cannot give what ``durability`` asks; nothing was written.
        """
        requests = self._requests
        requests.check_usable(session_id)
        await self._check(durability, session_id)
        client = await self._connection(session_id)
        barrier = requests.library.functions[requests.library.barrier]
        wait_ms = max(1, round(durability.timeout * 1000))
        budget = wait_ms + (getattr(client.config, "request_timeout", None) or GLIDE_DEFAULT_REQUEST_TIMEOUT_MS)
        wait = (
            ["WAITAOF", "1", str(durability.replicas), str(wait_ms)]
            if durability.fsync
            else ["WAIT", str(durability.replicas), str(wait_ms)]
        )

        async def send() -> tuple[Any, Any]:
            batch: Batch | ClusterBatch
            if isinstance(client, GlideClusterClient):
                batch = ClusterBatch(is_atomic=False)
                options: Any = ClusterBatchOptions(timeout=budget, route=SlotKeyRoute(SlotType.PRIMARY, keys[0]))
            else:
                batch, options = Batch(is_atomic=False), BatchOptions(timeout=budget)
            batch.fcall(function, keys=keys, arguments=args)
            batch.fcall(barrier, keys=[keys[0]], arguments=[])
            batch.custom_command(wait)
            written, fenced, acknowledged = await client.exec(batch, raise_on_error=False, options=options) or [
                None,
                None,
                None,
            ]
            for reply in (written, fenced):
                if isinstance(reply, GlideError):
                    raise reply  # the request path maps it, loads a missing library, retries what it may
            return written, acknowledged

        written, acknowledged = await requests.run(
            send, session_id=session_id, user_id=user_id, key=keys[0], attempts=attempts
        )
        if isinstance(written, list) and written and written[0] not in _CONFIRMED_TAGS:
            return written  # refused: nothing was written, and the function's wrapper says why
        await self._confirm(acknowledged, durability, session_id=session_id, user_id=user_id)
        return written

    async def _confirm(
        self, acknowledged: Any, durability: Durability, *, session_id: str | None, user_id: str | None
    ) -> None:
        """Raise :class:`DurabilityError` unless ``acknowledged`` (WAIT's or WAITAOF's reply) is enough."""
        where = f" (session {session_id!r})" if session_id else ""
        if isinstance(acknowledged, GlideError):
            # WAITAOF without appendonly fails after the write was applied: say both
            self._allowed.discard((durability.replicas, durability.fsync))
            raise DurabilityError(
                f"the write was applied on the primary but its durability could not be confirmed{where}: "
                f"{translate(acknowledged)}",
                replicas_acknowledged=0,
                replicas_requested=durability.replicas,
                fsync_confirmed=False if durability.fsync else None,
                session_id=session_id,
                user_id=user_id,
            )
        if durability.fsync:
            local, replicas = (int(part) for part in acknowledged)
            fsynced: bool | None = local >= 1
        else:
            local, replicas, fsynced = 1, int(acknowledged), None
        if replicas >= durability.replicas and local >= 1:
            return
        self._allowed.discard((durability.replicas, durability.fsync))
        now = await self._connected_replicas(session_id)
        shortfall = [f"{replicas} of {durability.replicas} replicas acknowledged it"] if durability.replicas else []
        if fsynced is False:
            shortfall.append("the primary's append-only file did not confirm it")
        raise DurabilityError(
            f"the write was applied on the primary but not confirmed as durable within {durability.timeout:g} s"
            f"{where}: {' and '.join(shortfall)}"
            + (f" (the primary has {now} connected replicas now)" if now is not None else "")
            + "; retrying with the same message ids writes nothing twice",
            replicas_acknowledged=replicas,
            replicas_requested=durability.replicas,
            fsync_confirmed=fsynced,
            session_id=session_id,
            user_id=user_id,
        )

    async def _connection(self, session_id: str | None) -> GlideClient | GlideClusterClient:
        """Return the durable writes' own client, creating it from the store's configuration the first time."""
        if self._client is not None:
            return self._client
        if self._creating is None:
            self._creating = asyncio.Lock()
        async with self._creating:
            if self._client is None:
                main = self._requests.client
                try:
                    self._client = await type(main).create(main.config)
                except GlideError as exc:
                    raise translate(exc, session_id=session_id) from exc
            return self._client

    async def _check(self, durability: Durability, session_id: str | None) -> None:
        """Refuse, before writing, what the primaries cannot confirm (checked once per durability)."""
        wanted = (durability.replicas, durability.fsync)
        if wanted in self._allowed:
            return
        nodes = await self._primaries(session_id)
        for address, info in nodes.items():
            connected = _field(info, "connected_slaves")
            if connected is not None and connected < durability.replicas:
                raise ConfigurationError(
                    f"Durability(replicas={durability.replicas}) asks for more replicas than the primary "
                    f"{address} has ({connected} connected), so no write could be confirmed; nothing was written",
                    session_id=session_id,
                )
            if durability.fsync and _field(info, "aof_enabled") == 0:
                raise ConfigurationError(
                    f"Durability(fsync=True) needs the append-only file, and the primary {address} runs "
                    "with appendonly no (CONFIG SET appendonly yes, or drop fsync); nothing was written",
                    session_id=session_id,
                )
        self._allowed.add(wanted)

    async def _connected_replicas(self, session_id: str | None) -> int | None:
        """Return the fewest replicas any primary has connected now, or ``None`` if INFO is not allowed."""
        nodes = await self._primaries(session_id)
        counts = [count for info in nodes.values() if (count := _field(info, "connected_slaves")) is not None]
        return min(counts) if counts else None

    async def _primaries(self, session_id: str | None) -> dict[str, str]:
        """Return each primary's ``INFO replication`` and ``persistence`` (none when INFO is not allowed)."""
        client = self._requests.client
        sections = [InfoSection.REPLICATION, InfoSection.PERSISTENCE]

        async def info() -> Any:
            if isinstance(client, GlideClusterClient):
                return await client.info(sections, route=AllPrimaries())
            return await client.info(sections)

        try:
            reply = await self._requests.run(info, session_id=session_id)
        except PermissionDeniedError:
            return {}  # a least-privilege user without +info: WAIT still tells the truth, only later
        if not isinstance(reply, dict):
            reply = {"the primary": reply}
        return {_text(address): _text(text) for address, text in reply.items()}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _field(info: str, name: str) -> int | None:
    """Return the integer field ``name`` of an INFO reply, or ``None`` if it has none."""
    for line in info.splitlines():
        key, _, value = line.partition(":")
        if key == name:
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None
