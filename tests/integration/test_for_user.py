"""A store scoped to one user: every public call refuses another user's session (or an ownerless one), atomically.

The methods are found by introspection, so a public coroutine added to
SessionStore later is covered without editing this file; if it takes an
argument this file cannot make, the test says so and fails.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from glide_memory import Message, PermissionDeniedError, Role, SessionStore
from tests.support import Client, snapshot

NOT_SESSION_CALLS = {"close", "flush_embeddings"}
"""Public coroutines that act on no session: a view's close does nothing (tested below); flush_embeddings
waits for the store's own deferred work and reads nothing."""


def _public_coroutines() -> list[str]:
    names = []
    for name, member in inspect.getmembers(SessionStore):
        static = inspect.getattr_static(SessionStore, name)
        if name.startswith("_") or name in NOT_SESSION_CALLS or isinstance(static, classmethod):
            continue
        if inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member):
            names.append(name)
    return sorted(names)


METHODS = _public_coroutines()


@dataclass
class Victim:
    """Another user's session (or a session nobody owns), and what a call on it needs."""

    session_id: str
    owner: str | None
    export: list[bytes]


async def _summarizer(previous: Message | None, messages: list[Message]) -> str:
    return "stolen summary"


def _arguments(victim: Victim) -> dict[str, Callable[[], Any]]:
    """How to make each parameter of a public method, aimed at the victim."""
    owner = victim.owner or "alice"
    return {
        "session_id": lambda: victim.session_id,
        "user_id": lambda: owner,
        "role": lambda: "user",
        "content": lambda: "intrusion",
        "tokens_used": lambda: 1,
        "message_id": lambda: "m1",
        "message": lambda: Message(role=Role.USER, content="edited", id="m1"),
        "messages": lambda: [Message(role=Role.USER, content="x")],
        "message_ids": lambda: ["m1"],
        "count": lambda: 1,
        "index": lambda: 0,
        "start": lambda: 0,
        "stop": lambda: 5,
        "kind": lambda: "integration",
        "name": lambda: "state",
        "names": lambda: ["state"],
        "value": lambda: "stolen",
        "values": lambda: {"state": "stolen"},
        "summarizer": lambda: _summarizer,
        "query": lambda: "what did alice say?",
        "keep_last": lambda: 0,
        "lines": lambda: list(victim.export),
        "replace": lambda: True,
        "command": lambda: lambda client: client.delete([f"meta:{victim.session_id}"]),
        "fill": lambda: lambda batch: batch.delete([f"meta:{victim.session_id}"]),
    }


def _call(store: SessionStore, name: str, victim: Victim) -> Any:
    """Call ``store.<name>`` with every required argument made, and ``keep_last``, ``replace`` and ``session_id``."""
    method = getattr(store, name)
    made = _arguments(victim)
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for parameter in inspect.signature(method).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            keywords["title"] = "mine now"  # update_session(**fields)
            continue
        if parameter.default is not inspect.Parameter.empty and parameter.name not in (
            "keep_last",
            "replace",
            "session_id",
        ):
            continue
        if parameter.name not in made:
            pytest.fail(f"SessionStore.{name} takes {parameter.name!r}: teach test_for_user how to make one")
        value = made[parameter.name]()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            keywords[parameter.name] = value
        else:
            positional.append(value)
    return method(*positional, **keywords)


async def _run(call: Any) -> None:
    if isinstance(call, AsyncIterator):
        async for _ in call:
            pass
    else:
        await call


@pytest.fixture(params=["another user's", "nobody's"])
async def victim(request: pytest.FixtureRequest, ns_store: SessionStore) -> Victim:
    """A session of alice's, or one nobody owns, holding a message, a record and a summary."""
    owner = "alice" if request.param == "another user's" else None
    sid = (await ns_store.create_session(owner, title="private")).session_id
    await ns_store.add_message(sid, "user", "secret", 3, message_id="m1")
    await ns_store.add_message(sid, "assistant", "reply", 3, message_id="m2")
    await ns_store.put_record(sid, "integration", "state", "x")

    async def summarize(previous: Message | None, messages: list[Message]) -> str:
        return "alice's summary"

    await ns_store.summarize(sid, summarize, keep_last=1)
    export = [line async for line in ns_store.export_session(sid)]
    return Victim(sid, owner, export)


def test_every_public_coroutine_is_covered() -> None:
    """The introspection finds the store's public coroutines, session reads and writes among them."""
    assert {"get_message_by_id", "get_summary", "get_context", "pin_message", "export_session", "import_sessions",
            "add_message", "delete_session", "call", "pipeline"} <= set(METHODS)  # fmt: skip


@pytest.mark.parametrize("name", METHODS)
async def test_a_view_refuses_what_is_not_its_users(
    ns_store: SessionStore, client: Client, namespace: str, victim: Victim, name: str
) -> None:
    """Each public coroutine of bob's view raises PermissionDeniedError on the session and changes nothing."""
    before = await snapshot(client, f"{namespace}*")
    bob = ns_store.for_user("bob")
    with pytest.raises(PermissionDeniedError) as caught:
        await _run(_call(bob, name, victim))
    assert not caught.value.retryable
    assert "secret" not in str(caught.value) and "summary" not in str(caught.value)
    assert await snapshot(client, f"{namespace}*") == before


async def test_import_through_a_view_writes_only_its_users_sessions(ns_store: SessionStore, client: Client) -> None:
    """A view imports its own user's exported sessions, and refuses one of another user before writing it."""
    mine = (await ns_store.create_session("bob")).session_id
    await ns_store.add_message(mine, "user", "hello", 1)
    theirs = (await ns_store.create_session("alice")).session_id
    lines = [line for sid in (mine, theirs) for line in [x async for x in ns_store.export_session(sid)]]
    await ns_store.delete_session(mine)
    await ns_store.delete_session(theirs)
    bob = ns_store.for_user("bob")
    with pytest.raises(PermissionDeniedError):
        await bob.import_sessions(lines)
    assert [m.content for m in await bob.get_messages(mine)] == ["hello"]
    assert not await ns_store.exists(theirs)


async def test_a_users_view_works_on_their_own_sessions(ns_store: SessionStore) -> None:
    """The owner's view creates, writes, reads, lists and deletes their sessions as the store does."""
    alice = ns_store.for_user("alice")
    sid = (await alice.create_session(None, title="mine")).session_id
    assert (await ns_store.get_session_info(sid)).user_id == "alice"
    await alice.add_message(sid, "user", "hello", 2, message_id="m1")
    await alice.touch(sid)
    assert [m.content for m in await alice.get_messages(sid)] == ["hello"]
    assert [m.content for m in await alice.get_window(sid, max_tokens=10)] == ["hello"]
    assert (await alice.get_message_by_id(sid, "m1")) is not None
    assert await alice.pin_message(sid, "m1")
    assert await alice.count_messages(sid) == 1 and await alice.exists(sid)
    assert not await alice.exists("no-such-session")
    assert [s.session_id for s in await alice.list_user_sessions("alice")] == [sid]
    assert [line async for line in alice.export_session(sid)]
    assert await alice.delete_session(sid)
    await alice.close()  # a view's close leaves the store open
    assert not ns_store.closed and alice.user_id == "alice" and ns_store.user_id is None
