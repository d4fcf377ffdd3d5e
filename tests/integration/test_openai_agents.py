"""GlideSession against the Agents SDK's own session expectations, on a real server.

Ported from the SDK's tests of its SQLite and Redis sessions
(``tests/memory/test_session.py``, ``tests/extensions/memory/test_redis_session.py``
of openai-agents 0.24.0): each test runs against ``GlideSession`` and against
the SDK's ``SQLiteSession``, the reference whose behaviour proves the
expectation. Tests of what only one of them has are marked so.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from agents import SessionSettings, SQLiteSession, TResponseInputItem, set_tracing_disabled
from agents.memory import OpenAIResponsesCompactionSession, Session

from glide_memory import PermissionDeniedError, Role, ServerTimeoutError, SessionStore
from glide_memory.integrations.openai_agents import KEY, GlideSession, SessionClosedError

Factory = Callable[..., Any]
set_tracing_disabled(True)  # the SDK would otherwise try to export traces


@pytest.fixture(params=["glide", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which session implementation a test runs against."""
    return str(request.param)


@pytest.fixture
def make_session(backend: str, store: SessionStore, tmp_path: Path) -> Iterator[Factory]:
    """A factory of sessions of the backend, all in one database (SQLite) or store (glide)."""
    made: list[Any] = []
    prefix = uuid.uuid4().hex

    def make(name: str = "main", **options: Any) -> Any:
        sid = f"oa-{prefix}-{name}"
        session: Any
        if backend == "glide":
            session = GlideSession(sid, store=store, **options)
        else:
            session = SQLiteSession(sid, tmp_path / "sessions.db", **options)
        made.append(session)
        return session

    yield make
    for session in made:
        if isinstance(session, SQLiteSession):
            session.close()


async def add_corrupt_entry(session: Any, store: SessionStore) -> None:
    """Append an entry that does not decode, behind the session's back."""
    if isinstance(session, GlideSession):
        key = store.schema.keys(session.session_id).chat
        await store.call(lambda client: client.rpush(key, [b"not valid json {{{"]))
    else:
        with session._locked_connection() as conn:
            conn.execute(
                f"INSERT INTO {session.messages_table} (session_id, message_data) VALUES (?, ?)",
                (session.session_id, "not valid json {{{"),
            )
            conn.commit()


def contents(items: list[Any]) -> list[Any]:
    return [item.get("content") for item in items]


# -- the protocol ---------------------------------------------------------


async def test_is_a_session(make_session: Factory) -> None:
    """Both implementations satisfy the SDK's runtime-checkable Session protocol."""
    assert isinstance(make_session(), Session)


async def test_add_get_and_clear(make_session: Factory) -> None:
    """Added items come back in order, and clearing leaves none."""
    session = make_session()
    items: list[TResponseInputItem] = [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi there!"},
    ]
    await session.add_items(items)
    assert await session.get_items() == items
    await session.clear_session()
    assert await session.get_items() == []


async def test_a_new_session_has_no_items(make_session: Factory) -> None:
    """A session never written reads empty and pops nothing."""
    session = make_session()
    assert await session.get_items() == []
    assert await session.get_items(limit=3) == []
    assert await session.pop_item() is None
    await session.clear_session()


async def test_pop_item_takes_the_newest_until_empty(make_session: Factory) -> None:
    """pop_item removes and returns the newest item each time, then None."""
    session = make_session()
    items: list[TResponseInputItem] = [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi there!"},
        {"role": "user", "content": "How are you?"},
    ]
    await session.add_items(items)
    assert await session.pop_item() == items[2]
    assert await session.get_items() == items[:2]
    assert await session.pop_item() == items[1]
    assert await session.pop_item() == items[0]
    assert await session.pop_item() is None
    assert await session.get_items() == []


async def test_sessions_are_isolated(make_session: Factory) -> None:
    """Writes, pops and clears of one session leave another untouched."""
    one, two = make_session("one"), make_session("two")
    await one.add_items([{"role": "user", "content": "Session 1 message"}])
    await two.add_items([{"role": "user", "content": "Session 2 message 1"}, {"role": "user", "content": "2"}])
    assert (await two.pop_item() or {}).get("content") == "2"
    assert contents(await one.get_items()) == ["Session 1 message"]
    await two.clear_session()
    assert contents(await one.get_items()) == ["Session 1 message"]


