"""The design's measured targets, evaluated on one run's sections."""

from __future__ import annotations

from benchmarks.harness import Section, Target
from benchmarks.scenarios import LEAST_TURN

ADD_VS_RPUSH = 1.2
SERVER_VS_COOKBOOK = 1.5
"""Server time of add_message over that of the cookbook's four commands (INFO commandstats)."""
GET_VS_LRANGE = 1.25
ADD_VS_FLOOR = 1.1
"""add_message p50 over the floor function's (the design's floor: our own minimal function doing a turn's key work)."""
SERVER_VS_FLOOR = 1.5
THROUGHPUT_VS_FLOOR = 0.9
"""add_message throughput over the floor function's, at CONCURRENCY_TASKS tasks."""
MANY_VS_HUNDRED = 0.95
"""add_message throughput at MANY_TASKS tasks over its own at CONCURRENCY_TASKS."""
MANY_TASKS = 1000
COOKBOOK_VS_ADD = 3.0
SCAN_VS_INDEX = 100.0
FLAT_IN_N = 1.5
"""Largest over smallest keyspace's list_user_sessions p50 (in round trips): noise, not growth."""
CONCURRENCY_SHARE = 0.8
CONCURRENCY_TASKS = 100
MEMORY_RATIO = 1.5
DECODE_US = 5.0
STRANDS_REQUESTS = 3
STRANDS_DECODE_US = 2.0


def evaluate(sections: dict[str, Section]) -> list[Target]:
    """Return every target the run's sections can answer, PASS or MISS."""
    targets: list[Target] = []
    if "append" in sections:
        targets += _append(sections["append"])
    if "operations" in sections:
        operations = sections["operations"]
        decode = operations.extra["decode"]
        lrange = operations.row("raw glide LRANGE -50 -1").p50_us
        targets += [
            Target(
                name="get_messages(last=50) p50 / raw glide LRANGE -50 -1 p50",
                measured=operations.row("get_messages(last=50)").p50_us / lrange,
                op="<=",
                threshold=GET_VS_LRANGE,
                floor=operations.row("raw LRANGE -50 -1, then decode").p50_us / lrange,
                floor_of="the raw LRANGE followed by decoding its entries into Messages",
            ),
            Target(
                name="get_messages decoding per message (p50)",
                measured=decode["p50_us"],
                op="<=",
                threshold=DECODE_US,
                unit=" µs",
            ),
        ]
    if "strands" in sections and not sections["strands"].extra.get("skipped"):
        strands = sections["strands"].extra
        targets += [
            Target(
                name=f"Strands restore of {strands['messages']:,} messages, requests",
                measured=strands["requests_per_restore"],
                op="<=",
                threshold=STRANDS_REQUESTS,
                unit="",
            ),
            Target(
                name="Strands restore decoding per message (p50)",
                measured=strands["decode"]["p50_us"],
                op="<=",
                threshold=STRANDS_DECODE_US,
                unit=" µs",
            ),
        ]
    if "keyspace" in sections:
        targets += _keyspace(sections["keyspace"])
    if "concurrency" in sections:
        by_tasks = {level["tasks"]: level for level in sections["concurrency"].extra["levels"]}
        if CONCURRENCY_TASKS in by_tasks and "ratio_to_floor_function" in by_tasks[CONCURRENCY_TASKS]:
            hundred = by_tasks[CONCURRENCY_TASKS]
            targets.append(
                Target(
                    name=f"add_message / floor function throughput, {CONCURRENCY_TASKS} tasks",
                    measured=hundred["ratio_to_floor_function"],
                    op=">=",
                    threshold=THROUGHPUT_VS_FLOOR,
                )
            )
            if MANY_TASKS in by_tasks:
                many = by_tasks[MANY_TASKS]
                targets.append(
                    Target(
                        name=f"add_message throughput, {MANY_TASKS:,} tasks / {CONCURRENCY_TASKS} tasks",
                        measured=many["add_message_ops_per_s"] / hundred["add_message_ops_per_s"],
                        op=">=",
                        threshold=MANY_VS_HUNDRED,
                        floor=many["floor_function_ops_per_s"] / hundred["floor_function_ops_per_s"],
                        floor_of="the floor function's own throughput at the two levels",
                    )
                )
        for level in sections["concurrency"].extra["levels"]:
            if level["tasks"] == CONCURRENCY_TASKS:
                targets.append(
                    Target(
                        name=f"add_message / raw RPUSH throughput, {CONCURRENCY_TASKS} tasks",
                        measured=level["ratio"],
                        op=">=",
                        threshold=CONCURRENCY_SHARE,
                        floor=level["floor_ratio"],
                        floor_of="the floor script (id check + the 4 writes), arguments prebuilt, same tasks",
                    )
                )
    if "memory" in sections:
        typical = sections["memory"].extra["rows"][0]
        targets.append(
            Target(
                name=f"memory per message / stored JSON ({typical['content_bytes']} B content)",
                measured=typical["ratio_to_stored_json"],
                op="<=",
                threshold=MEMORY_RATIO,
            )
        )
    return targets


