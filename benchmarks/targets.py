"""The design's measured targets, evaluated on one run's sections."""

from __future__ import annotations

from benchmarks.harness import Section, Target

ADD_VS_RPUSH = 1.25
COOKBOOK_VS_ADD = 3.0
SCAN_VS_INDEX = 100.0
FLAT_IN_N = 1.5
"""Largest over smallest keyspace's list_user_sessions p50 (in round trips): noise, not growth."""
CONCURRENCY_SHARE = 0.8
CONCURRENCY_TASKS = 100
MEMORY_RATIO = 1.5
DECODE_US = 5.0


def evaluate(sections: dict[str, Section]) -> list[Target]:
    """Return every target the run's sections can answer, PASS or MISS."""
    targets: list[Target] = []
    if "append" in sections:
        append = sections["append"]
        rpush = append.row("raw glide RPUSH").p50_us
        add = append.row("add_message").p50_us
        cookbook = append.row("cookbook add (4 awaits)").p50_us
        targets += [
            Target(name="add_message p50 / raw glide RPUSH p50", measured=add / rpush, op="<=", threshold=ADD_VS_RPUSH),
            Target(
                name="cookbook 4-await add p50 / add_message p50",
                measured=cookbook / add,
                op=">=",
                threshold=COOKBOOK_VS_ADD,
            ),
        ]
    if "operations" in sections:
        decode = sections["operations"].extra["decode"]
        targets.append(
            Target(
                name="get_messages decoding per message (p50)",
                measured=decode["p50_us"],
                op="<=",
                threshold=DECODE_US,
                unit=" µs",
            )
        )
    if "keyspace" in sections:
        targets += _keyspace(sections["keyspace"])
    if "concurrency" in sections:
        for level in sections["concurrency"].extra["levels"]:
            if level["tasks"] == CONCURRENCY_TASKS:
                targets.append(
                    Target(
                        name=f"add_message / raw RPUSH throughput, {CONCURRENCY_TASKS} tasks",
                        measured=level["ratio"],
                        op=">=",
                        threshold=CONCURRENCY_SHARE,
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
