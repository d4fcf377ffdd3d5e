"""A stateful model of SessionStore, checked step by step against the real server.

Hypothesis drives random sequences of create, append, read, window, touch and
delete calls; after every step the stored messages, counters and user index
must equal an in-memory model. Hypothesis drives the machine synchronously
from a worker thread; each store call is handed to the test's event loop,
which glide needs running because one process-wide pipe, read by that loop,
carries every client's replies. Each run uses a namespace of its own so it can
share the server with other tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from glide import GlideClient, GlideClusterClient
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from glide_memory import KeySchema, Message, Role, SessionExistsError, SessionNotFoundError, SessionStore, create_client
from glide_memory._codec import tool_kind
from glide_memory._validate import UNSET, Unset
from glide_memory.models import Content

T = TypeVar("T")
USERS = 3
TTL_SECONDS = 3600  # long enough that nothing expires during a run
CALL_TIMEOUT_SECONDS = 30  # a hung call fails the run instead of stalling it

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
blocks = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "tool_use", "tool_result"]), "text": text},
        optional={"n": st.integers(-(2**31), 2**31), "ok": st.booleans(), "items": st.lists(text, max_size=3)},
    ),
    min_size=1,
    max_size=3,
)
contents: st.SearchStrategy[Content] = text | blocks
tokens = st.integers(min_value=0, max_value=50)
ttls = st.none() | st.integers(min_value=600, max_value=TTL_SECONDS)


@dataclass
class ModelSession:
    """What the store should hold for one session."""

    user: str
    ttl: int | None
    messages: list[tuple[Role, Content, int]] = field(default_factory=list)
    message_count: int = 0
    token_count: int = 0


Entry = tuple[Role, Content, int]


def pinned(entry: Entry) -> bool:
    """System messages are pinned when stored (the store's default)."""
    return entry[0] is Role.SYSTEM


def is_result(entry: Entry) -> bool:
    """Whether an entry carries tool results, as the codec tells."""
    return tool_kind(Message(role=entry[0], content=entry[1])) in ("result", "both")


def trim(messages: list[Entry], keep: int) -> list[Entry]:
    """Keep the newest ``keep`` unpinned entries; pinned ones stay (in front); no orphan result opens the rest."""
    excess = sum(1 for entry in messages if not pinned(entry)) - keep
    if excess <= 0:
        return messages
    front: list[Entry] = []
    dropped = position = 0
    for entry in messages:
        if pinned(entry):
            front.append(entry)
        elif dropped < excess or is_result(entry):
            dropped += 1
        else:
            break
        position += 1
    return front + messages[position:]


def window(messages: list[Entry], max_tokens: int, last: int | None) -> list[Entry]:
    """The pinned entries, then the newest that fit what is left, with no orphan result first."""
    pins = [entry for entry in messages if pinned(entry)]
    used = sum(entry[2] for entry in pins)
    taken: list[Entry] = []
    for entry in reversed([entry for entry in messages if not pinned(entry)]):
        if (last is not None and len(taken) >= last) or used + entry[2] > max_tokens:
            break
        used += entry[2]
        taken.append(entry)
    newest = taken[::-1]
    while newest and is_result(newest[0]):
        newest.pop(0)
    return pins + newest


class StoreMachine(RuleBasedStateMachine):
    """Random store operations, each checked against an in-memory model."""

    # Set by the test before the machine runs: the test's loop and a client on it.
    loop: asyncio.AbstractEventLoop
    client: GlideClient | GlideClusterClient

    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        namespace = f"sm{uuid.uuid4().hex[:12]}:"
        self.store = SessionStore(self.client, schema=KeySchema(namespace=namespace))
        self.users = [f"user-{n}" for n in range(USERS)]
        self.live: dict[str, ModelSession] = {}
        self.deleted: set[str] = set()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run one store call on the test's loop and wait for its result."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout=CALL_TIMEOUT_SECONDS)
        except TimeoutError:
            future.cancel()
            raise

    def expect_missing(self, coroutine: Coroutine[Any, Any, object]) -> None:
        """Run a call that must fail because the session does not exist."""
        with pytest.raises(SessionNotFoundError):
            self.run(coroutine)

    def owned(self, user: str) -> set[str]:
        """The ids the model says belong to ``user``."""
        return {sid for sid, session in self.live.items() if session.user == user}

    def stored(self, sid: str) -> list[tuple[Role, Content, int]]:
        """The session's messages as the store returns them, as model tuples."""
        return [(m.role, m.content, m.tokens) for m in self.run(self.store.get_messages(sid))]

    # -- rules -------------------------------------------------------------

    @initialize(target=sessions, user=st.integers(0, USERS - 1), ttl=ttls)
    def first_session(self, user: int, ttl: int | None) -> str:
        """Start every run with one session, so the other rules have one to act on."""
        return self.new_session(user, ttl)

    @rule(target=sessions, user=st.integers(0, USERS - 1), ttl=ttls)
    def create_session(self, user: int, ttl: int | None) -> str:
        """Create a session with a store-chosen id for one of a few users."""
        return self.new_session(user, ttl)

    def new_session(self, user: int, ttl: int | None) -> str:
        """Create a session for user number ``user`` and add it to the model."""
        owner = self.users[user]
        info = self.run(self.store.create_session(owner, ttl=ttl))
        assert info.user_id == owner
        assert info.ttl == ttl
        assert info.session_id not in self.live
        assert info.session_id not in self.deleted
        self.live[info.session_id] = ModelSession(user=owner, ttl=ttl)
        return info.session_id

    @rule(sid=sessions, user=st.integers(0, USERS - 1), ttl=ttls)
    def create_with_known_id(self, sid: str, user: int, ttl: int | None) -> None:
        """Creating a live id fails with SessionExistsError; a deleted id starts afresh."""
        owner = self.users[user]
        if sid in self.live:
            with pytest.raises(SessionExistsError):
                self.run(self.store.create_session(owner, session_id=sid, ttl=ttl))
            return
        info = self.run(self.store.create_session(owner, session_id=sid, ttl=ttl))
        assert info.session_id == sid
        self.deleted.discard(sid)
        self.live[sid] = ModelSession(user=owner, ttl=ttl)

    @rule(
        sid=sessions,
        role=st.sampled_from(Role),
        content=contents,
        used=tokens,
        max_messages=st.none() | st.integers(1, 6),
    )
    def add_message(self, sid: str, role: Role, content: Content, used: int, max_messages: int | None) -> None:
        """Append a message, trimming to max_messages when given; a missing session refuses it."""
        call = self.store.add_message(sid, role, content, used, max_messages=max_messages)
        session = self.live.get(sid)
        if session is None:
            self.expect_missing(call)
            return
        message = self.run(call)
        assert (message.role, message.content, message.tokens) == (role, content, used)
        session.messages.append((role, content, used))
        if max_messages is not None:
            session.messages = trim(session.messages, max_messages)
        session.message_count += 1
        session.token_count += used

    @rule(sid=sessions, last=st.none() | st.integers(0, 8))
    def get_messages(self, sid: str, last: int | None) -> None:
        """Read all messages, or the newest ``last``, oldest first."""
        call = self.store.get_messages(sid, last=last)
        session = self.live.get(sid)
        if session is None:
            self.expect_missing(call)
            return
        got = [(m.role, m.content, m.tokens) for m in self.run(call)]
        if last is None:
            assert got == session.messages
        elif last == 0:
            assert got == []
        else:
            assert got == session.messages[-last:]

    @rule(sid=sessions, max_tokens=st.integers(0, 100), last=st.none() | st.integers(1, 8))
    def get_window(self, sid: str, max_tokens: int, last: int | None) -> None:
        """Read the newest contiguous messages that fit a token budget."""
        call = self.store.get_window(sid, max_tokens=max_tokens, last=last)
        session = self.live.get(sid)
        if session is None:
            self.expect_missing(call)
            return
        got = [(m.role, m.content, m.tokens) for m in self.run(call)]
        assert got == window(session.messages, max_tokens, last)

    @rule(sid=sessions, ttl=st.just(UNSET) | ttls)
    def touch(self, sid: str, ttl: int | Unset | None) -> None:
        """Touch a session: keep its TTL, give it a new one, or (None) make it never expire."""
        call = self.store.touch(sid, ttl)
        session = self.live.get(sid)
        if session is None:
            self.expect_missing(call)
            return
        self.run(call)
        if not isinstance(ttl, Unset):
            session.ttl = ttl

    @rule(sid=sessions)
    def delete_session(self, sid: str) -> None:
        """Delete a session: True while it exists, False once it is gone."""
        deleted = self.run(self.store.delete_session(sid))
        assert deleted is (sid in self.live)
        self.live.pop(sid, None)
        self.deleted.add(sid)

    @rule(sid=sessions)
    def session_info(self, sid: str) -> None:
        """Read a session's metadata; a missing session raises SessionNotFoundError."""
        call = self.store.get_session_info(sid)
        if sid in self.live:
            assert self.run(call).session_id == sid
        else:
            self.expect_missing(call)

    @rule(unknown=st.uuids().map(lambda value: value.hex))
    def unknown_session(self, unknown: str) -> None:
        """Every operation on an id never created fails with SessionNotFoundError, and delete is a no-op."""
        assume(unknown not in self.live and unknown not in self.deleted)
        self.expect_missing(self.store.add_message(unknown, "user", "hello", 1))
        self.expect_missing(self.store.get_messages(unknown))
        self.expect_missing(self.store.get_window(unknown, max_tokens=10))
        self.expect_missing(self.store.touch(unknown))
        self.expect_missing(self.store.get_session_info(unknown))
        assert self.run(self.store.delete_session(unknown)) is False
        assert self.run(self.store.exists(unknown)) is False

    # -- checks ------------------------------------------------------------

    @invariant()
    def live_sessions_match_the_model(self) -> None:
        """Each live session's messages and counters equal the model's."""
        for sid, session in self.live.items():
            assert self.stored(sid) == session.messages
            for last in (1, 2):
                newest = self.run(self.store.get_messages(sid, last=last))
                assert [(m.role, m.content, m.tokens) for m in newest] == session.messages[-last:]
            info = self.run(self.store.get_session_info(sid))
            assert info.user_id == session.user
            assert info.message_count == session.message_count
            assert info.token_count == session.token_count
            assert info.messages_stored == len(session.messages)
            assert info.ttl == session.ttl
            if session.ttl is None:
                assert info.expires_in_seconds is None
            else:
                assert info.expires_in_seconds is not None
                assert 0 < info.expires_in_seconds <= session.ttl

    @invariant()
    def windows_match_the_model(self) -> None:
        """Token windows at budgets around each live session's total equal the model's."""
        for sid, session in self.live.items():
            total = sum(entry[2] for entry in session.messages)
            for max_tokens in sorted({0, total // 2, max(total - 1, 0), total}):
                for last in (None, 2):
                    got = self.run(self.store.get_window(sid, max_tokens=max_tokens, last=last))
                    expected = window(session.messages, max_tokens, last)
                    assert [(m.role, m.content, m.tokens) for m in got] == expected

    @invariant()
    def user_index_matches_the_model(self) -> None:
        """Each user's listed sessions are exactly the live sessions the model gives them."""
        for user in self.users:
            listed = self.run(self.store.list_user_sessions(user))
            assert {info.session_id for info in listed} == self.owned(user)
            assert len(listed) == len(self.owned(user))

    @invariant()
    def deleted_sessions_leave_no_keys(self) -> None:
        """A deleted session's chat and meta keys are gone from the server."""
        if not self.deleted:
            return
        keys = [key for sid in self.deleted for key in self.store.schema.session_keys(sid)]
        assert self.run(self.client.exists(keys)) == 0

    def teardown(self) -> None:
        """Delete what the run created, so the shared server is left clean."""
        for sid in list(self.live):
            assert self.run(self.store.delete_session(sid)) is True
        for user in self.users:
            assert self.run(self.client.exists([self.store.schema.user_sessions(user)])) == 0
        self.run(self.store.close())


async def test_store_matches_model(valkey_url: str) -> None:
    """Any sequence of store operations leaves messages, counters and the user index equal to a simple model."""
    client = await create_client(valkey_url, request_timeout_ms=5000)
    try:
        StoreMachine.loop = asyncio.get_running_loop()
        StoreMachine.client = client
        machine_settings = settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        # Hypothesis drives the machine synchronously, so it runs in a worker
        # thread while this loop stays free to carry out the store calls.
        await asyncio.to_thread(run_state_machine_as_test, StoreMachine, settings=machine_settings)
    finally:
        await client.close()
