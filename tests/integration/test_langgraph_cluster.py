"""GlideCheckpointSaver on a Valkey cluster: every capability of the conformance suite, each thread in one slot."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from glide_memory import EmbeddedCluster, SessionStore
from glide_memory.integrations.langgraph import GlideCheckpointSaver
from tests.integration.test_langgraph import chat_graph, texts, thread
from tests.integration.test_langgraph_conformance import ALL, SyncDriven, check

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("VALKEY_CLUSTER_URL")), reason="starts an embedded cluster of its own"
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    """A 3-primary embedded cluster of this module's own."""
    with EmbeddedCluster(primaries=3, replicas=0) as embedded:
        yield embedded


@pytest.fixture(scope="module")
async def cluster_store(cluster: EmbeddedCluster) -> AsyncIterator[SessionStore]:
    """A store on the cluster (hash-tagged keys)."""
    async with await SessionStore.connect(cluster.url) as store:
        yield store


@pytest.mark.parametrize("capability", ALL)
async def test_every_capability_on_a_cluster(cluster_store: SessionStore, capability: str) -> None:
    """Every capability passes on a cluster, through the async and the sync methods."""

    async def native() -> AsyncGenerator[BaseCheckpointSaver[Any], None]:
        yield GlideCheckpointSaver(store=cluster_store)

    async def driven() -> AsyncGenerator[BaseCheckpointSaver[Any], None]:
        yield SyncDriven(GlideCheckpointSaver(store=cluster_store))

    await check("glide-cluster-async", native, capability)
    await check("glide-cluster-sync", driven, capability)


async def test_a_threads_keys_share_one_slot(cluster_store: SessionStore) -> None:
    """A graph's thread keeps its session, checkpoints, writes and conversation in one hash slot."""
    config = thread()
    tid = config["configurable"]["thread_id"]
    saver = GlideCheckpointSaver(store=cluster_store)
    done = await asyncio.to_thread(chat_graph(saver, ["pong"]).invoke, {"messages": [HumanMessage("ping")]}, config)
    assert texts(done["messages"]) == texts(await cluster_store.get_messages(tid)) == ["ping", "pong"]
    schema = cluster_store.schema
    keys = [
        schema.meta(tid),
        schema.chat(tid),
        schema.companion(tid, "langgraph"),
        schema.companion(tid, "langgraph-writes"),
    ]
    slots = {await cluster_store.client.custom_command(["CLUSTER", "KEYSLOT", key]) for key in keys}
    assert len(slots) == 1
