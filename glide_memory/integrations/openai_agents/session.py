"""GlideSession: the OpenAI Agents SDK's ``Session`` protocol on a :class:`SessionStore`.

An Agents SDK session is a toolkit session: its items are the session's main
conversation (``chat:<id>``), one stored message per item (see
:mod:`._items`), so ``store.get_messages``, windows, export, ``delete_user``
and ``list_user_sessions`` see it like any other. Every operation is one
store call: ``add_items`` one atomic append whose message ids make it
exactly once through the store's own retries, ``get_items(limit)`` one read
of the newest ``limit`` messages, ``pop_item`` one exactly-once pop,
``clear_session`` one clear, and the SDK's compaction replaces the history
with one atomic ``set_messages``.

The Runner may call from any thread and event loop (``Runner.run_sync``
runs its own loop): each call goes to the loop the store lives on, since
glide clients cannot move between loops (valkey-glide #7122).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from agents.memory.session_settings import SessionSettings, coerce_session_settings, resolve_session_limit

from glide_memory import (
    UNSET,
    CorruptedEntryError,
    InvalidIdError,
    InvalidInputError,
    Message,
    SessionNotFoundError,
    SessionStore,
    StoreClosedError,
    Unset,
)
from glide_memory.integrations._bridge import DEFAULT_CALL_TIMEOUT, Binding
from glide_memory.integrations.openai_agents._items import items_of, to_messages

if TYPE_CHECKING:
    from agents.items import TResponseInputItem

    from glide_memory import TTL, KeySchema

T = TypeVar("T")
_ANY_LENGTH = 2**32  # more items than any list holds (a LIST holds at most 2**32 - 1)


class SessionClosedError(StoreClosedError, RuntimeError):
    """Raised when a :class:`GlideSession` that owned its store is used after ``close()``.

    A ``RuntimeError`` too, as the SDK's own sessions raise once closed.
    """


class GlideSession:
    """The Agents SDK ``Session`` protocol, on Valkey: ``Runner.run(agent, prompt, session=GlideSession(...))``.

    Construction sends nothing. With ``store`` the session uses your store
    (shared with your other sessions and frameworks) on the event loop it
    lives on; with ``url``, or neither (``VALKEY_URL``, else an embedded
    server), it connects on first use on a shared background loop, owns
    that store and :meth:`close` closes it.

    Args:
        session_id: The conversation to resume or start (the toolkit session id).
        store: A store to use; it stays yours.
        url: A ``valkey://`` URL to connect to instead.
        user_id: Owner of the session: it is created under this user
            (indexed by ``list_user_sessions``), and every access goes
            through ``store.for_user(user_id)``, so another user's session
            raises :class:`~glide_memory.PermissionDeniedError`.
        session_settings: Defaults for reads (``limit``): a
            ``SessionSettings`` or a dict of its fields, as the SDK's own
            sessions accept; ``SessionSettings()`` if ``None``.
        ttl: TTL of a new session, refreshed by every write; the store's
            default (24 h) if left out, ``None`` for never.
        schema: Key names (e.g. a namespace) for a store this session creates.
        call_timeout: Seconds a call handed to the store's loop from another
            one waits before raising ServerTimeoutError (that loop is blocked);
            above the store's own 10 s retry budget.

    Raises:
        InvalidIdError: ``session_id`` or ``user_id`` is not a non-empty str.
        InvalidInputError: both ``store`` and ``url`` were given.
        TypeError: ``session_settings`` is neither settings nor a dict of
            known fields (the SDK's own check).
    """

    session_settings: SessionSettings | None

    def __init__(
        self,
        session_id: str,
        *,
        store: SessionStore | None = None,
        url: str | None = None,
        user_id: str | None = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        ttl: TTL | Unset | None = UNSET,
        schema: KeySchema | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
    ) -> None:
        if not isinstance(session_id, str) or not session_id:
            raise InvalidIdError(f"session id must be a non-empty str, not {session_id!r}")
        if user_id is not None and (not isinstance(user_id, str) or not user_id):
            raise InvalidIdError(f"user id must be a non-empty str or None, not {user_id!r}", session_id=session_id)
        if store is not None and (url is not None or schema is not None):
            raise InvalidInputError("pass a store, or a url and schema to connect, not both", session_id=session_id)
        self.session_id = session_id
        self.session_settings = (
            SessionSettings() if session_settings is None else coerce_session_settings(session_settings)
        )
        self.user_id = user_id
        self._ttl = ttl
        self._binding = Binding(
            store=store,
            url=url,
            schema=schema,
            call_timeout=call_timeout,
            name="GlideSession",
            closed_error=partial(SessionClosedError, session_id=session_id, user_id=user_id),
            blocked_hint="it is blocked (e.g. waiting on this thread): run the agent in a worker thread while that "
            "loop keeps running",
            lazy=True,
        )
        self._scoped = None if store is None else _scope(store, user_id)

    def __repr__(self) -> str:
        return f"GlideSession({self.session_id!r}, user_id={self.user_id!r})"

    # -- the Session protocol ---------------------------------------------

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """Return the session's items, oldest first; the newest ``limit`` of them if given.

        ``limit`` defaults to ``session_settings.limit``. As in the SDK's
        ``SQLiteSession``: ``0`` gives none, a negative limit all, and entries
        that do not decode are skipped (``limit`` counts the others). A
        session that does not exist has no items.
        """
        self._binding.check_open()
        resolved = resolve_session_limit(limit, self.session_settings)
        if resolved is not None and not isinstance(resolved, int):
            raise TypeError(f"limit must be an int or None, not {type(resolved).__name__}")
        if resolved == 0:
            return []
        # negative: everything, as in SQLiteSession; past any list's length: everything too
        newest = int(resolved) if resolved is not None and 0 < resolved < _ANY_LENGTH else None
        return await self._call(lambda store: self._read(store, newest))

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append items in one atomic write, exactly once; the session is created on first use.

        Raises:
            TypeError: an item holds a value JSON cannot hold; nothing was written.
        """
        self._binding.check_open()
        if not items:
            return
        messages = to_messages(items)
        await self._call(lambda store: self._append(store, messages), mutation=True)

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove the newest item and return it, exactly once; ``None`` if there is none."""
        self._binding.check_open()
        return await self._call(self._pop, mutation=True)

    async def clear_session(self) -> None:
        """Remove every item, keeping the session (owner, TTL, counters); nothing to do if it does not exist."""
        self._binding.check_open()
        await self._call(self._clear, mutation=True)

    async def _atomic_replace_items(self, items: list[TResponseInputItem]) -> bool:
        """Replace the whole history in one atomic write: the SDK's compaction calls this instead of clear-then-add.

        Items are serialized before anything is sent, so a bad one leaves the
        history as it was.
        """
        self._binding.check_open()
        messages = to_messages(items)
        await self._call(lambda store: self._replace(store, messages), mutation=True)
        return True

    # -- more -------------------------------------------------------------

    async def delete_session(self) -> bool:
        """Delete the whole toolkit session (items, metadata, index entry); return whether it existed."""
        self._binding.check_open()
        return await self._call(lambda store: store.delete_session(self.session_id), mutation=True)

    async def run(self, use: Callable[[SessionStore], Awaitable[T]]) -> T:
        """Call ``use(store)`` on the store's event loop, from any loop, and return its result.

        The store is the one this session uses (scoped to ``user_id`` if
        given), e.g. ``await session.run(lambda s: s.get_session_info(session.session_id))``.
        """
        self._binding.check_open()
        return await self._call(use)

    async def close(self) -> None:
        """Close the store this session created, after which it raises :class:`SessionClosedError`; idempotent.

        With a store of yours this does nothing: the store stays yours and
        the session usable.
        """
        if self._binding.owns_store:
            await self._binding.aclose()

    async def __aenter__(self) -> GlideSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- on the store's loop ------------------------------------------------

    async def _read(self, store: SessionStore, limit: int | None) -> list[TResponseInputItem]:
        try:
            messages = await store.get_messages(self.session_id, last=limit)
        except SessionNotFoundError:
            return []
        except CorruptedEntryError:
            return await self._read_skipping(store, limit)
        items = [item for message in messages for item in items_of(message)]
        return items[-limit:] if limit is not None and len(items) > limit else items

    async def _read_skipping(self, store: SessionStore, limit: int | None) -> list[TResponseInputItem]:
        """Read entry by entry, skipping those that do not decode, as SQLiteSession skips corrupt rows."""
        try:
            entries = await store.read_range(self.session_id, 0, -1)
        except SessionNotFoundError:
            return []
        items: list[Any] = []
        for _, raw in entries:
            try:
                message = _decode(raw)
            except msgspec.DecodeError:
                continue
            items += items_of(message)
        return items[-limit:] if limit is not None and len(items) > limit else items

    async def _append(self, store: SessionStore, messages: list[Message]) -> None:
        try:
            await store.add_messages(self.session_id, messages)
        except SessionNotFoundError:
            await store.create_session(self.user_id, session_id=self.session_id, ttl=self._ttl, exist_ok=True)
            await store.add_messages(self.session_id, messages)  # the same ids: applied once

    async def _pop(self, store: SessionStore) -> TResponseInputItem | None:
        while True:
            try:
                message = await store.pop_message(self.session_id)
            except SessionNotFoundError:
                return None
            except CorruptedEntryError:
                continue  # it was removed: drop it and look further, as SQLiteSession does
            if message is None:
                return None
            items: list[TResponseInputItem] = items_of(message)
            if items:
                return items[-1]

    async def _clear(self, store: SessionStore) -> None:
        with contextlib.suppress(SessionNotFoundError):
            await store.clear_messages(self.session_id)

    async def _replace(self, store: SessionStore, messages: list[Message]) -> None:
        try:
            await store.set_messages(self.session_id, messages)
        except SessionNotFoundError:
            if messages:
                await store.create_session(self.user_id, session_id=self.session_id, ttl=self._ttl, exist_ok=True)
                await store.set_messages(self.session_id, messages)

    # -- routing ----------------------------------------------------------

    async def _store_for_call(self) -> SessionStore:
        """Return the (scoped) store, connecting first if this session creates it; runs on the store's loop."""
        if self._scoped is None:
            self._scoped = _scope(await self._binding.ready(), self.user_id)
        return self._scoped

    async def _call(self, use: Callable[[SessionStore], Awaitable[T]], *, mutation: bool = False) -> T:
        """Run ``use(store)`` on the store's loop; a mutation's outcome is awaited even if the caller is cancelled."""

        async def job() -> T:
            return await use(await self._store_for_call())

        work = self._binding.call(job())
        return await (_settled(work) if mutation else work)


def _scope(store: SessionStore, user_id: str | None) -> SessionStore:
    return store if user_id is None else store.for_user(user_id)


async def _settled(work: Coroutine[Any, Any, T]) -> T:
    """Await ``work`` to its end even if the caller is cancelled meanwhile, then re-raise the cancellation.

    A write whose outcome is unknown invites a retry that doubles it; the
    SDK's own sessions wait for the outcome the same way.
    """
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError as exc:
            cancelled = cancelled or exc
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved, so the loop does not report it as never retrieved
        raise cancelled
    return task.result()


_decode = msgspec.json.Decoder(Message).decode
