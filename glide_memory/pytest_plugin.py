"""pytest fixtures for testing an app that uses glide-memory: a real server and a fresh store per test.

Enable them in your ``conftest.py``::

    pytest_plugins = ["glide_memory.pytest_plugin"]

and run every test and async fixture on ONE event loop: glide reads every
reply of the process through the first event loop that used it
(valkey-glide #7122), so a second loop would wait forever (glide-memory
raises :class:`~glide_memory.EventLoopError` instead). With pytest-asyncio::

    [tool.pytest.ini_options]
    asyncio_mode = "auto"
    asyncio_default_fixture_loop_scope = "session"
    asyncio_default_test_loop_scope = "session"

Fixtures:

- ``glide_memory_url`` (session): ``VALKEY_URL`` if set, else an embedded
  server started for the session and stopped at its end.
- ``glide_memory_store``: a :class:`~glide_memory.SessionStore` on that
  server whose keys live under a namespace of the test's own, so tests can
  share one server and run in any order; closed after the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from glide_memory import EmbeddedServer, SessionStore
from glide_memory.errors import MissingDependencyError
from glide_memory.keys import KeySchema

try:
    import pytest_asyncio
except ImportError as exc:  # pragma: no cover - exercised only without pytest-asyncio
    raise MissingDependencyError("glide_memory.pytest_plugin needs pytest-asyncio: pip install pytest-asyncio") from exc


@pytest.fixture(scope="session")
def glide_memory_url() -> Iterator[str]:
    """The URL of the server the tests use: ``VALKEY_URL``, else an embedded one for the session."""
    url = os.environ.get("VALKEY_URL")
    if url:
        yield url
        return
    with EmbeddedServer() as server:
        yield server.url


@pytest_asyncio.fixture(loop_scope="session")
async def glide_memory_store(glide_memory_url: str) -> AsyncIterator[SessionStore]:
    """A store whose keys live under a namespace no other test uses."""
    schema = KeySchema(namespace=f"test-{uuid.uuid4().hex[:12]}:")
    async with await SessionStore.connect(glide_memory_url, schema=schema) as store:
        yield store
