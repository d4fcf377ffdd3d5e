"""LangGraph's own checkpointer conformance suite (``langgraph-checkpoint-conformance``) against GlideCheckpointSaver.

The suite drives a saver's async methods. It runs here over every way a
graph reaches the saver: async methods on the store's loop, async methods
from another loop (a saver on its own store), sync methods from worker
threads (as sync graphs call them), and through a user's view. Each
capability is one test, so a failure names it; the reference InMemorySaver
runs the base capabilities too, proving the expectations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import BASE_CAPABILITIES, Capability
from langgraph.checkpoint.memory import InMemorySaver

from glide_memory import KeySchema, SessionStore
from glide_memory.integrations.langgraph import GlideCheckpointSaver

ALL = [capability.value for capability in Capability]
BASE = sorted(capability.value for capability in BASE_CAPABILITIES)


class SyncDriven(BaseCheckpointSaver[str]):
    """Presents a saver's sync methods as async ones, each called from a worker thread as a sync graph calls them."""

    def __init__(self, inner: GlideCheckpointSaver) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.inner.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        def collect() -> list[CheckpointTuple]:
            return list(self.inner.list(config, filter=filter, before=before, limit=limit))

        for item in await asyncio.to_thread(collect):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.inner.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await asyncio.to_thread(self.inner.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.inner.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.inner.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.inner.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.inner.prune, thread_ids, strategy=strategy)


Factory = Callable[[], AsyncGenerator[BaseCheckpointSaver[Any], None]]


async def check(name: str, factory: Factory, capability: str) -> None:
    """Run one capability of the suite against the savers ``factory`` makes; every test of it must pass."""
    registered = checkpointer_test(name=name)(factory)
    report = await validate(registered, capabilities={capability})
    result = report.results[capability]
    assert result.detected, f"{name} does not implement {capability}"
    assert result.passed, f"{name} failed {capability}: {result.failures}"
    assert result.tests_passed > 0 and result.tests_failed == 0


@pytest.fixture
async def shared_store(client: Any, namespace: str) -> AsyncIterator[SessionStore]:
    """A store on the test loop, in a key namespace of this test's own."""
    async with SessionStore(client, schema=KeySchema(namespace=namespace)) as store:
        yield store


@pytest.mark.parametrize("capability", ALL)
async def test_async_methods_on_the_stores_loop(shared_store: SessionStore, capability: str) -> None:
    """Every capability passes through the async methods, called on the loop the store lives on."""

    async def factory() -> AsyncGenerator[BaseCheckpointSaver[Any], None]:
        yield GlideCheckpointSaver(store=shared_store)

    await check("glide-async", factory, capability)


@pytest.mark.parametrize("capability", ALL)
async def test_sync_methods_from_worker_threads(shared_store: SessionStore, capability: str) -> None:
    """Every capability passes through the sync methods, called from worker threads while the store's loop runs."""

    async def factory() -> AsyncGenerator[BaseCheckpointSaver[Any], None]:
        yield SyncDriven(GlideCheckpointSaver(store=shared_store))

    await check("glide-sync", factory, capability)


@pytest.fixture(scope="module")
async def own_saver(valkey_url: str) -> AsyncIterator[GlideCheckpointSaver]:
    """A saver with a store of its own, on the background loop: the test loop is another loop to it.

    Built in a worker thread while the test loop runs: glide reads every
    reply through the first loop that used it, here the test loop.
    """
    saver = await asyncio.to_thread(GlideCheckpointSaver, url=valkey_url, schema=KeySchema(namespace="lg-own:"))
    yield saver
    await saver.aclose()


@pytest.mark.parametrize("capability", ALL)
async def test_async_methods_from_another_loop(own_saver: GlideCheckpointSaver, capability: str) -> None:
    """Every capability passes through the async methods of a saver whose store lives on another event loop."""

    async def factory() -> AsyncGenerator[BaseCheckpointSaver[Any], None]:
        yield own_saver

    await check("glide-own-async", factory, capability)


@pytest.mark.parametrize("capability", ALL)
async def test_sync_methods_of_a_saver_on_its_own_loop(own_saver: GlideCheckpointSaver, capability: str) -> None:
    """Every capability passes through the sync methods of a saver whose store lives on its background loop."""

    async def factory() -> AsyncGenerator[BaseCheckpointSaver[Any], None]:
        yield SyncDriven(own_saver)

    await check("glide-own-sync", factory, capability)


@pytest.mark.parametrize("capability", ALL)
async def test_a_users_saver(shared_store: SessionStore, user_id: str, capability: str) -> None:
    """Every capability passes for a saver acting for one user (every access through ``store.for_user``)."""

    async def factory() -> AsyncGenerator[BaseCheckpointSaver[Any], None]:
        yield GlideCheckpointSaver(store=shared_store, user_id=user_id)

    await check("glide-user", factory, capability)


@pytest.mark.parametrize("capability", BASE)
async def test_the_reference_saver_passes_the_base_capabilities(capability: str) -> None:
    """LangGraph's InMemorySaver passes the base capabilities the same way: the expectations are the framework's."""

    async def factory() -> AsyncGenerator[BaseCheckpointSaver[Any], None]:
        yield InMemorySaver()

    await check("reference", factory, capability)
