"""The Agents SDK's Runner with GlideSession: multi-turn runs, limits, callbacks, resuming in this and another process.

Ported from the SDK's runner tests of sessions (``tests/memory/test_session.py``
and ``tests/memory/test_session_limit.py`` of openai-agents 0.24.0) with our
own offline scripted model; each runs with ``Runner.run``, ``Runner.run_sync``
(in a thread with its own event loop) and ``Runner.run_streamed``, against
``GlideSession`` and the SDK's ``SQLiteSession``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import uuid
from typing import Any, cast

import pytest
from agents import Agent, RunConfig, Runner, SessionSettings, TResponseInputItem, function_tool
from agents import set_tracing_disabled as _set_tracing_disabled

from glide_memory import PermissionDeniedError, SessionStore
from glide_memory.integrations.openai_agents import GlideSession
from glide_memory.integrations.openai_agents.testing import ScriptedModel, reasoning, text, tool_call
from tests.integration import test_openai_agents as sessions
from tests.integration.test_openai_agents import Factory

_set_tracing_disabled(True)  # the SDK would otherwise try to export traces
RUNNERS = ["run", "run_sync", "run_streamed"]


@function_tool
def clock(tz: str) -> str:
    """Tell the time in a time zone."""
    return f"12:00 {tz}"


# test_openai_agents' fixtures: each test runs on GlideSession and on SQLiteSession
backend, make_session = sessions.backend, sessions.make_session


def _run_sync(agent: Agent[Any], prompt: Any, **options: Any) -> Any:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return Runner.run_sync(agent, prompt, **options)
    finally:
        loop.close()
        asyncio.set_event_loop(None)


async def run_agent(method: str, agent: Agent[Any], prompt: Any, **options: Any) -> Any:
    """Run ``agent`` once with the Runner entry point ``method``; run_sync in a thread with its own loop."""
    if method == "run":
        return await Runner.run(agent, prompt, **options)
    if method == "run_sync":
        return await asyncio.to_thread(_run_sync, agent, prompt, **options)
    result = Runner.run_streamed(agent, prompt, **options)
    async for _ in result.stream_events():
        pass
    return result


def texts(items: list[Any]) -> list[str]:
    """The text of each message item (a str, or its first text part)."""
    found = []
    for item in items:
        content = item.get("content")
        found.append(content if isinstance(content, str) else content[0]["text"])
    return found


@pytest.mark.parametrize("method", RUNNERS)
async def test_a_second_turn_sees_the_first(make_session: Factory, method: str) -> None:
    """The model's input on the second turn holds the first turn's question and answer."""
    session = make_session()
    model = ScriptedModel([[text("San Francisco")], [text("California")]])
    agent = Agent(name="test", model=model)
    first = await run_agent(method, agent, "What city is the Golden Gate Bridge in?", session=session)
    assert first.final_output == "San Francisco"
    second = await run_agent(method, agent, "What state is it in?", session=session)
    assert second.final_output == "California"
    assert texts(model.inputs[-1]) == [
        "What city is the Golden Gate Bridge in?",
        "San Francisco",
        "What state is it in?",
    ]


@pytest.mark.parametrize("method", RUNNERS)
async def test_sessions_keep_separate_histories(make_session: Factory, method: str) -> None:
    """Each session id has its own history: returning to the first does not see the second."""
    cats, dogs = make_session("cats"), make_session("dogs")
    model = ScriptedModel([[text("I like cats")], [text("I like dogs")], [text("You mentioned cats")]])
    agent = Agent(name="test", model=model)
    await run_agent(method, agent, "I like cats", session=cats)
    await run_agent(method, agent, "I like dogs", session=dogs)
    await run_agent(method, agent, "What did I say I like?", session=cats)
    assert texts(model.inputs[-1]) == ["I like cats", "I like cats", "What did I say I like?"]


@pytest.mark.parametrize("method", RUNNERS)
async def test_list_input_is_appended_to_the_history(make_session: Factory, method: str) -> None:
    """A list input follows the stored history in the model's input, and is stored after it."""
    session = make_session()
    history: list[TResponseInputItem] = [
        {"role": "user", "content": "Earlier message"},
        {"role": "assistant", "content": "Saved reply"},
    ]
    await session.add_items(history)
    model = ScriptedModel([[text("This should run")]])
    new_input: list[TResponseInputItem] = [{"role": "user", "content": "Test message"}]
    await run_agent(method, Agent(name="test", model=model), new_input, session=session)
    assert model.inputs[-1] == history + new_input
    assert (await session.get_items())[:3] == history + new_input


