"""LangGraph's tests of its reference savers, ported: each runs against InMemorySaver and GlideCheckpointSaver alike.

Rewritten from ``libs/checkpoint/tests/test_memory.py`` (metadata merged from
the config, searching with metadata filters across threads and namespaces,
context managers, values of unregistered types) and
``libs/checkpoint-sqlite/tests/test_sqlite.py`` (limits across threads, filter
keys with hyphens, digits and quotes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointMetadata, create_checkpoint, empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel

from glide_memory import SessionStore
from glide_memory.integrations.langgraph import GlideCheckpointSaver


class Pet(BaseModel):
    """A value of a type the serializer has no registration for."""

    name: str


@pytest.fixture(params=["reference", "glide"])
async def saver(request: pytest.FixtureRequest, ns_store: SessionStore) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """InMemorySaver, then GlideCheckpointSaver on a key namespace of this test's own (so list(None) sees only it)."""
    if request.param == "reference":
        yield InMemorySaver()
    else:
        async with GlideCheckpointSaver(store=ns_store) as glide_saver:
            yield glide_saver


def config(thread_id: str, ns: str = "", checkpoint_id: str | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


async def test_metadata_merges_the_configs_metadata_but_not_private_keys(saver: BaseCheckpointSaver[Any]) -> None:
    """A put keeps the config's metadata (run_id) beside its own and leaves out ``__``-prefixed configurable keys."""
    conf: RunnableConfig = {
        "configurable": {"thread_id": "thread-2", "checkpoint_ns": "", "__super_private_key": "hidden"},
        "metadata": {"run_id": "my_run_id"},
    }
    checkpoint = create_checkpoint(empty_checkpoint(), {}, 1)
    metadata: CheckpointMetadata = {"source": "loop", "step": 1, "parents": {}}
    await saver.aput(conf, checkpoint, metadata, checkpoint["channel_versions"])
    found = await saver.aget_tuple(conf)
    assert found is not None
    assert found.metadata == {"source": "loop", "step": 1, "parents": {}, "run_id": "my_run_id"}


async def test_search_by_metadata_across_threads_and_namespaces(saver: BaseCheckpointSaver[Any]) -> None:
    """list(None, filter=...) finds checkpoints of all threads by one or more keys; a thread lists every namespace."""
    one: dict[str, Any] = {"source": "input", "step": 2, "writes": {}, "score": 1}
    two: dict[str, Any] = {"source": "loop", "step": 1, "writes": {"foo": "bar"}, "score": None}
    await saver.aput(config("thread-1", checkpoint_id="1"), empty_checkpoint(), one, {})  # type: ignore[arg-type]
    await saver.aput(config("thread-2", checkpoint_id="2"), create_checkpoint(empty_checkpoint(), {}, 1), two, {})  # type: ignore[arg-type]
    await saver.aput(config("thread-2", "inner", "2-inner"), empty_checkpoint(), {}, {})

    async def search(**query: Any) -> list[Any]:
        return [found async for found in saver.alist(None, **query)]

    assert [t.metadata for t in await search(filter={"source": "input"})] == [one]
    assert [t.metadata for t in await search(filter={"step": 1, "writes": {"foo": "bar"}})] == [two]
    assert len(await search(filter={})) == 3
    assert await search(filter={"source": "update", "step": 1}) == []
    assert len(await search(filter={"score": None})) == 2  # a missing key matches None, as metadata.get does
    both = [t async for t in saver.alist({"configurable": {"thread_id": "thread-2"}})]
    assert {t.config["configurable"]["checkpoint_ns"] for t in both} == {"", "inner"}


async def test_limits_apply_across_threads(saver: BaseCheckpointSaver[Any]) -> None:
    """list(None) honours limit=2, limit=0 and no limit over checkpoints of five threads."""
    for number in range(5):
        await saver.aput(config(f"thread-{number}"), empty_checkpoint(), {"index": number}, {})  # type: ignore[typeddict-unknown-key]
    assert len([t async for t in saver.alist(None, limit=2)]) == 2
    assert [t async for t in saver.alist(None, limit=0)] == []
    assert len([t async for t in saver.alist(None, limit=None)]) == 5


async def test_filter_keys_are_data_not_syntax(saver: BaseCheckpointSaver[Any]) -> None:
    """Filter keys with hyphens, leading digits or quotes match exactly those keys and nothing else."""
    metadata: dict[str, Any] = {"access-level": "public", "123abc": "ok", "data": "public information"}
    await saver.aput(config("thread-public"), empty_checkpoint(), metadata, {})  # type: ignore[arg-type]
    await saver.aput(config("thread-private"), empty_checkpoint(), {"access-level": "private"}, {})  # type: ignore[typeddict-unknown-key]
    assert len([t async for t in saver.alist(None, filter={"access-level": "public"})]) == 1
    assert len([t async for t in saver.alist(None, filter={"123abc": "ok"})]) == 1
    injected = "access-level') = 'public' OR '1'='1"
    assert [t async for t in saver.alist(None, filter={injected: "dummy"})] == []


async def test_a_value_of_an_unregistered_type_round_trips(saver: BaseCheckpointSaver[Any]) -> None:
    """A channel value of a pydantic type the serializer does not know comes back equal."""
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"pet": Pet(name="Rex")}
    checkpoint["channel_versions"] = {"pet": 1}
    stored = await saver.aput(config("thread-pet"), checkpoint, {}, {"pet": 1})
    found = await saver.aget_tuple(stored)
    assert found is not None and found.checkpoint["channel_values"]["pet"] == Pet(name="Rex")


async def test_the_saver_is_its_own_context_manager(saver: BaseCheckpointSaver[Any]) -> None:
    """``async with saver`` gives the saver itself."""
    async with saver as entered:  # type: ignore[attr-defined]
        assert entered is saver
