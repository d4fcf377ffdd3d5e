"""How the toolkit scales: with the keyspace (index vs SCAN) and with concurrent tasks."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from itertools import count
from typing import Any

from benchmarks.config import Config
from benchmarks.harness import Contender, Progress, Section, interleave, throughput
from benchmarks.scenarios import FLOOR_FUNCTION, FLOOR_SCRIPT, TOKENS, TURN_TEXT, load_floor_function
from benchmarks.workspace import KEY_TTL, Workspace, stored_payload
from glide_memory import DEFAULT_MAX_IN_FLIGHT

TARGET_USER = "bench-target-user"
TARGET_SESSIONS = 10
"""Sessions of the user whose sessions are listed, among the whole keyspace."""

POOL = 100
"""Sessions (and raw lists) the concurrency sweep's tasks write to, round robin."""


class _ScanPattern:
    """The cookbook's list of a user's sessions: SCAN MATCH meta:* and read user_id of each key.

    Args:
        ws: The workspace.
        pipelined: Read the user_id of each SCAN page's keys in one pipelined
            batch (a generous version) instead of one awaited HGET per key
            (the cookbook's loop).
    """

    def __init__(self, ws: Workspace, *, pipelined: bool) -> None:
        self.ws = ws
        self.pipelined = pipelined
        self.commands = 0
        self.trips = 0
        self.found: list[str] = []

    async def __call__(self) -> list[str]:
        ws, owner = self.ws, TARGET_USER.encode()
        found: list[str] = []
        hgets = reads = 0

        async def visit(keys: list[bytes]) -> None:
            nonlocal hgets, reads
            if not keys:
                return
            if self.pipelined:
                owners = await ws.pipeline(lambda batch: [batch.hget(key, "user_id") for key in keys])
                reads += 1
            else:
                owners = [await ws.client.hget(key, "user_id") for key in keys]
                reads += len(keys)
            hgets += len(keys)
            for key, who in zip(keys, owners, strict=True):
                if who == owner and (sid := ws.schema.session_id_from_meta(key.decode())) is not None:
                    found.append(sid)

        scans = await ws.scan(ws.schema.meta_scan_pattern(), 100, visit)
        self.found = sorted(found)
        self.commands, self.trips = scans + hgets, scans + reads
        return self.found


async def keyspace(ws: Workspace, config: Config, progress: Progress) -> Section:
    """Time list_user_sessions against the SCAN pattern as the keyspace grows.

    The measured user owns 10 sessions; background users own the rest. The
    SCAN pattern's answer is checked against the index's, so both contenders
    do the same job.
    """
    store = ws.store
    targets = []
    for n in range(TARGET_SESSIONS):
        sid = await ws.create_session(TARGET_USER, model="claude-3-haiku", title=f"Chat {n}")
        await store.add_message(sid, "user", TURN_TEXT, TOKENS)
        targets.append(sid)
    expected = sorted(targets)
    index = ws.schema.user_sessions(TARGET_USER)
    section = Section(key="keyspace", title="list_user_sessions: SET index vs SCAN pattern")
    levels: list[dict[str, Any]] = []
    for sessions in config.keyspaces:
        progress.stage(f"keyspace {sessions:,}: populating")
        await ws.populate(sessions - TARGET_SESSIONS, on_batch=progress.advance)
        progress.stage(f"keyspace {sessions:,}: timing")
        scanners = {"pipelined per page": _ScanPattern(ws, pipelined=True)}
        if config.sequential_scan:
            scanners["one await per HGET"] = _ScanPattern(ws, pipelined=False)
        index_name = f"list_user_sessions, {sessions:,} sessions"
        reference_name = f"SMEMBERS user_sessions (1 trip), {sessions:,} sessions"
        repeat = config.index_repeat(sessions)
        contenders = [
            Contender(
                name=index_name,
                op=lambda: store.list_user_sessions(TARGET_USER),
                commands=1 + 3 * TARGET_SESSIONS,
                trips=2,
                repeat=repeat,
            ),
            # one plain round trip, timed alongside: the yardstick that makes levels measured
            # minutes apart comparable on a machine whose speed drifts
            Contender(name=reference_name, op=lambda: ws.client.smembers(index), repeat=repeat),
            *(
                Contender(
                    name=f"SCAN pattern ({how}), {sessions:,} sessions",
                    op=scan,
                    commands=None,
                    trips=None,
                    every=1 if scan.pipelined else config.sequential_every(sessions),
                )
                for how, scan in scanners.items()
            ),
        ]
        # warm the quick contenders only: a SCAN pattern call is long enough to warm itself
        for contender in contenders[:2]:
            for _ in range(10):
                await contender.op()
        level = Section(key="level", title="")
        rounds = config.scan_rounds(sessions)
        await interleave(level, contenders, rounds=rounds, warmup=0, progress=progress)
        index_ids = sorted(info.session_id for info in await store.list_user_sessions(TARGET_USER))
        index_p50 = level.row(index_name).p50_us
        entry: dict[str, Any] = {
            "sessions": sessions,
            "dbsize": await ws.dbsize(),
            "index": index_name,
            "reference": reference_name,
            "index_in_round_trips": round(index_p50 / level.row(reference_name).p50_us, 3),
        }
        for (how, scan), contender in zip(scanners.items(), contenders[2:], strict=True):
            if scan.found != expected or index_ids != expected:
                raise RuntimeError(f"SCAN pattern and index disagree at {sessions} sessions: {scan.found} {index_ids}")
            row = level.row(contender.name)
            level.rows[level.rows.index(row)] = dataclasses.replace(row, commands=scan.commands, trips=scan.trips)
            entry[f"scan ({how})"] = contender.name
            entry[f"ratio ({how})"] = round(row.p50_us / index_p50, 1)
        levels.append(entry)
        section.rows += level.rows
        section.samples |= level.samples
        section.seconds += level.seconds
    section.extra["levels"] = levels
    section.extra["target_user_sessions"] = TARGET_SESSIONS
    return section