@pytest.mark.parametrize("method", RUNNERS)
async def test_an_input_callback_prepares_the_model_input(make_session: Factory, method: str) -> None:
    """session_input_callback chooses what of the history the model sees."""
    session = make_session()
    history: list[TResponseInputItem] = [
        {"role": "user", "content": "Hello there."},
        {"role": "assistant", "content": "Hi, I'm here to assist you."},
    ]
    await session.add_items(history)

    def only_user_messages(past: list[Any], new: list[Any]) -> list[Any]:
        return [item for item in past if item["role"] == "user"] + new

    model = ScriptedModel([[text("I'm a scripted model")]])
    new_input: list[TResponseInputItem] = [{"role": "user", "content": "What's your name?"}]
    config = RunConfig(session_input_callback=only_user_messages)
    await run_agent(method, Agent(name="test", model=model), new_input, session=session, run_config=config)
    assert model.inputs[-1] == [history[0], new_input[0]]


@pytest.mark.parametrize("method", RUNNERS)
async def test_a_callback_repeating_history_does_not_grow_the_session(make_session: Factory, method: str) -> None:
    """History the callback repeats is not stored again: three turns store six items."""
    session = make_session()

    def repeat_first(past: list[Any], new: list[Any]) -> list[Any]:
        return [*past, past[0], *new] if past else new

    model = ScriptedModel([[text(f"assistant {n}")] for n in range(3)])
    agent = Agent(name="test", model=model)
    for n in range(3):
        config = RunConfig(session_input_callback=repeat_first)
        await run_agent(method, agent, f"user {n}", session=session, run_config=config)
    stored = await session.get_items()
    assert [item["content"] for item in stored if item.get("role") == "user"] == ["user 0", "user 1", "user 2"]
    assert len(stored) == 6


@pytest.mark.parametrize("method", RUNNERS)
async def test_a_run_config_limit_bounds_the_history(make_session: Factory, method: str) -> None:
    """RunConfig(session_settings=SessionSettings(limit=2)) gives the model the newest two items and the new input."""
    session = make_session(session_settings=SessionSettings(limit=100))
    model = ScriptedModel([[text(f"Reply {n}")] for n in range(1, 5)])
    agent = Agent(name="test", model=model)
    for n in range(1, 4):
        await run_agent(method, agent, f"Message {n}", session=session)
    assert len(await session.get_items()) == 6
    config = RunConfig(session_settings=SessionSettings(limit=2))
    await run_agent(method, agent, "Message 4", session=session, run_config=config)
    assert texts(model.inputs[-1]) == ["Message 3", "Reply 3", "Message 4"]


@pytest.mark.parametrize("method", RUNNERS)
async def test_a_limit_never_passes_an_output_without_its_call(make_session: Factory, method: str) -> None:
    """A limit that cuts between a function call and its output leaves the orphaned output out of the model input."""
    session = make_session()
    history = cast(
        list[TResponseInputItem],
        [
            {"role": "user", "content": "What is the weather?"},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "It is sunny.", "annotations": []}],
            },
        ],
    )
    await session.add_items(history)
    assert await session.get_items(limit=2) == history[-2:]
    model = ScriptedModel([[text("Tomorrow is sunny too.")]])
    config = RunConfig(session_settings=SessionSettings(limit=2))
    await run_agent(method, Agent(name="test", model=model), "What about tomorrow?", session=session, run_config=config)
    assert model.inputs[-1] == [history[-1], {"role": "user", "content": "What about tomorrow?"}]


@pytest.mark.parametrize("limit", [0, None, 100])
@pytest.mark.parametrize("method", RUNNERS)
async def test_limits_zero_none_and_large(make_session: Factory, method: str, limit: int | None) -> None:
    """Limit 0 gives no history, None all of it, a limit above the history all of it."""
    session = make_session()
    model = ScriptedModel([[text(f"Reply {n}")] for n in range(1, 4)])
    agent = Agent(name="test", model=model)
    for n in (1, 2):
        await run_agent(method, agent, f"Message {n}", session=session)
    config = RunConfig(session_settings=SessionSettings(limit=limit))
    await run_agent(method, agent, "Message 3", session=session, run_config=config)
    history = [] if limit == 0 else ["Message 1", "Reply 1", "Message 2", "Reply 2"]
    assert texts(model.inputs[-1]) == [*history, "Message 3"]


