"""Errors a caller can program against: each failure has its class, retryable flag and ids, and writes nothing."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from glide_memory import (
    ConfigurationError,
    CorruptedEntryError,
    EmbeddedServer,
    GlideMemoryError,
    InvalidTokensError,
    OutOfMemoryError,
    PermissionDeniedError,
    ServerUnavailableError,
    SessionStore,
    create_client,
)
from tests.support import snapshot


@pytest.fixture
def private_server() -> Iterator[EmbeddedServer]:
    """A server of this test's own, whose configuration the test may change."""
    with EmbeddedServer() as server:
        yield server


@pytest.fixture
async def admin(private_server: EmbeddedServer) -> AsyncIterator[SessionStore]:
    """A store on the private server, connected as the default (all-powerful) user."""
    async with await SessionStore.connect(private_server.url) as store:
        yield store


async def test_out_of_memory_is_typed_and_writes_nothing(admin: SessionStore) -> None:
    """With maxmemory exceeded, add_message raises OutOfMemoryError (not retryable) and the keyspace is unchanged."""
    sid = (await admin.create_session("u1")).session_id
    await admin.add_message(sid, "user", "before", 3)
    before = await snapshot(admin.client)
    await admin.client.custom_command(["CONFIG", "SET", "maxmemory", "1"])
    try:
        with pytest.raises(OutOfMemoryError) as caught:
            await admin.add_message(sid, "user", "refused", 5)
        assert not caught.value.retryable and caught.value.session_id == sid
        with pytest.raises(OutOfMemoryError):
            await admin.create_session("u1")
        assert await snapshot(admin.client) == before
        assert [m.content for m in await admin.get_messages(sid)] == ["before"]  # reads still work
        assert await admin.delete_session(sid)  # deleting frees memory, so it is allowed
    finally:
        await admin.client.custom_command(["CONFIG", "SET", "maxmemory", "0"])
    assert not await admin.exists(sid)


async def test_counter_overflow_is_invalid_tokens_and_writes_nothing(admin: SessionStore) -> None:
    """A token count that would push token_count past 2**63-1 raises InvalidTokensError; nothing is written."""
    sid = (await admin.create_session("u1")).session_id
    meta = admin.schema.meta(sid)
    await admin.client.hset(meta, {"token_count": str(2**63 - 10)})
    before = await snapshot(admin.client)
    with pytest.raises(InvalidTokensError, match="2\\*\\*63-1"):
        await admin.add_message(sid, "user", "too many", 100)
    assert await snapshot(admin.client) == before
    await admin.add_message(sid, "user", "fits", 9)
    assert (await admin.get_session_info(sid)).token_count == 2**63 - 1


async def test_acl_refusal_inside_a_write_is_permission_denied_and_undone(
    admin: SessionStore, private_server: EmbeddedServer
) -> None:
    """A user whose ACL forbids RPUSH gets PermissionDeniedError from add_message, and the counters are rolled back."""
    await admin.client.custom_command(["ACL", "SETUSER", "norpush", "on", ">pw", "~*", "+@all", "-rpush"])
    sid = (await admin.create_session("u1")).session_id
    before = await snapshot(admin.client)
    async with await SessionStore.connect(f"valkey://norpush:pw@127.0.0.1:{private_server.port}") as limited:
        with pytest.raises(PermissionDeniedError) as caught:
            await limited.add_message(sid, "user", "hi", 4)
    assert not caught.value.retryable and caught.value.session_id == sid
    assert await snapshot(admin.client) == before


async def test_acl_refusal_of_a_whole_command_is_permission_denied(
    admin: SessionStore, private_server: EmbeddedServer
) -> None:
    """A user who may not call functions at all gets PermissionDeniedError, never a timeout."""
    await admin.client.custom_command(
        ["ACL", "SETUSER", "nofcall", "on", ">pw", "~*", "+@all", "-fcall", "-fcall_ro", "-function"]
    )
    client = await create_client(f"valkey://nofcall:pw@127.0.0.1:{private_server.port}")
    try:
        store = SessionStore(client)
        with pytest.raises(PermissionDeniedError):
            await store.create_session("u1")
    finally:
        await client.close()