async def test_get_items_with_limit(make_session: Factory) -> None:
    """A limit returns the newest items in order; more than stored gives all, 0 none, a negative one all."""
    session = make_session()
    items: list[TResponseInputItem] = [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"Message {n}"} for n in range(6)
    ]
    await session.add_items(items)
    assert await session.get_items() == items
    assert await session.get_items(limit=2) == items[-2:]
    assert await session.get_items(limit=4) == items[-4:]
    assert await session.get_items(limit=10) == items
    assert await session.get_items(limit=0) == []
    assert await session.get_items(limit=-1) == items
    assert await session.get_items(limit=True) == items[-1:]
    assert await session.get_items(limit=2**63 - 1) == items


async def test_add_empty_list_is_a_no_op(make_session: Factory) -> None:
    """Adding no items (an empty list, or None) stores nothing and raises nothing."""
    session = make_session()
    await session.add_items([])
    await session.add_items(cast(Any, None))
    assert await session.get_items() == []


async def test_unicode_and_problematic_strings(make_session: Factory) -> None:
    """Non-ASCII, quotes, SQL and JSON look-alikes and escapes come back unchanged."""
    session = make_session()
    texts = [
        "こんにちは",
        "😊👍",
        "Привет",
        "O'Reilly",
        "DROP TABLE sessions;",
        '"SELECT * FROM users WHERE name = "admin";"',
        "Robert'); DROP TABLE students;--",
        '{"malicious": "json"}',
        "\\n\\t\\r Special escapes",
        "Line1\nLine2\tTabbed",
    ]
    await session.add_items([{"role": "user", "content": text} for text in texts])
    assert contents(await session.get_items()) == texts


async def test_concurrent_adds_from_one_loop_lose_nothing(make_session: Factory) -> None:
    """Concurrent add_items calls keep every item, each call's items in order."""
    session = make_session()

    async def add(start: int) -> None:
        await session.add_items([{"role": "user", "content": f"Message {start + n}"} for n in range(5)])

    await asyncio.gather(add(0), add(5), add(10))
    stored = contents(await session.get_items())
    assert sorted(stored) == sorted(f"Message {n}" for n in range(15))
    for start in (0, 5, 10):
        batch = [f"Message {start + n}" for n in range(5)]
        assert [text for text in stored if text in batch] == batch


