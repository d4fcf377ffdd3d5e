"""GlideCheckpointSaver: LangGraph's ``BaseCheckpointSaver`` on Valkey, each thread a toolkit session.

Every method, sync or async, works from any thread and any event loop: the
work runs on the event loop the store belongs to (glide reads every reply
through one loop), handed over when the caller is elsewhere. Layout in
:mod:`._layout`, the conversation mirror in :mod:`._mirror`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from datetime import timedelta
from functools import partial
from types import TracebackType
from typing import Any, TypeVar, cast
from urllib.parse import unquote

from glide import Batch, ClusterBatch, GlideClient, GlideClusterClient
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from glide_memory import (
    TTL,
    UNSET,
    GlideMemoryError,
    InvalidInputError,
    KeySchema,
    Message,
    SessionExistsError,
    SessionNotFoundError,
    SessionStore,
    Unset,
)
from glide_memory.integrations._bridge import DEFAULT_CALL_TIMEOUT, Binding
from glide_memory.integrations.langgraph import _layout, _script
from glide_memory.integrations.langgraph._layout import KIND, WRITES_KIND, Entry, part
from glide_memory.integrations.langgraph._mirror import Mirror, is_message_list, to_message

T = TypeVar("T")

RUNS = "langgraph-runs"
"""Extension key name of a run's index: ``langgraph-runs:<run>``, the SET of threads holding its checkpoints."""

THREADS = "langgraph-threads"
"""Extension key of the SET of threads an unscoped saver wrote (``list(None)`` reads it)."""

PAGE = 100
"""Checkpoints ``list`` reads per round trip."""

_RUN_INDEX_MARGIN = 86_400  # seconds a run's index outlives the TTL of the threads it names
_CACHED = 4096  # threads (and thread/run pairs) whose state a saver remembers

_log = logging.getLogger("glide_memory")


class _Recent(OrderedDict[Any, Any]):
    """A bounded memory of recent keys (least recently used dropped first)."""

    def add(self, key: Any, value: Any = True) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > _CACHED:
            self.popitem(last=False)


def _thread_of(config: RunnableConfig) -> str:
    """Return the thread id of ``config`` as text (a KeyError without one, as in LangGraph's savers)."""
    return str(config["configurable"]["thread_id"])


def _config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


class GlideCheckpointSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer on Valkey: ``graph = builder.compile(checkpointer=GlideCheckpointSaver(url=...))``.

    Each LangGraph thread is a toolkit session (session id = ``thread_id``):
    its checkpoints, channel values and pending writes are records of that
    session, so they share its hash slot (cluster-safe), expire with its TTL
    (refreshed by every write) and go with ``delete_session`` and
    ``delete_user``. The ``messages`` channel of the root graph is mirrored
    into the session's main conversation, so ``store.get_messages(thread_id)``,
    the CLI, exports and recall see the chat.

    Built on a :class:`SessionStore` of yours (shared with other adapters;
    its event loop must keep running while other threads use the saver) or
    on a URL (an embedded server when there is neither a URL nor
    ``VALKEY_URL``): then the saver runs its own store on a background loop
    and :meth:`close` closes it.

    Args:
        store: A store to use.
        url: A ``valkey://`` URL to connect to.
        ttl: TTL of new threads' sessions, refreshed on every write; the
            store's default (24 h) if left out, ``None`` for never.
        user_id: Owner of new threads; every access then goes through
            ``store.for_user(user_id)`` and another user's thread is refused
            with :class:`~glide_memory.PermissionDeniedError`.
        serde: LangGraph's serializer (``JsonPlusSerializer`` by default).
        messages_channel: The channel mirrored into the conversation;
            ``None`` turns the mirror off.
        schema: Key names, for a store this saver creates.
        call_timeout: Seconds a synchronous call waits before raising
            :class:`~glide_memory.ServerTimeoutError`.
    """

    def __init__(
        self,
        *,
        store: SessionStore | None = None,
        url: str | None = None,
        ttl: TTL | Unset | None = UNSET,
        user_id: str | None = None,
        serde: SerializerProtocol | None = None,
        messages_channel: str | None = "messages",
        schema: KeySchema | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
    ) -> None:
        super().__init__(serde=serde)
        self._binding = Binding(
            store=store, url=url, schema=schema, call_timeout=call_timeout, name="the checkpoint saver"
        )
        store = self.store = self._binding.store
        self.user_id = user_id
        self.ttl = ttl
        self.messages_channel = messages_channel
        self._view = store if user_id is None else store.for_user(user_id)
        self._mirror = Mirror()
        self._sessions = _Recent()  # threads whose session is known to exist
        self._indexed = _Recent()  # (thread, run) pairs in the run index, threads in the registry
        self._latest = _Recent()  # (thread, ns) -> the newest checkpoint id this saver wrote

    @classmethod
    def from_conn_string(cls, url: str, **kwargs: Any) -> GlideCheckpointSaver:
        """Return a saver on its own store at ``url``; use it with ``with`` or ``async with`` to close it."""
        return cls(url=url, **kwargs)

    # -- running on the store's loop ----------------------------------------

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the store's event loop, handing it over (for as long as it takes) from another loop."""
        return await self._binding.call(coro, bounded=False)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the store's event loop from sync code: ``saver.run(saver.store.get_messages(t))``."""
        return self._binding.run(coro)

    # -- LangGraph's interface, async ----------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Return the checkpoint ``config`` names (the namespace's latest without an id), in one round trip."""
        return await self._on_loop(self._get_tuple(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Yield matching checkpoints, newest first (by id), reading a page of them per round trip."""
        pages = self._list(config, filter=filter, before=before, limit=limit)
        binding = self._binding
        if asyncio.get_running_loop() is binding.loop and not binding.closed:
            async for item in pages:
                yield item
            return
        try:
            while True:
                try:
                    item = await self._on_loop(_next(pages))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            if not binding.closed and binding.loop.is_running():
                await self._on_loop(pages.aclose())

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint, its metadata, new channel values and the namespace's latest pointer, atomically."""
        return await self._on_loop(self._put(config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's pending writes for a checkpoint in one atomic write."""
        await self._on_loop(self._put_writes(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete a thread: its session, with every checkpoint, write and its conversation."""
        await self._on_loop(self._delete_thread(str(thread_id)))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) whose metadata names one of ``run_ids``, in every thread."""
        await self._on_loop(self._delete_for_runs(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and write of a thread to another (and its conversation, when it becomes the latest)."""
        await self._on_loop(self._copy_thread(str(source_thread_id), str(target_thread_id)))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Keep only each namespace's latest checkpoint (``"keep_latest"``) or delete the threads (``"delete"``)."""
        await self._on_loop(self._prune(thread_ids, strategy))

    # -- LangGraph's interface, sync ------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Return the checkpoint ``config`` names (the namespace's latest without an id), in one round trip."""
        return self.run(self._get_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Yield matching checkpoints, newest first (by id), reading a page of them per round trip."""
        pages = self._list(config, filter=filter, before=before, limit=limit)
        try:
            while True:
                try:
                    item = self.run(_next(pages))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            if not self._binding.closed and self._binding.loop.is_running():
                self.run(pages.aclose())

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint, its metadata, new channel values and the namespace's latest pointer, atomically."""
        return self.run(self._put(config, checkpoint, metadata, new_versions))

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """Store a task's pending writes for a checkpoint in one atomic write."""
        self.run(self._put_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread: its session, with every checkpoint, write and its conversation."""
        self.run(self._delete_thread(str(thread_id)))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) whose metadata names one of ``run_ids``, in every thread."""
        self.run(self._delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and write of a thread to another (and its conversation, when it becomes the latest)."""
        self.run(self._copy_thread(str(source_thread_id), str(target_thread_id)))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Keep only each namespace's latest checkpoint (``"keep_latest"``) or delete the threads (``"delete"``)."""
        self.run(self._prune(thread_ids, strategy))

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Return the next channel version: the counter, then a random tail, so forks never share a version."""
        if current is None:
            number = 0
        elif isinstance(current, int):
            number = current
        else:
            number = int(str(current).split(".")[0])
        return f"{number + 1:032}.{random.random():016}"  # noqa: S311 - uniqueness, not secrecy

    # -- closing ---------------------------------------------------------------

    def close(self) -> None:
        """Close the store the saver created and release the background loop; idempotent."""
        self._binding.close()

    async def aclose(self) -> None:
        """Close the store the saver created (from any event loop); idempotent."""
        await self._binding.aclose()

    def __enter__(self) -> GlideCheckpointSaver:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> GlideCheckpointSaver:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- the work, on the store's loop ------------------------------------------

    async def _get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread_id = _thread_of(config)
        ns = config["configurable"].get("checkpoint_ns", "")
        checkpoint_id = get_checkpoint_id(config)
        arguments = _script.get_arguments([(part(ns), "" if not checkpoint_id else part(checkpoint_id))])
        reply = await _script.read(self.store, thread_id, arguments, owner=self.user_id)
        tuples = self._tuples(thread_id, reply)
        return tuples[0] if tuples else None

    async def _list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> AsyncGenerator[CheckpointTuple, None]:
        if limit is not None and limit <= 0:
            return
        remaining: builtins.list[int | None] = [limit]
        if config is not None:
            threads: Sequence[str] = [_thread_of(config)]
        else:
            threads = await self._known_threads()
        for thread_id in threads:
            async for item in self._list_thread(thread_id, config, filter, before, remaining):
                yield item
            if remaining[0] == 0:
                return

    async def _list_thread(
        self,
        thread_id: str,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        remaining: builtins.list[int | None],
    ) -> AsyncIterator[CheckpointTuple]:
        configurable = config["configurable"] if config is not None else {}
        ns = configurable.get("checkpoint_ns")
        only_id = configurable.get("checkpoint_id")
        before_id = get_checkpoint_id(before) if before else None
        cursor = ""
        while True:
            wanted = remaining[0]
            size = PAGE if filter or only_id or wanted is None else min(PAGE, wanted)
            arguments = _script.page_arguments(
                None if ns is None else part(ns),
                before=part(before_id) if before_id else "",
                cursor=cursor,
                limit=size,
                full=not (filter or only_id),
            )
            reply = await _script.read(self.store, thread_id, arguments, owner=self.user_id)
            if not reply.items:
                return
            last = reply.items[-1]
            cursor = f"{last.checkpoint_id} {last.ns}"
            if filter or only_id:
                chosen = [i for i in reply.items if self._matches(thread_id, i, filter, only_id)]
                if wanted is not None:
                    chosen = chosen[:wanted]
                pairs = [(i.ns, i.checkpoint_id) for i in chosen]
                page: builtins.list[CheckpointTuple] = []
                if pairs:
                    arguments = _script.get_arguments(pairs)
                    found = await _script.read(self.store, thread_id, arguments, owner=self.user_id)
                    page = self._tuples(thread_id, found)
            else:
                page = self._tuples(thread_id, reply)
            for item in page:
                yield item
                if remaining[0] is not None:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        return
            if not reply.more:
                return

    def _matches(self, thread_id: str, item: _script.Item, filter: dict[str, Any] | None, only_id: str | None) -> bool:
        if only_id and unquote(item.checkpoint_id) != only_id:
            return False
        if not filter:
            return True
        metadata = self.serde.loads_typed(_layout.decode_entry(item.entry, thread_id=thread_id).metadata)
        return all(value == metadata.get(key) for key, value in filter.items())

    def _tuples(self, thread_id: str, reply: _script.Reply) -> builtins.list[CheckpointTuple]:
        """Decode a read's checkpoints, with their channel values and writes (in ``writes_sort_key`` order)."""
        writes: dict[tuple[str, str], builtins.list[_layout.StoredWrite]] = {}
        for name, raw in reply.writes:
            writes.setdefault(_layout.split_write_name(name), []).append(
                _layout.decode_write(name, raw, thread_id=thread_id)
            )
        out = []
        for item in reply.items:
            ns = unquote(item.ns)
            entry = _layout.decode_entry(item.entry, thread_id=thread_id)
            values: dict[str, Any] = {}
            for name, value in zip(entry.blobs, item.values, strict=False):
                if value is None:
                    continue
                typed = _layout.decode_typed(value, thread_id=thread_id, name=name)
                if typed[0] != "empty":
                    values[unquote(name.split("/")[2])] = self.serde.loads_typed(typed)
            own = sorted(
                writes.get((ns, entry.checkpoint_id), []),
                key=lambda w: writes_sort_key(w.task_path, w.task_id, w.idx),
            )
            checkpoint = cast(Checkpoint, {**self.serde.loads_typed(entry.checkpoint), "channel_values": values})
            out.append(
                CheckpointTuple(
                    config=_config(thread_id, ns, entry.checkpoint_id),
                    checkpoint=checkpoint,
                    metadata=self.serde.loads_typed(entry.metadata),
                    parent_config=_config(thread_id, ns, entry.parent_id) if entry.parent_id else None,
                    pending_writes=[(w.task_id, w.channel, self.serde.loads_typed(w.value)) for w in own],
                )
            )
        return out

    async def _put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        thread_id = _thread_of(config)
        ns: str = config["configurable"]["checkpoint_ns"]  # required, as by LangGraph's own savers
        checkpoint_id = checkpoint["id"]
        body: dict[str, Any] = dict(checkpoint)
        values: dict[str, Any] = body.pop("channel_values")
        records: dict[str, bytes | str | None] = {}
        for channel, version in new_versions.items():
            typed = self.serde.dumps_typed(values[channel]) if channel in values else ("empty", b"")
            records[_layout.blob_name(ns, channel, version)] = _layout.encode_typed(typed)
        full_metadata = get_checkpoint_metadata(config, metadata)
        entry = Entry(
            checkpoint_id=checkpoint_id,
            parent_id=config["configurable"].get("checkpoint_id"),
            checkpoint=self.serde.dumps_typed(body),
            metadata=self.serde.dumps_typed(full_metadata),
            blobs=[_layout.blob_name(ns, c, v) for c, v in checkpoint["channel_versions"].items()],
        )
        records[_layout.checkpoint_name(ns, checkpoint_id)] = _layout.encode_entry(entry)
        newest = self._latest.get((thread_id, ns))
        if newest is None or newest <= checkpoint_id:  # a put of an older id never moves the pointer back
            records[_layout.latest_name(ns)] = part(checkpoint_id)
        side: list[Callable[[], Awaitable[None]]] = []
        mirrored = self._mirrored(ns, values, new_versions)
        if mirrored is not None:
            side.append(lambda: self._mirror.sync(self._view, thread_id, mirrored))
        run_id = full_metadata.get("run_id")
        if run_id is not None:
            side.append(lambda: self._index_run(thread_id, str(run_id)))
        if self.user_id is None and thread_id not in self._indexed:
            side.append(lambda: self._register(thread_id))
        await self._commit(thread_id, lambda: self._view.put_records(thread_id, KIND, records), side)
        if newest is None or newest < checkpoint_id:
            self._latest.add((thread_id, ns), checkpoint_id)
        return _config(thread_id, ns, checkpoint_id)

    def _mirrored(
        self, ns: str, values: dict[str, Any], new_versions: ChannelVersions
    ) -> builtins.list[Message] | None:
        """Return the messages to mirror for this put, or ``None`` when it changes no conversation."""
        channel = self.messages_channel
        if channel is None or ns != "" or channel not in new_versions or not is_message_list(values.get(channel)):
            return None
        messages, ids = [], set()
        for position, message in enumerate(values[channel]):
            converted = to_message(message, position)
            if converted.id in ids:  # a plain list channel may hold one message twice: each stored once
                converted = converted.replace(id=f"{converted.id}~{position}")
            ids.add(converted.id)
            messages.append(converted)
        return messages

    async def _put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str
    ) -> None:
        thread_id = _thread_of(config)
        ns = config["configurable"].get("checkpoint_ns", "")
        checkpoint_id = config["configurable"]["checkpoint_id"]
        records: dict[str, bytes | str | None] = {}
        regular = []
        for idx, (channel, value) in enumerate(writes):
            slot = WRITES_IDX_MAP.get(channel, idx)
            name = _layout.write_name(ns, checkpoint_id, task_id, slot)
            records[name] = _layout.encode_write(task_id, channel, self.serde.dumps_typed(value), task_path)
            if slot >= 0:
                regular.append(name)
        if not records:
            return
        if regular:
            # as LangGraph's savers do, a task's regular write is stored once: a repeat is ignored
            stored = await self._view.get_records(thread_id, WRITES_KIND, regular)
            for name, value in zip(regular, stored, strict=True):
                if value is not None:
                    del records[name]
            if not records:
                return
        await self._commit(thread_id, lambda: self._view.put_records(thread_id, WRITES_KIND, records), [])

    async def _commit(
        self, thread_id: str, write: Callable[[], Awaitable[None]], side: Sequence[Callable[[], Awaitable[None]]]
    ) -> None:
        """Make the thread's one atomic write, with its side writes alongside, creating the session if needed."""
        for attempt in range(2):
            if thread_id not in self._sessions:
                await self._ensure_session(thread_id)
            results = await asyncio.gather(write(), *(task() for task in side), return_exceptions=True)
            main, *others = results
            if isinstance(main, SessionNotFoundError) and attempt == 0:
                self._sessions.pop(thread_id, None)  # it expired meanwhile: create it again, write again
                self._mirror.forget(thread_id)
                continue
            for outcome in others:
                if isinstance(outcome, BaseException):
                    self._mirror.forget(thread_id)
                    if not isinstance(outcome, GlideMemoryError):
                        raise outcome
                    # the checkpoint is what LangGraph restores from; the next put writes these again
                    _log.warning("thread %s: its mirror or an index was not written: %s", thread_id, outcome)
            if isinstance(main, BaseException):
                raise main
            return

    async def _ensure_session(self, thread_id: str) -> None:
        # SessionExistsError: another user's; the write that follows is refused through the user's view
        with contextlib.suppress(SessionExistsError):
            await self._view.create_session(self.user_id, session_id=thread_id, ttl=self.ttl, exist_ok=True)
        self._sessions.add(thread_id)

    async def _index_run(self, thread_id: str, run_id: str) -> None:
        if (thread_id, run_id) in self._indexed:
            return
        key = self._run_key(run_id)
        ttl = self._ttl_seconds()

        def fill(batch: Batch | ClusterBatch) -> None:
            batch.sadd(key, [thread_id])
            if ttl is not None:
                batch.expire(key, ttl + _RUN_INDEX_MARGIN)

        await self.store.pipeline(fill, session_id=thread_id)
        self._indexed.add((thread_id, run_id))

    async def _register(self, thread_id: str) -> None:
        key = self.store.schema.extension(THREADS)
        await self.store.call(lambda client: client.sadd(key, [thread_id]), session_id=thread_id)
        self._indexed.add(thread_id)

    def _run_key(self, run_id: str) -> str:
        scoped = part(run_id) if self.user_id is None else f"{part(self.user_id)}/{part(run_id)}"
        return self.store.schema.extension(RUNS, scoped)

    def _ttl_seconds(self) -> int | None:
        ttl = self.store.default_ttl if isinstance(self.ttl, Unset) else self.ttl
        if ttl is None:
            return None
        return int(ttl.total_seconds()) if isinstance(ttl, timedelta) else int(ttl)

    async def _known_threads(self) -> builtins.list[str]:
        """Return the threads ``list(None)`` walks: the user's sessions, or the unscoped registry."""
        if self.user_id is not None:
            return sorted(info.session_id for info in await self.store.list_user_sessions(self.user_id))
        key = self.store.schema.extension(THREADS)
        members = await self.store.call(lambda client: client.smembers(key))
        threads = sorted(_layout.as_text(m) for m in members)
        gone = [t for t, found in zip(threads, await self._exist(threads), strict=True) if not found]
        if gone:
            await self.store.call(lambda client: client.srem(key, list(gone)))
        return [t for t in threads if t not in set(gone)]

    async def _exist(self, threads: Sequence[str]) -> builtins.list[bool]:
        if not threads:
            return []
        metas = [self.store.schema.meta(t) for t in threads]

        def fill(batch: Batch | ClusterBatch) -> None:
            for meta in metas:
                batch.exists([meta])

        return [bool(n) for n in await self.store.pipeline(fill)]

    async def _delete_thread(self, thread_id: str) -> None:
        await self._view.delete_session(thread_id)
        self._forget(thread_id)
        if self.user_id is None:
            key = self.store.schema.extension(THREADS)
            await self.store.call(lambda client: client.srem(key, [thread_id]), session_id=thread_id)

    def _forget(self, thread_id: str) -> None:
        self._sessions.pop(thread_id, None)
        self._indexed.pop(thread_id, None)
        self._mirror.forget(thread_id)
        for key in [k for k in self._latest if k[0] == thread_id]:
            del self._latest[key]

    async def _delete_for_runs(self, run_ids: Sequence[str]) -> None:
        runs = {str(run) for run in run_ids}
        if not runs:
            return
        keys = [self._run_key(run) for run in sorted(runs)]
        threads: set[str] = set()
        for key in keys:
            members: set[bytes] = await self.store.call(partial(_members, key))
            threads.update(_layout.as_text(m) for m in members)
        for thread_id in sorted(threads):
            await self._drop(thread_id, lambda ns, cid, metadata: metadata.get("run_id") in runs)
        await self.store.call(lambda client: client.delete(list(keys)))
        for pair in [k for k in self._indexed if isinstance(k, tuple) and k[1] in runs]:
            del self._indexed[pair]

    async def _prune(self, thread_ids: Sequence[str], strategy: str) -> None:
        if strategy not in ("keep_latest", "delete"):
            raise InvalidInputError(f"strategy must be 'keep_latest' or 'delete', not {strategy!r}")
        for thread_id in [str(t) for t in thread_ids]:
            if strategy == "delete":
                await self._delete_thread(thread_id)
            else:
                await self._drop(thread_id, None)

    async def _read_all(self, thread_id: str) -> tuple[dict[str, bytes], dict[str, bytes]] | None:
        """Return every record of a thread (checkpoint family, writes family), or ``None`` if it has no session."""
        try:
            records = await self._view.records(thread_id, KIND)
            writes = await self._view.records(thread_id, WRITES_KIND)
        except SessionNotFoundError:
            return None
        if not records and not await self._view.exists(thread_id):
            return None
        return records, writes

    async def _drop(self, thread_id: str, doomed: Callable[[str, str, dict[str, Any]], bool] | None) -> None:
        """Delete a thread's checkpoints ``doomed`` picks (``None``: all but each namespace's latest).

        Channel values no kept checkpoint refers to go too, the latest
        pointers move to the newest kept checkpoint, and the doomed
        checkpoints' writes are deleted after them (one atomic write each).
        """
        found = await self._read_all(thread_id)
        if found is None:
            return
        records, writes = found
        entries = {
            name: _layout.decode_entry(raw, thread_id=thread_id, name=name)
            for name, raw in records.items()
            if name[:2] == "c/"
        }
        newest: dict[str, str] = {}
        for name in entries:
            ns, cid = _layout.split_checkpoint_name(name)
            newest[ns] = max(newest.get(ns, cid), cid)
        dropped: set[tuple[str, str]] = set()
        for name, entry in entries.items():
            ns, cid = _layout.split_checkpoint_name(name)
            if cid != newest[ns] if doomed is None else doomed(ns, cid, self.serde.loads_typed(entry.metadata)):
                dropped.add((ns, cid))
        if not dropped:
            return
        changes: dict[str, bytes | str | None] = {}
        kept_values: set[str] = set()
        latest: dict[str, str] = {}
        for name, entry in entries.items():
            ns, cid = _layout.split_checkpoint_name(name)
            if (ns, cid) in dropped:
                changes[name] = None
            else:
                kept_values.update(entry.blobs)
                latest[ns] = max(latest.get(ns, cid), cid)
        for name in records:
            if name[:2] == "b/" and name not in kept_values:
                changes[name] = None
            elif name[:2] == "l/":
                ns = unquote(name[2:])
                changes[name] = part(latest[ns]) if ns in latest else None
        await self._view.put_records(thread_id, KIND, changes)
        stale = {name: None for name in writes if _layout.split_write_name(name) in dropped}
        if stale:
            await self._view.put_records(thread_id, WRITES_KIND, stale)
        for ns in {ns for ns, _ in dropped}:
            self._latest.pop((thread_id, ns), None)

    async def _copy_thread(self, source: str, target: str) -> None:
        source_records = await self._read_all(source)
        if source_records is None:
            return
        records, writes = source_records
        if not any(name[:2] == "c/" for name in records):
            return
        await self._ensure_session(target)
        pointers = sorted(name for name in records if name[:2] == "l/")
        existing = await self._view.get_records(target, KIND, pointers) if pointers else []
        copied: dict[str, bytes | str | None] = dict(records)
        source_newer = True
        for name, theirs in zip(pointers, existing, strict=True):
            if theirs is not None and theirs.decode() > records[name].decode():
                copied[name] = theirs  # the target's own latest stays its latest
                source_newer = source_newer and name != _layout.latest_name("")
        await self._commit(target, lambda: self._view.put_records(target, KIND, copied), [])
        if writes:
            await self._view.put_records(target, WRITES_KIND, dict(writes))
        for name, raw in records.items():
            if name[:2] != "c/":
                continue
            run_id = self.serde.loads_typed(_layout.decode_entry(raw, thread_id=source, name=name).metadata).get(
                "run_id"
            )
            if run_id is not None:
                await self._index_run(target, str(run_id))
        if self.user_id is None:
            await self._register(target)
        if source_newer:
            messages = await self._view.get_messages(source)
            if messages:
                await self._view.set_messages(target, messages)
        self._forget(target)
        self._sessions.add(target)


async def _members(key: str, client: GlideClient | GlideClusterClient) -> set[bytes]:
    return await client.smembers(key)


async def _next(pages: AsyncIterator[T]) -> T:
    return await pages.__anext__()
