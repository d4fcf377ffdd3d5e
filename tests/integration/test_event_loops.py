"""Calls glide could never answer on this event loop raise EventLoopError at once instead of hanging.

glide 2.6 reads every reply of a process through the first event loop that
used glide (valkey-glide #7122) and binds each client to the loop that
created it. The scenarios run in fresh Python processes, so each starts
with glide's process-wide reader unclaimed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from glide_memory import EventLoopError, SessionStore

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, url: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter against the server at ``url``."""
    env = {**os.environ, "VALKEY_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


async def test_second_loop_while_the_first_is_idle(valkey_url: str) -> None:
    """A store on a second loop while glide's first loop is open but idle raises EventLoopError, never hangs."""
    code = """
        import asyncio, time
        from glide_memory import EventLoopError, SessionStore

        async def first():
            store = await SessionStore.connect()
            await store.create_session("u")
            await store.close()

        async def second():
            store = await SessionStore.connect()
            try:
                await store.create_session("u")
            finally:
                await store.close()

        idle = asyncio.new_event_loop()
        idle.run_until_complete(first())  # glide's reader now lives on `idle`, which stays open
        started = time.monotonic()
        try:
            asyncio.run(second())
        except EventLoopError as exc:
            print("raised after", round(time.monotonic() - started, 1), "s:", exc)
    """
    result = await asyncio.to_thread(run_python, code, valkey_url)
    assert "raised after" in result.stdout, result.stdout + result.stderr
    assert "valkey-glide #7122" in result.stdout and "not running" in result.stdout


async def test_store_kept_across_two_asyncio_runs(valkey_url: str) -> None:
    """A store created in one asyncio.run() and used in the next raises EventLoopError naming the cause."""
    code = """
        import asyncio
        from glide_memory import EventLoopError, SessionStore

        async def make():
            return await SessionStore.connect()

        store = asyncio.run(make())

        async def use():
            try:
                await store.create_session("u")
            except EventLoopError as exc:
                print("raised:", exc)

        asyncio.run(use())
    """
    result = await asyncio.to_thread(run_python, code, valkey_url)
    assert "raised:" in result.stdout, result.stdout + result.stderr
    assert "another event loop" in result.stdout


async def test_a_new_store_per_asyncio_run_works(valkey_url: str) -> None:
    """Sequential asyncio.run() calls, each with its own store, all work: a closed first loop hands glide over."""
    code = """
        import asyncio
        from glide_memory import SessionStore

        async def turn(n):
            async with await SessionStore.connect() as store:
                info = await store.create_session("u")
                await store.add_message(info.session_id, "user", f"turn {n}")
                return len(await store.get_messages(info.session_id))

        print("stored", [asyncio.run(turn(n)) for n in range(3)])
    """
    result = await asyncio.to_thread(run_python, code, valkey_url)
    assert "stored [1, 1, 1]" in result.stdout, result.stdout + result.stderr


async def test_store_used_from_a_thread_with_its_own_loop(store: SessionStore, user_id: str) -> None:
    """Using a store from another thread's loop raises EventLoopError; handing the call to its loop works."""
    sid = (await store.create_session(user_id)).session_id
    own_loop = asyncio.get_running_loop()

    def elsewhere() -> str:
        try:
            asyncio.run(store.add_message(sid, "user", "from a thread"))
        except EventLoopError as exc:
            handed = asyncio.run_coroutine_threadsafe(store.add_message(sid, "user", "handed over"), own_loop)
            handed.result(timeout=30)
            return str(exc)
        return "no error"

    message = await asyncio.to_thread(elsewhere)
    assert "another event loop" in message
    assert [m.content for m in await store.get_messages(sid)] == ["handed over"]


async def test_closed_store_refuses_calls(valkey_url: str, user_id: str) -> None:
    """Any call after close() raises StoreClosedError without sending anything."""
    from glide_memory import StoreClosedError

    store = await SessionStore.connect(valkey_url)
    await store.close()
    sent = store.requests_sent
    with pytest.raises(StoreClosedError):
        await store.create_session(user_id)
    assert store.requests_sent == sent  # refused before anything was sent


PLUGIN_TEST = """
pytest_plugins = ["glide_memory.pytest_plugin"]


async def test_one(glide_memory_store):
    info = await glide_memory_store.create_session("alice")
    await glide_memory_store.add_message(info.session_id, "user", "hi", 2)
    assert (await glide_memory_store.get_session_info(info.session_id)).token_count == 2


async def test_two_is_isolated(glide_memory_store):
    assert await glide_memory_store.list_user_sessions("alice") == []
"""

RECOMMENDED_CONFIG = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
"""


@pytest.mark.parametrize("use_url", [True, False], ids=["VALKEY_URL", "embedded"])
async def test_pytest_plugin_with_the_recommended_config(
    pytester: pytest.Pytester, valkey_url: str, use_url: bool
) -> None:
    """The README's pytest configuration and the shipped fixtures make a user's async tests pass."""
    pytester.makepyfile(test_app=PLUGIN_TEST)
    pytester.makeini(RECOMMENDED_CONFIG)
    env = os.environ.copy()
    if use_url:
        env["VALKEY_URL"] = valkey_url
    else:
        env.pop("VALKEY_URL", None)
    result = await asyncio.to_thread(_run_pytester, pytester, env)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2)


def _run_pytester(pytester: pytest.Pytester, env: dict[str, str]) -> pytest.RunResult:
    old = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)
    try:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", timeout=120)
    finally:
        os.environ.clear()
        os.environ.update(old)
