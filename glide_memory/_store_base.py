"""What SessionStore's parts share: the attributes they read and the private helpers of every operation.

:class:`~glide_memory.store.SessionStore` keeps its construction and the
session lifecycle in ``store.py`` and takes its message, record and
user-level operations from mixins (``_messages``, ``_records``, ``_users``)
over :class:`StoreBase`, which declares the attributes its ``__init__`` sets.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from glide import Batch, ClusterBatch, GlideClient, GlideClusterClient

from glide_memory import scripts
from glide_memory._requests import Requests
from glide_memory.errors import PermissionDeniedError, ServerError, SessionNotFoundError
from glide_memory.index import UserIndex
from glide_memory.keys import KeySchema, ListNames, SessionKeys, list_names, thread_companion
from glide_memory.models import Message

if TYPE_CHECKING:
    from glide_memory.store import SessionStore

T = TypeVar("T")

_COMPANION_CACHE = 4096  # sessions whose companion keys a store remembers between calls


class StoreBase:
    """The state and private helpers :class:`~glide_memory.store.SessionStore` and its mixins share."""

    _client: GlideClient | GlideClusterClient
    schema: KeySchema
    max_messages: int | None
    _requests: Requests
    _index: UserIndex
    token_counter: Callable[[Message], int] | None
    pin_system: bool
    _clock: Callable[[], float]
    _companions: OrderedDict[str, str]
    _owner: str | None

    if TYPE_CHECKING:  # SessionStore's own, called by UsersMixin

        def for_user(self, user_id: str) -> SessionStore: ...

        async def delete_session(self, session_id: str) -> bool: ...

    def _forbidden(self, session_id: str, owner: bytes | str | None) -> PermissionDeniedError:
        return PermissionDeniedError(
            f"session {session_id!r} belongs to another user than {self._owner!r}",
            session_id=session_id,
            user_id=self._owner,
        )

    async def _read(self, session_id: str, meta: str, fill: Callable[[Batch | ClusterBatch], object]) -> list[Any]:
        """Send read commands in one trip; on a user view, atomically after checking the owner."""
        if self._owner is None:
            return await self._requests.pipeline(fill, session_id=session_id)

        def checked(batch: Batch | ClusterBatch) -> None:
            batch.hget(meta, "user_id")
            fill(batch)

        owner, *replies = await self._requests.pipeline(
            checked, session_id=session_id, user_id=self._owner, atomic=True
        )
        if owner is not None and owner != self._owner.encode():
            raise self._forbidden(session_id, owner)
        return replies

    async def _with_companions(
        self,
        session_id: str,
        keys: SessionKeys,
        call: Callable[[list[str], str], Awaitable[T]],
        *,
        register: str = "",
    ) -> T:
        """Run a write with every key of the session declared, learning its companions if the cache is stale.

        ``register`` names a companion the write adds; it is declared too.
        """
        known = self._companions.get(session_id, "")
        if not known and not register:  # the common case: a session of the main conversation only
            try:
                return await call([keys.meta, keys.chat, keys.ids], "")
            except scripts.Stale as stale:
                known = stale.companions
        # each 'stale' reply means another writer added a companion meanwhile, so this always progresses
        for _ in range(64):
            names = sorted({*filter(None, known.split(",")), *([register] if register else [])})
            declared = ",".join(names)
            layout = [keys.meta, keys.chat, keys.ids, *(self.schema.companion(session_id, n) for n in names)]
            try:
                result = await call(layout, declared)
            except scripts.Stale as stale:
                known = stale.companions
                continue
            self._remember_companions(session_id, declared)
            return result
        raise ServerError(f"the companion keys of session {session_id!r} kept changing", session_id=session_id)

    def _remember_companions(self, session_id: str, companions: str) -> None:
        if companions:
            self._companions[session_id] = companions
            self._companions.move_to_end(session_id)
            while len(self._companions) > _COMPANION_CACHE:
                self._companions.popitem(last=False)
        else:
            self._companions.pop(session_id, None)

    def _target(self, session_id: str, keys: SessionKeys, thread: str | None) -> tuple[str, str]:
        """Return the list key of ``thread`` (the main conversation for ``None``) and its companion name."""
        if thread is None:
            return keys.chat, ""
        name = thread_companion(thread, session_id=session_id)
        return self.schema.companion(session_id, name), name

    def _list(self, session_id: str, thread: str | None) -> tuple[SessionKeys, str, ListNames]:
        """Return the session's keys, the key of one of its lists, and the names that go with that list."""
        keys = self.schema.keys(session_id)
        names = list_names(thread, session_id=session_id)
        target = keys.chat if thread is None else self.schema.companion(session_id, names.companion)
        return keys, target, names

    async def _must_exist(self, session_id: str, meta: str) -> None:
        if not await self._requests.run(lambda: self._client.exists([meta]), session_id=session_id):
            raise SessionNotFoundError(session_id)