async def test_adds_from_threads_with_their_own_loops(make_session: Factory) -> None:
    """Threads each running a fresh event loop add items, and all of them are stored."""
    session = make_session()

    def add(n: int) -> None:
        asyncio.run(session.add_items([{"role": "user", "content": f"Message {n}"}]))

    def start_and_join() -> None:
        threads = [threading.Thread(target=add, args=(n,)) for n in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    await asyncio.to_thread(start_and_join)
    assert sorted(contents(await session.get_items())) == sorted(f"Message {n}" for n in range(10))


async def test_unserializable_item_writes_nothing(make_session: Factory) -> None:
    """An item JSON cannot hold raises TypeError, no item of the call is written, and the session goes on."""
    session = make_session()
    await session.add_items([{"role": "user", "content": "before"}])
    with pytest.raises(TypeError):
        await session.add_items([{"role": "user", "content": "ok"}, {"role": "user", "content": object()}])
    await session.add_items([{"role": "user", "content": "after failure"}])
    assert contents(await session.get_items()) == ["before", "after failure"]


async def test_values_that_are_not_dicts_round_trip_as_in_sqlite(make_session: Factory) -> None:
    """Items the SDK has no type for (a str, a number, null, a list) are kept and returned as SQLiteSession does."""
    session = make_session()
    odd: list[Any] = ["just text", 1, None, ["a", 2], {"no": "role"}, {"role": "critic", "content": "hm"}]
    await session.add_items(odd)
    assert await session.get_items() == odd
    assert await session.pop_item() == odd[-1]


async def test_json_normalizes_as_in_sqlite(make_session: Factory) -> None:
    """Tuples, int keys, NaN, big ints and lone surrogates come back as SQLiteSession's JSON gives them."""
    session = make_session()
    item: Any = {
        "role": "user",
        "content": ("a", "b"),
        "extra": {1: "one", "nan": float("nan"), "big": 10**30, "surrogate": "\ud800x"},
    }
    await session.add_items([item])
    (back,) = await session.get_items()
    assert back["content"] == ["a", "b"]
    assert back["extra"]["1"] == "one" and math.isnan(back["extra"]["nan"])
    assert back["extra"]["big"] == 10**30 and back["extra"]["surrogate"] == "\ud800x"


# -- entries that do not decode -------------------------------------------


async def test_get_items_skips_corrupt_entries(make_session: Factory, store: SessionStore) -> None:
    """Entries that do not decode are skipped, and a limit counts the valid items only."""
    session = make_session()
    await session.add_items([{"role": "user", "content": f"valid {n}"} for n in range(3)])
    await add_corrupt_entry(session, store)
    assert contents(await session.get_items()) == ["valid 0", "valid 1", "valid 2"]
    assert contents(await session.get_items(limit=2)) == ["valid 1", "valid 2"]


async def test_pop_drops_corrupt_newest_entries(make_session: Factory, store: SessionStore) -> None:
    """pop_item drops newest entries that do not decode and returns the next valid item, then None."""
    session = make_session()
    valid: TResponseInputItem = {"role": "user", "content": "valid"}
    await session.add_items([valid])
    await add_corrupt_entry(session, store)
    assert await session.pop_item() == valid
    await add_corrupt_entry(session, store)
    assert await session.pop_item() is None
    assert await session.get_items() == []


# -- settings -------------------------------------------------------------


async def test_settings_default_to_empty(make_session: Factory) -> None:
    """Without session_settings the session has SessionSettings() with no limit."""
    session = make_session()
    assert isinstance(session.session_settings, SessionSettings)
    assert session.session_settings.limit is None


@pytest.mark.parametrize("settings", [SessionSettings(limit=5), {"limit": 5}], ids=["class", "dict"])
async def test_settings_from_the_constructor(make_session: Factory, settings: Any) -> None:
    """SessionSettings or a dict of its fields is coerced to SessionSettings."""
    session = make_session(session_settings=settings)
    assert isinstance(session.session_settings, SessionSettings)
    assert session.session_settings.limit == 5
    assert session.session_settings.resolve({"limit": 4}).limit == 4


@pytest.mark.parametrize("settings", [{"limitt": 1}, ["limit"]], ids=["unknown field", "not a dict"])
async def test_bad_settings_raise_type_error(make_session: Factory, settings: Any) -> None:
    """Unknown settings fields or a value that is not settings raise TypeError, as the SDK's coercion does."""
    with pytest.raises(TypeError):
        make_session(session_settings=settings)


async def test_settings_limit_is_the_default_and_an_explicit_limit_wins(make_session: Factory) -> None:
    """get_items() uses session_settings.limit; get_items(limit=N) overrides it."""
    session = make_session(session_settings=SessionSettings(limit=3))
    await session.add_items([{"role": "user", "content": f"Message {n}"} for n in range(10)])
    assert contents(await session.get_items()) == ["Message 7", "Message 8", "Message 9"]
    assert contents(await session.get_items(limit=2)) == ["Message 8", "Message 9"]


async def test_settings_limit_counts_valid_items(make_session: Factory, store: SessionStore) -> None:
    """session_settings.limit, like an explicit limit, skips entries that do not decode."""
    session = make_session(session_settings=SessionSettings(limit=2))
    await session.add_items([{"role": "user", "content": f"valid {n}"} for n in range(3)])
    await add_corrupt_entry(session, store)
    assert contents(await session.get_items()) == ["valid 1", "valid 2"]


async def test_a_limit_that_is_not_an_int_raises_type_error(make_session: Factory) -> None:
    """A limit of another type raises TypeError on both implementations."""
    session = make_session()
    await session.add_items([{"role": "user", "content": "x"}])
    with pytest.raises(TypeError):
        await session.get_items(limit=cast(Any, "2"))


# -- every item the SDK emits ---------------------------------------------

EVERY_KIND: list[Any] = [
    {"role": "system", "content": "You are terse."},
    {"role": "developer", "content": [{"type": "input_text", "text": "Prefer metric units."}]},
    {"content": "What is in this picture? Ça va?", "role": "user"},
    {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "And this file?"},
            {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"},
            {"type": "input_file", "file_id": "file-1"},
        ],
    },
    {
        "id": "rs_1",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Look it up."}],
        "encrypted_content": "gAAAA...",
    },
    {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup", "arguments": '{"q": "x"}'},
    {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "lookup", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "call_1", "output": "a cat"},
    {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "a dog"}]},
    {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "cats"}},
    {"type": "file_search_call", "id": "fs_1", "status": "completed", "queries": ["cats"], "results": None},
    {
        "type": "computer_call",
        "id": "cu_1",
        "call_id": "call_3",
        "action": {"type": "click", "x": 1, "y": 2, "button": "left"},
        "pending_safety_checks": [],
        "status": "completed",
    },
    {
        "type": "computer_call_output",
        "call_id": "call_3",
        "output": {"type": "computer_screenshot", "image_url": "data:image/png;base64,AAAA"},
    },
    {"type": "custom_tool_call", "id": "ct_1", "call_id": "call_4", "name": "sql", "input": "SELECT 1"},
    {"type": "custom_tool_call_output", "call_id": "call_4", "output": "1"},
    {"type": "mcp_list_tools", "id": "ml_1", "server_label": "docs", "tools": []},
    {"type": "mcp_approval_request", "id": "mr_1", "server_label": "docs", "name": "read", "arguments": "{}"},
    {"type": "mcp_approval_response", "approval_request_id": "mr_1", "approve": True},
    {"type": "mcp_call", "id": "mc_1", "server_label": "docs", "name": "read", "arguments": "{}", "output": "ok"},
    {"type": "image_generation_call", "id": "ig_1", "status": "completed", "result": "iVBORw0KGgo="},
    {"type": "code_interpreter_call", "id": "ci_1", "code": "1+1", "container_id": "c", "status": "completed"},
    {"type": "local_shell_call", "id": "ls_1", "call_id": "call_5", "action": {"type": "exec", "command": ["ls"]}},
    {"type": "local_shell_call_output", "id": "ls_1", "output": "a.txt"},
    {"type": "item_reference", "id": "msg_0"},
    {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAA..."},
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [
            {"type": "output_text", "text": "A cat and a dog. 🐈🐕", "annotations": [], "logprobs": []},
            {"type": "refusal", "refusal": "No faces."},
        ],
    },
]


