"""A user's sessions as a whole: list them, delete them all, rebuild the indexes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from glide_memory import _validate
from glide_memory._core._index import Reindexed, UserIndex, UserSessions
from glide_memory._core._parts import Parts, Scope
from glide_memory._core._sessions import Sessions
from glide_memory.errors import InvalidIdError, PermissionDeniedError

_DELETE_ROUNDS = 20  # delete_user rounds: sessions created meanwhile are caught by the next


class Users:
    """The user-level operations of one store or view."""

    def __init__(self, parts: Parts, scope: Scope, index: UserIndex, sessions: Sessions) -> None:
        self._parts = parts
        self._scope = scope
        self._index = index
        self._sessions = sessions

    async def delete_user(self, user_id: str) -> int:
        """Delete every session indexed under ``user_id``; return how many were deleted."""
        self._scope.check_user(user_id, "delete the sessions")
        parts = self._parts
        index = parts.schema.user_sessions(user_id)
        # each member is deleted with its owner checked, so a stale member never deletes another user's session
        scoped = self._sessions.scoped(Scope(user_id))
        client = parts.client
        deleted = 0
        for _ in range(_DELETE_ROUNDS):
            members = sorted(await parts.requests.run(lambda: client.smembers(index), user_id=user_id))
            if not members:
                break
            for start in range(0, len(members), 64):
                chunk = [m.decode("utf-8", "replace") for m in members[start : start + 64]]
                results = await asyncio.gather(*(_delete_member(scoped, sid) for sid in chunk))
                deleted += sum(results)
                await parts.requests.run(partial(client.srem, index, list(chunk)), user_id=user_id)
        return deleted

    async def list_sessions(self, user_id: str, *, limit: int | None, after: str | None) -> UserSessions:
        """Return a user's sessions, newest first (a page with ``limit``)."""
        self._scope.check_user(user_id, "list the sessions")
        index_limit = _validate.optional_positive(limit, "limit")
        if after is not None:
            _validate.identifier(after, kind="after")
        return await self._index.sessions(user_id, limit=index_limit, after=after)

    async def reindex(self, *, count: int, progress: Callable[[Reindexed], None] | None) -> Reindexed:
        """Rebuild the user indexes (SCAN; maintenance only)."""
        _validate.positive(count, "count")
        self._scope.check_unscoped("reindex every user's sessions")
        return await self._index.reindex(count=count, progress=progress)


async def _delete_member(sessions: Sessions, session_id: str) -> int:
    try:
        return int(await sessions.delete(session_id))
    except (PermissionDeniedError, InvalidIdError):
        return 0  # another user's session, or an id we never wrote: only the index entry goes
