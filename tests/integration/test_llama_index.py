"""GlideChatStore (LlamaIndex's BaseChatStore) against a real server, beside SimpleChatStore as the reference.

The behaviour tests are llama-index-core's own chat-store and ChatMemoryBuffer
tests (tests/storage/chat_store/test_simple_chat_store.py,
tests/memory/test_chat_memory_buffer.py), rewritten here and run against both
stores, so each expectation is proven on LlamaIndex's in-process reference too.
glide delivers every reply through the suite's session loop, so synchronous
LlamaIndex calls run in worker threads while these async tests keep it running.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from glide import RangeByIndex
from llama_index.core.base.llms.types import (
    AudioBlock,
    CacheControl,
    CachePoint,
    CitableBlock,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms import ChatMessage, MessageRole, MockLLM
from llama_index.core.memory import ChatMemoryBuffer, ChatSummaryMemoryBuffer
from llama_index.core.storage.chat_store import BaseChatStore, SimpleChatStore
from llama_index.core.utils import get_tokenizer

from glide_memory import (
    BridgeError,
    InvalidIdError,
    KeySchema,
    Message,
    PermissionDeniedError,
    Role,
    SessionStore,
    StoreClosedError,
)
from glide_memory.integrations._bridge import SharedLoop
from glide_memory.integrations.llama_index import GlideChatStore, GlideDBChatStore
from tests.support import Client, keys_matching

STORES = ["simple", "glide"]
SIMPLE_RAISES = pytest.mark.xfail(
    reason="SimpleChatStore 0.14.25 raises IndexError here; upstream PRs #22748/#23108 make it return None",
    raises=IndexError,
    strict=True,
)


def user(text: str) -> ChatMessage:
    """A user message."""
    return ChatMessage(role="user", content=text)


@pytest.fixture
def key() -> str:
    """A chat-store key no other test uses."""
    return f"chat-{uuid.uuid4().hex}"


@pytest.fixture
async def glide(ns_store: SessionStore) -> GlideChatStore:
    """A GlideChatStore sharing the test's namespaced store."""
    return GlideChatStore(store=ns_store)


@pytest.fixture(params=STORES)
async def chat_store(request: pytest.FixtureRequest, ns_store: SessionStore) -> BaseChatStore:
    """Each chat store in turn: LlamaIndex's in-process SimpleChatStore, then ours."""
    if request.param == "simple":
        return SimpleChatStore()
    return GlideChatStore(store=ns_store)


@pytest.fixture
async def owned(valkey_url: str) -> AsyncIterator[Callable[..., GlideChatStore]]:
    """Build GlideChatStores that own their store (on the shared loop), each in a fresh namespace; close them after."""
    made: list[GlideChatStore] = []

    def make(**options: Any) -> GlideChatStore:
        options.setdefault("schema", KeySchema(namespace=f"t{uuid.uuid4().hex[:12]}:"))
        chat_store = GlideChatStore(url=valkey_url, **options)
        made.append(chat_store)
        return chat_store

    yield make
    for chat_store in made:
        await asyncio.to_thread(chat_store.close)


# -- llama-index-core's SimpleChatStore tests, in our words --------------------


async def test_messages_are_kept_per_key_in_order(chat_store: BaseChatStore) -> None:
    """Messages come back per key in the order added, keys in order of first write, and idx inserts."""

    def run() -> None:
        for owner in ("alice", "bob"):
            chat_store.add_message(owner, user("hello"))
            chat_store.add_message(owner, user("world"))
        for owner in ("alice", "bob"):
            assert chat_store.get_messages(owner) == [user("hello"), user("world")]
        assert chat_store.get_keys() == ["alice", "bob"]
        chat_store.add_message("alice", user("first"), idx=0)  # type: ignore[call-arg]
        assert chat_store.get_messages("alice") == [user("first"), user("hello"), user("world")]

    await asyncio.to_thread(run)


