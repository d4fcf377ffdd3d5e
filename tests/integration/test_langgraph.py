"""GlideCheckpointSaver under real graphs: interrupted and resumed anywhere, its chat mirrored, its costs counted."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from glide import GlideClient, GlideClusterClient
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, RemoveMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt

from glide_memory import (
    CorruptedEntryError,
    InvalidIdError,
    KeySchema,
    PermissionDeniedError,
    Role,
    SessionStore,
)
from glide_memory.integrations.langgraph import GlideCheckpointSaver

REPO = Path(__file__).resolve().parents[2]


def approval_graph(saver: BaseCheckpointSaver[Any], replies: list[str]) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A chat graph that drafts a reply, asks a human with ``interrupt()``, then answers (a scripted model)."""
    model = GenericFakeChatModel(messages=iter([AIMessage(text) for text in replies]))

    def draft(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    def approve(state: MessagesState) -> dict[str, list[BaseMessage]]:
        answer = interrupt({"draft": state["messages"][-1].content})
        return {"messages": [HumanMessage(answer)]}

    def final(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("draft", draft)
    builder.add_node("approve", approve)
    builder.add_node("final", final)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "approve")
    builder.add_edge("approve", "final")
    builder.add_edge("final", END)
    return builder.compile(checkpointer=saver)


def chat_graph(
    saver: BaseCheckpointSaver[Any], replies: list[str], **compile: Any
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A one-node chat graph answering from a scripted model."""
    model = GenericFakeChatModel(messages=iter([AIMessage(text) for text in replies]))

    def agent(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    return builder.compile(checkpointer=saver, **compile)


def thread() -> RunnableConfig:
    """A config naming a fresh thread."""
    return {"configurable": {"thread_id": f"lg-{uuid.uuid4().hex}"}}


def texts(messages: list[Any]) -> list[str]:
    return [str(m.content) for m in messages]


@pytest.fixture
async def saver(store: SessionStore) -> AsyncIterator[GlideCheckpointSaver]:
    """A saver on the shared test store."""
    async with GlideCheckpointSaver(store=store) as glide_saver:
        yield glide_saver


async def test_an_interrupted_graph_resumes_from_a_new_saver_over_a_fresh_store(
    saver: GlideCheckpointSaver, valkey_url: str
) -> None:
    """A graph stopped by interrupt() resumes by thread_id through another saver on another store of the same server."""
    config = thread()
    first = approval_graph(saver, ["draft one"])
    stopped = await first.ainvoke({"messages": [HumanMessage("hi")]}, config)
    assert stopped["__interrupt__"][0].value == {"draft": "draft one"}
    async with await SessionStore.connect(valkey_url) as fresh:
        later = approval_graph(GlideCheckpointSaver(store=fresh), ["final one"])
        assert (await later.aget_state(config)).next == ("approve",)
        done = await later.ainvoke(Command(resume="ship it"), config)
        assert texts(done["messages"]) == ["hi", "draft one", "ship it", "final one"]
        mirrored = await fresh.get_messages(config["configurable"]["thread_id"])
    assert [(m.role, m.content) for m in mirrored] == [
        (Role.USER, "hi"),
        (Role.ASSISTANT, "draft one"),
        (Role.USER, "ship it"),
        (Role.ASSISTANT, "final one"),
    ]
    assert [m.id for m in mirrored] == [m.id for m in done["messages"]]


async def test_a_graph_stopped_by_interrupt_before_resumes_in_a_fresh_process(
    saver: GlideCheckpointSaver, valkey_url: str
) -> None:
    """A graph compiled with interrupt_before stops; a new Python process resumes it by thread_id from the URL."""
    config = thread()
    graph = chat_graph(saver, ["unused"], interrupt_before=["agent"])
    await graph.ainvoke({"messages": [HumanMessage("resume me elsewhere")]}, config)
    assert (await graph.aget_state(config)).next == ("agent",)
    code = (
        "import json, sys\n"
        "from glide_memory.integrations.langgraph import GlideCheckpointSaver\n"
        "from tests.integration.test_langgraph import chat_graph\n"
        "with GlideCheckpointSaver(url=sys.argv[1]) as saver:\n"
        "    graph = chat_graph(saver, ['answered in another process'], interrupt_before=['agent'])\n"
        "    out = graph.invoke(None, {'configurable': {'thread_id': sys.argv[2]}})\n"
        "    print(json.dumps([m.content for m in out['messages']]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "VALKEY_URL"}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", code, valkey_url, config["configurable"]["thread_id"]],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["resume me elsewhere", "answered in another process"]
    state = await graph.aget_state(config)
    assert state.next == () and texts(state.values["messages"])[-1] == "answered in another process"


async def test_sync_invoke_from_plain_threads_and_async_invoke_from_another_loop(saver: GlideCheckpointSaver) -> None:
    """graph.invoke from a plain thread and graph.ainvoke on a loop of its own both reach the store's loop."""
    sync_config, async_config = thread(), thread()
    outcome: dict[str, Any] = {}

    def sync_caller() -> None:
        outcome["sync"] = chat_graph(saver, ["from a thread"]).invoke({"messages": [HumanMessage("a")]}, sync_config)

    def other_loop() -> None:
        graph = chat_graph(saver, ["from another loop"])
        outcome["async"] = asyncio.run(graph.ainvoke({"messages": [HumanMessage("b")]}, async_config))

    workers = [threading.Thread(target=sync_caller), threading.Thread(target=other_loop)]
    for worker in workers:
        worker.start()

    def join() -> None:
        for worker in workers:
            worker.join(30)

    await asyncio.to_thread(join)
    assert texts(outcome["sync"]["messages"]) == ["a", "from a thread"]
    assert texts(outcome["async"]["messages"]) == ["b", "from another loop"]
    assert texts(await saver.store.get_messages(async_config["configurable"]["thread_id"])) == [
        "b",
        "from another loop",
    ]


async def test_each_operation_takes_the_round_trips_it_should(saver: GlideCheckpointSaver, store: SessionStore) -> None:
    """get_tuple (latest or by id) is one round trip, put one, list(limit=10) of 100 checkpoints one, put_writes two."""
    config = thread()
    tid = config["configurable"]["thread_id"]
    stored: RunnableConfig = {"configurable": {"thread_id": tid, "checkpoint_ns": ""}}
    for step in range(100):
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"n": step}
        checkpoint["channel_versions"] = {"n": saver.get_next_version(None, None)}
        stored = await saver.aput(stored, checkpoint, {"step": step}, checkpoint["channel_versions"])

    async def trips(call: Any) -> int:
        before = store.requests_sent
        await call
        return store.requests_sent - before

    latest = await saver.aget_tuple(config)
    assert latest is not None and latest.checkpoint["channel_values"] == {"n": 99}
    assert await trips(saver.aget_tuple(config)) == 1
    assert await trips(saver.aget_tuple(stored)) == 1
    listed: list[Any] = []

    async def list_ten() -> None:
        listed.extend([t async for t in saver.alist(config, limit=10)])

    assert await trips(list_ten()) == 1
    assert [t.metadata["step"] for t in listed] == list(range(99, 89, -1))
    checkpoint = empty_checkpoint()
    assert await trips(saver.aput(stored, checkpoint, {"step": 100}, {})) == 1
    assert await trips(saver.aput_writes(stored, [("n", 1)], "task")) == 2
    assert await trips(saver.aput_writes(stored, [("__error__", "boom")], "task")) == 1


async def test_list_pages_through_more_than_a_page(saver: GlideCheckpointSaver) -> None:
    """A listing longer than a page, filtered and with before, returns what InMemorySaver returns, in the same order."""
    reference = InMemorySaver()
    config = thread()
    tid = config["configurable"]["thread_id"]
    parent: dict[str, RunnableConfig] = {}
    for step in range(230):
        for target in (saver, reference):
            checkpoint = empty_checkpoint()
            checkpoint["id"] = f"{step:05d}"
            base = parent.get(str(id(target)), {"configurable": {"thread_id": tid, "checkpoint_ns": ""}})
            parent[str(id(target))] = await target.aput(base, checkpoint, {"step": step, "odd": step % 2}, {})  # type: ignore[typeddict-unknown-key]
    queries: list[dict[str, Any]] = [
        {},
        {"filter": {"odd": 1}},
        {"limit": 150},
        {"before": {"configurable": {"thread_id": tid, "checkpoint_id": "00200"}}, "limit": 120},
        {"filter": {"odd": 0}, "limit": 101},
    ]
    for query in queries:

        def listed(q: dict[str, Any] = query) -> list[Any]:
            return list(saver.list(config, **q))

        ours = [t.checkpoint["id"] for t in await asyncio.to_thread(listed)]
        theirs = [t.checkpoint["id"] for t in reference.list(config, **query)]
        assert ours == theirs, query


async def test_the_mirror_follows_removals_and_replacements(saver: GlideCheckpointSaver, store: SessionStore) -> None:
    """RemoveMessage and a message replaced under its id rewrite the conversation to equal the channel."""
    config = thread()
    tid = config["configurable"]["thread_id"]
    graph = chat_graph(saver, ["one", "two"])
    await graph.ainvoke({"messages": [HumanMessage("first", id="h1")]}, config)
    await graph.ainvoke({"messages": [HumanMessage("second", id="h2")]}, config)
    assert texts(await store.get_messages(tid)) == ["first", "one", "second", "two"]
    kept = (await store.get_messages(tid))[0]
    await graph.aupdate_state(config, {"messages": [RemoveMessage(id="h2"), HumanMessage("FIRST", id="h1")]})
    mirrored = await store.get_messages(tid)
    assert texts(mirrored) == ["FIRST", "one", "two"]
    state = await graph.aget_state(config)
    assert [m.id for m in mirrored] == [m.id for m in state.values["messages"]]
    assert mirrored[1].timestamp is not None and kept.timestamp is not None


async def test_the_mirror_is_idempotent_and_survives_a_new_saver(store: SessionStore) -> None:
    """The same checkpoint put twice, and a new saver continuing the thread, store each message once."""
    config = thread()
    tid = config["configurable"]["thread_id"]
    first = GlideCheckpointSaver(store=store)
    await chat_graph(first, ["one"]).ainvoke({"messages": [HumanMessage("a")]}, config)
    latest = await first.aget_tuple(config)
    assert latest is not None
    versions = latest.checkpoint["channel_versions"]
    await GlideCheckpointSaver(store=store).aput(latest.config, latest.checkpoint, latest.metadata, versions)
    stamps = [m.timestamp for m in await store.get_messages(tid)]
    second = GlideCheckpointSaver(store=store)
    await chat_graph(second, ["two"]).ainvoke({"messages": [HumanMessage("b")]}, config)
    mirrored = await store.get_messages(tid)
    assert texts(mirrored) == ["a", "one", "b", "two"]
    assert [m.timestamp for m in mirrored[:2]] == stamps
    info = await store.get_session_info(tid)
    assert info.message_count == info.messages_stored == 4


async def test_tool_calls_are_mirrored_with_their_roles(saver: GlideCheckpointSaver, store: SessionStore) -> None:
    """An AI message with tool calls and its tool result become assistant and tool messages with the call ids."""
    config = thread()
    call = {"name": "lookup", "args": {"q": "valkey"}, "id": "call-1", "type": "tool_call"}
    messages: list[BaseMessage] = [
        HumanMessage("look it up"),
        AIMessage("", tool_calls=[call], usage_metadata={"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}),
        ToolMessage("found it", tool_call_id="call-1"),
    ]
    graph = chat_graph(saver, ["done"])
    await graph.ainvoke({"messages": messages}, config)
    mirrored = await store.get_messages(config["configurable"]["thread_id"])
    assert [m.role for m in mirrored] == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
    assert mirrored[1].tool_calls == [call] and mirrored[1].tokens == 7
    assert mirrored[2].tool_call_id == "call-1"
    assert mirrored[1].metadata == {"langchain": {"type": "ai"}}


async def test_a_channel_that_is_not_a_message_list_is_not_mirrored(
    saver: GlideCheckpointSaver, store: SessionStore
) -> None:
    """A 'messages' channel holding plain values leaves the conversation empty."""
    config = thread()
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"messages": ["not", "langchain"]}
    checkpoint["channel_versions"] = {"messages": 1}
    base: RunnableConfig = {"configurable": {**config["configurable"], "checkpoint_ns": ""}}
    await saver.aput(base, checkpoint, {}, {"messages": 1})
    assert await store.get_messages(config["configurable"]["thread_id"]) == []


async def test_a_users_threads_are_theirs(store: SessionStore, user_id: str) -> None:
    """A user's saver creates threads the user owns (listed, erased by delete_user) and cannot touch another's."""
    config = thread()
    tid = config["configurable"]["thread_id"]
    mine = GlideCheckpointSaver(store=store, user_id=user_id, ttl=600)
    await chat_graph(mine, ["hello"]).ainvoke({"messages": [HumanMessage("hi")]}, config)
    assert tid in {info.session_id for info in await store.list_user_sessions(user_id)}
    info = await store.get_session_info(tid)
    assert info.user_id == user_id and info.ttl == 600
    companion_ttl = await store.client.ttl(store.schema.companion(tid, "langgraph"))
    assert 0 < companion_ttl <= 600
    other = GlideCheckpointSaver(store=store, user_id=f"other-{user_id}")
    with pytest.raises(PermissionDeniedError):
        await other.aget_tuple(config)
    with pytest.raises(PermissionDeniedError):
        await other.aput({"configurable": {**config["configurable"], "checkpoint_ns": ""}}, empty_checkpoint(), {}, {})
    assert len([t async for t in mine.alist(config)]) == 3  # input, start, agent: the refused put wrote nothing
    assert await store.delete_user(user_id) == 1
    assert await mine.aget_tuple(config) is None and not await store.exists(tid)


@pytest.mark.parametrize("kind", ["reference", "glide"])
async def test_bad_input_is_refused_as_the_reference_refuses_it(saver: GlideCheckpointSaver, kind: str) -> None:
    """Configs lacking thread id, namespace or checkpoint id raise KeyError as in InMemorySaver; limit=0 lists none."""
    target: BaseCheckpointSaver[Any] = InMemorySaver() if kind == "reference" else saver
    tid = f"lg-{uuid.uuid4().hex}"
    with pytest.raises(KeyError):
        await target.aget_tuple({"configurable": {}})
    with pytest.raises(KeyError):
        await target.aput({"configurable": {"thread_id": tid}}, empty_checkpoint(), {}, {})
    with pytest.raises(KeyError):
        await target.aput_writes({"configurable": {"thread_id": tid, "checkpoint_ns": ""}}, [("a", 1)], "task")
    stored = await target.aput({"configurable": {"thread_id": tid, "checkpoint_ns": ""}}, empty_checkpoint(), {}, {})
    assert [t async for t in target.alist(stored, limit=0)] == []
    assert await target.aget_tuple({"configurable": {"thread_id": tid, "checkpoint_id": "missing"}}) is None


async def test_an_unusable_thread_id_or_value_writes_nothing(saver: GlideCheckpointSaver, store: SessionStore) -> None:
    """A thread id that cannot name a session raises InvalidIdError; a value serde refuses raises with nothing sent."""
    with pytest.raises(InvalidIdError):
        await saver.aput({"configurable": {"thread_id": "", "checkpoint_ns": ""}}, empty_checkpoint(), {}, {})
    config = thread()
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"ok": "fine", "bad": threading.Lock()}
    checkpoint["channel_versions"] = {"ok": 1, "bad": 1}
    with pytest.raises(TypeError):
        await saver.aput(
            {"configurable": {**config["configurable"], "checkpoint_ns": ""}}, checkpoint, {}, {"ok": 1, "bad": 1}
        )
    assert not await store.exists(config["configurable"]["thread_id"])


async def test_a_corrupted_record_raises_corrupted_entry_error(
    saver: GlideCheckpointSaver, store: SessionStore, client: GlideClient | GlideClusterClient
) -> None:
    """A checkpoint record overwritten with garbage is reported, not misread."""
    config = thread()
    tid = config["configurable"]["thread_id"]
    stored = await saver.aput(
        {"configurable": {**config["configurable"], "checkpoint_ns": ""}}, empty_checkpoint(), {}, {}
    )
    name = f"c//{stored['configurable']['checkpoint_id']}"
    await client.hset(store.schema.companion(tid, "langgraph"), {name: "garbage"})
    with pytest.raises(CorruptedEntryError):
        await saver.aget_tuple(config)


async def test_delete_thread_removes_the_session_and_a_closed_saver_refuses_calls(valkey_url: str) -> None:
    """delete_thread deletes the thread's session and chat; a saver with its own store closes it, then refuses calls."""
    config = thread()
    saver = await asyncio.to_thread(GlideCheckpointSaver, url=valkey_url, schema=KeySchema(namespace="lg-del:"))
    await chat_graph(saver, ["x"]).ainvoke({"messages": [HumanMessage("y")]}, config)
    tid = config["configurable"]["thread_id"]
    assert texts(await asyncio.to_thread(saver.run, saver.store.get_messages(tid))) == ["y", "x"]
    await saver.adelete_thread(tid)
    assert not await asyncio.to_thread(saver.run, saver.store.exists(tid))
    await saver.aclose()
    await saver.aclose()
    with pytest.raises(Exception, match="closed"):
        await saver.aget_tuple(config)
