"""What every collaborator of a store shares: the request path, the key schema, the settings, the scope.

A store and all of its ``for_user`` views share one :class:`Parts`; each
view has its own :class:`Scope`. Collaborators take both and never import
the store.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from glide import Batch, ClusterBatch, GlideClient, GlideClusterClient

from glide_memory import _validate
from glide_memory._codec import format_time
from glide_memory._server import Stale, Write, functions
from glide_memory._transport import Requests
from glide_memory.errors import (
    InvalidInputError,
    InvalidTokensError,
    PermissionDeniedError,
    ServerError,
    SessionNotFoundError,
)
from glide_memory.keys import KeySchema, ListNames, SessionKeys, list_names
from glide_memory.models import Message

T = TypeVar("T")

COMPANION_CACHE = 4096
"""Sessions whose companion keys a store remembers between calls."""

Command = tuple[str, str, Sequence[Any]]
"""A read command on one key: ``(name, key, arguments)``; see :meth:`Scope.read`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """How a store writes: its defaults and its token counter."""

    default_ttl: int | None
    max_messages: int | None
    token_counter: Callable[[Message], int] | None
    pin_system: bool
    clock: Callable[[], float]


class Parts:
    """The shared state of one store and its views: the request path, the keys, the settings, the companion cache.

    Args:
        requests: The request path.
        schema: The key schema, resolved for the client.
        settings: The store's settings.
    """

    def __init__(self, requests: Requests, schema: KeySchema, settings: Settings) -> None:
        self.requests = requests
        self.schema = schema
        self.settings = settings
        self.cluster = requests.cluster
        self._companions: OrderedDict[str, str] = OrderedDict()
        self._keys: dict[str, SessionKeys] = {}

    def keys(self, session_id: str) -> SessionKeys:
        """Return a session's keys (``schema.keys``, remembered for the sessions in use: a pure function)."""
        if type(session_id) is str and (known := self._keys.get(session_id)) is not None:
            return known
        keys = self.schema.keys(session_id)
        if len(self._keys) >= COMPANION_CACHE:
            self._keys.clear()
        self._keys[session_id] = keys
        return keys

    @property
    def client(self) -> GlideClient | GlideClusterClient:
        """The glide client."""
        return self.requests.client

    def list_of(self, session_id: str, thread: str | None) -> tuple[SessionKeys, str, ListNames]:
        """Return the session's keys, the key of one of its lists (``None``: the main one) and that list's names."""
        keys = self.keys(session_id)
        names = list_names(thread, session_id=session_id)
        target = keys.chat if thread is None else self.schema.companion(session_id, names.companion)
        return keys, target, names

    async def must_exist(self, session_id: str, meta: str) -> None:
        """Raise :class:`SessionNotFoundError` unless the session's meta key exists."""
        client = self.client
        if not await self.requests.run(lambda: client.exists([meta]), session_id=session_id):
            raise SessionNotFoundError(session_id)

    def count_tokens(self, message: Message, session_id: str) -> int:
        """Count a message's tokens with the store's token counter (which must be set)."""
        counter = self.settings.token_counter
        assert counter is not None
        try:
            counted = counter(message)
        except Exception as exc:
            raise InvalidInputError(f"token_counter failed: {exc!r}", session_id=session_id) from exc
        if type(counted) is not int or not 0 <= counted <= _validate.MAX_COUNTER:
            raise InvalidTokensError(
                f"token_counter returned {counted!r}, not an int from 0 to 2**63-1", session_id=session_id
            )
        return counted

    async def with_companions(
        self,
        session_id: str,
        keys: SessionKeys,
        call: Callable[[list[str], str], Awaitable[T]],
        *,
        register: str = "",
    ) -> T:
        """Run a write with every key of the session declared, learning its companions if the cache is stale.

        ``call(layout, companions)`` gets the keys (meta, chat, msgids, vec,
        vecmsg, then each companion's) and the companion names it declares;
        ``register`` names a companion the write adds, declared too.
        """
        known = self.known_companions(session_id)
        if not known and not register:  # the common case: a session of the main conversation only
            try:
                return await call([keys.meta, keys.chat, keys.ids, keys.vectors, keys.copies], "")
            except Stale as stale:
                known = stale.companions
        # each 'stale' reply means another writer added a companion meanwhile, so this always progresses
        for _ in range(64):
            names = sorted({*filter(None, known.split(",")), *([register] if register else [])})
            declared = ",".join(names)
            layout = [
                keys.meta, keys.chat, keys.ids, keys.vectors, keys.copies,
                *(self.schema.companion(session_id, n) for n in names),
            ]  # fmt: skip
            try:
                result = await call(layout, declared)
            except Stale as stale:
                known = stale.companions
                continue
            self.remember_companions(session_id, declared)
            return result
        raise ServerError(f"the companion keys of session {session_id!r} kept changing", session_id=session_id)

    async def write(
        self,
        session_id: str,
        keys: SessionKeys,
        call: Callable[[Write], Awaitable[T]],
        *,
        owner: str | None,
        target: str | None = None,
        register: str = "",
        pin_field: str = "",
        ops: bool = False,
        now: str | None = None,
    ) -> T:
        """Run a write function with every key of the session declared (see :meth:`with_companions`).

        ``call`` gets a :class:`Write` for each attempt: ``now`` (by default
        the clock's time at that attempt), the declared keys (then the
        session's ops HASH, with ``ops``) and the position of ``target``
        among them (``None``: the meta HASH, for a write to the session as a
        whole).
        """

        async def attempt(layout: list[str], companions: str) -> T:
            return await call(
                Write(
                    session_id=session_id,
                    owner=owner,
                    now=format_time(self.settings.clock()) if now is None else now,
                    keys=(*layout, keys.ops) if ops else tuple(layout),
                    companions=companions,
                    register=register,
                    target=0 if target is None else layout.index(target),
                    pin_field=pin_field,
                )
            )

        return await self.with_companions(session_id, keys, attempt, register=register)

    def known_companions(self, session_id: str) -> str:
        """Return the companion names remembered for a session (``""``: none known)."""
        return self._companions.get(session_id, "")

    def remember_companions(self, session_id: str, companions: str) -> None:
        """Cache the companion names of a session (forget them with ``""``)."""
        if companions:
            self._companions[session_id] = companions
            self._companions.move_to_end(session_id)
            while len(self._companions) > COMPANION_CACHE:
                self._companions.popitem(last=False)
        else:
            self._companions.pop(session_id, None)


