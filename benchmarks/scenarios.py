"""Latency scenarios: the cookbook's commands, the toolkit's operations, sizes, memory.

Each scenario sets up realistic keys in the workspace, times its contenders
with :func:`benchmarks.harness.interleave` and returns a :class:`Section`.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import deque
from hashlib import blake2b
from itertools import count
from typing import Any

import orjson
from glide import AllPrimaries, ClusterScanCursor, GlideClusterClient, Script

from benchmarks.config import Config
from benchmarks.harness import Contender, Op, Progress, Section, interleave, summarize
from benchmarks.workspace import KEY_TTL, Workspace, stored_payload, text
from glide_memory import Message, Role, SessionStore, decode_message
from glide_memory.keys import new_message_id

TURN_TEXT = text(200, seed=1)
"""The content of a typical chat turn in these scenarios (200 characters)."""

TOKENS = 12
WINDOW = 50
"""The sliding window of add_message with a window, and get_messages(last=...)."""


def cookbook_json(content: str, role: str = "user") -> str:
    """Return a message as the cookbook stores it: ``json.dumps`` of role and content."""
    return json.dumps({"role": role, "content": content})


async def _fill_session(ws: Workspace, session_id: str, count: int, content: str) -> None:
    now = time.time()
    messages = [Message(role=Role.USER, content=content, tokens=TOKENS, timestamp=now) for _ in range(count)]
    await ws.store.add_messages(session_id, messages)


async def commands(ws: Workspace, config: Config, progress: Progress) -> Section:
    """Time the cookbook's commands, one at a time, on a realistic session's keys."""
    client, schema = ws.client, ws.schema
    sid = await ws.create_session("bench-cmd-user", model="claude-3-haiku", title="Commands")
    await _fill_session(ws, sid, WINDOW, TURN_TEXT)
    chat, meta = schema.session_keys(sid)
    index = schema.user_sessions("bench-cmd-user")
    await client.sadd(index, [f"other-{n}" for n in range(9)])
    payload = stored_payload(TURN_TEXT)
    pattern = schema.meta_scan_pattern()
    now = repr(time.time())
    record = {"user_id": "bench-cmd-user", "model": "claude-3-haiku", "created_at": now, "last_active": now}
    record |= {"message_count": "50", "token_count": "600", "title": "Commands", "ttl": str(KEY_TTL)}

    async def scan_page() -> object:
        if isinstance(client, GlideClusterClient):
            cursor = ClusterScanCursor()  # type: ignore[no-untyped-call]  # glide's cursor is untyped
            return await client.scan(cursor, match=pattern, count=100)
        return await client.scan("0", match=pattern, count=100)

    contenders = [
        Contender(name="HSET meta (full record)", op=lambda: client.hset(meta, record)),
        Contender(name="HINCRBY meta message_count", op=lambda: client.hincrby(meta, "message_count", 1)),
        Contender(name="HSET meta last_active", op=lambda: client.hset(meta, {"last_active": now})),
        Contender(name="HGETALL meta", op=lambda: client.hgetall(meta)),
        Contender(name="HGET meta user_id", op=lambda: client.hget(meta, "user_id")),
        Contender(name="RPUSH chat", op=lambda: client.rpush(chat, [payload])),
        Contender(name="LTRIM chat -50 -1", op=lambda: client.ltrim(chat, -WINDOW, -1)),
        Contender(name="LRANGE chat -50 -1", op=lambda: client.lrange(chat, -WINDOW, -1)),
        Contender(name="SADD user_sessions", op=lambda: client.sadd(index, [sid])),
        Contender(name="SMEMBERS user_sessions", op=lambda: client.smembers(index)),
        Contender(name="EXPIRE meta", op=lambda: client.expire(meta, KEY_TTL)),
        Contender(name="SCAN MATCH meta:* COUNT 100", op=scan_page),
    ]
    section = Section(key="commands", title="Cookbook commands (one await each)")
    section.extra["dbsize"] = await ws.dbsize()
    rounds = config.command_rounds
    return await interleave(section, contenders, rounds=rounds, warmup=config.warmup(rounds), progress=progress)


FLOOR_BODY = """
if redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'message_count', 1)
redis.call('HINCRBY', KEYS[1], 'token_count', ARGV[4])
redis.call('HSET', KEYS[1], 'last_active', ARGV[5])
return 1
"""
"""The least an atomic, exactly-once append does on the server: the cookbook's four writes behind an id check."""

FLOOR_SCRIPT = Script(FLOOR_BODY)  # type: ignore[no-untyped-call]  # glide's Script is untyped
"""The floor body as a script (EVALSHA)."""

FLOOR_FUNCTION = "gm_bench_floor"