async def test_deleting_a_key_spares_the_others(chat_store: BaseChatStore) -> None:
    """delete_messages removes one key (returning its messages) and leaves other keys alone."""

    def run() -> None:
        for owner in ("alice", "bob"):
            chat_store.add_message(owner, user("hello"))
            chat_store.add_message(owner, user("world"))
        assert chat_store.delete_messages("alice") == [user("hello"), user("world")]
        assert chat_store.get_messages("alice") == []
        assert chat_store.get_messages("bob") == [user("hello"), user("world")]
        assert chat_store.get_keys() == ["bob"]
        assert chat_store.delete_messages("alice") is None

    await asyncio.to_thread(run)


async def test_delete_last_message_undoes_the_newest(chat_store: BaseChatStore) -> None:
    """delete_last_message removes and returns the newest message only."""

    def run() -> None:
        chat_store.add_message("alice", user("hello"))
        chat_store.add_message("alice", user("world"))
        assert chat_store.delete_last_message("alice") == user("world")
        assert chat_store.get_messages("alice") == [user("hello")]

    await asyncio.to_thread(run)


async def test_delete_message_by_position(chat_store: BaseChatStore) -> None:
    """delete_message(idx) removes the message at that position, counting from the end when negative."""

    def run() -> None:
        for text in ("one", "two", "three"):
            chat_store.add_message("alice", user(text))
        assert chat_store.delete_message("alice", 0) == user("one")
        assert chat_store.delete_message("alice", -1) == user("three")
        assert chat_store.get_messages("alice") == [user("two")]

    await asyncio.to_thread(run)


async def test_missing_keys_and_positions_give_empty_results(chat_store: BaseChatStore) -> None:
    """A key never written reads as [] and deletes to None; a position past the end deletes to None."""

    def run() -> None:
        assert chat_store.get_messages("nobody") == []
        assert chat_store.delete_messages("nobody") is None
        assert chat_store.delete_message("nobody", 0) is None
        assert chat_store.delete_last_message("nobody") is None
        chat_store.add_message("alice", user("hello"))
        assert chat_store.delete_message("alice", 1) is None
        assert chat_store.get_messages("alice") == [user("hello")]
        assert chat_store.get_keys() == ["alice"]

    await asyncio.to_thread(run)


@pytest.mark.parametrize("chat_store", [pytest.param("simple", marks=SIMPLE_RAISES), "glide"], indirect=True)
async def test_a_negative_position_out_of_range_deletes_nothing(chat_store: BaseChatStore) -> None:
    """delete_message with a negative index before the first message returns None and removes nothing."""

    def run() -> None:
        chat_store.add_message("alice", user("hello"))
        assert chat_store.delete_message("alice", -2) is None
        assert chat_store.get_messages("alice") == [user("hello")]

    await asyncio.to_thread(run)


@pytest.mark.parametrize("chat_store", [pytest.param("simple", marks=SIMPLE_RAISES), "glide"], indirect=True)
async def test_delete_last_message_of_an_emptied_history(chat_store: BaseChatStore) -> None:
    """Once the only message is deleted, delete_last_message returns None."""

    def run() -> None:
        chat_store.add_message("alice", user("hello"))
        assert chat_store.delete_last_message("alice") == user("hello")
        assert chat_store.delete_last_message("alice") is None

    await asyncio.to_thread(run)


async def test_set_messages_replaces_and_keeps_an_empty_key(chat_store: BaseChatStore) -> None:
    """set_messages replaces a key's history; set to [] the key stays listed and reads as []."""

    def run() -> None:
        chat_store.add_message("alice", user("old"))
        chat_store.set_messages("alice", [user("new 1"), user("new 2")])
        assert chat_store.get_messages("alice") == [user("new 1"), user("new 2")]
        chat_store.set_messages("bob", [])
        assert chat_store.get_messages("bob") == []
        assert chat_store.get_keys() == ["alice", "bob"]

    await asyncio.to_thread(run)


async def test_non_ascii_text_is_kept_as_is(chat_store: BaseChatStore, ns_store: SessionStore) -> None:
    """Non-ASCII text round-trips, and the toolkit reads it as the same text (no escapes)."""
    text = "ハロー héllo 👋"
    await asyncio.to_thread(chat_store.add_message, "alice", user(text))
    assert await asyncio.to_thread(chat_store.get_messages, "alice") == [user(text)]
    if isinstance(chat_store, GlideChatStore):
        assert [m.content for m in await ns_store.get_messages("alice")] == [text]