class Scope:
    """Who a store acts for: every user (``user_id`` is ``None``) or one.

    The one owner rule, applied on the server by every function that
    touches a session: a scoped store acts only on sessions whose
    ``user_id`` is its user; a session nobody owns is in no user's scope.
    """

    __slots__ = ("user_id",)

    def __init__(self, user_id: str | None = None) -> None:
        self.user_id = user_id

    @property
    def owner(self) -> str:
        """The owner argument of the server functions: the user id, or ``""`` for the whole store."""
        return self.user_id or ""

    def allows(self, owner: str | None) -> bool:
        """Whether a session owned by ``owner`` is in this scope."""
        return self.user_id is None or owner == self.user_id

    def check_user(self, user_id: str, action: str) -> None:
        """Refuse an operation on ``user_id``'s data when scoped to another user."""
        if self.user_id is not None and user_id != self.user_id:
            raise PermissionDeniedError(
                f"a view for user {self.user_id!r} cannot {action} of user {user_id!r}", user_id=self.user_id
            )

    def check_unscoped(self, action: str) -> None:
        """Refuse an operation that spans every user (or bypasses the check) when scoped."""
        if self.user_id is not None:
            raise PermissionDeniedError(
                f"a view for user {self.user_id!r} cannot {action}: use the store it came from",
                user_id=self.user_id,
            )

    def forbidden(self, session_id: str) -> PermissionDeniedError:
        """The error for a session outside this scope."""
        return PermissionDeniedError(
            f"session {session_id!r} does not belong to user {self.user_id!r}",
            session_id=session_id,
            user_id=self.user_id,
        )

    async def read(self, parts: Parts, session_id: str, meta: str, commands: Sequence[Command]) -> list[Any] | None:
        """Run read commands on one session's keys in one round trip, checking the scope in the same call.

        Unscoped, the commands go as they are (a replica may serve them);
        scoped, they run inside the ``read`` function after its owner check.

        Returns:
            Each command's reply; ``None`` when a scoped read finds no session.

        Raises:
            PermissionDeniedError: the session is outside this scope.
        """
        if self.user_id is not None:
            encoded = [(name, key, [str(a) if isinstance(a, int) else a for a in args]) for name, key, args in commands]
            return await functions.read(parts.requests, meta, encoded, session_id=session_id, owner=self.user_id)
        client = parts.client
        if len(commands) == 1:
            name, key, args = commands[0]
            return [await parts.requests.run(lambda: _send(client, name, key, args), session_id=session_id, key=key)]

        def fill(batch: Batch | ClusterBatch) -> None:
            for name, key, args in commands:
                _send(batch, name, key, args)

        return await parts.requests.pipeline(fill, session_id=session_id)


def _send(target: Any, name: str, key: str, args: Sequence[Any]) -> Any:
    """Add one read command to a batch, or send it with a client."""
    if name == "LRANGE":
        return target.lrange(key, args[0], args[1])
    if name == "LINDEX":
        return target.lindex(key, args[0])
    if name == "LLEN":
        return target.llen(key)
    if name == "HGET":
        return target.hget(key, args[0])
    if name == "HMGET":
        return target.hmget(key, list(args))
    if name == "HGETALL":
        return target.hgetall(key)
    if name == "EXISTS":
        return target.exists([key])
    if name == "PTTL":
        return target.pttl(key)
    raise ValueError(f"not a read command: {name}")