async def test_every_item_kind_round_trips_exactly(make_session: Factory) -> None:
    """Every kind of item the SDK emits comes back equal, with its keys in their original order."""
    session = make_session()
    await session.add_items(EVERY_KIND)
    back = await session.get_items()
    assert back == EVERY_KIND
    assert [json.dumps(item) for item in back] == [json.dumps(item) for item in EVERY_KIND]
    assert await session.get_items(limit=3) == EVERY_KIND[-3:]
    assert await session.pop_item() == EVERY_KIND[-1]


# -- GlideSession only ------------------------------------------------------


async def test_items_are_readable_toolkit_messages(store: SessionStore) -> None:
    """Each item is one message with a sensible role and content, and the exact item in its metadata."""
    session = GlideSession(f"oa-{uuid.uuid4().hex}", store=store)
    await session.add_items(EVERY_KIND)
    messages = await store.get_messages(session.session_id)
    assert len(messages) == len(EVERY_KIND)
    assert [json.loads(m.metadata[KEY]) for m in messages if m.metadata] == EVERY_KIND
    first = messages
    assert (first[0].role, first[0].content) == (Role.SYSTEM, "You are terse.")
    assert (first[1].role, first[1].content) == (Role.SYSTEM, [{"type": "text", "text": "Prefer metric units."}])
    assert (first[2].role, first[2].content) == (Role.USER, "What is in this picture? Ça va?")
    assert first[3].content == [
        {"type": "text", "text": "And this file?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
    ]
    assert first[4].role is Role.ASSISTANT and first[4].content == []
    call = first[5].tool_calls
    assert call == [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}]
    assert (first[7].role, first[7].tool_call_id, first[7].content) == (Role.TOOL, "call_1", "a cat")
    assert first[8].content == [{"type": "text", "text": "a dog"}]
    assert first[11].tool_calls and first[11].tool_calls[0]["function"]["name"] == "computer_call"
    assert (first[12].role, first[12].tool_call_id) == (Role.TOOL, "call_3")
    assert first[13].tool_calls and first[13].tool_calls[0]["function"] == {"name": "sql", "arguments": "SELECT 1"}
    assert first[-1].role is Role.ASSISTANT
    assert first[-1].content == [
        {"type": "text", "text": "A cat and a dog. 🐈🐕"},
        {"type": "text", "text": "No faces."},
    ]