async def test_async_methods_match_the_sync_ones(chat_store: BaseChatStore) -> None:
    """The a-prefixed methods behave as the sync ones, awaited on the test's loop."""
    await chat_store.async_add_message("alice", user("one"))
    await chat_store.async_add_message("alice", user("two"))
    await chat_store.aset_messages("bob", [user("b")])
    assert await chat_store.aget_messages("alice") == [user("one"), user("two")]
    assert await chat_store.aget_keys() == ["alice", "bob"]
    assert await chat_store.adelete_message("alice", 0) == user("one")
    assert await chat_store.adelete_last_message("alice") == user("two")
    assert await chat_store.adelete_messages("bob") == [user("b")]
    assert await chat_store.aget_messages("bob") == []


# -- llama-index-core's ChatMemoryBuffer tests, in our words --------------------

TOKENIZER = get_tokenizer()
FIRST = ChatMessage(role=MessageRole.USER, content="first message")
FIRST_ANSWER = ChatMessage(role=MessageRole.ASSISTANT, content="first answer")
SECOND = ChatMessage(role=MessageRole.USER, content="second message")
SECOND_ANSWER = ChatMessage(role=MessageRole.USER, content="second answer")


def tokens(message: ChatMessage) -> int:
    """Tokens of a message's text, as ChatMemoryBuffer counts them."""
    return len(TOKENIZER(str(message.content)))


def buffer(chat_store: BaseChatStore, key: str, **options: Any) -> ChatMemoryBuffer:
    """A ChatMemoryBuffer over ``chat_store`` under ``key``."""
    return ChatMemoryBuffer.from_defaults(chat_store=chat_store, chat_store_key=key, **options)


async def test_buffer_puts_and_gets(chat_store: BaseChatStore, key: str) -> None:
    """A buffer seeded with one message returns it; with room for initial tokens it returns it whole."""

    def run() -> None:
        assert [m.content for m in buffer(chat_store, key, chat_history=[FIRST]).get()] == [FIRST.content]
        assert buffer(chat_store, key, token_limit=1000).get(initial_token_count=5) == [FIRST]

    await asyncio.to_thread(run)


async def test_buffer_initial_tokens_over_the_limit(chat_store: BaseChatStore, key: str) -> None:
    """Initial tokens above the limit raise ValueError; when nothing fits, the newest message alone comes back."""

    def run() -> None:
        with pytest.raises(ValueError, match="Initial token count exceeds token limit"):
            buffer(chat_store, key, token_limit=49).get(initial_token_count=50)
        assert buffer(chat_store, key, token_limit=5, chat_history=[FIRST]).get(initial_token_count=5) == [FIRST]
        pair = buffer(chat_store, key, token_limit=5, chat_history=[FIRST, FIRST_ANSWER])
        assert pair.get(initial_token_count=5 - tokens(FIRST)) == [FIRST_ANSWER]

    await asyncio.to_thread(run)


async def test_buffer_drops_whole_turns_from_the_start(chat_store: BaseChatStore, key: str) -> None:
    """Under a tight limit the buffer drops the oldest turn, never leaving an assistant message first."""
    history = [FIRST, FIRST_ANSWER, SECOND, SECOND_ANSWER]

    def run() -> None:
        tight = buffer(chat_store, key, token_limit=5, chat_history=history)
        assert tight.get(initial_token_count=5 - tokens(FIRST) - tokens(FIRST_ANSWER)) == [SECOND, SECOND_ANSWER]
        roomy = buffer(chat_store, key, token_limit=10, chat_history=history)
        spent = tokens(FIRST_ANSWER) + tokens(FIRST) + tokens(SECOND_ANSWER)
        assert roomy.get(initial_token_count=10 - spent) == [SECOND, SECOND_ANSWER]

    await asyncio.to_thread(run)