LEAST_TURN = "our append function, least client code"
"""add_message's function called by the least code a turn needs: an id, the JSON, its digest, the call.
No validation, no Message, no request path: what add_message's p50 cannot go below with this function."""

# the function's parameters take the script's names, so that both run the very same body
FLOOR_LIBRARY = f"""#!lua name={FLOOR_FUNCTION}
redis.register_function('{FLOOR_FUNCTION}', function(KEYS, ARGV)
{FLOOR_BODY}
end)
"""
"""The floor body as a server function (FCALL, like add_message): the floor the issue's targets name."""


async def load_floor_function(ws: Workspace) -> None:
    """Load the floor function's library (on every primary of a cluster); our own library is left alone."""
    if isinstance(ws.client, GlideClusterClient):
        await ws.client.function_load(FLOOR_LIBRARY, replace=True, route=AllPrimaries())
    else:
        await ws.client.function_load(FLOOR_LIBRARY, replace=True)


NOOP_SCRIPT = Script("return 0")  # type: ignore[no-untyped-call]
"""A script that does nothing: the cost of any script call, whatever it does."""


async def append(ws: Workspace, config: Config, progress: Progress) -> Section:
    """Time add_message next to one raw RPUSH, the cookbook's four awaits and the floors of any script append."""
    client, store = ws.client, ws.store
    sid = await ws.create_session("bench-append-user")
    windowed = await ws.create_session("bench-append-user")
    floor_sid = await ws.create_session("bench-append-user")
    least_sid = await ws.create_session("bench-append-user")
    cookbook_sid = await ws.create_session("bench-append-user")
    cb_chat, cb_meta = ws.schema.session_keys(cookbook_sid)
    raw_key = ws.key("rpush")
    # the raw RPUSH pushes the very bytes add_message stores
    payload = stored_payload(TURN_TEXT)
    await client.rpush(raw_key, [payload])
    await client.expire(raw_key, KEY_TTL)
    cookbook_payload = cookbook_json(TURN_TEXT)
    rounds = config.append_rounds
    floor_keys = ws.schema.keys(floor_sid)
    floor_layout = [floor_keys.meta, floor_keys.chat, floor_keys.ids]
    numbers = count()

    async def cookbook_add() -> None:
        await client.rpush(cb_chat, [cookbook_payload])
        await client.hincrby(cb_meta, "message_count", 1)
        await client.hincrby(cb_meta, "token_count", TOKENS)
        await client.hset(cb_meta, {"last_active": str(time.time())})

    def floor_args() -> list[str | bytes]:
        return [f"floor-{next(numbers)}", "0011223344556677", payload, str(TOKENS), repr(time.time())]

    async def floor() -> object:
        return await client.invoke_script(FLOOR_SCRIPT, keys=floor_layout, args=floor_args())

    async def noop() -> object:
        return await client.invoke_script(NOOP_SCRIPT, keys=floor_layout, args=floor_args())

    least_function = await _installed_function(ws, "append")
    least_keys = ws.schema.keys(least_sid)
    least_layout = [least_keys.meta, least_keys.chat, least_keys.ids, least_keys.vectors, least_keys.copies]

    async def least_turn() -> object:
        """A turn of add_message with the least client code: an id, the JSON, its digest, our function."""
        message_id, now = new_message_id(), repr(time.time())
        body = orjson.dumps({"role": "user", "content": TURN_TEXT, "tokens": TOKENS})
        stored = body[:-1] + b',"ts":' + now.encode() + b',"id":"' + message_id.encode() + b'"}'
        digest = blake2b(body, digest_size=8).hexdigest()
        arguments: list[str | bytes] = ["=", now, "0", "", "", message_id, digest, str(TOKENS), "0", stored]
        return await client.fcall(least_function, keys=least_layout, arguments=arguments)

    await load_floor_function(ws)

    async def floor_function() -> object:
        return await client.fcall(FLOOR_FUNCTION, keys=floor_layout, arguments=floor_args())

    # the OpenTelemetry wrapper every public method wears, bypassed: what it costs with no SDK configured
    unwrapped = getattr(SessionStore.add_message, "__wrapped__", SessionStore.add_message)
    contenders = [
        Contender(name="raw glide RPUSH", op=lambda: client.rpush(raw_key, [payload])),
        Contender(name="add_message", op=lambda: store.add_message(sid, "user", TURN_TEXT, TOKENS)),
        Contender(
            name="add_message, telemetry wrapper bypassed",
            op=lambda: unwrapped(store, sid, "user", TURN_TEXT, TOKENS),
        ),
        Contender(
            name="add_message, caller's message_id",
            op=lambda: store.add_message(sid, "user", TURN_TEXT, TOKENS, message_id=f"turn-{next(numbers)}"),
        ),
        Contender(
            name=f"add_message, window {WINDOW}",
            op=lambda: store.add_message(windowed, "user", TURN_TEXT, TOKENS, max_messages=WINDOW),
        ),
        Contender(name=LEAST_TURN, op=least_turn),
        Contender(name="floor script (id check + the 4 writes)", op=floor),
        Contender(name="floor function (id check + the 4 writes)", op=floor_function),
        Contender(name="no-op script, same keys and arguments", op=noop),
        Contender(name="cookbook add (4 awaits)", op=cookbook_add, commands=4, trips=4),
    ]
    section = Section(key="append", title="add_message side by side (same client, interleaved)")
    await interleave(section, contenders, rounds=rounds, warmup=config.warmup(rounds), progress=progress)
    rpush, add = section.row("raw glide RPUSH").p50_us, section.row("add_message").p50_us
    section.extra["add_message_extra_us"] = round(add - rpush, 1)
    section.extra["telemetry_wrapper_ratio"] = round(
        add / section.row("add_message, telemetry wrapper bypassed").p50_us, 3
    )
    section.extra["round_trip_us_for_1_2x"] = round(5 * (add - rpush), 1)
    # the server's own time per call (INFO commandstats), each measured alone so no other call's commands mix in
    section.extra["server_us_per_call"] = await _server_us(
        ws,
        {
            "add_message (FCALL)": (lambda: store.add_message(sid, "user", TURN_TEXT, TOKENS), ("fcall",)),
            "cookbook's 4 commands": (cookbook_add, ("rpush", "hincrby", "hset")),
            "floor script (id check + the 4 writes)": (floor, ("evalsha",)),
            "floor function (id check + the 4 writes)": (floor_function, ("fcall",)),
            "no-op script": (noop, ("evalsha",)),
        },
        config.server_calls,
    )
    return section


