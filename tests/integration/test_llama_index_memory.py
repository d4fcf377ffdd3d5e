"""GlideDBChatStore (LlamaIndex's AsyncDBChatStore) and Memory on it, beside SQLAlchemyChatStore as the reference.

Ported from llama-index-core's own tests (tests/storage/chat_store/test_sql.py,
tests/memory/test_memory_base.py, tests/memory/test_memory_custom_chat_store.py),
rewritten here and run against both stores: SQLAlchemyChatStore on in-memory
SQLite proves each expectation on LlamaIndex's reference. Then what only the
toolkit does: the archive as the toolkit sees it, pinned system messages, and
a Memory restarted over a fresh store object.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import ToolCallBlock
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import Memory
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus
from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore

from glide_memory import KeySchema, Role, SessionStore
from glide_memory.integrations.llama_index import GlideDBChatStore
from tests.support import Client, snapshot

ACTIVE, ARCHIVED = MessageStatus.ACTIVE, MessageStatus.ARCHIVED


def msg(role: str, text: str) -> ChatMessage:
    """A text message."""
    return ChatMessage(role=role, content=text)


def texts(messages: list[ChatMessage]) -> list[str | None]:
    """The text of each message."""
    return [m.content for m in messages]


@pytest.fixture(params=["sql", "glide"])
async def chat_store(request: pytest.FixtureRequest, ns_store: SessionStore) -> AsyncIterator[AsyncDBChatStore]:
    """Each DB chat store in turn: LlamaIndex's SQLAlchemyChatStore on in-memory SQLite, then ours."""
    if request.param == "glide":
        yield GlideDBChatStore(store=ns_store)
        return
    sql = SQLAlchemyChatStore(table_name=f"t{uuid.uuid4().hex}", async_database_uri="sqlite+aiosqlite:///:memory:")
    yield sql
    engine = sql._async_engine
    if engine is not None:
        await engine.dispose()


@pytest.fixture
async def glide(ns_store: SessionStore) -> GlideDBChatStore:
    """A GlideDBChatStore sharing the test's namespaced store."""
    return GlideDBChatStore(store=ns_store)


async def position_id(chat_store: AsyncDBChatStore, key: str, position: int) -> int:
    """The ``idx`` delete_message takes for the active message at ``position``: SQL's row id, our position."""
    if not isinstance(chat_store, SQLAlchemyChatStore):
        return position
    factory, table = await chat_store._initialize()
    async with factory() as session:
        rows = (await session.execute(table.select().where(table.c.key == key).order_by(table.c.id))).fetchall()
    return int(rows[position].id)


# -- llama-index-core's SQLAlchemyChatStore tests, in our words --------------


async def test_add_and_get(chat_store: AsyncDBChatStore) -> None:
    """Messages come back in order with their roles; a key never written reads as []."""
    await chat_store.add_message("alice", msg("user", "hello"))
    await chat_store.add_message("alice", msg("assistant", "world"))
    got = await chat_store.get_messages("alice")
    assert [(m.role.value, m.content) for m in got] == [("user", "hello"), ("assistant", "world")]
    assert await chat_store.get_messages("nobody") == []


async def test_add_messages_in_one_batch(chat_store: AsyncDBChatStore) -> None:
    """add_messages stores a batch in order."""
    await chat_store.add_messages("alice", [msg("user", "hello"), msg("assistant", "world"), msg("user", "how?")])
    assert texts(await chat_store.get_messages("alice")) == ["hello", "world", "how?"]


async def test_count(chat_store: AsyncDBChatStore) -> None:
    """count_messages counts a key's messages; a key never written counts 0."""
    await chat_store.add_messages("alice", [msg("user", f"m{n}") for n in range(3)])
    assert await chat_store.count_messages("alice") == 3
    assert await chat_store.count_messages("nobody") == 0


async def test_set_replaces(chat_store: AsyncDBChatStore) -> None:
    """set_messages replaces a key's active messages."""
    await chat_store.add_message("alice", msg("user", "initial"))
    await chat_store.set_messages("alice", [msg("user", "replaced1"), msg("assistant", "replaced2")])
    assert texts(await chat_store.get_messages("alice")) == ["replaced1", "replaced2"]