async def test_wrong_password_is_permission_denied_at_once(admin: SessionStore, private_server: EmbeddedServer) -> None:
    """A wrong password fails connect() with PermissionDeniedError, without waiting out the retry budget."""
    await admin.client.custom_command(["ACL", "SETUSER", "app", "on", ">right", "~*", "+@all"])
    started = time.monotonic()
    with pytest.raises(PermissionDeniedError, match="credentials") as caught:
        await SessionStore.connect(f"valkey://app:hunter2@127.0.0.1:{private_server.port}")
    assert time.monotonic() - started < 5
    assert not caught.value.retryable
    assert "hunter2" not in str(caught.value)  # never the password


@pytest.mark.parametrize(
    ("denied", "names"),
    [("-info", "+info"), ("-client|setname", "+client|setname")],
)
async def test_missing_connect_permission_is_named(
    admin: SessionStore, private_server: EmbeddedServer, denied: str, names: str
) -> None:
    """A user lacking a permission glide needs to connect is told which, not "timed out"."""
    await admin.client.custom_command(["ACL", "SETUSER", "weak", "on", ">pw", "~*", "+@all", denied])
    with pytest.raises(PermissionDeniedError, match=re.escape(names)):
        await create_client(f"valkey://weak:pw@127.0.0.1:{private_server.port}", deadline=1)


async def test_nothing_listening_is_retryable_unavailable() -> None:
    """A port nobody listens on gives a retryable ServerUnavailableError saying the connection was refused."""
    with EmbeddedServer() as server:
        port = server.port
    with pytest.raises(ServerUnavailableError, match="refused") as caught:
        await create_client(f"valkey://127.0.0.1:{port}", deadline=0.5)
    assert caught.value.retryable


async def test_standalone_client_on_cluster_node_is_refused() -> None:
    """Connecting a standalone client to a cluster node says to add ?cluster=true."""
    with EmbeddedServer(cluster=True) as server:
        with pytest.raises(ConfigurationError, match=r"\?cluster=true"):
            await create_client(f"valkey://127.0.0.1:{server.port}")
        with pytest.raises(ConfigurationError, match="cluster"):
            await SessionStore.connect(f"valkey://127.0.0.1:{server.port}")


async def test_cluster_client_on_standalone_server_is_refused(private_server: EmbeddedServer) -> None:
    """Connecting a cluster client to a standalone server says to drop ?cluster=true."""
    with pytest.raises(ConfigurationError, match="not in cluster mode"):
        await create_client(f"{private_server.url}?cluster=true", deadline=1)


async def test_wrong_type_on_read_is_corrupted_entry(admin: SessionStore) -> None:
    """A chat key holding a string makes reads raise CorruptedEntryError naming that key."""
    sid = (await admin.create_session("u1")).session_id
    chat = admin.schema.chat(sid)
    await admin.client.set(chat, "not a list")
    for read in (admin.get_messages(sid), admin.count_messages(sid), admin.get_message(sid, 0)):
        with pytest.raises(CorruptedEntryError) as caught:
            await read
        assert caught.value.key == chat and caught.value.session_id == sid


async def test_every_error_is_in_the_tree_and_says_if_retrying_helps() -> None:
    """Every public error class derives from GlideMemoryError and declares retryable as a bool."""
    import glide_memory

    classes = [
        value
        for value in vars(glide_memory).values()
        if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == "glide_memory.errors"
    ]
    assert len(classes) >= 20
    for cls in classes:
        assert issubclass(cls, GlideMemoryError), cls
        assert isinstance(cls.retryable, bool), cls
        assert cls.__doc__, cls
    assert ServerUnavailableError.retryable and not OutOfMemoryError.retryable
