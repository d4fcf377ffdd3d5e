"""Fixtures shared by the whole suite.

Integration tests reach one real server for the whole session: ``VALKEY_URL``
if set, else a testcontainers Valkey container when a Docker engine answers,
else the embedded server. Tests never FLUSHALL: each uses fresh ids, and
tests that look at the whole keyspace use a namespace of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from glide import GlideClient, GlideClusterClient

from glide_memory import EmbeddedServer, KeySchema, SessionStore, create_client
from glide_memory.keys import new_session_id

pytest_plugins = ["pytester"]


def _docker_answers() -> bool:
    if not os.environ.get("DOCKER_HOST") and not os.path.exists("/var/run/docker.sock"):
        return False
    try:
        import docker  # type: ignore[import-untyped]

        engine = docker.from_env(timeout=2)
    except Exception:
        return False
    try:
        return bool(engine.ping())
    except Exception:
        return False
    finally:
        engine.close()


@pytest.fixture(scope="session")
def valkey_url() -> Iterator[str]:
    """The URL of the server every integration test talks to."""
    url = os.environ.get("VALKEY_URL")
    if url:
        yield url
        return
    if _docker_answers():
        from testcontainers.core.container import DockerContainer

        image = os.environ.get("VALKEY_IMAGE", "valkey/valkey:9")
        with DockerContainer(image).with_exposed_ports(6379) as container:
            yield f"valkey://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}"
        return
    with EmbeddedServer() as server:
        yield server.url


@pytest.fixture(scope="session")
async def client(valkey_url: str) -> AsyncIterator[GlideClient | GlideClusterClient]:
    """One glide client for the session, owned by the fixture."""
    glide_client = await create_client(valkey_url, request_timeout_ms=5000)
    yield glide_client
    await glide_client.close()


@pytest.fixture
async def store(client: GlideClient | GlideClusterClient) -> AsyncIterator[SessionStore]:
    """A store over the shared client, with the cookbook's key names."""
    async with SessionStore(client) as session_store:
        yield session_store


@pytest.fixture
def namespace() -> str:
    """A key prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def ns_store(client: GlideClient | GlideClusterClient, namespace: str) -> AsyncIterator[SessionStore]:
    """A store whose keys live under a namespace of this test's own."""
    async with SessionStore(client, schema=KeySchema(namespace=namespace)) as session_store:
        yield session_store


@pytest.fixture
def user_id() -> str:
    """A user id no other test uses."""
    return f"user-{uuid.uuid4().hex}"


@pytest.fixture
def make_id() -> Callable[[], str]:
    """A factory of fresh session ids."""
    return new_session_id


def _server_children() -> list[int]:
    """Return the pids of server watchdogs (each parenting a server) this test process started and left running."""
    me = str(os.getpid())
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            command = (status.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if fields.get("PPid", "").strip() != me or fields.get("State", "").startswith("Z"):
            continue
        name = fields.get("Name", "").strip()
        if name in ("valkey-server", "redis-server") or any(part.endswith(b"_watchdog.py") for part in command):
            found.append(int(status.parent.name))
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any server process started by the tests outlived them."""
    if not Path("/proc").is_dir():
        return
    stray = _server_children()
    if stray:
        print(f"\nstray server processes left running: {stray}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