async def test_delete_one_message(chat_store: AsyncDBChatStore) -> None:
    """delete_message removes the message its idx names and returns it."""
    await chat_store.add_messages("alice", [msg("user", "m1"), msg("assistant", "m2"), msg("user", "m3")])
    deleted = await chat_store.delete_message("alice", await position_id(chat_store, "alice", 1))
    assert deleted is not None and deleted.content == "m2"
    assert texts(await chat_store.get_messages("alice")) == ["m1", "m3"]


async def test_delete_a_key_spares_the_others(chat_store: AsyncDBChatStore) -> None:
    """delete_messages of one key leaves other keys alone, and the key leaves get_keys."""
    await chat_store.add_message("alice", msg("user", "a"))
    await chat_store.add_message("bob", msg("user", "b"))
    await chat_store.delete_messages("alice")
    assert await chat_store.get_messages("alice") == []
    assert texts(await chat_store.get_messages("bob")) == ["b"]
    assert await chat_store.get_keys() == ["bob"]


async def test_delete_oldest(chat_store: AsyncDBChatStore) -> None:
    """delete_oldest_messages removes and returns the oldest n."""
    await chat_store.add_messages("alice", [msg("user", "oldest"), msg("assistant", "middle"), msg("user", "newest")])
    assert texts(await chat_store.delete_oldest_messages("alice", 1)) == ["oldest"]
    assert texts(await chat_store.get_messages("alice")) == ["middle", "newest"]


async def test_archive_oldest(chat_store: AsyncDBChatStore) -> None:
    """archive_oldest_messages moves the oldest n from ACTIVE to ARCHIVED and returns them."""
    await chat_store.add_messages("alice", [msg("user", "oldest"), msg("assistant", "middle"), msg("user", "newest")])
    assert texts(await chat_store.archive_oldest_messages("alice", 1)) == ["oldest"]
    assert texts(await chat_store.get_messages("alice", status=ACTIVE)) == ["middle", "newest"]
    assert texts(await chat_store.get_messages("alice", status=ARCHIVED)) == ["oldest"]


async def test_pages_by_limit_and_offset(chat_store: AsyncDBChatStore) -> None:
    """limit and offset page through a key's messages in order."""
    await chat_store.add_messages("alice", [msg("user", f"message{n}") for n in range(1, 6)])
    assert texts(await chat_store.get_messages("alice", limit=2)) == ["message1", "message2"]
    assert texts(await chat_store.get_messages("alice", offset=2)) == ["message3", "message4", "message5"]
    assert texts(await chat_store.get_messages("alice", limit=2, offset=1)) == ["message2", "message3"]


async def test_get_keys(chat_store: AsyncDBChatStore) -> None:
    """get_keys lists every key written."""
    for owner in ("u1", "u2", "u3"):
        await chat_store.add_message(owner, msg("user", owner))
    assert {"u1", "u2", "u3"} <= set(await chat_store.get_keys())


# -- more of the interface, still proven on the reference --------------------


async def test_statuses_filter_reads_counts_and_deletes(chat_store: AsyncDBChatStore) -> None:
    """status filters reads and counts (None: every message, in time order, paged); a status delete spares the other."""
    await chat_store.add_messages("alice", [msg("user", f"m{n}") for n in range(5)])
    await chat_store.archive_oldest_messages("alice", 2)
    assert texts(await chat_store.get_messages("alice", status=None)) == [f"m{n}" for n in range(5)]
    assert texts(await chat_store.get_messages("alice", status=None, limit=2, offset=1)) == ["m1", "m2"]
    assert texts(await chat_store.get_messages("alice", status=ARCHIVED, offset=1)) == ["m1"]
    counts = [await chat_store.count_messages("alice", status=s) for s in (ACTIVE, ARCHIVED, None)]
    assert counts == [3, 2, 5]
    await chat_store.delete_messages("alice", status=ACTIVE)
    assert await chat_store.get_messages("alice") == []
    assert texts(await chat_store.get_messages("alice", status=ARCHIVED)) == ["m0", "m1"]
    assert await chat_store.count_messages("nobody", status=None) == 0
    assert await chat_store.get_messages("nobody", status=None, limit=3) == []