async def test_a_refused_write_surfaces_from_a_stream(store: SessionStore) -> None:
    """A session write the server refuses (another user's session) raises from run_streamed instead of hanging."""
    sid = f"oa-{uuid.uuid4().hex}"
    await store.create_session(f"owner-{uuid.uuid4().hex}", session_id=sid)
    intruder = GlideSession(sid, store=store, user_id=f"intruder-{uuid.uuid4().hex}")
    result = Runner.run_streamed(Agent(name="test", model=ScriptedModel([[text("never")]])), "Hi", session=intruder)

    async def consume() -> None:
        async for _ in result.stream_events():
            pass

    with pytest.raises(PermissionDeniedError):
        await asyncio.wait_for(consume(), timeout=10)


# -- GlideSession: resuming -------------------------------------------------


def tool_turns() -> list[list[Any]]:
    """A turn that reasons and calls a tool, the answer, then a plain reply."""
    return [
        [reasoning("The user wants the time."), tool_call("call-1", "clock", {"tz": "UTC"})],
        [text("It is 12:00 UTC.", item_id="msg-2")],
        [text("You asked for the time.", item_id="msg-3")],
    ]


async def test_a_fresh_session_resumes_a_tool_conversation(store: SessionStore, user_id: str) -> None:
    """A new GlideSession with the same id gives the model exactly the earlier turns, tool call and reasoning too."""
    sid = f"oa-{uuid.uuid4().hex}"
    model = ScriptedModel(tool_turns())
    agent = Agent(name="assistant", model=model, tools=[clock])
    result = await Runner.run(agent, "What time is it?", session=GlideSession(sid, store=store, user_id=user_id))
    assert result.final_output == "It is 12:00 UTC."
    first = await GlideSession(sid, store=store).get_items()
    assert [item.get("type", "message") for item in first] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
    ]
    resumed = GlideSession(sid, store=store, user_id=user_id)
    await Runner.run(agent, "What did I ask?", session=resumed)
    assert model.inputs[-1] == [*first, {"role": "user", "content": "What did I ask?"}]
    assert len(await resumed.get_items()) == 7
    stored = await store.get_messages(sid)
    assert [m.role.value for m in stored] == [
        "user",
        "assistant",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
    ]


async def test_another_process_resumes_from_the_server(valkey_url: str, user_id: str) -> None:
    """A subprocess given the same URL and session id sees the conversation this process stored, and adds to it."""
    sid = f"oa-{uuid.uuid4().hex}"
    async with GlideSession(sid, url=valkey_url, user_id=user_id) as session:
        model = ScriptedModel(tool_turns())
        await Runner.run(Agent(name="assistant", model=model, tools=[clock]), "What time is it?", session=session)
        before = await session.get_items()
    script = textwrap.dedent(
        """
        import json, sys
        from agents import Agent, Runner, set_tracing_disabled
        from glide_memory.integrations.openai_agents import GlideSession
        from glide_memory.integrations.openai_agents.testing import ScriptedModel, text

        set_tracing_disabled(True)
        url, sid, uid = sys.argv[1:4]
        model = ScriptedModel([[text("Noon, as I said.", item_id="msg-9")]])
        session = GlideSession(sid, url=url, user_id=uid)
        result = Runner.run_sync(Agent(name="assistant", model=model), "Say it again?", session=session)
        print(json.dumps({"input": model.inputs[-1], "output": result.final_output}))
        import asyncio
        asyncio.run(session.close())
        """
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script, valkey_url, sid, user_id],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    assert reply == {"input": [*before, {"role": "user", "content": "Say it again?"}], "output": "Noon, as I said."}
    async with GlideSession(sid, url=valkey_url, user_id=user_id) as session:
        after = await session.get_items()
    assert after[: len(before)] == before
    assert texts(after[len(before) :]) == ["Say it again?", "Noon, as I said."]


async def test_run_sync_from_plain_code(valkey_url: str) -> None:
    """Synchronous code in a thread with no event loop runs an agent with a URL session, twice, and reads the history.

    (Run in a worker thread because this process's first glide loop, the suite's, must keep running.)
    """

    def plain() -> None:
        session = GlideSession(f"oa-{uuid.uuid4().hex}", url=valkey_url)
        model = ScriptedModel([[text("one")], [text("two")]])
        agent = Agent(name="assistant", model=model)
        try:
            assert Runner.run_sync(agent, "first", session=session).final_output == "one"
            assert Runner.run_sync(agent, "second", session=session).final_output == "two"
        finally:
            # run_sync leaves the loop it made as this thread's default: close it, as the app would at exit
            asyncio.get_event_loop_policy().get_event_loop().close()
            asyncio.set_event_loop(None)
        try:
            assert texts(model.inputs[-1]) == ["first", "one", "second"]
            assert texts(asyncio.run(session.get_items())) == ["first", "one", "second", "two"]
        finally:
            asyncio.run(session.close())

    await asyncio.to_thread(plain)