async def test_buffer_set_put_and_limit(chat_store: BaseChatStore, key: str) -> None:
    """put appends, set replaces, get keeps the newest within the limit in order, get_all keeps everything."""

    def run() -> None:
        memory = buffer(chat_store, key, chat_history=[FIRST])
        memory.put(FIRST)
        assert len(memory.get()) == 2
        memory.set([FIRST])
        assert len(memory.get()) == 1
        limited = buffer(chat_store, f"{key}-limited", chat_history=[FIRST], token_limit=5)
        limited.put(FIRST)
        assert len(limited.get()) == 2
        limited.put(FIRST)
        limited.put(FIRST)
        assert len(limited.get()) == 2
        assert len(limited.get_all()) == 4
        limited.put(ChatMessage(role=MessageRole.USER, content="test message2"))
        assert limited.get()[-1].content == "test message2"
        assert len(limited.get()) == 2
        limited.reset()
        assert limited.get_all() == []

    await asyncio.to_thread(run)


async def test_buffer_async_methods(chat_store: BaseChatStore, key: str) -> None:
    """aput, aget, aset and areset of a buffer go through the chat store's async methods."""
    memory = ChatMemoryBuffer.from_defaults(chat_store=chat_store, chat_store_key=key)
    await memory.aput(FIRST)
    await memory.aput(FIRST_ANSWER)
    assert await memory.aget() == [FIRST, FIRST_ANSWER]
    await memory.aset([SECOND])
    assert await memory.aget_all() == [SECOND]
    await memory.areset()
    assert await memory.aget_all() == []


async def test_summary_buffer_rewrites_the_history(chat_store: BaseChatStore, key: str) -> None:
    """ChatSummaryMemoryBuffer replaces what overflows with a summary message, stored back through the chat store."""

    def run() -> list[ChatMessage]:
        memory = ChatSummaryMemoryBuffer.from_defaults(
            chat_store=chat_store, chat_store_key=key, llm=MockLLM(max_tokens=5), token_limit=20
        )
        for n in range(6):
            memory.put(ChatMessage(role="user", content=f"question {n} about things"))
            memory.put(ChatMessage(role="assistant", content=f"answer {n} about stuff"))
        kept = memory.get()
        assert memory.get_all() == kept
        return kept

    kept = await asyncio.to_thread(run)
    assert [m.role.value for m in kept] == ["system", "user", "assistant", "user", "assistant"]
    assert [m.content for m in kept[1:]] == [
        "question 4 about things", "answer 4 about stuff", "question 5 about things", "answer 5 about stuff"
    ]  # fmt: skip


async def test_buffer_serializes_the_chat_store_config(glide: GlideChatStore, key: str) -> None:
    """to_dict names the chat store's class and owner; only SimpleChatStore can be loaded back by LlamaIndex."""
    memory = buffer(glide, key, token_limit=5)
    data = memory.to_dict()
    assert data["chat_store"] == {"user_id": None, "class_name": "GlideChatStore"}
    with pytest.raises(ValueError, match="Invalid ChatStore name"):
        ChatMemoryBuffer.from_dict(data)


# -- exact round trips and the toolkit's view -----------------------------------


def zoo() -> list[ChatMessage]:
    """Messages of every role and block kind LlamaIndex has, with tool calls both ways."""
    openai_call = {"id": "call_1", "type": "function", "function": {"name": "clock", "arguments": '{"tz": "UTC"}'}}
    return [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="developer", content="Prefer metric units."),
        ChatMessage(role="user", content="ハロー"),
        ChatMessage(role="chatbot", content="hi"),
        ChatMessage(role="model", content="hello"),
        ChatMessage(role="user", blocks=[]),
        ChatMessage(role="user", blocks=[TextBlock(text="What is this?"), ImageBlock(url="http://x.test/a.png")]),
        ChatMessage(role="user", blocks=[ImageBlock(image=b"\x89PNG\r\n\x1a\n\xff", image_mimetype="image/png")]),
        ChatMessage(role="user", blocks=[AudioBlock(audio=b"RIFF\x00", format="wav")]),
        ChatMessage(role="user", blocks=[DocumentBlock(data=b"%PDF-1.4", document_mimetype="application/pdf")]),
        ChatMessage(
            role="user", blocks=[CachePoint(cache_control=CacheControl(type="ephemeral")), TextBlock(text="x")]
        ),
        ChatMessage(
            role="assistant",
            blocks=[CitableBlock(title="t", source="s", content=[TextBlock(text="cited")]), TextBlock(text="ok")],
        ),
        ChatMessage(role="assistant", blocks=[ThinkingBlock(content="hmm"), TextBlock(text="Checking.")]),
        ChatMessage(
            role="assistant", blocks=[ToolCallBlock(tool_call_id="c1", tool_name="clock", tool_kwargs={"tz": "UTC"})]
        ),
        ChatMessage(role="tool", content="12:00", additional_kwargs={"tool_call_id": "c1", "name": "clock"}),
        ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [openai_call]}),
        ChatMessage(role="function", content="12:00", additional_kwargs={"name": "clock"}),
        ChatMessage(role="assistant", content="done", additional_kwargs={"nested": {"n": 1, "xs": [1.5, None]}}),
    ]


