"""Bad input raises from the error tree before anything is sent, and leaves the keyspace as it was."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from glide_memory import (
    GlideMemoryError,
    InvalidContentError,
    InvalidFieldError,
    InvalidIdError,
    InvalidInputError,
    InvalidTokensError,
    Message,
    Role,
    SessionStore,
)
from tests.support import Client, snapshot

Call = Callable[[SessionStore, str], Awaitable[object]]

BAD_CALLS: list[Any] = [
    pytest.param(lambda s, sid: s.touch(sid, ttl=10**17), InvalidInputError, id="touch-ttl-too-long"),
    pytest.param(lambda s, sid: s.touch(sid, ttl=0), InvalidInputError, id="touch-ttl-zero"),
    pytest.param(lambda s, sid: s.touch(sid, ttl=float("nan")), InvalidInputError, id="touch-ttl-nan"),
    pytest.param(lambda s, sid: s.create_session("u", ttl=10**17), InvalidInputError, id="create-ttl-too-long"),
    pytest.param(lambda s, sid: s.create_session("u", ttl=-1), InvalidInputError, id="create-ttl-negative"),
    pytest.param(lambda s, sid: s.create_session("u", model="\ud800"), InvalidFieldError, id="model-surrogate"),
    pytest.param(lambda s, sid: s.create_session("u", title="a\udfffb"), InvalidFieldError, id="title-surrogate"),
    pytest.param(
        lambda s, sid: s.create_session("u", metadata={"k": "\ud800"}), InvalidFieldError, id="metadata-surrogate"
    ),
    pytest.param(
        lambda s, sid: s.create_session("u", metadata={"\udc00": "v"}), InvalidFieldError, id="field-name-surrogate"
    ),
    pytest.param(lambda s, sid: s.create_session("u", metadata="ab"), InvalidFieldError, id="metadata-str"),
    pytest.param(lambda s, sid: s.create_session("u", metadata=[("a", "b")]), InvalidFieldError, id="metadata-list"),
    pytest.param(lambda s, sid: s.create_session("u", metadata={"k": 5}), InvalidFieldError, id="metadata-int"),
    pytest.param(lambda s, sid: s.create_session("u", metadata={"ttl": "5"}), InvalidFieldError, id="reserved"),
    pytest.param(lambda s, sid: s.create_session("u", exist_ok=1), InvalidInputError, id="exist-ok-int"),
    pytest.param(lambda s, sid: s.create_session("u\x00"), InvalidIdError, id="user-id-control"),
    pytest.param(lambda s, sid: s.update_session(sid, title="\ud800"), InvalidFieldError, id="update-surrogate"),
    pytest.param(lambda s, sid: s.update_session(sid, ttl="5"), InvalidFieldError, id="update-reserved"),
    pytest.param(lambda s, sid: s.update_session(sid, plan=3), InvalidFieldError, id="update-int"),
    pytest.param(lambda s, sid: s.add_message(sid, "user", "x", 2**63), InvalidTokensError, id="tokens-2-63"),
    pytest.param(lambda s, sid: s.add_message(sid, "user", "x", -1), InvalidTokensError, id="tokens-negative"),
    pytest.param(lambda s, sid: s.add_message(sid, "user", "\ud800"), InvalidContentError, id="content-surrogate"),
    pytest.param(lambda s, sid: s.add_message(sid, "user", "x", name="\ud800"), InvalidContentError, id="name"),
    pytest.param(lambda s, sid: s.add_message(sid, "user", "x", message_id=""), InvalidIdError, id="message-id"),
    pytest.param(lambda s, sid: s.add_message(sid, "user", "x", max_messages=0), InvalidInputError, id="window-0"),
    pytest.param(
        lambda s, sid: s.add_message(sid, "user", "x", max_messages=2**60), InvalidInputError, id="window-huge"
    ),
    pytest.param(
        lambda s, sid: s.add_messages(sid, [Message(role=Role.USER, content="x", timestamp=10**400)]),
        InvalidContentError,
        id="timestamp-huge-int",
    ),
    pytest.param(
        lambda s, sid: s.add_messages(sid, [Message(role=Role.USER, content="x", timestamp=float("inf"))]),
        InvalidContentError,
        id="timestamp-inf",
    ),
    pytest.param(
        lambda s, sid: s.add_messages(sid, [Message(role=Role.USER, content="a", id="1")] * 2),
        InvalidInputError,
        id="one-id-twice",
    ),
    pytest.param(lambda s, sid: s.add_messages(sid, ["hello"]), InvalidInputError, id="not-a-message"),
    pytest.param(lambda s, sid: s.get_messages(sid, last=2**70), InvalidInputError, id="last-huge"),
    pytest.param(lambda s, sid: s.get_messages(sid, last=-1), InvalidInputError, id="last-negative"),
    pytest.param(lambda s, sid: s.get_message(sid, 2**70), InvalidInputError, id="index-huge"),
    pytest.param(lambda s, sid: s.get_window(sid, max_tokens=2**64), InvalidInputError, id="budget-huge"),
    pytest.param(lambda s, sid: s.get_window(sid, max_tokens=5, last=0), InvalidInputError, id="window-last-0"),
    pytest.param(lambda s, sid: s.reindex_user_sessions(count=0), InvalidInputError, id="reindex-count"),
]


@pytest.mark.parametrize(("call", "error"), BAD_CALLS)
async def test_bad_input_raises_in_the_tree_and_changes_nothing(
    ns_store: SessionStore, client: Client, namespace: str, call: Call, error: type[GlideMemoryError]
) -> None:
    """Each bad argument raises its InvalidInputError subclass and the keyspace stays exactly as it was."""
    sid = (await ns_store.create_session("u", title="t")).session_id
    await ns_store.add_message(sid, "user", "hello", 2)
    pending = len(getattr(client, "_pending_futures", {}))
    before = await snapshot(client, f"{namespace}*")
    with pytest.raises(error) as caught:
        await call(ns_store, sid)
    assert isinstance(caught.value, InvalidInputError) and isinstance(caught.value, ValueError)
    assert not caught.value.retryable
    assert await snapshot(client, f"{namespace}*") == before
    assert len(getattr(client, "_pending_futures", {})) == pending  # nothing half-sent to glide
    await ns_store.add_message(sid, "user", "still works", 1)


async def test_thousands_of_metadata_fields_are_stored(ns_store: SessionStore) -> None:
    """Metadata with 5,000 fields goes through create and update (the server-side unpack is chunked)."""
    fields = {f"f{n}": str(n) for n in range(5000)}
    sid = (await ns_store.create_session("u", metadata=fields)).session_id
    assert (await ns_store.get_session_info(sid)).metadata == fields
    changes: dict[str, Any] = {f"f{n}": None for n in range(4000)} | {f"g{n}": "x" for n in range(4000)}
    await ns_store.update_session(sid, **changes)
    info = await ns_store.get_session_info(sid)
    assert len(info.metadata) == 5000 and info.metadata["f4999"] == "4999" and info.metadata["g3999"] == "x"


async def test_store_settings_are_checked_at_construction(client: Client) -> None:
    """Store-wide settings out of range raise InvalidInputError when the store is built."""
    for bad in ({"ttl": 10**17}, {"ttl": 0}, {"max_in_flight": 1001}, {"max_messages": 0}):
        with pytest.raises(InvalidInputError):
            SessionStore(client, **bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        SessionStore("not a client")  # type: ignore[arg-type]