async def test_messages_written_by_other_code_read_as_responses_items(store: SessionStore) -> None:
    """Messages a toolkit caller wrote into the session come back as Responses items the SDK can continue."""
    sid = f"oa-{uuid.uuid4().hex}"
    await store.create_session(None, session_id=sid)
    await store.add_message(sid, "system", "Be brief.")
    await store.add_message(sid, "user", "Hi")
    session = GlideSession(sid, store=store)
    await session.add_items([{"role": "assistant", "content": "Hello"}])
    assert await session.get_items() == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
    ]
    assert await session.pop_item() == {"role": "assistant", "content": "Hello"}
    assert await session.pop_item() == {"role": "user", "content": "Hi"}


async def test_one_add_is_one_round_trip_and_one_read(store: SessionStore) -> None:
    """On an existing session add_items is one request and get_items(limit) one request."""
    session = GlideSession(f"oa-{uuid.uuid4().hex}", store=store)
    await session.add_items([{"role": "user", "content": "first"}])  # creates the session
    sent = store.requests_sent
    await session.add_items([{"role": "user", "content": f"m{n}"} for n in range(3)])
    assert store.requests_sent - sent == 1
    sent = store.requests_sent
    assert contents(await session.get_items(limit=2)) == ["m1", "m2"]
    assert store.requests_sent - sent == 1


async def test_clear_keeps_the_session_and_delete_removes_it(store: SessionStore, user_id: str) -> None:
    """clear_session empties the conversation but keeps the session and its owner; delete_session removes it."""
    session = GlideSession(f"oa-{uuid.uuid4().hex}", store=store, user_id=user_id)
    await session.add_items([{"role": "user", "content": "x"}])
    await session.clear_session()
    info = await store.get_session_info(session.session_id)
    assert info.user_id == user_id and info.messages_stored == 0
    assert await session.delete_session()
    assert not await store.exists(session.session_id)
    assert await session.get_items() == []


async def test_user_sessions_are_listed_and_guarded(store: SessionStore, user_id: str) -> None:
    """With user_id the session is created under that user, listed, and refused to any other user."""
    sid = f"oa-{uuid.uuid4().hex}"
    mine = GlideSession(sid, store=store, user_id=user_id)
    await mine.add_items([{"role": "user", "content": "secret"}])
    assert [info.session_id for info in await store.list_user_sessions(user_id)] == [sid]
    theirs = GlideSession(sid, store=store, user_id=f"other-{uuid.uuid4().hex}")
    for call in (
        theirs.get_items(),
        theirs.add_items([{"role": "user", "content": "x"}]),
        theirs.pop_item(),
        theirs.clear_session(),
    ):
        with pytest.raises(PermissionDeniedError):
            await call
    assert contents(await mine.get_items()) == ["secret"]
    await store.delete_user(user_id)
    assert await mine.get_items() == []


async def test_an_owned_store_is_closed_and_the_session_then_refuses(valkey_url: str) -> None:
    """A session that connected by URL closes its store; then every call raises a RuntimeError, add_items([]) too."""
    session = GlideSession(f"oa-{uuid.uuid4().hex}", url=valkey_url)
    await session.add_items([{"role": "user", "content": "before close"}])
    await asyncio.gather(session.close(), session.close())
    await session.close()
    for call in (
        session.get_items(),
        session.add_items([]),
        session.pop_item(),
        session.clear_session(),
    ):
        with pytest.raises(SessionClosedError, match="GlideSession is closed"):
            await call
    assert issubclass(SessionClosedError, RuntimeError)


async def test_closing_with_a_store_of_yours_leaves_it_open(store: SessionStore) -> None:
    """close() on a session built on your store neither closes the store nor ends the session."""
    session = GlideSession(f"oa-{uuid.uuid4().hex}", store=store)
    async with session:
        await session.add_items([{"role": "user", "content": "x"}])
    assert not store.closed
    assert contents(await session.get_items()) == ["x"]


