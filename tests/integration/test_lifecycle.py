"""Store ownership, closing, the ResourceWarning, and server failures."""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Callable

import pytest
from glide import ClosingError, GlideError

from glide_memory import (
    EmbeddedServer,
    RetryPolicy,
    ServerError,
    ServerTimeoutError,
    ServerUnavailableError,
    SessionStore,
    StoreClosedError,
    create_client,
)
from tests.support import Client, alive


async def test_store_over_callers_client_leaves_it_open(client: Client, user_id: str) -> None:
    """Closing a store built on a passed-in client does not close that client."""
    store = SessionStore(client)
    await store.create_session(user_id)
    await store.close()
    await store.close()
    assert store.closed
    assert await client.ping() == b"PONG"


async def test_use_after_close_raises(client: Client, user_id: str) -> None:
    """Every call on a closed store raises StoreClosedError."""
    async with SessionStore(client) as store:
        sid = (await store.create_session(user_id)).session_id
    with pytest.raises(StoreClosedError):
        await store.add_message(sid, "user", "late")
    with pytest.raises(StoreClosedError):
        await store.get_messages(sid)
    with pytest.raises(StoreClosedError):
        await store.create_session(user_id)


async def test_connect_owns_and_closes_its_client(valkey_url: str, user_id: str) -> None:
    """A store from connect() closes the client it created."""
    async with await SessionStore.connect(valkey_url) as store:
        info = await store.create_session(user_id)
        assert await store.exists(info.session_id)
        own_client = store.client
    with pytest.raises(ClosingError):
        await own_client.ping()


async def test_connect_reads_valkey_url(valkey_url: str, monkeypatch: pytest.MonkeyPatch, user_id: str) -> None:
    """connect() with no URL uses VALKEY_URL when it is set."""
    monkeypatch.setenv("VALKEY_URL", valkey_url)
    async with await SessionStore.connect() as store:
        assert store.embedded_server is None
        assert await store.create_session(user_id)


async def test_connect_without_url_starts_and_stops_embedded(monkeypatch: pytest.MonkeyPatch, user_id: str) -> None:
    """connect() with no URL at all starts a private server and stops it on close."""
    monkeypatch.delenv("VALKEY_URL", raising=False)
    async with await SessionStore.connect(ttl=60) as store:
        server = store.embedded_server
        assert server is not None and server.running
        pid = server.pid
        sid = (await store.create_session(user_id)).session_id
        await store.add_message(sid, "user", "hi")
    assert not server.running
    assert pid is not None and not alive(pid)


async def test_unclosed_store_warns_and_stops_its_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connect() store that is never closed warns with ResourceWarning and stops its server."""
    monkeypatch.delenv("VALKEY_URL", raising=False)
    store = await SessionStore.connect()
    server, own_client = store.embedded_server, store.client
    assert server is not None
    pid = server.pid
    with pytest.warns(ResourceWarning, match="unclosed"):
        del store
        gc.collect()
    await own_client.close()
    assert pid is not None and not alive(pid)


async def test_unreachable_server_raises_unavailable() -> None:
    """Connecting to a port nobody listens on raises ServerUnavailableError."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ServerUnavailableError) as caught:
        await SessionStore.connect(f"valkey://127.0.0.1:{port}", request_timeout_ms=200)
    assert isinstance(caught.value.__cause__, GlideError)


async def test_server_gone_mid_session_raises_server_error(user_id: str) -> None:
    """When the server dies, calls raise a ServerError subclass carrying the session id."""
    with EmbeddedServer() as server:
        store = SessionStore(await create_client(server.url, request_timeout_ms=300))
        sid = (await store.create_session(user_id)).session_id
        server.stop()
        with pytest.raises(ServerError) as caught:
            await store.add_message(sid, "user", "anyone there?")
        assert isinstance(caught.value, ServerUnavailableError | ServerTimeoutError)
        assert caught.value.session_id == sid
        assert isinstance(caught.value.__cause__, GlideError)
        await store.client.close()


async def test_slow_server_raises_timeout_without_retries(client: Client, valkey_url: str, user_id: str) -> None:
    """With retries off, a request that outlives the timeout raises a retryable ServerTimeoutError."""
    impatient = SessionStore(await create_client(valkey_url, request_timeout_ms=50), retry=RetryPolicy.disabled())
    sid = (await impatient.create_session(user_id)).session_id
    await client.custom_command(["CLIENT", "PAUSE", "400", "WRITE"])
    try:
        with pytest.raises(ServerTimeoutError) as caught:
            await impatient.add_message(sid, "user", "hello?", message_id="m1")
        assert caught.value.session_id == sid and caught.value.retryable
        assert caught.value.message_ids == ("m1",)
    finally:
        await client.custom_command(["CLIENT", "UNPAUSE"])
        await asyncio.sleep(0.1)
        await impatient.client.close()


async def test_slow_server_is_retried_and_applied_once(client: Client, valkey_url: str, user_id: str) -> None:
    """With the default retries, timeouts during a pause end in one success and one stored message."""
    impatient = SessionStore(await create_client(valkey_url, request_timeout_ms=50))
    sid = (await impatient.create_session(user_id)).session_id
    await client.custom_command(["CLIENT", "PAUSE", "400", "WRITE"])
    try:
        await impatient.add_message(sid, "user", "hello?", 3)
        info = await impatient.get_session_info(sid)
        assert (info.message_count, info.token_count, info.messages_stored) == (1, 3, 1)
    finally:
        await client.custom_command(["CLIENT", "UNPAUSE"])
        await impatient.client.close()


async def test_store_rejects_bad_settings(client: Client) -> None:
    """Store-wide settings are validated when the store is built."""
    from glide_memory import InvalidInputError

    for bad in ({"ttl": -5}, {"ttl": float("inf")}, {"max_in_flight": 0}, {"max_messages": "3"}):
        with pytest.raises(InvalidInputError):
            SessionStore(client, **bad)


async def test_history_rejects_bad_id(store: SessionStore, make_id: Callable[[], str]) -> None:
    """store.history() validates the session id at once."""
    from glide_memory import InvalidIdError

    with pytest.raises(InvalidIdError):
        store.history("")
    assert store.history(make_id()).session_id