async def test_more_than_there_is(chat_store: AsyncDBChatStore) -> None:
    """Archiving, deleting or paging past the end takes what there is; an unknown idx deletes nothing."""
    await chat_store.add_messages("alice", [msg("user", "a"), msg("user", "b")])
    assert texts(await chat_store.archive_oldest_messages("alice", 5)) == ["a", "b"]
    assert await chat_store.archive_oldest_messages("alice", 1) == []
    await chat_store.add_message("alice", msg("user", "c"))
    assert texts(await chat_store.delete_oldest_messages("alice", 5)) == ["c"]
    assert await chat_store.delete_oldest_messages("nobody", 1) == []
    assert await chat_store.archive_oldest_messages("nobody", 1) == []
    assert await chat_store.delete_message("alice", 10_000) is None
    assert await chat_store.get_messages("alice", offset=7) == []


# -- Memory on each store: llama-index-core's Memory tests, in our words ---------


def memory(chat_store: AsyncDBChatStore, session_id: str = "test_user", **options: Any) -> Memory:
    """A Memory over ``chat_store``; the upstream fixture's limits unless given."""
    settings: dict[str, Any] = {"token_limit": 1000, "token_flush_size": 700, "chat_history_token_ratio": 0.9}
    settings.update(options)
    return Memory(session_id=session_id, sql_store=chat_store, **settings)


async def test_memory_uses_the_store_it_is_given(chat_store: AsyncDBChatStore) -> None:
    """Memory takes any AsyncDBChatStore and keeps its messages there."""
    mem = memory(chat_store)
    await mem.aput_messages([msg("user", "Message 1"), msg("assistant", "Response 1")])
    assert texts(await mem.aget()) == ["Message 1", "Response 1"]
    assert mem.sql_store is chat_store
    assert await chat_store.count_messages("test_user") == 2


async def test_memory_from_defaults_seeds_the_store(chat_store: AsyncDBChatStore) -> None:
    """from_defaults(chat_store=..., chat_history=...) writes the history through the given store (from sync code)."""

    def build() -> Memory:
        seeded = [msg("user", "Seeded")]
        return Memory.from_defaults(session_id="seeded", token_limit=1000, chat_history=seeded, chat_store=chat_store)

    mem = await asyncio.to_thread(build)
    assert mem.sql_store is chat_store
    assert texts(await mem.aget()) == ["Seeded"]


async def test_memory_under_the_limit_keeps_everything(chat_store: AsyncDBChatStore) -> None:
    """Under the token limit aput, aput_messages and aset keep every message, in order."""
    mem = memory(chat_store)
    await mem.aput(msg("user", "New message"))
    assert texts(await mem.aget()) == ["New message"]
    await mem.aput_messages([msg("user", "Message 1"), msg("assistant", "Response 1")])
    assert texts(await mem.aget_all(status=ACTIVE)) == ["New message", "Message 1", "Response 1"]
    await mem.aset([msg("user", "Short message")])
    assert texts(await mem.aget()) == ["Short message"]


async def test_memory_over_the_limit_flushes_to_the_archive(chat_store: AsyncDBChatStore) -> None:
    """Past the limit the oldest messages move to ARCHIVED, leaving the newest user message active."""
    mem = memory(chat_store)
    await mem.aput_messages([msg("user", "x " * 500), msg("assistant", "y " * 500), msg("user", "z " * 500)])
    current = await mem.aget()
    assert len(current) == 1 and "z " in (current[0].content or "")
    assert len(await chat_store.get_messages("test_user", status=ARCHIVED)) == 2


async def test_memory_reset_of_active_messages(chat_store: AsyncDBChatStore) -> None:
    """areset(ACTIVE) empties what Memory returns."""
    mem = memory(chat_store)
    await mem.aput(msg("user", "New message"))
    await mem.areset(status=ACTIVE)
    assert await mem.aget() == []


async def test_memory_flush_leaves_a_user_message_first(chat_store: AsyncDBChatStore) -> None:
    """After a flush the active history starts with a user message, never a lone assistant one."""
    mem = memory(chat_store, "first_user", token_limit=100, token_flush_size=50, chat_history_token_ratio=0.5)
    await mem.aput_messages([msg("user", "x " * 100), msg("assistant", "ok")])
    current = await mem.aget()
    assert current and current[0].role.value == "user"


