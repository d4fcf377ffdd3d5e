"""Records: named values an integration keeps in a session, in companion HASHes of its slot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from glide_memory import _validate
from glide_memory._core._parts import Parts, Scope
from glide_memory._server import functions
from glide_memory.errors import InvalidInputError
from glide_memory.keys import new_message_id, record_kind


class Records:
    """The record operations of one store or view."""

    def __init__(self, parts: Parts, scope: Scope) -> None:
        self._parts = parts
        self._scope = scope

    async def put(
        self,
        session_id: str,
        kind: str,
        name: str,
        value: bytes | str,
        only_if: Literal["absent", "present"] | None,
    ) -> bool:
        """Store one named value; ``False`` when ``only_if`` refused (the first attempt's answer when retried)."""
        if only_if not in (None, "absent", "present"):
            raise InvalidInputError(f"only_if must be 'absent', 'present' or None, not {only_if!r}")
        return await self._write(session_id, kind, only_if or "any", [(name, _value(value, session_id))])

    async def put_many(self, session_id: str, kind: str, values: Mapping[str, bytes | str | None]) -> None:
        """Set several named values at once (``None`` removes one), atomically."""
        if not isinstance(values, Mapping):
            raise InvalidInputError(f"values must be a mapping, not {type(values).__name__}", session_id=session_id)
        written = [(name, _value(value, session_id)) for name, value in values.items() if value is not None]
        removed = [(name, None) for name, value in values.items() if value is None]
        await self._write(session_id, kind, "many", [*written, *removed])

    async def delete(self, session_id: str, kind: str, name: str) -> bool:
        """Remove one named value; return whether it existed (the first attempt's answer when retried)."""
        return await self._write(session_id, kind, "delete", [(name, None)])

    async def _write(self, session_id: str, kind: str, mode: str, fields: Sequence[tuple[str, bytes | None]]) -> bool:
        """Write ``fields`` of a record kind (see ``functions.record``: ``None`` removes one)."""
        parts = self._parts
        keys = parts.schema.keys(session_id)
        companion = record_kind(kind)
        hash_key = parts.schema.companion(session_id, companion)
        for name, _ in fields:
            _validate.identifier(name, kind="record name", session_id=session_id, max_length=1024)
        if mode == "many" and not fields:
            await self._parts.must_exist(session_id, keys.meta)
            return False
        # a conditional write's answer depends on the state it found: an id lets a retry report the first one's
        op = "" if mode in ("any", "many") else new_message_id()

        # declared even by a delete, so that a stale cache is corrected (a delete saves no new companion)
        return await parts.write(
            session_id,
            keys,
            lambda write: functions.record(parts.requests, write, op=op, mode=mode, fields=fields),
            owner=self._scope.user_id,
            target=hash_key,
            register=companion,
            ops=True,
        )

    async def get_many(self, session_id: str, kind: str, names: Sequence[str]) -> list[bytes | None]:
        """Return the named values (``None`` for each one missing), in one round trip."""
        parts = self._parts
        key = parts.schema.companion(session_id, record_kind(kind))
        fields = [_validate.identifier(n, kind="record name", session_id=session_id, max_length=1024) for n in names]
        if not fields:
            return []
        replies = await self._scope.read(parts, session_id, parts.schema.meta(session_id), [("HMGET", key, fields)])
        return [None] * len(fields) if replies is None else list(replies[0])

    async def all(self, session_id: str, kind: str) -> dict[str, bytes]:
        """Return every named value of a kind."""
        parts = self._parts
        key = parts.schema.companion(session_id, record_kind(kind))
        replies = await self._scope.read(parts, session_id, parts.schema.meta(session_id), [("HGETALL", key, ())])
        raw = {} if replies is None else replies[0]
        return {name.decode("utf-8", "replace"): value for name, value in raw.items()}


def _value(value: bytes | str, session_id: str) -> bytes:
    if isinstance(value, str):
        return _validate.text(value, "record value", session_id=session_id).encode()
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    raise InvalidInputError(f"a record value is bytes or str, not {type(value).__name__}", session_id=session_id)
