"""The bench's private corner of a server: one client, one store, one namespace.

Every key the bench writes starts with a namespace of its own (``gmbench-<hex>:``)
and carries a TTL, so a run never touches other data, and a run that dies
leaves nothing behind for long. :meth:`Workspace.sweep` removes the namespace
at the end.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from glide import (
    AllPrimaries,
    Batch,
    ClusterBatch,
    ClusterScanCursor,
    GlideClient,
    GlideClusterClient,
    RandomNode,
    SlotKeyRoute,
    SlotType,
)

from glide_memory import KeySchema, Message, Role, SessionStore, encode_message
from glide_memory.keys import escape_glob, new_message_id

KEY_TTL = 3600
"""Seconds every bench key lives at most, should a run die before cleaning up."""

BATCH_SESSIONS = 250
"""Background sessions written per pipelined batch."""

SESSIONS_PER_USER = 10
"""Sessions each background user owns, as many as the measured user."""

_PROSE = (
    "the valkey server keeps chat history in a list and session metadata in a hash so that an agent "
    "can resume a conversation with its tokens counted and its window trimmed on every turn while "
    "latency stays low enough for the model call that follows"
)
_WORDS = _PROSE.split()

Fill = Callable[[Batch | ClusterBatch], object]


def text(size: int, seed: int = 0) -> str:
    """Return ``size`` characters of plausible English text (ASCII), the same for a seed."""
    rng = random.Random(seed)
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


def stored_payload(content: str, tokens: int = 12) -> bytes:
    """Return the bytes add_message stores for a user message with ``content``."""
    message = Message(role=Role.USER, content=content, tokens=tokens, timestamp=time.time(), id=new_message_id())
    return encode_message(message)


class Workspace:
    """A namespaced store over one client, with bulk helpers for setting up and cleaning.

    Args:
        client: The connected glide client (the caller closes it).
        cluster: Whether ``client`` is a cluster client.
        namespace: The key prefix; a fresh random one if ``None``.
        url: The server's URL, for contenders that bring their own client.
    """

    def __init__(
        self,
        client: GlideClient | GlideClusterClient,
        *,
        cluster: bool,
        namespace: str | None = None,
        url: str | None = None,
    ) -> None:
        self.client = client
        self.url = url
        self.cluster = cluster
        self.namespace = namespace or f"gmbench-{secrets.token_hex(4)}:"
        self.schema = KeySchema(namespace=self.namespace, hash_tags=cluster)
        self.store = SessionStore(client, schema=self.schema, ttl=KEY_TTL)
        self.background = 0

    async def create_session(self, user_id: str, *, model: str | None = None, title: str | None = None) -> str:
        """Create a session for setting up (not timed) and give its user's index a TTL too.

        Returns:
            The new session's id.
        """
        info = await self.store.create_session(user_id, model=model, title=title)
        await self.client.expire(self.schema.user_sessions(user_id), KEY_TTL)
        return info.session_id

    def key(self, *parts: object) -> str:
        """Return a bench-only key (not a toolkit key) inside the namespace."""
        return self.namespace + "bench:" + ":".join(str(part) for part in parts)

    async def pipeline(self, fill: Fill) -> list[Any]:
        """Send the commands ``fill`` adds in one non-atomic batch; return the replies."""
        if isinstance(self.client, GlideClusterClient):
            cluster_batch = ClusterBatch(is_atomic=False)
            fill(cluster_batch)
            return list(await self.client.exec(cluster_batch, raise_on_error=True) or [])
        batch = Batch(is_atomic=False)
        fill(batch)
        return list(await self.client.exec(batch, raise_on_error=True) or [])

    async def command(self, args: Sequence[str], *, key: str | None = None) -> Any:
        """Run a command glide has no method for, routed to ``key``'s node on a cluster."""
        if isinstance(self.client, GlideClusterClient):
            route = SlotKeyRoute(SlotType.PRIMARY, key) if key is not None else RandomNode()
            return await self.client.custom_command(list(args), route)
        return await self.client.custom_command(list(args))

    async def commandstats(self) -> dict[str, tuple[int, int]]:
        """Return ``{command: (calls, microseconds)}`` from INFO commandstats, summed over primaries."""
        if isinstance(self.client, GlideClusterClient):
            reply = await self.client.custom_command(["INFO", "commandstats"], AllPrimaries())
            texts = list(reply.values()) if isinstance(reply, dict) else [reply]
        else:
            texts = [await self.client.custom_command(["INFO", "commandstats"])]
        stats: dict[str, tuple[int, int]] = {}
        for text in texts:
            for line in (text.decode() if isinstance(text, bytes) else str(text)).splitlines():
                if not line.startswith("cmdstat_"):
                    continue
                name, _, rest = line[len("cmdstat_") :].partition(":")
                fields = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
                calls, usec = stats.get(name, (0, 0))
                stats[name] = (calls + int(fields["calls"]), usec + int(fields["usec"]))
        return stats

    async def server_version(self) -> str:
        """Return the server's version from INFO (``valkey_version``, else ``redis_version``)."""
        info = await self.command(["INFO", "server"])
        lines = (info.decode() if isinstance(info, bytes) else str(info)).splitlines()
        fields = dict(line.split(":", 1) for line in lines if ":" in line)
        return fields.get("valkey_version", fields.get("redis_version", "unknown")).strip()

    async def dbsize(self) -> int:
        """Return the number of keys on the server (summed over a cluster's primaries)."""
        return int(await self.client.dbsize())

    async def populate(self, sessions: int, *, on_batch: Callable[[], None] = lambda: None) -> None:
        """Add background sessions until the namespace holds ``sessions`` of them.

        Each is what the cookbook writes for a session with one message: a
        full meta HASH, a chat LIST and the owner's index SET, all with a
        TTL. Batches go out a few at a time to keep the server busy.
        """
        starts = range(self.background, sessions, BATCH_SESSIONS)
        limit = asyncio.Semaphore(4)
        payload = stored_payload(text(200))
        now = repr(time.time())

        def fill(batch: Batch | ClusterBatch, start: int, stop: int) -> None:
            for number in range(start, stop):
                sid = f"bg{number:07d}"
                chat, meta = self.schema.session_keys(sid)
                owner = f"bg-user-{number // SESSIONS_PER_USER}"
                record = {"user_id": owner, "model": "claude-3-haiku", "created_at": now, "last_active": now}
                record |= {"message_count": "1", "token_count": "12", "title": "Background", "ttl": str(KEY_TTL)}
                batch.hset(meta, record).rpush(chat, [payload]).expire(meta, KEY_TTL).expire(chat, KEY_TTL)
                if number % SESSIONS_PER_USER == 0 or number == start:
                    index = self.schema.user_sessions(owner)
                    last = min(stop, (number // SESSIONS_PER_USER + 1) * SESSIONS_PER_USER)
                    batch.sadd(index, [f"bg{n:07d}" for n in range(number, last)]).expire(index, KEY_TTL)

        async def send(start: int) -> None:
            stop = min(sessions, start + BATCH_SESSIONS)
            async with limit:
                await self.pipeline(lambda batch: fill(batch, start, stop))
            on_batch()

        await asyncio.gather(*(send(start) for start in starts))
        self.background = max(self.background, sessions)

    async def scan(self, pattern: str, count: int, visit: Callable[[list[bytes]], Awaitable[object]]) -> int:
        """Walk the keyspace with SCAN MATCH ``pattern``; await ``visit`` on each page.

        Returns:
            The number of SCAN calls made.
        """
        calls = 0
        client = self.client
        if isinstance(client, GlideClusterClient):
            cursor = ClusterScanCursor()  # type: ignore[no-untyped-call]  # glide's cursor is untyped
            while not cursor.is_finished():
                reply = await client.scan(cursor, match=pattern, count=count)
                calls += 1
                cursor = cast(ClusterScanCursor, reply[0])
                await visit(cast(list[bytes], reply[1]))
            return calls
        position: bytes | str = "0"
        while True:
            page = await client.scan(position, match=pattern, count=count)
            calls += 1
            position = cast(bytes, page[0])
            await visit(cast(list[bytes], page[1]))
            if position in (b"0", "0"):
                return calls

    async def sweep(self) -> int:
        """Delete every key of the namespace; return how many were deleted."""
        deleted = 0

        async def unlink(keys: list[bytes]) -> None:
            nonlocal deleted
            if keys:
                # one key per UNLINK: a cluster batch then routes each to its slot
                replies = await self.pipeline(lambda batch: [batch.unlink([key]) for key in keys])
                deleted += sum(int(reply) for reply in replies)

        await self.scan(escape_glob(self.namespace) + "*", 1000, unlink)
        return deleted