async def test_memory_flush_keeps_a_whole_turn(chat_store: AsyncDBChatStore) -> None:
    """A flush keeps at least one complete user/assistant turn."""
    mem = memory(chat_store, "turns", token_limit=200, token_flush_size=100, chat_history_token_ratio=0.5)
    await mem.aput_messages([msg("user", "a " * 50), msg("assistant", "b " * 50), msg("user", "c " * 50)])
    await mem.aput(msg("assistant", "d " * 50))
    current = await mem.aget()
    assert len(current) >= 2 and current[0].role.value == "user"
    for first, second in itertools.pairwise(current):
        if first.role.value == "user":
            assert second.role.value in ("assistant", "tool")


@pytest.mark.parametrize(
    ("limits", "history"),
    [
        ((150, 80), [("user", "a " * 40), ("assistant", "b " * 20), ("tool", "c " * 20), ("assistant", "d " * 20)]),
        ((80, 40), [("user", "x " * 50), ("assistant", "call"), ("tool", "result")]),
    ],
)
async def test_memory_flush_keeps_tool_results_after_their_call(
    chat_store: AsyncDBChatStore, limits: tuple[int, int], history: list[tuple[str, str]]
) -> None:
    """With tool messages the active history still starts with a user message and no tool result comes first."""
    limit, flush = limits
    mem = memory(chat_store, "tools", token_limit=limit, token_flush_size=flush, chat_history_token_ratio=0.5)
    await mem.aput_messages([msg(role, text) for role, text in history])
    current = await mem.aget()
    if current:
        assert current[0].role.value == "user"
    for i, message in enumerate(current):
        if message.role.value == "tool":
            assert i > 0 and current[i - 1].role.value in ("assistant", "tool")


async def test_memory_sync_wrappers_work_from_fresh_loops(chat_store: AsyncDBChatStore) -> None:
    """Memory.put and get_all (each a fresh event loop, in a worker thread) reach the store."""
    mem = memory(chat_store, "loop_user")

    def run() -> list[ChatMessage]:
        mem.put(msg("user", "one"))
        mem.put(msg("user", "two"))
        return mem.get_all()

    assert texts(await asyncio.to_thread(run)) == ["one", "two"]


# -- what the toolkit adds -------------------------------------------------------


async def test_memory_end_to_end_archive_and_restart(valkey_url: str) -> None:
    """Memory flushes past its limit into the archive (readable, never in get()), and a restart sees it all."""
    schema = KeySchema(namespace=f"t{uuid.uuid4().hex[:12]}:")
    session = f"chat-{uuid.uuid4().hex}"
    said = [(role, f"{role} turn {n}: " + "word " * 12) for n in range(8) for role in ("user", "assistant")]

    def limited(chat_store: GlideDBChatStore) -> Memory:
        return Memory.from_defaults(
            session_id=session, chat_store=chat_store, token_limit=80, token_flush_size=30, chat_history_token_ratio=1.0
        )

    first = await asyncio.to_thread(lambda: GlideDBChatStore(url=valkey_url, schema=schema, ttl=600))
    mem = limited(first)
    for role, text in said:
        await mem.aput(msg(role, text))
    active = texts(await mem.aget())
    archived = await asyncio.to_thread(first.run, first.store.get_archived_messages(session))
    assert archived and active and len(archived) + len(active) == len(said)
    assert [m.content for m in archived] + active == [text for _, text in said]
    assert [m.role for m in archived[:2]] == [Role.USER, Role.ASSISTANT]
    assert not set(active) & {m.content for m in archived}
    assert texts(await mem.aget_all()) == [text for _, text in said]
    await first.aclose()

    second = await asyncio.to_thread(lambda: GlideDBChatStore(url=valkey_url, schema=schema))
    try:
        again = limited(second)
        assert texts(await again.aget()) == active
        assert texts(await again.aget_all(status=ARCHIVED)) == [m.content for m in archived]
        await again.aput(msg("user", "after the restart"))
        assert texts(await again.aget())[-1] == "after the restart"
        assert session in await second.get_keys()
    finally:
        await second.aclose()