@pytest.mark.parametrize("empty", [False, True])
@pytest.mark.parametrize("automatic", [False, True])
async def test_compaction_replaces_the_history_atomically(store: SessionStore, automatic: bool, empty: bool) -> None:
    """The SDK's compaction replaces the history with one atomic write, never clear_session then add_items."""
    from agents import Agent, Runner

    from glide_memory.integrations.openai_agents.testing import ScriptedModel, text

    backend = GlideSession(f"oa-{uuid.uuid4().hex}", store=store)
    await backend.add_items([{"role": "user", "content": "original"}])
    output: list[Any] = [] if empty else [{"role": "user", "content": "summary"}]
    compacted: list[Any] = []

    async def compact(**request: Any) -> Any:
        compacted.append(request)
        return SimpleNamespace(usage=None, output=output)

    session = OpenAIResponsesCompactionSession(
        backend.session_id,
        cast(Any, backend),
        client=cast(Any, SimpleNamespace(responses=SimpleNamespace(compact=compact))),
        compaction_mode="input",
        should_trigger_compaction=lambda _: True,
    )
    backend_any = cast(Any, backend)
    for name in ("clear_session", "add_items"):
        original = getattr(backend, name)

        def refuse(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            if compacted:
                raise AssertionError(f"compaction called {_name}")
            return _original(*args, **kwargs)

        setattr(backend_any, name, refuse)
    if automatic:
        agent = Agent(name="test", model=ScriptedModel([[text("reply")]]))
        await Runner.run(agent, "next", session=session)
    else:
        await session.run_compaction({"force": True})
    assert len(compacted) == 1
    assert await GlideSession(backend.session_id, store=store).get_items() == output


async def test_replacement_serializes_before_touching_the_history(store: SessionStore) -> None:
    """A replacement holding an item JSON cannot hold raises TypeError and leaves the history as it was."""
    session = GlideSession(f"oa-{uuid.uuid4().hex}", store=store)
    history: list[TResponseInputItem] = [{"role": "user", "content": "retained"}]
    await session.add_items(history)
    with pytest.raises(TypeError):
        await session._atomic_replace_items(cast(Any, [{"content": object()}]))
    assert await session.get_items() == history


@pytest.fixture
async def owned(valkey_url: str) -> AsyncIterator[GlideSession]:
    """A session that owns its store, connected by URL."""
    session = GlideSession(f"oa-{uuid.uuid4().hex}", url=valkey_url)
    yield session
    await session.close()


async def test_an_owned_store_serves_any_thread_and_loop(owned: GlideSession) -> None:
    """A URL session works from the test loop, from asyncio.run in threads, and from a plain thread's new loop."""
    await owned.add_items([{"role": "user", "content": "from the test loop"}])
    await asyncio.to_thread(lambda: asyncio.run(owned.add_items([{"role": "user", "content": "from a thread"}])))
    items = await asyncio.to_thread(lambda: asyncio.run(owned.get_items()))
    assert contents(items) == ["from the test loop", "from a thread"]
    assert await owned.run(lambda s: s.count_messages(owned.session_id)) == 2


async def test_the_benchmark_measures_every_contender(valkey_url: str) -> None:
    """benchmarks.frameworks.openai_agents returns p50 and p99 for each operation and contender, and cleans up."""
    from benchmarks.frameworks.openai_agents import run

    rows = await run(valkey_url, samples=2)
    assert {(row["operation"].split()[0], row["contender"]) for row in rows} == {
        (operation, contender)
        for operation in ("add_items", "get_items(limit=20),", "pop_item")
        for contender in ("GlideSession", "SQLiteSession", "RedisSession")
    }
    assert all(0 < row["p50_us"] <= row["p99_us"] for row in rows)


async def test_a_call_to_a_blocked_store_loop_times_out(store: SessionStore) -> None:
    """A call from another thread while the store's loop is blocked raises ServerTimeoutError instead of hanging."""
    session = GlideSession(f"oa-{uuid.uuid4().hex}", store=store, call_timeout=0.3)
    raised: list[BaseException] = []

    def read() -> None:
        try:
            asyncio.run(session.get_items())
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(timeout=10)  # blocks the store's loop on purpose, as a synchronous wait on it would
    assert not thread.is_alive()
    assert [type(exc) for exc in raised] == [ServerTimeoutError]
    assert await session.get_items() == []