async def _installed_function(ws: Workspace, operation: str) -> str:
    """Return the name under which the store's library serves ``operation`` (FUNCTION LIST: no private import)."""
    reply: Any = await ws.client.function_list("glide_memory_*")
    if isinstance(reply, dict):  # a cluster's: every primary holds the same library
        reply = next(iter(reply.values()))
    for library in reply or []:
        for function in library.get(b"functions", []):
            name: str = function[b"name"].decode()
            if name.endswith(f"_{operation}"):
                return name
    raise LookupError(f"no function of the store's library serves {operation!r}")


SERVER_BLOCKS = 10
"""Blocks the server-time calls are split into: contenders take turns block by block, and each
reports its median block, so a burst of load on the shared machine moves one block, not a ratio."""


async def _server_us(ws: Workspace, contenders: dict[str, tuple[Op, tuple[str, ...]]], calls: int) -> dict[str, float]:
    """Return each contender's server microseconds per call in its ``commands``, from INFO commandstats.

    ``calls`` calls each, in SERVER_BLOCKS blocks taken in turn (the order
    reversed every other block); the figure is the median block's.
    """
    per_block = max(1, calls // SERVER_BLOCKS)
    blocks: dict[str, list[float]] = {name: [] for name in contenders}
    for op, _ in contenders.values():
        await op()  # scripts get loaded, caches warm
    for block in range(SERVER_BLOCKS):
        order = list(contenders.items())
        for name, (op, commands) in order if block % 2 == 0 else reversed(order):
            before = await ws.commandstats()
            for _ in range(per_block):
                await op()
            after = await ws.commandstats()
            spent = sum(after.get(command, (0, 0))[1] - before.get(command, (0, 0))[1] for command in commands)
            blocks[name].append(spent / per_block)
    return {name: round(statistics.median(values), 2) for name, values in blocks.items()}


async def operations(ws: Workspace, config: Config, progress: Progress) -> Section:
    """Time the toolkit's session operations, and the decoding share of get_messages."""
    store = ws.store
    user = "bench-ops-user"
    owned = [await ws.create_session(user, model="claude-3-haiku", title=f"Chat {n}") for n in range(10)]
    for sid in owned:
        await _fill_session(ws, sid, 3, TURN_TEXT)
    reader = owned[0]
    await _fill_session(ws, reader, 2 * WINDOW, TURN_TEXT)
    reader_chat, _ = ws.schema.session_keys(reader)
    churn: deque[str] = deque([await ws.create_session("bench-churn-user")])

    async def create() -> None:
        info = await store.create_session("bench-churn-user", model="claude-3-haiku", title="New chat")
        churn.append(info.session_id)

    async def delete() -> None:
        await store.delete_session(churn.popleft())

    contenders = [
        # on a cluster the user index is another slot: a second command after the script
        Contender(name="create_session", op=create, commands=1 + ws.cluster, trips=1 + ws.cluster),
        Contender(name=f"raw glide LRANGE -{WINDOW} -1", op=lambda: ws.client.lrange(reader_chat, -WINDOW, -1)),
        Contender(name=f"raw LRANGE -{WINDOW} -1, then decode", op=lambda: _lrange_decoded(ws, reader_chat, reader)),
        Contender(name=f"get_messages(last={WINDOW})", op=lambda: store.get_messages(reader, last=WINDOW)),
        Contender(name=f"get_context(last={WINDOW})", op=lambda: store.get_context(reader, last=WINDOW)),
        Contender(
            name=f"get_context(last={WINDOW}, format=openai)",
            op=lambda: store.get_context(reader, last=WINDOW, format="openai"),
        ),
        Contender(name="get_session_info", op=lambda: store.get_session_info(reader), commands=3),
        Contender(name="list_user_sessions (10)", op=lambda: store.list_user_sessions(user), commands=31, trips=2),
        Contender(name="delete_session", op=delete, commands=2, trips=2),
    ]
    section = Section(key="operations", title="Toolkit operations")
    rounds = config.operation_rounds
    await interleave(section, contenders, rounds=rounds, warmup=config.warmup(rounds), progress=progress)
    section.extra["decode"] = await _decode_cost(ws, reader, rounds)
    return section


async def _lrange_decoded(ws: Workspace, chat: str, session_id: str) -> list[Message]:
    """The least get_messages could do: one raw LRANGE and the decoding of what it read."""
    raw = await ws.client.lrange(chat, -WINDOW, -1)
    return [decode_message(item) for item in raw]


async def _decode_cost(ws: Workspace, session_id: str, rounds: int) -> dict[str, Any]:
    """Time decoding the entries get_messages(last=50) reads, per message (pure CPU)."""
    chat, _ = ws.schema.session_keys(session_id)
    raw = await ws.client.lrange(chat, -WINDOW, -1)
    samples = []
    clock = time.perf_counter_ns
    for _ in range(max(50, rounds)):
        start = clock()
        for item in raw:
            decode_message(item)
        samples.append((clock() - start) // len(raw))
    stats = summarize("decode one message", samples, commands=None, trips=None)
    return {"messages_per_call": len(raw), "bytes_per_message": len(raw[0]), **stats.to_json()}


async def sizes(ws: Workspace, config: Config, progress: Progress) -> Section:
    """Time add_message and get_messages(last=50) with 100 B, 1 KiB and 16 KiB contents."""
    store = ws.store
    contenders = []
    for size in config.sizes:
        content = text(size, seed=size)
        writer = await ws.create_session("bench-size-user")
        reader = await ws.create_session("bench-size-user")
        await _fill_session(ws, reader, WINDOW, content)
        label = _size_label(size)
        contenders += [
            Contender(name=f"add_message {label}", op=_adder(store, writer, content)),
            Contender(name=f"get_messages(last={WINDOW}) {label}", op=_reader(store, reader)),
        ]
    section = Section(key="sizes", title="Message size sweep")
    rounds = config.size_rounds
    return await interleave(section, contenders, rounds=rounds, warmup=config.warmup(rounds), progress=progress)


def _adder(store: SessionStore, session_id: str, content: str) -> Op:
    return lambda: store.add_message(session_id, "user", content, TOKENS)


def _reader(store: SessionStore, session_id: str) -> Op:
    return lambda: store.get_messages(session_id, last=WINDOW)


def _size_label(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


async def memory(ws: Workspace, config: Config, progress: Progress) -> Section:
    """Measure MEMORY USAGE of a chat list per stored message against the JSON stored."""
    section = Section(key="memory", title="Memory per stored message")
    started = time.perf_counter()
    rows = []
    for size in (len(TURN_TEXT), *config.sizes):
        content = text(size, seed=size)
        sid = await ws.create_session("bench-memory-user")
        count = config.memory_messages
        for start in range(0, count, 500):
            await _fill_session(ws, sid, min(500, count - start), content)
        chat, _ = ws.schema.session_keys(sid)
        used = int(await ws.command(["MEMORY", "USAGE", chat, "SAMPLES", "0"], key=chat))
        stored = await ws.client.lrange(chat, 0, -1)
        payload = sum(len(item) for item in stored) / len(stored)
        per_message = used / len(stored)
        rows.append(
            {
                "content_bytes": size,
                "messages": len(stored),
                "memory_usage_bytes": used,
                "bytes_per_message": round(per_message, 1),
                "stored_json_bytes": round(payload, 1),
                "cookbook_json_bytes": len(cookbook_json(content)),
                "ratio_to_stored_json": round(per_message / payload, 3),
                "ratio_to_cookbook_json": round(per_message / len(cookbook_json(content)), 3),
            }
        )
        await ws.store.delete_session(sid)
        progress.advance()
    section.extra["rows"] = rows
    section.seconds = time.perf_counter() - started
    return section
