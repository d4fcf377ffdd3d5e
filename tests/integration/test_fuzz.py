"""Fuzzing the public API: every failure is a GlideMemoryError, and a call that raises changes nothing."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glide_memory import GlideMemoryError, KeySchema, Message, Role, SessionStore, create_client
from tests.support import keys_matching, snapshot

# Values of every kind the API might be handed by mistake, mixed with good ones.
junk: st.SearchStrategy[Any] = st.sampled_from(
    [None, 0, -1, 1.5, math.nan, math.inf, 2**63, 2**70, -(2**70), True, b"bytes", "", "\x00", "\ud800", [], {}, ("a",)]
)
texts = st.text(max_size=12) | st.sampled_from(["a\ud800b", "x" * 300, "{brace}", "plain"])
ids = st.sampled_from(["live-0", "live-1", "missing"]) | texts | junk
roles = st.sampled_from(["user", "assistant", "system", "tool", Role.USER, "robot", "User"]) | junk
contents = texts | st.lists(st.dictionaries(texts, st.integers() | texts | junk, max_size=3), max_size=3) | junk
tokens = st.integers(min_value=-5, max_value=20) | st.sampled_from([2**62, 2**63 - 1, 2**63]) | junk
ttls = st.sampled_from([60, 3600, 2**31 - 1, 2**31, 10**17, 0, -5, timedelta(minutes=5), timedelta(0)]) | junk
fields = st.dictionaries(texts, texts | junk, max_size=3) | junk
counts = st.integers(min_value=-3, max_value=10) | st.sampled_from([2**53, 2**54, 2**70]) | junk


def message_values() -> st.SearchStrategy[Message]:
    """Messages with fields of any type (Message does not check its own fields)."""
    return st.builds(
        Message,
        role=roles,
        content=contents,
        tokens=tokens,
        timestamp=st.none() | st.floats(allow_nan=True) | st.sampled_from([10**400, -(10**13), True]),
        id=st.none() | ids,
        name=st.none() | texts | junk,
        tool_calls=st.none() | st.lists(st.dictionaries(texts, texts), max_size=2) | junk,
        tool_call_id=st.none() | texts,
        metadata=st.none() | st.dictionaries(texts, texts | junk, max_size=2) | junk,
    )


calls = st.one_of(
    st.tuples(st.just("create_session"), st.fixed_dictionaries(
        {"user_id": ids, "session_id": st.none() | ids, "model": st.none() | texts | junk, "title": st.none() | texts,
         "ttl": ttls, "metadata": st.none() | fields, "exist_ok": st.booleans() | junk}
    )),
    st.tuples(st.just("add_message"), st.fixed_dictionaries(
        {"session_id": ids, "role": roles, "content": contents, "tokens_used": tokens,
         "max_messages": st.none() | counts, "message_id": st.none() | ids, "metadata": st.none() | fields}
    )),
    st.tuples(st.just("add_messages"), st.fixed_dictionaries(
        {"session_id": ids, "messages": st.lists(message_values(), max_size=3) | junk,
         "max_messages": st.none() | counts}
    )),
    st.tuples(st.just("update_session"), st.fixed_dictionaries({"session_id": ids, "fields": fields})),
    st.tuples(st.just("touch"), st.fixed_dictionaries({"session_id": ids, "ttl": ttls})),
    st.tuples(st.just("get_messages"), st.fixed_dictionaries({"session_id": ids, "last": st.none() | counts})),
    st.tuples(st.just("get_message"), st.fixed_dictionaries({"session_id": ids, "index": counts})),
    st.tuples(st.just("get_window"), st.fixed_dictionaries(
        {"session_id": ids, "max_tokens": counts, "last": st.none() | counts}
    )),
    st.tuples(st.just("get_session_info"), st.fixed_dictionaries({"session_id": ids})),
    st.tuples(st.just("count_messages"), st.fixed_dictionaries({"session_id": ids})),
    st.tuples(st.just("list_user_sessions"), st.fixed_dictionaries({"user_id": ids})),
    st.tuples(st.just("exists"), st.fixed_dictionaries({"session_id": ids})),
)  # fmt: skip


def invoke(store: SessionStore, name: str, arguments: dict[str, Any]) -> Coroutine[Any, Any, object]:
    """Build the coroutine of one public call."""
    if name == "update_session":
        extra = arguments["fields"] if isinstance(arguments["fields"], dict) else {"x": arguments["fields"]}
        return store.update_session(arguments["session_id"], **{str(k): v for k, v in extra.items()})
    if name == "touch":
        return store.touch(arguments["session_id"], arguments["ttl"])
    method = getattr(store, name)
    return method(**arguments)  # type: ignore[no-any-return]


async def test_fuzzed_calls_stay_in_the_tree_and_leave_no_trace(valkey_url: str) -> None:
    """Hundreds of random (mostly wrong) calls: errors are GlideMemoryErrors and a failed call changes no key."""
    client = await create_client(valkey_url, request_timeout_ms=5000)
    loop = asyncio.get_running_loop()
    namespace = f"fz{uuid.uuid4().hex[:10]}:"
    store = SessionStore(client, schema=KeySchema(namespace=namespace))
    tally = {"ok": 0, "raised": 0}

    def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)

    async def outlive_the_call() -> None:
        # a fuzzed call may set a TTL of a second or two; a key expiring between the snapshots is no change
        for key in await keys_matching(client, f"{namespace}*"):
            if 0 <= await client.pttl(key) < 600_000:
                await client.pexpire(key, 600_000)

    for n in range(2):
        await store.create_session("u", session_id=f"live-{n}", metadata={"k": "v"})
        await store.add_message(f"live-{n}", "user", "seed", 3)

    @settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(calls)
    def check(call: tuple[str, dict[str, Any]]) -> None:
        name, arguments = call
        run(outlive_the_call())
        before = run(snapshot(client, f"{namespace}*"))
        try:
            run(invoke(store, name, arguments))
        except GlideMemoryError:
            tally["raised"] += 1
            assert run(snapshot(client, f"{namespace}*")) == before, (name, arguments)
        else:
            tally["ok"] += 1

    try:
        await asyncio.to_thread(check)
    finally:
        await client.close()
    assert tally["raised"] > 100 and tally["ok"] > 20, tally