async def concurrency(ws: Workspace, config: Config, progress: Progress) -> Section:
    """Compare the throughput of add_message and raw RPUSH with 1 to 1,000 concurrent tasks.

    Task ``n`` writes to session (and raw list) ``n % 100``. Trials of the
    two contenders alternate; the ratio is the median of the trials' ratios.
    """
    client, store = ws.client, ws.store
    sids = await asyncio.gather(*(ws.create_session("bench-load-user") for _ in range(POOL)))
    raw_keys = [ws.key("load", n) for n in range(POOL)]
    payload = stored_payload(TURN_TEXT)
    await ws.pipeline(lambda batch: [batch.rpush(key, [payload]).expire(key, KEY_TTL) for key in raw_keys])

    async def add(task: int) -> object:
        return await store.add_message(sids[task % POOL], "user", TURN_TEXT, TOKENS)

    async def raw(task: int) -> object:
        return await client.rpush(raw_keys[task % POOL], [payload])

    # the least an atomic exactly-once turn does: the floor script, its arguments built by the cheapest code
    floor_layouts = [list(ws.schema.keys(sid)) for sid in sids]
    for layout in floor_layouts:
        layout[0], layout[1] = layout[1], layout[0]  # the script's order: meta, chat, ids
    numbers = count()

    async def floor(task: int) -> object:
        args = [f"f{next(numbers)}", "0011223344556677", payload, str(TOKENS), "1700000000.0"]
        return await client.invoke_script(FLOOR_SCRIPT, keys=floor_layouts[task % POOL], args=args)

    await load_floor_function(ws)

    async def floor_function(task: int) -> object:
        args = [f"g{next(numbers)}", "0011223344556677", payload, str(TOKENS), "1700000000.0"]
        return await client.fcall(FLOOR_FUNCTION, keys=floor_layouts[task % POOL], arguments=args)

    section = Section(key="concurrency", title="Throughput with concurrent tasks")
    started = time.perf_counter()
    levels = []
    for tasks in config.tasks:
        progress.stage(f"concurrency: {tasks:,} tasks")
        calls = config.trial_calls(tasks)
        await throughput(raw, tasks=tasks, calls=calls // 5)
        await throughput(add, tasks=tasks, calls=calls // 5)
        await throughput(floor, tasks=tasks, calls=calls // 5)
        await throughput(floor_function, tasks=tasks, calls=calls // 5)
        rates: dict[str, list[float]] = {"add_message": [], "raw RPUSH": [], "floor script": [], "floor function": []}
        for trial in range(config.concurrency_trials):
            order = [
                ("raw RPUSH", raw),
                ("add_message", add),
                ("floor script", floor),
                ("floor function", floor_function),
            ]
            for name, op in order if trial % 2 == 0 else reversed(order):
                rates[name].append(await throughput(op, tasks=tasks, calls=calls))
            progress.advance()
        add_rate, raw_rate = statistics.median(rates["add_message"]), statistics.median(rates["raw RPUSH"])
        # each trial's pair ran back to back, so the median of their ratios resists drift best
        pairs = [a / r for a, r in zip(rates["add_message"], rates["raw RPUSH"], strict=True)]
        floors = [f / r for f, r in zip(rates["floor script"], rates["raw RPUSH"], strict=True)]
        to_function = [a / f for a, f in zip(rates["add_message"], rates["floor function"], strict=True)]
        levels.append(
            {
                "tasks": tasks,
                "calls_per_trial": calls,
                "trials": config.concurrency_trials,
                "add_message_ops_per_s": round(add_rate, 1),
                "raw_rpush_ops_per_s": round(raw_rate, 1),
                "ratio": round(statistics.median(pairs), 3),
                "floor_script_ops_per_s": round(statistics.median(rates["floor script"]), 1),
                "floor_ratio": round(statistics.median(floors), 3),
                "floor_function_ops_per_s": round(statistics.median(rates["floor function"]), 1),
                "ratio_to_floor_function": round(statistics.median(to_function), 3),
                "add_message_trials": [round(rate, 1) for rate in rates["add_message"]],
                "raw_rpush_trials": [round(rate, 1) for rate in rates["raw RPUSH"]],
            }
        )
    section.extra["levels"] = levels
    section.extra["store_max_in_flight"] = DEFAULT_MAX_IN_FLIGHT
    section.seconds = time.perf_counter() - started
    return section