def as_json(message: ChatMessage) -> ChatMessage:
    """The message as LlamaIndex's own JSON round trip (its SQL and Redis stores) gives it back."""
    return ChatMessage.model_validate_json(message.model_dump_json())


async def test_every_message_kind_round_trips_exactly(glide: GlideChatStore, ns_store: SessionStore, key: str) -> None:
    """Every role, block kind and additional_kwargs comes back equal, through both chat stores."""
    messages = zoo()
    assert [as_json(m) for m in messages] == messages  # the zoo is JSON-exact to begin with
    for message in messages:
        await glide.async_add_message(key, message)
    assert await glide.aget_messages(key) == messages
    db = GlideDBChatStore(store=ns_store)
    await db.add_messages(f"{key}-db", messages)
    assert await db.get_messages(f"{key}-db") == messages


async def test_the_toolkit_reads_text_roles_and_tool_calls(
    glide: GlideChatStore, ns_store: SessionStore, key: str
) -> None:
    """The toolkit sees mapped roles, the text, and Chat Completions tool calls; get_context(openai) works."""
    for message in zoo():
        await glide.async_add_message(key, message)
    stored = await ns_store.get_messages(key)
    assert [m.role.value for m in stored] == [
        "system", "system", "user", "assistant", "assistant", "user", "user", "user", "user", "user", "user",
        "assistant", "assistant", "assistant", "tool", "assistant", "tool", "assistant",
    ]  # fmt: skip
    assert [m.content for m in stored[:5]] == ["Be brief.", "Prefer metric units.", "ハロー", "hi", "hello"]
    assert stored[6].content == "What is this?" and stored[7].content == "" and stored[11].content == "ok"
    call = {"id": "c1", "type": "function", "function": {"name": "clock", "arguments": '{"tz": "UTC"}'}}
    assert stored[13].tool_calls == [call] and stored[14].tool_call_id == "c1"
    assert stored[15].tool_calls is not None and stored[15].tool_calls[0]["function"]["name"] == "clock"
    assert stored[2].metadata is None  # a plain text message carries no adapter record
    assert stored[3].metadata == {"llama_index": {"role": "chatbot"}}


async def test_a_tool_exchange_gives_openai_ready_context(
    glide: GlideChatStore, ns_store: SessionStore, key: str
) -> None:
    """A LlamaIndex tool exchange comes out of get_context(format="openai") as valid Chat Completions messages."""
    exchange = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="Time in UTC?"),
        ChatMessage(
            role="assistant", blocks=[ToolCallBlock(tool_call_id="c1", tool_name="clock", tool_kwargs={"tz": "UTC"})]
        ),
        ChatMessage(role="tool", content="12:00", additional_kwargs={"tool_call_id": "c1"}),
        ChatMessage(role="assistant", content="It is noon."),
    ]
    await glide.aset_messages(key, exchange)
    context = await ns_store.get_context(key, format="openai")
    assert context == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Time in UTC?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "clock", "arguments": '{"tz": "UTC"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "12:00"},
        {"role": "assistant", "content": "It is noon."},
    ]


