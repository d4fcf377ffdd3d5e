"""The whole lifecycle as a least-privilege user: the ACL rules acl_setuser renders are enough, and needed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from strands import Agent

from glide_memory import EmbeddedServer, KeySchema, Message, PermissionDeniedError, Role, SessionStore, acl_setuser
from glide_memory.integrations.strands import GlideSessionManager, GlideSnapshotStorage
from glide_memory.integrations.strands.testing import ScriptedModel, text


@pytest.fixture
def server() -> Iterator[EmbeddedServer]:
    """A server of this test's own (its ACL and function library start empty)."""
    with EmbeddedServer() as embedded:
        yield embedded


async def add_user(server: EmbeddedServer, name: str, **options: object) -> str:
    """Create a least-privilege user with acl_setuser's rules and return a URL that logs in as it."""
    async with await SessionStore.connect(server.url) as admin:
        await admin.client.custom_command(list(acl_setuser(name, "pw", **options)))  # type: ignore[arg-type]
    return f"valkey://{name}:pw@127.0.0.1:{server.port}"


async def core_lifecycle(store: SessionStore) -> None:
    """Every core operation once."""
    sid = (await store.create_session("u1", title="t")).session_id
    await store.add_message(sid, "user", "hi", 2)
    await store.add_messages(sid, [Message(role=Role.ASSISTANT, content="yo", tokens=1)], max_messages=10)
    await store.add_message(sid, "user", "side", thread="t2")
    await store.put_record(sid, "integration", "state", "x")
    assert await store.get_record(sid, "integration", "state") == b"x"
    assert [m.content for m in await store.get_messages(sid, last=5)] == ["hi", "yo"]
    assert len(await store.get_window(sid, max_tokens=10)) == 2
    assert await store.count_messages(sid) == 2 and await store.threads(sid) == ["t2"]
    await store.update_session(sid, title="new", plan="pro")
    await store.touch(sid, ttl=600)
    info = await store.get_session_info(sid)
    assert (info.title, info.message_count, info.messages_stored) == ("new", 3, 3)
    assert [s.session_id for s in await store.list_user_sessions("u1")] == [sid]
    first = await store.get_message(sid, 0)
    assert first is not None
    assert await store.replace_message(sid, Message(role=Role.USER, content="edited", id=first.id))
    await store.clear_messages(sid, thread="t2")
    await store.add_message(sid, "user", "more", 1, thread="t2")

    async def summarizer(previous: Message | None, messages: list[Message]) -> str:
        return "earlier"

    assert await store.summarize(sid, summarizer, keep_last=1) is not None
    assert await store.summarize(sid, summarizer, keep_last=0, thread="t2") is not None
    assert len(await store.get_messages(sid, include_archived=True)) == 2
    assert next(m.content for m in await store.get_context(sid)) == "earlier"
    await store.pin_message(sid, first.id or "")
    assert await store.for_user("u1").exists(sid)
    await store.reindex_user_sessions()
    assert await store.delete_session(sid)


async def test_core_lifecycle_as_a_least_privilege_user(server: EmbeddedServer) -> None:
    """A user with only the core rules runs every store operation, loading the function library itself."""
    async with await SessionStore.connect(await add_user(server, "core", record_kinds=["integration"])) as store:
        await core_lifecycle(store)
    async with await SessionStore.connect(await add_user(server, "norecords")) as store:
        sid = (await store.create_session("u1")).session_id
        with pytest.raises(PermissionDeniedError):
            await store.put_record(sid, "integration", "state", "x")  # its kind was not granted


async def test_core_lifecycle_in_a_namespace(server: EmbeddedServer) -> None:
    """With a namespace the rules cover exactly that namespace's keys."""
    url = await add_user(server, "tenant", namespace="app1:", record_kinds=["integration"])
    async with await SessionStore.connect(url, schema=KeySchema(namespace="app1:")) as store:
        await core_lifecycle(store)
    async with await SessionStore.connect(url) as outside:
        with pytest.raises(PermissionDeniedError):
            await outside.create_session("u1")


async def test_strands_lifecycle_needs_its_patterns(server: EmbeddedServer) -> None:
    """The Strands adapter works with the core+Strands rules and is refused with the core rules alone."""

    def converse(url: str) -> None:
        with GlideSessionManager("acl-strands", url=url, ttl=600, user_id="u1") as manager:
            Agent(model=ScriptedModel([text("hi")]), session_manager=manager, callback_handler=None)("hello")
            Agent(model=ScriptedModel([text("yo")]), agent_id="two", session_manager=manager,
                  callback_handler=None)("x")  # fmt: skip
            with GlideSessionManager("acl-strands", url=url) as later:
                restored = Agent(model=ScriptedModel([]), session_manager=later, callback_handler=None)
                assert len(restored.messages) == 2
            assert manager.delete_session()

    await asyncio.to_thread(converse, await add_user(server, "agents", strands=True))
    with pytest.raises(PermissionDeniedError):
        await asyncio.to_thread(converse, await add_user(server, "coreonly"))


async def test_snapshot_storage_with_the_strands_rules(server: EmbeddedServer) -> None:
    """The snapshot storage's blobs are covered by the Strands rules."""
    async with await SessionStore.connect(await add_user(server, "snap", strands=True)) as store:
        storage = GlideSnapshotStorage(store)
        await storage.write("a/b", b"\x00data")
        assert await storage.read("a/b") == b"\x00data" and await storage.list("a/") == ["a/b"]
        await storage.delete("a/b")


def test_rules_render_one_setuser_command() -> None:
    """setuser renders resetkeys, the key patterns, -@all and the commands, namespace escaped."""
    command = list(acl_setuser("app", "s3cret", strands=True, namespace="t*:"))
    assert command[:6] == ["ACL", "SETUSER", "app", "reset", "on", ">s3cret"]
    assert "~t\\*:chat:*" in command and "~t\\*:thread.*" in command and "+fcall" in command
    assert command.index("-@all") < command.index("+fcall")
