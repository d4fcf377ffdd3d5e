"""The per-user index: ``user_sessions:<uid>`` SETs, listed, pruned and rebuilt.

Listing reads the SET and every member's metadata in one pipelined round
trip; no keyspace scan. Members whose session expired (or now belongs to
someone else) are removed when noticed, safely against a session being
re-created meanwhile: they are removed, checked again, and put back if they
came back. SCAN appears only in :meth:`UserIndex.reindex`, explicit
maintenance for data written without the index.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from glide import Batch, ClusterBatch, ClusterScanCursor, GlideClusterClient, ObjectType

from glide_memory._codec import decode_session_info
from glide_memory._server import INDEX_MARGIN_SECONDS
from glide_memory.errors import GlideMemoryError, InvalidInputError
from glide_memory.keys import thread_of
from glide_memory.models import SessionInfo

if TYPE_CHECKING:
    from glide_memory._transport import Requests
    from glide_memory.keys import KeySchema


@dataclass(frozen=True, slots=True)
class Reindexed:
    """What :meth:`SessionStore.reindex_user_sessions` did."""

    indexed: int
    """Sessions found by their meta HASH and (re)added to their user's index."""
    removed: int
    """Index members dropped because their session was gone or had another owner."""
    pages: int = 0
    """SCAN pages read so far (about the keyspace's size over ``count`` for each of the two passes)."""


class UserSessions(list[SessionInfo]):
    """A user's sessions: a list of :class:`SessionInfo`, newest ``last_active`` first.

    Attributes:
        unreachable: Ids of indexed sessions whose data could not be read
            because their part of a cluster stayed down for the whole retry
            budget; they are neither listed nor removed from the index.
        next_after: With a ``limit``, pass this as ``after`` to get the next
            page; ``None`` on the last page. Pages follow session-id order,
            and each page is sorted newest first.
    """

    def __init__(self, *, unreachable: tuple[str, ...] = (), next_after: str | None = None) -> None:
        super().__init__()
        self.unreachable = unreachable
        self.next_after = next_after


def _one(member: _Member) -> Callable[[Batch | ClusterBatch], object]:
    def fill(batch: Batch | ClusterBatch) -> None:
        batch.hgetall(member.meta).llen(member.chat).pttl(member.meta)

    return fill


@dataclass(frozen=True, slots=True)
class _Member:
    session_id: str
    chat: str
    meta: str