async def test_messages_written_by_other_code_read_as_chat_messages(
    glide: GlideChatStore, ns_store: SessionStore, key: str
) -> None:
    """Messages the core API stored (text, blocks, tool fields) read as ChatMessages of their role and text."""
    await glide.async_add_message(key, user("hello"))
    call = {"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    await ns_store.add_messages(
        key,
        [
            Message(role=Role.ASSISTANT, content=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
            Message(role=Role.ASSISTANT, content="", tool_calls=[call]),
            Message(role=Role.TOOL, content="42", tool_call_id="c9"),
        ],
    )
    read = await glide.aget_messages(key)
    assert read[1] == ChatMessage(role="assistant", content="a\nb")
    assert read[2] == ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [call]})
    assert read[3] == ChatMessage(role="tool", content="42", additional_kwargs={"tool_call_id": "c9"})


async def test_bad_input_writes_nothing(glide: GlideChatStore, ns_store: SessionStore, key: str) -> None:
    """A key the toolkit cannot hold, a non-ChatMessage, or kwargs JSON cannot hold raise and store nothing."""
    with pytest.raises(InvalidIdError):
        await glide.async_add_message("", user("x"))
    with pytest.raises(InvalidIdError):
        await glide.aget_messages("bad\nkey")
    with pytest.raises(ValueError, match="ChatMessage"):
        await glide.async_add_message(key, {"role": "user", "content": "x"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="JSON"):
        await glide.aset_messages(
            key, [user("ok"), ChatMessage(role="user", content="x", additional_kwargs={"o": object()})]
        )
    assert not await ns_store.exists(key)
    assert await glide.aget_keys() == []


# -- keys -----------------------------------------------------------------


async def scan_calls(client: Client) -> int:
    """SCAN calls the server has served so far."""
    info = await client.custom_command(["INFO", "commandstats"])
    text = info.decode() if isinstance(info, bytes) else str(info)
    for line in text.splitlines():
        if line.startswith("cmdstat_scan:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


async def test_get_keys_reads_a_set_and_prunes_gone_sessions(
    glide: GlideChatStore, ns_store: SessionStore, client: Client
) -> None:
    """get_keys never scans; sessions deleted or expired behind its back drop out of the listing and the set."""
    for owner in ("a", "b", "c", "d"):
        await glide.async_add_message(owner, user(owner))
    scans = await scan_calls(client)
    assert await glide.aget_keys() == ["a", "b", "c", "d"]
    await ns_store.delete_session("b")  # deleted by other code
    await client.delete([ns_store.schema.meta("c"), ns_store.schema.chat("c")])  # what expiry does
    assert await glide.aget_keys() == ["a", "d"]
    index = ns_store.schema.extension("llama_index", "keys")
    assert await client.zrange(index, RangeByIndex(0, -1)) == [b"a", b"d"]
    await glide.async_add_message("c", user("back"))
    assert await glide.aget_keys() == ["a", "d", "c"]
    assert await scan_calls(client) == scans


async def test_a_user_owns_its_keys(ns_store: SessionStore, key: str) -> None:
    """With user_id, sessions belong to the user, are listed as theirs, and another user's store is refused."""
    alice = GlideChatStore(store=ns_store, user_id="alice")
    bob = GlideChatStore(store=ns_store, user_id="bob")
    await alice.async_add_message(key, user("mine"))
    await bob.async_add_message(f"{key}-bob", user("his"))
    assert (await ns_store.get_session_info(key)).user_id == "alice"
    assert [s.session_id for s in await ns_store.list_user_sessions("alice")] == [key]
    assert await alice.aget_keys() == [key]
    assert await bob.aget_keys() == [f"{key}-bob"]
    with pytest.raises(PermissionDeniedError):
        await bob.aget_messages(key)
    with pytest.raises(PermissionDeniedError):
        await bob.async_add_message(key, user("not yours"))
    assert await ns_store.delete_user("alice") == 1
    assert await alice.aget_keys() == []
    assert await alice.aget_messages(key) == []


# -- threads, loops and lifecycle ---------------------------------------------


async def test_works_from_many_threads_and_fresh_loops(glide: GlideChatStore, key: str) -> None:
    """Sync calls from eight threads at once, and async calls on fresh loops in threads, reach the store's loop."""

    def writer(n: int) -> int:
        for i in range(20):
            glide.add_message(f"{key}-{n}", user(f"{n}:{i}"))
        return len(glide.get_messages(f"{key}-{n}"))

    with ThreadPoolExecutor(8) as pool:
        counts = await asyncio.gather(*(asyncio.wrap_future(pool.submit(writer, n)) for n in range(8)))
    assert counts == [20] * 8

    def fresh_loop() -> list[ChatMessage]:
        async def run() -> list[ChatMessage]:
            await glide.async_add_message(key, user("from a fresh loop"))
            return await glide.aget_messages(key)

        return asyncio.run(run())

    assert await asyncio.to_thread(fresh_loop) == [user("from a fresh loop")]


async def test_a_sync_call_on_the_stores_own_loop_is_refused(glide: GlideChatStore, key: str) -> None:
    """A blocking call made on the loop the store lives on raises BridgeError naming the way out."""
    with pytest.raises(BridgeError, match=r"asyncio\.to_thread"):
        glide.add_message(key, user("blocked"))
    await asyncio.to_thread(glide.add_message, key, user("fine"))
    assert await glide.aget_messages(key) == [user("fine")]


async def test_an_owned_store_works_anywhere_and_closes(owned: Callable[..., GlideChatStore], key: str) -> None:
    """With a url the chat store runs its own store on the shared loop: sync calls work here too, close is final."""
    chat_store = await asyncio.to_thread(owned)
    assert SharedLoop.running()
    await asyncio.to_thread(chat_store.add_message, key, user("sync"))
    await chat_store.async_add_message(key, user("async"))
    assert await chat_store.aget_messages(key) == [user("sync"), user("async")]
    await chat_store.aclose()
    await chat_store.aclose()
    with pytest.raises(StoreClosedError):
        await chat_store.aget_messages(key)
    with pytest.raises(StoreClosedError):
        chat_store.get_messages(key)


async def test_chat_stores_shut_down_cleanly(valkey_url: str) -> None:
    """Closing every owned chat store stops the shared loop thread."""

    def run() -> None:
        stores = [GlideChatStore(url=valkey_url) for _ in range(2)] + [GlideDBChatStore(url=valkey_url)]
        for chat_store in stores:
            with chat_store:
                pass

    await asyncio.to_thread(run)
    assert not SharedLoop.running()
    assert not [t for t in threading.enumerate() if t.name == "glide-memory-loop"]


async def test_refuses_a_store_and_a_url(ns_store: SessionStore, valkey_url: str) -> None:
    """Passing both a store and a url, or a schema with your own store, is an error."""
    with pytest.raises(ValueError, match="not both"):
        GlideChatStore(store=ns_store, url=valkey_url)
    with pytest.raises(ValueError, match="schema"):
        GlideDBChatStore(store=ns_store, schema=KeySchema(namespace="x:"))
    with pytest.raises(ValueError, match="view for user"):
        GlideChatStore(store=ns_store.for_user("alice"), user_id="bob")


def test_missing_llama_index_names_the_extra() -> None:
    """Importing the adapter without llama-index-core raises MissingDependencyError naming the extra."""
    script = (
        "import sys\nsys.modules['llama_index.core'] = None\n"
        "try:\n    import glide_memory.integrations.llama_index\nexcept ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert "MissingDependencyError" in out.stdout and "glide-memory[llama-index]" in out.stdout


async def test_the_benchmark_measures_every_contender(valkey_url: str, client: Client) -> None:
    """benchmarks.frameworks.llama_index returns p50 and p99 per operation and contender, and cleans up."""
    from benchmarks.frameworks.llama_index import run

    rows = await run(valkey_url, samples=2)
    contenders: dict[str, set[str]] = {row["operation"]: set() for row in rows}
    for row in rows:
        contenders[row["operation"]].add(row["contender"])
        assert 0 < row["p50_us"] <= row["p99_us"]
    base = {"GlideChatStore", "SimpleChatStore", "RedisChatStore"}
    assert [contenders[op] for op in ("async_add_message", "adelete_last_message", "add_message (sync)")] == [base] * 3
    assert contenders["DB archive_oldest_messages(1)"] == {"GlideDBChatStore", "SQLAlchemyChatStore"}
    assert await keys_matching(client, "bench-li-*") == []
