"""Sessions: create, read, update, touch and delete the session record and every key of the session."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from glide import Batch, ClusterBatch

from glide_memory import _validate
from glide_memory._codec import RESERVED_FIELDS, decode_session_info, format_time
from glide_memory._core._index import UserIndex
from glide_memory._core._parts import Parts, Scope
from glide_memory._core._recall import Recall
from glide_memory._server import functions
from glide_memory._transport import Attempts
from glide_memory._validate import TTL, Unset
from glide_memory.errors import (
    GlideMemoryError,
    InvalidIdError,
    InvalidInputError,
    PermissionDeniedError,
    SessionExistsError,
    SessionNotFoundError,
)
from glide_memory.keys import new_session_id, thread_of
from glide_memory.models import SessionInfo

_log = logging.getLogger("glide_memory")


class Sessions:
    """The session operations of one store or view."""

    def __init__(self, parts: Parts, scope: Scope, index: UserIndex, recall: Recall) -> None:
        self._parts = parts
        self._scope = scope
        self._index = index
        self._recall = recall

    def scoped(self, scope: Scope) -> Sessions:
        """Return these session operations acting for another scope."""
        return Sessions(self._parts, scope, self._index, self._recall.scoped(scope))

    async def create(
        self,
        user_id: str | None,
        *,
        session_id: str | None,
        model: str | None,
        title: str | None,
        ttl: TTL | Unset | None,
        metadata: Mapping[str, str] | None,
        exist_ok: bool,
    ) -> SessionInfo:
        """Create a session (see :meth:`SessionStore.create_session`)."""
        parts, scope = self._parts, self._scope
        sid = new_session_id() if session_id is None else session_id
        keys = parts.schema.keys(sid)
        uid = None if user_id is None else _validate.identifier(user_id, kind="user id", session_id=sid)
        if scope.user_id is not None:
            if uid not in (None, scope.user_id):
                raise PermissionDeniedError(
                    f"a view for user {scope.user_id!r} cannot create sessions for {uid!r}",
                    session_id=sid,
                    user_id=scope.user_id,
                )
            uid = scope.user_id
        index = None if uid is None else parts.schema.user_sessions(uid)
        ttl_s = parts.settings.default_ttl if isinstance(ttl, Unset) else _validate.ttl(ttl, session_id=sid)
        extra = _validate.fields(metadata, reserved=RESERVED_FIELDS, session_id=sid)
        model = _validate.optional_text(model, "model", session_id=sid)
        title = _validate.optional_text(title, "title", session_id=sid)
        if type(exist_ok) is not bool:
            raise InvalidInputError(f"exist_ok must be a bool, not {exist_ok!r}", session_id=sid)
        now = parts.settings.clock()
        stamp = format_time(now)
        record: dict[str, str] = {"created_at": stamp, "last_active": stamp, "message_count": "0", "token_count": "0"}
        if uid is not None:
            record["user_id"] = uid
        if model is not None:
            record["model"] = model
        if title is not None:
            record["title"] = title
        record["ttl"] = str(ttl_s or 0)
        if ttl_s:
            record["expires_at"] = f"{now + ttl_s:.3f}"
        record.update((name, value) for name, value in extra.items() if value is not None)
        created, owner, created_at = await functions.create(
            parts.requests,
            meta=keys.meta,
            index=None if parts.cluster else index,
            session_id=sid,
            ttl=ttl_s or 0,
            fields=list(record.items()),
            user_id=uid,
        )
        info = SessionInfo(
            session_id=sid,
            user_id=uid,
            model=model,
            title=title,
            created_at=float(stamp),
            last_active=float(stamp),
            expires_in_seconds=float(ttl_s) if ttl_s else None,
            ttl=ttl_s,
            metadata={name: value for name, value in extra.items() if value is not None},
        )
        if not created:
            if created_at == stamp and owner == uid:
                pass  # our own earlier attempt was applied and its reply lost: that is success
            elif exist_ok and session_id is not None and owner == uid:
                return await self.info(sid)
            else:
                reason = "it belongs to another user" if owner != uid else ""
                raise SessionExistsError(sid, user_id=uid, reason=reason)
        if parts.cluster and index is not None and uid is not None:
            # the index lives in another slot: added once the session exists, so it never names a failed one
            try:
                await functions.index_add(parts.requests, index=index, session_id=sid, ttl=ttl_s or 0, user_id=uid)
            except GlideMemoryError:
                await self._forget_unindexed(sid)
                raise
        return info

    async def _forget_unindexed(self, session_id: str) -> None:
        """Best-effort removal of a session whose index entry could not be written."""
        try:
            await self.delete(session_id)
        except GlideMemoryError as exc:
            _log.warning("session %s was created but not indexed, and could not be removed: %s", session_id, exc)

    async def info(self, session_id: str) -> SessionInfo:
        """Return a session's :class:`SessionInfo`."""
        keys = self._parts.schema.keys(session_id)
        replies = await self._scope.read(
            self._parts,
            session_id,
            keys.meta,
            [("HGETALL", keys.meta, ()), ("LLEN", keys.chat, ()), ("PTTL", keys.meta, ())],
        )
        if replies is None or not replies[0]:
            raise SessionNotFoundError(session_id)
        raw, stored, pttl = replies
        stored += await self._thread_lengths(session_id, raw.get(b"companions", b""))
        return decode_session_info(session_id, raw, messages_stored=stored, pttl_ms=pttl, key=keys.meta)

    async def _thread_lengths(self, session_id: str, companions: bytes) -> int:
        """Return how many messages a session's threads hold (0, with no trip, when it has none)."""
        threads = [name for name in companions.decode("utf-8", "replace").split(",") if thread_of(name) is not None]
        if not threads:
            return 0
        schema = self._parts.schema

        def fill(batch: Batch | ClusterBatch) -> None:
            for name in threads:
                batch.llen(schema.companion(session_id, name))

        return int(sum(await self._parts.requests.pipeline(fill, session_id=session_id)))

    async def threads(self, session_id: str) -> list[str]:
        """Return the names of a session's threads, sorted."""
        meta = self._parts.schema.meta(session_id)
        replies = await self._scope.read(
            self._parts, session_id, meta, [("EXISTS", meta, ()), ("HGET", meta, ("companions",))]
        )
        if replies is None or not replies[0]:
            raise SessionNotFoundError(session_id)
        names = (replies[1] or b"").decode("utf-8", "replace").split(",")
        return sorted(thread for name in names if (thread := thread_of(name)) is not None)

    async def exists(self, session_id: str) -> bool:
        """Return whether the session exists (in this scope: another user's raises)."""
        meta = self._parts.schema.meta(session_id)
        replies = await self._scope.read(self._parts, session_id, meta, [("EXISTS", meta, ())])
        return replies is not None and bool(replies[0])

    async def update(self, session_id: str, fields: Mapping[str, str | None]) -> None:
        """Set (``None``: remove) ``model``, ``title`` or caller fields."""
        meta = self._parts.schema.meta(session_id)
        for name in ("model", "title"):
            _validate.optional_text(fields.get(name), name, session_id=session_id)
        caller = {name: value for name, value in fields.items() if name not in ("model", "title")}
        _validate.fields(caller, reserved=RESERVED_FIELDS, session_id=session_id, allow_none=True)
        to_set = [(name, value) for name, value in fields.items() if value is not None]
        to_delete = [name for name, value in fields.items() if value is None]
        await functions.update(
            self._parts.requests,
            meta,
            session_id=session_id,
            owner=self._scope.user_id,
            to_set=to_set,
            to_delete=to_delete,
        )

    async def touch(self, session_id: str, ttl: TTL | Unset | None) -> None:
        """Mark the session active and refresh the TTL of all its keys (``ttl``: a new one)."""
        parts = self._parts
        keys = parts.schema.keys(session_id)
        new_ttl = None if isinstance(ttl, Unset) else (_validate.ttl(ttl, session_id=session_id) or 0)

        kept, owner = await parts.write(
            session_id,
            keys,
            lambda write: functions.touch(parts.requests, write, ttl=new_ttl),
            owner=self._scope.user_id,
        )
        if owner is not None:
            await self._index.extend(owner, kept or None)

    async def delete(self, session_id: str) -> bool:
        """Delete every key of a session and its index entry; return whether the session was there."""
        parts = self._parts
        keys = parts.schema.keys(session_id)
        client = parts.client
        owner_raw, companions_raw = await parts.requests.run(
            lambda: client.hmget(keys.meta, ["user_id", "companions"]), session_id=session_id
        )
        owner = owner_raw.decode("utf-8", "replace") if owner_raw else None
        existed = owner_raw is not None or companions_raw is not None
        index = _index_key(parts, owner)
        parts.remember_companions(session_id, companions_raw.decode("utf-8", "replace") if companions_raw else "")
        if existed and self._scope.allows(owner):
            await self._recall.delete_documents(session_id)  # named by its vector records, which go next
        attempts = Attempts()

        async def call(layout: list[str], companions: str) -> tuple[int, str | None]:
            return await functions.delete(
                parts.requests,
                [*layout, keys.ops],
                session_id=session_id,
                companions=companions,
                owner=self._scope.user_id,
                index=None if parts.cluster else index,
                attempts=attempts,
            )

        deleted, _ = await parts.with_companions(session_id, keys, call)
        parts.remember_companions(session_id, "")
        if parts.cluster and index is not None:
            await parts.requests.run(lambda: client.srem(index, [session_id]), session_id=session_id)
        # an attempt that timed out may have deleted it, and the retry found nothing: the session we saw is gone
        return bool(deleted) or (attempts.maybe_applied and existed)


def _index_key(parts: Parts, owner: str | None) -> str | None:
    """Return the index key of ``owner``, or ``None`` for no owner or one that no index of ours can name."""
    if owner is None:
        return None
    try:
        return parts.schema.user_sessions(owner)
    except InvalidIdError:
        return None  # the owner was written by other code; nothing of ours indexes it