class UserIndex:
    """The index operations of one store."""

    def __init__(self, requests: Requests, schema: KeySchema) -> None:
        self._requests = requests
        self._schema = schema

    async def sessions(self, user_id: str, *, limit: int | None = None, after: str | None = None) -> UserSessions:
        """Return a user's sessions (a page with ``limit``), pruning stale members; see :class:`UserSessions`."""
        index = self._schema.user_sessions(user_id)
        raw_members = await self._requests.run(lambda: self._requests.client.smembers(index), user_id=user_id)
        members = [m for m in self._members(raw_members) if after is None or m.session_id > after]
        next_after = None
        if limit is not None and len(members) > limit:
            members = members[:limit]
            next_after = members[-1].session_id
        if not members:
            return UserSessions(next_after=None)
        replies, unreachable = await self._read(members, user_id)
        in_threads = await self._thread_lengths(members, replies, user_id)
        found = UserSessions(unreachable=tuple(m.session_id for m in members if m.session_id in unreachable),
                             next_after=next_after)  # fmt: skip
        stale: list[_Member] = []
        for position, member in enumerate(members):
            if member.session_id in unreachable:
                continue  # not known to be gone: keep it indexed
            raw, stored, pttl = replies[3 * position : 3 * position + 3]
            info = (
                decode_session_info(
                    member.session_id,
                    raw,
                    messages_stored=stored + in_threads.get(member.session_id, 0),
                    pttl_ms=pttl,
                    key=member.meta,
                )
                if raw
                else None
            )
            if info is None or info.user_id != user_id:
                stale.append(member)
            else:
                found.append(info)
        if stale:
            await self._prune(index, user_id, stale)
        await self._cover(index, user_id, found)
        found.sort(key=lambda info: (-info.last_active, info.session_id))
        return found

    async def _read(self, members: Sequence[_Member], user_id: str) -> tuple[list[Any], set[str]]:
        """Read every member's metadata in one pipeline; members on a node that stays down are returned apart.

        Returns:
            The replies (three per member, ``None`` for unreachable ones) and
            the ids of the members that could not be read within the deadline.
        """

        def fill(batch: Batch | ClusterBatch) -> None:
            for member in members:
                batch.hgetall(member.meta).llen(member.chat).pttl(member.meta)

        try:
            # one try only: if part of a cluster is down, the per-session reads below wait for it instead
            replies = await self._requests.pipeline(fill, user_id=user_id, deadline=0)
        except GlideMemoryError as exc:
            if not exc.retryable:
                raise
        else:
            return replies, set()
        # part of the cluster stayed unreachable: read each session on its own, so the others come back
        one_by_one = await asyncio.gather(
            *(self._requests.pipeline(_one(member), user_id=user_id) for member in members), return_exceptions=True
        )
        replies, unreachable = [], set()
        for member, result in zip(members, one_by_one, strict=True):
            if isinstance(result, BaseException):
                if not (isinstance(result, GlideMemoryError) and result.retryable):
                    raise result
                unreachable.add(member.session_id)
                replies += [None, None, None]
            else:
                replies += result
        return replies, unreachable

    async def _thread_lengths(self, members: Sequence[_Member], replies: Sequence[Any], user_id: str) -> dict[str, int]:
        """Count the messages in the threads of the listed sessions that have any: one more trip, if any do."""
        lists: list[tuple[str, str]] = []
        for position, member in enumerate(members):
            companions = (replies[3 * position] or {}).get(b"companions", b"").decode("utf-8", "replace")
            lists += [
                (member.session_id, self._schema.companion(member.session_id, name))
                for name in companions.split(",")
                if thread_of(name) is not None
            ]
        if not lists:
            return {}

        def fill(batch: Batch | ClusterBatch) -> None:
            for _, key in lists:
                batch.llen(key)

        counts: dict[str, int] = {}
        for (session_id, _), length in zip(lists, await self._requests.pipeline(fill, user_id=user_id), strict=True):
            counts[session_id] = counts.get(session_id, 0) + int(length)
        return counts

    def _members(self, raw: Sequence[bytes] | set[bytes]) -> list[_Member]:
        found = []
        for item in sorted(raw):
            sid = item.decode("utf-8", "replace")
            try:
                keys = self._schema.keys(sid)
            except InvalidInputError:
                continue  # not an id this toolkit could have written; leave it alone
            found.append(_Member(sid, keys.chat, keys.meta))
        return found

    async def _prune(self, index: str, user_id: str, stale: Sequence[_Member]) -> None:
        ids = [member.session_id for member in stale]
        await self._requests.run(lambda: self._requests.client.srem(index, list(ids)), user_id=user_id)

        # a session re-created between our read and the SREM must not vanish from the index: look again
        def fill(batch: Batch | ClusterBatch) -> None:
            for member in stale:
                batch.hget(member.meta, "user_id")

        owners = await self._requests.pipeline(fill, user_id=user_id)
        back = [member.session_id for member, owner in zip(stale, owners, strict=True) if owner == user_id.encode()]
        if back:
            await self._requests.run(lambda: self._requests.client.sadd(index, back), user_id=user_id)

    async def _cover(self, index: str, user_id: str, sessions: Sequence[SessionInfo]) -> None:
        """Extend the index's TTL to outlive its longest-lived session (or drop it if one never expires)."""
        if not sessions:
            return
        lives = [info.expires_in_seconds for info in sessions]
        if any(left is None for left in lives):
            await self._requests.run(lambda: self._requests.client.persist(index), user_id=user_id)
            return
        longest = int(max(cast(list[float], lives))) + 1 + INDEX_MARGIN_SECONDS
        await self._requests.run(
            lambda: self._requests.client.custom_command(["EXPIRE", index, str(longest), "GT"]), user_id=user_id
        )

    async def extend(self, user_id: str, ttl: int | None, *, deadline: float | None = None) -> None:
        """Make the index outlive a session whose TTL was just refreshed to ``ttl`` (``None``: never expires)."""
        index = self._schema.user_sessions(user_id)
        client = self._requests.client
        if ttl is None:
            await self._requests.run(lambda: client.persist(index), user_id=user_id, deadline=deadline)
            return
        seconds = str(ttl + INDEX_MARGIN_SECONDS)
        await self._requests.run(
            lambda: client.custom_command(["EXPIRE", index, seconds, "GT"]), user_id=user_id, deadline=deadline
        )

    async def reindex(self, *, count: int = 1000, progress: Callable[[Reindexed], None] | None = None) -> Reindexed:
        """Index every meta HASH in the keyspace, then drop index members whose session is gone (SCAN)."""
        indexed = removed = pages = 0
        async for keys in self._scan(self._schema.meta_scan_pattern(), ObjectType.HASH, count):
            indexed += await self._index_metas(keys)
            pages += 1
            if progress is not None:
                progress(Reindexed(indexed=indexed, removed=removed, pages=pages))
        async for keys in self._scan(self._schema.index_scan_pattern(), ObjectType.SET, count):
            for key in keys:
                removed += await self._sweep(key.decode("utf-8", "replace"))
            pages += 1
            if progress is not None:
                progress(Reindexed(indexed=indexed, removed=removed, pages=pages))
        return Reindexed(indexed=indexed, removed=removed, pages=pages)

    async def _scan(self, pattern: str, kind: ObjectType, count: int) -> AsyncIterator[list[bytes]]:
        client = self._requests.client
        if isinstance(client, GlideClusterClient):
            cursor = ClusterScanCursor()  # type: ignore[no-untyped-call]  # glide's cursor is untyped
            while not cursor.is_finished():
                reply = await self._requests.run(partial(client.scan, cursor, match=pattern, count=count, type=kind))
                cursor = cast(ClusterScanCursor, reply[0])
                yield cast(list[bytes], reply[1])
            return
        position: bytes | str = "0"
        while True:
            page: list[Any] = await self._requests.run(
                partial(client.scan, position, match=pattern, count=count, type=kind)
            )
            position = page[0]
            yield page[1]
            if position in (b"0", "0"):
                return

    async def _sweep(self, index: str) -> int:
        """Remove the members of one user's index whose session is gone or has another owner."""
        user_id = self._schema.user_id_from_index(index)
        if user_id is None:
            return 0
        raw = await self._requests.run(lambda: self._requests.client.smembers(index), user_id=user_id)
        members = self._members(raw)
        if not members:
            return 0

        def owners(batch: Batch | ClusterBatch) -> None:
            for member in members:
                batch.hget(member.meta, "user_id")

        replies = await self._requests.pipeline(owners, user_id=user_id)
        stale = [m for m, owner in zip(members, replies, strict=True) if owner != user_id.encode()]
        if stale:
            await self._prune(index, user_id, stale)
        return len(stale)

    async def _index_metas(self, keys: Sequence[bytes]) -> int:
        found = [
            (sid, key) for key in keys if (sid := self._schema.session_id_from_meta(key.decode("utf-8", "replace")))
        ]
        if not found:
            return 0

        def read(batch: Batch | ClusterBatch) -> None:
            for _, key in found:
                batch.hget(key, "user_id").pttl(key)

        replies = await self._requests.pipeline(read)
        by_index: dict[str, list[tuple[str, int]]] = {}
        for position, (sid, _) in enumerate(found):
            owner, pttl = replies[2 * position], replies[2 * position + 1]
            if not owner:
                continue
            try:
                index = self._schema.user_sessions(owner.decode("utf-8", "replace"))
            except InvalidInputError:
                continue
            by_index.setdefault(index, []).append((sid, pttl))
        if not by_index:
            return 0

        def write(batch: Batch | ClusterBatch) -> None:
            for index, members in by_index.items():
                batch.sadd(index, [sid for sid, _ in members])
                if any(pttl < 0 for _, pttl in members):
                    batch.persist(index)
                else:
                    longest = max(pttl for _, pttl in members) // 1000 + 1 + INDEX_MARGIN_SECONDS
                    batch.custom_command(["EXPIRE", index, str(longest), "GT"])

        await self._requests.pipeline(write)
        return sum(len(members) for members in by_index.values())
