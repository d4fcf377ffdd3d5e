"""GlideSnapshotStorage: Strands' async ``Storage`` protocol on Valkey, for ``SnapshotSessionManager``."""

from __future__ import annotations

import builtins
from collections.abc import Coroutine
from typing import Any, TypeVar

from glide import Batch, ClusterBatch
from strands.storage.storage import Storage
from strands.types.exceptions import StorageError

from glide_memory import GlideMemoryError, InvalidInputError, SessionStore
from glide_memory.integrations._bridge import DEFAULT_CALL_TIMEOUT, Binding

T = TypeVar("T")

BLOBS = "strands-blob"
"""Key name of the blobs: ``strands-blob:<key>``."""

BLOB_INDEX = "strands-blobs"
"""Key of the sorted SET listing every blob key, for prefix queries without SCAN."""


class StrandsStorageError(GlideMemoryError, StorageError):
    """Raised by :class:`GlideSnapshotStorage` for a bad key or a failed request."""


class GlideSnapshotStorage(Storage):
    """Strands' async ``Storage`` protocol on Valkey.

    Each value is a STRING key (``strands-blob:<key>``); a sorted SET of all
    keys (``strands-blobs``) answers prefix listings with ZRANGEBYLEX, never
    SCAN. Calls made on another event loop than the store's are handed to
    the store's loop.

    Args:
        store: Where blobs live; its event loop must be running.
    """

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self._binding = Binding(
            store=store, url=None, schema=None, call_timeout=DEFAULT_CALL_TIMEOUT, name="the snapshot storage"
        )

    async def _on_store_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return await self._binding.call(coro, bounded=False)
        except GlideMemoryError as exc:
            if isinstance(exc, StrandsStorageError):
                raise
            raise StrandsStorageError(str(exc)) from exc

    def _key(self, key: str) -> str:
        try:
            return self.store.schema.extension(BLOBS, key)
        except InvalidInputError as exc:
            raise StrandsStorageError(str(exc)) from exc

    async def write(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, overwriting any value."""
        if not isinstance(data, bytes | bytearray):
            raise StrandsStorageError(f"data must be bytes, not {type(data).__name__}")
        blob, index = self._key(key), self.store.schema.extension(BLOB_INDEX)

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.set(blob, bytes(data)).zadd(index, {key: 0})

        await self._on_store_loop(self.store.pipeline(fill))

    async def read(self, key: str) -> bytes | None:
        """Return the bytes stored under ``key``, or ``None``."""
        blob = self._key(key)
        value: bytes | None = await self._on_store_loop(self.store.call(lambda client: client.get(blob)))
        return value

    async def delete(self, key: str) -> None:
        """Delete ``key``; a no-op if it does not exist."""
        blob, index = self._key(key), self.store.schema.extension(BLOB_INDEX)

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.delete([blob]).zrem(index, [key])

        await self._on_store_loop(self.store.pipeline(fill))

    async def list(self, query: str) -> builtins.list[str]:
        """Return the keys starting with ``query``, sorted."""
        index = self.store.schema.extension(BLOB_INDEX)
        prefix = query.encode()
        low, high = (b"[" + prefix, b"[" + prefix + b"\xff") if prefix else (b"-", b"+")
        keys = await self._on_store_loop(
            self.store.call(lambda client: client.custom_command([b"ZRANGEBYLEX", index.encode(), low, high]))
        )
        return [key.decode() for key in keys]