def _append(section: Section) -> list[Target]:
    rpush = section.row("raw glide RPUSH").p50_us
    add = section.row("add_message").p50_us
    cookbook = section.row("cookbook add (4 awaits)").p50_us
    server = section.extra["server_us_per_call"]
    cookbook_server = server["cookbook's 4 commands"]
    floor_function = section.row("floor function (id check + the 4 writes)").p50_us
    floor_function_server = server["floor function (id check + the 4 writes)"]
    return [
        Target(
            name="add_message p50 / floor function p50",
            measured=add / floor_function,
            op="<=",
            threshold=ADD_VS_FLOOR,
            floor=section.row(LEAST_TURN).p50_us / floor_function,
            floor_of="our append function called by the least client code (an id, the JSON, its digest)",
        ),
        Target(
            name="server µs per add_message / server µs of the floor function",
            measured=server["add_message (FCALL)"] / floor_function_server,
            op="<=",
            threshold=SERVER_VS_FLOOR,
        ),
        Target(
            name="add_message p50 / raw glide RPUSH p50",
            measured=add / rpush,
            op="<=",
            threshold=ADD_VS_RPUSH,
            floor=section.row("floor script (id check + the 4 writes)").p50_us / rpush,
            floor_of="a script doing only the id check and the cookbook's 4 writes, arguments built cheaply",
        ),
        Target(
            name="server µs per add_message / server µs of the cookbook's 4 commands",
            measured=server["add_message (FCALL)"] / cookbook_server,
            op="<=",
            threshold=SERVER_VS_COOKBOOK,
            floor=server["floor script (id check + the 4 writes)"] / cookbook_server,
            floor_of="a script doing only the id check and the cookbook's 4 writes",
        ),
        Target(
            name="cookbook 4-await add p50 / add_message p50",
            measured=cookbook / add,
            op=">=",
            threshold=COOKBOOK_VS_ADD,
            floor=cookbook / section.row("no-op script, same keys and arguments").p50_us,
            floor_of="the cookbook's 4 awaits over a script that does nothing (no single call can beat it)",
        ),
    ]


def _keyspace(section: Section) -> list[Target]:
    levels = section.extra["levels"]
    largest = levels[-1]
    targets = [
        Target(
            name=f"SCAN pattern ({how}) / list_user_sessions p50, {largest['sessions']:,} sessions",
            measured=largest[f"ratio ({how})"],
            op=">=",
            threshold=SCAN_VS_INDEX,
        )
        for how in ("pipelined per page", "one await per HGET")
        if f"ratio ({how})" in largest
    ]
    if len(levels) > 1:
        # in units of a plain round trip timed alongside, so that drift between levels cancels
        first, last = levels[0]["index_in_round_trips"], largest["index_in_round_trips"]
        targets.append(
            Target(
                name=f"list_user_sessions in trips, {largest['sessions']:,} / {levels[0]['sessions']:,} sessions",
                measured=last / first,
                op="<=",
                threshold=FLAT_IN_N,
            )
        )
    return targets