async def test_pinned_system_messages_stay_active(ns_store: SessionStore, glide: GlideDBChatStore) -> None:
    """A system message is pinned by the store: Memory's flushes archive around it and get() keeps it first."""
    mem = Memory.from_defaults(
        session_id="pinned", chat_store=glide, token_limit=60, token_flush_size=20, chat_history_token_ratio=1.0
    )
    await mem.aput(msg("system", "You are terse."))
    for n in range(6):
        await mem.aput(msg("user", f"question {n} " + "word " * 10))
        await mem.aput(msg("assistant", f"answer {n} " + "word " * 10))
    current = await mem.aget()
    assert current[0].content == "You are terse." and current[1].role.value == "user"
    archived = await ns_store.get_archived_messages("pinned")
    assert archived and all(m.role is not Role.SYSTEM for m in archived)
    assert texts(await mem.aget_all()) == ["You are terse."] + [
        f"{kind} {n} " + "word " * 10 for n in range(6) for kind in ("question", "answer")
    ]


async def test_archiving_takes_a_trailing_tool_result_along(glide: GlideDBChatStore) -> None:
    """A tool result right after the archived messages goes with its call, and is returned with them."""
    call = ChatMessage(role="assistant", blocks=[ToolCallBlock(tool_call_id="c1", tool_name="f", tool_kwargs={})])
    result = ChatMessage(role="tool", content="42", additional_kwargs={"tool_call_id": "c1"})
    await glide.add_messages("alice", [msg("user", "q"), call, result, msg("assistant", "a")])
    moved = await glide.archive_oldest_messages("alice", 2)
    assert moved == [msg("user", "q"), call, result]
    assert await glide.get_messages("alice") == [msg("assistant", "a")]


async def test_set_keeps_the_archive_and_archived_writes_are_refused(
    glide: GlideDBChatStore, ns_store: SessionStore, client: Client
) -> None:
    """set_messages replaces only the active list; writing ARCHIVED directly raises and stores nothing."""
    await glide.add_messages("alice", [msg("user", "old"), msg("user", "kept")])
    await glide.archive_oldest_messages("alice", 1)
    await glide.set_messages("alice", [msg("user", "new")])
    assert texts(await glide.get_messages("alice", status=None)) == ["old", "new"]
    before = await snapshot(client, f"{ns_store.schema.namespace}*")
    with pytest.raises(NotImplementedError, match="archive"):
        await glide.add_message("alice", msg("user", "x"), status=ARCHIVED)
    with pytest.raises(NotImplementedError):
        await glide.add_messages("alice", [msg("user", "x")], status=ARCHIVED)
    with pytest.raises(NotImplementedError):
        await glide.set_messages("alice", [msg("user", "x")], status=ARCHIVED)
    with pytest.raises(NotImplementedError):
        await glide.delete_messages("alice", status=ARCHIVED)
    assert await snapshot(client, f"{ns_store.schema.namespace}*") == before


async def test_delete_message_counts_positions(glide: GlideDBChatStore) -> None:
    """delete_message takes a position among active messages, negative from the end; out of range gives None."""
    await glide.add_messages("alice", [msg("user", f"m{n}") for n in range(4)])
    deleted = [await glide.delete_message("alice", idx) for idx in (-1, 0, 5, -5)]
    assert [m.content if m else None for m in deleted] == ["m3", "m0", None, None]
    assert texts(await glide.get_messages("alice")) == ["m1", "m2"]


async def test_a_users_db_chats(ns_store: SessionStore) -> None:
    """With user_id the sessions are the user's, listed as theirs; delete_user takes them and get_keys follows."""
    alice = GlideDBChatStore(store=ns_store, user_id="alice")
    await alice.add_message("a-chat", msg("user", "hi"))
    assert await alice.get_keys() == ["a-chat"]
    assert [s.session_id for s in await ns_store.list_user_sessions("alice")] == ["a-chat"]
    await ns_store.delete_user("alice")
    assert await alice.get_keys() == []
    assert await alice.count_messages("a-chat", status=None) == 0
