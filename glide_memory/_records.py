"""SessionStore's records: named values an integration keeps in a session, in companion HASHes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from glide_memory import _validate, scripts
from glide_memory._store_base import StoreBase
from glide_memory.codec import format_time
from glide_memory.errors import InvalidInputError
from glide_memory.keys import record_kind


class RecordsMixin(StoreBase):
    """The record operations of :class:`~glide_memory.store.SessionStore`."""

    async def put_record(
        self,
        session_id: str,
        kind: str,
        name: str,
        value: bytes | str,
        *,
        only_if: Literal["absent", "present"] | None = None,
    ) -> bool:
        """Store a named value in the session's ``kind`` records (a companion HASH in its slot).

        Integrations keep their own state this way: it shares the session's
        TTL (refreshed by this write), goes with ``delete_session``, and
        never shows in :class:`SessionInfo`.

        Args:
            session_id: The session.
            kind: The record family, a plain word naming the companion key
                (``strands`` gives ``strands:<session_id>``).
            name: The record's name within the family.
            value: What to store.
            only_if: Write only if the record is ``"absent"`` or ``"present"``.

        Returns:
            Whether the value was written (``False`` when ``only_if`` refused).

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return await self._record(session_id, kind, name, value, only_if or "any")

    async def put_records(self, session_id: str, kind: str, values: Mapping[str, bytes | str | None]) -> None:
        """Set several named values of the session's ``kind`` records at once (``None`` removes one), atomically.

        Args:
            session_id: The session.
            kind: The record family (see :meth:`put_record`).
            values: Name to value; ``None`` removes that record.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        if not isinstance(values, Mapping):
            raise InvalidInputError(f"values must be a mapping, not {type(values).__name__}", session_id=session_id)
        written = [(name, self._record_value(value, session_id)) for name, value in values.items() if value is not None]
        removed = [name for name, value in values.items() if value is None]
        await self._record(session_id, kind, "", b"", "many", written=written, removed=removed)

    async def delete_record(self, session_id: str, kind: str, name: str) -> bool:
        """Remove a named value of the session's ``kind`` records; return whether it existed.

        Raises:
            SessionNotFoundError: the session does not exist.
        """
        return await self._record(session_id, kind, name, b"", "delete")

    @staticmethod
    def _record_value(value: bytes | str, session_id: str) -> bytes:
        if isinstance(value, str):
            return _validate.text(value, "record value", session_id=session_id).encode()
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        raise InvalidInputError(f"a record value is bytes or str, not {type(value).__name__}", session_id=session_id)

    async def _record(
        self,
        session_id: str,
        kind: str,
        name: str,
        value: bytes | str,
        mode: str,
        *,
        written: Sequence[tuple[str, bytes]] = (),
        removed: Sequence[str] = (),
    ) -> bool:
        keys = self.schema.keys(session_id)
        companion = record_kind(kind)
        hash_key = self.schema.companion(session_id, companion)
        names = [name] if mode != "many" else [*(n for n, _ in written), *removed]
        checked = [_validate.identifier(n, kind="record name", session_id=session_id, max_length=1024) for n in names]
        if mode == "many" and not checked:
            await self._must_exist(session_id, keys.meta)
            return False
        field = checked[0] if mode != "many" else ""
        data = self._record_value(value, session_id)

        async def call(layout: list[str], companions: str) -> bool:
            return await scripts.record(
                self._requests,
                layout,
                session_id=session_id,
                now=format_time(self._clock()),
                owner=self._owner,
                companions=companions,
                register=companion,
                target=layout.index(hash_key),
                mode=mode,
                name=field,
                value=data,
                written=written,
                removed=removed,
            )

        return await self._with_companions(session_id, keys, call, register="" if mode == "delete" else companion)

    async def get_records(self, session_id: str, kind: str, names: Sequence[str]) -> list[bytes | None]:
        """Return the named values of the session's ``kind`` records (``None`` for each one missing), in one trip."""
        key = self.schema.companion(session_id, record_kind(kind))
        fields = [_validate.identifier(n, kind="record name", session_id=session_id, max_length=1024) for n in names]
        if not fields:
            return []
        if self._owner is not None:
            meta = self.schema.meta(session_id)
            (scoped,) = await self._read(session_id, meta, lambda batch: batch.hmget(key, list(fields)))
            return list(scoped)
        values: list[bytes | None] = await self._requests.run(
            lambda: self._client.hmget(key, list(fields)), session_id=session_id, key=key
        )
        return values

    async def get_record(self, session_id: str, kind: str, name: str) -> bytes | None:
        """Return one named value of the session's ``kind`` records, or ``None``."""
        return (await self.get_records(session_id, kind, [name]))[0]

    async def records(self, session_id: str, kind: str) -> dict[str, bytes]:
        """Return every named value of the session's ``kind`` records."""
        key = self.schema.companion(session_id, record_kind(kind))
        if self._owner is not None:
            (raw,) = await self._read(session_id, self.schema.meta(session_id), lambda batch: batch.hgetall(key))
        else:
            raw = await self._requests.run(lambda: self._client.hgetall(key), session_id=session_id, key=key)
        return {name.decode("utf-8", "replace"): value for name, value in raw.items()}
