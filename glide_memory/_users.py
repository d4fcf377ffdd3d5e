"""SessionStore's user-level operations: list, delete and reindex a user's sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from glide_memory import _validate
from glide_memory._store_base import StoreBase
from glide_memory.errors import InvalidIdError, PermissionDeniedError
from glide_memory.index import Reindexed, UserSessions

_DELETE_ROUNDS = 20  # delete_user rounds: sessions created meanwhile are caught by the next


class UsersMixin(StoreBase):
    """The user-level operations of :class:`~glide_memory.store.SessionStore`."""

    async def delete_user(self, user_id: str) -> int:
        """Delete every session indexed under ``user_id``, with all they hold (threads, records, archives).

        For a data-erasure request or a closed account. Safe under
        concurrent writes: index members are deleted one by one (each with
        its owner checked, so a stale member never deletes another user's
        session) and removed from the index, and the index is never dropped
        whole, so a session created meanwhile is either deleted by a later
        round or stays indexed, never orphaned. Sessions written without the
        index (the cookbook's raw commands) are found after
        :meth:`reindex_user_sessions`.

        Returns:
            How many sessions were deleted.
        """
        index = self.schema.user_sessions(user_id)
        if self._owner is not None and user_id != self._owner:
            raise PermissionDeniedError(f"a view for user {self._owner!r} cannot delete {user_id!r}")
        view = self.for_user(user_id)
        deleted = 0
        for _ in range(_DELETE_ROUNDS):
            members = sorted(await self._requests.run(lambda: self._client.smembers(index), user_id=user_id))
            if not members:
                break
            for start in range(0, len(members), 64):
                chunk = [m.decode("utf-8", "replace") for m in members[start : start + 64]]
                results = await asyncio.gather(*(view._delete_member(sid) for sid in chunk))
                deleted += sum(results)
                await self._requests.run(partial(self._client.srem, index, list(chunk)), user_id=user_id)
        return deleted

    async def _delete_member(self, session_id: str) -> int:
        try:
            return int(await self.delete_session(session_id))
        except (PermissionDeniedError, InvalidIdError):
            return 0  # another user's session, or an id we never wrote: only the index entry goes

    def _index_key(self, owner: str | None) -> str | None:
        if owner is None:
            return None
        try:
            return self.schema.user_sessions(owner)
        except InvalidIdError:
            return None  # the owner was written by other code; nothing of ours indexes it

    async def list_user_sessions(
        self, user_id: str, *, limit: int | None = None, after: str | None = None
    ) -> UserSessions:
        """Return a user's sessions, most recently active first (a page of them with ``limit``).

        Reads the ``user_sessions:<uid>`` index and the sessions' metadata in
        one pipelined round trip; no scan. Ids of sessions that expired (or
        now belong to someone else) are removed from the index, re-checked so
        that a session re-created meanwhile stays. On a cluster with part of
        it down, the sessions that can be read are returned and the others
        are named in ``unreachable`` (after the retry budget).

        Args:
            user_id: The user.
            limit: At most this many sessions; the result's ``next_after``
                continues from there.
            after: Continue after this session id (a previous ``next_after``).

        Returns:
            A :class:`UserSessions` list.
        """
        if self._owner is not None and user_id != self._owner:
            raise PermissionDeniedError(
                f"a view for user {self._owner!r} cannot list the sessions of {user_id!r}", user_id=self._owner
            )
        index_limit = _validate.optional_positive(limit, "limit")
        if after is not None:
            _validate.identifier(after, kind="after")
        return await self._index.sessions(user_id, limit=index_limit, after=after)

    async def reindex_user_sessions(
        self, *, count: int = 1000, progress: Callable[[Reindexed], None] | None = None
    ) -> Reindexed:
        """Rebuild the user indexes: add every session found by its meta HASH, drop members that are gone.

        For data written without the index (the cookbook's raw commands) and
        for indexes left behind. This and the CLI's ``reindex`` are the
        package's only keyspace SCANs: run them as maintenance, never on a
        request path.

        Args:
            count: SCAN's COUNT hint per page.
            progress: Called after every SCAN page with the totals so far;
                two passes of about ``DBSIZE / count`` pages each.

        Returns:
            How many sessions were indexed and how many members removed.
        """
        _validate.positive(count, "count")
        if self._owner is not None:
            raise PermissionDeniedError("reindexing spans every user: run it on the store, not a user's view")
        return await self._index.reindex(count=count, progress=progress)
