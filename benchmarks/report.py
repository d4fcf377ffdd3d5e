"""The terminal report and the JSON file of a run.

The closing Targets part and the JSON writing serve the recall benchmark's report too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import Stats, Target
from benchmarks.runner import Results


def _us(value: float) -> str:
    return f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2f}"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _latency_table(results: Results) -> list[str]:
    rows: list[tuple[str, Stats | None]] = []
    for section in results.sections.values():
        if section.rows:
            rows.append((section.title, None))
            rows += [(stats.name, stats) for stats in section.rows]
    width = max(len(name) for name, _ in rows) + 2
    header = f"{'operation':<{width}}{'cmds':>9}{'trips':>7}{'p50':>10}{'p95':>10}{'p99':>10}{'max':>11}{'ops/s':>9}"
    lines = ["Latency in µs; ops/s = one caller, back to back (1e6 / mean)", header, "-" * len(header)]
    for name, stats in rows:
        if stats is None:
            lines.append(f"[{name}]")
            continue
        lines.append(
            f"{name:<{width}}{_count(stats.commands):>9}{_count(stats.trips):>7}"
            f"{_us(stats.p50_us):>10}{_us(stats.p95_us):>10}{_us(stats.p99_us):>10}{_us(stats.max_us):>11}"
            f"{_rate(stats.ops_per_s):>9}"
        )
    return lines


def _concurrency_table(results: Results) -> list[str]:
    section = results.sections.get("concurrency")
    if section is None:
        return []
    lines = [
        "",
        f"[{section.title}] medians of {section.extra['levels'][0]['trials']} alternating trials",
        f"{'tasks':>7}{'add_message ops/s':>19}{'raw RPUSH ops/s':>17}{'ratio':>8}",
    ]
    for level in section.extra["levels"]:
        lines.append(
            f"{level['tasks']:>7,}{level['add_message_ops_per_s']:>19,.0f}"
            f"{level['raw_rpush_ops_per_s']:>17,.0f}{level['ratio']:>8.2f}"
        )
    return lines


def _keyspace_table(results: Results) -> list[str]:
    section = results.sections.get("keyspace")
    if section is None:
        return []
    levels = section.extra["levels"]
    ways = [key[len("scan (") : -1] for key in levels[0] if key.startswith("scan (")]
    header = f"{'sessions':>9}{'keys':>10}{'index p50':>11}{'in trips':>10}"
    header += "".join(f"{'SCAN ' + how + ' p50':>34}{'ratio':>9}" for how in ways)
    lines = ["", f"[{section.title}] the user owns {section.extra['target_user_sessions']} sessions", header]
    for level in levels:
        line = f"{level['sessions']:>9,}{level['dbsize']:>10,}{_us(section.row(level['index']).p50_us):>11}"
        line += f"{level['index_in_round_trips']:>10.2f}"
        for how in ways:
            line += f"{_us(section.row(level[f'scan ({how})']).p50_us):>34}{level[f'ratio ({how})']:>8,.0f}x"
        lines.append(line)
    return lines


def _memory_table(results: Results) -> list[str]:
    section = results.sections.get("memory")
    if section is None:
        return []
    lines = [
        "",
        f"[{section.title}] MEMORY USAGE ... SAMPLES 0 of a chat list / messages in it",
        f"{'content':>9}{'bytes/msg':>11}{'stored JSON':>13}{'ratio':>7}{'cookbook JSON':>15}{'ratio':>7}",
    ]
    for row in section.extra["rows"]:
        lines.append(
            f"{row['content_bytes']:>7} B{row['bytes_per_message']:>11,.1f}{row['stored_json_bytes']:>13,.1f}"
            f"{row['ratio_to_stored_json']:>7.2f}{row['cookbook_json_bytes']:>15,}{row['ratio_to_cookbook_json']:>7.2f}"
        )
    return lines


def _notes(results: Results) -> list[str]:
    lines: list[str] = []
    operations = results.sections.get("operations")
    if operations is not None:
        decode = operations.extra["decode"]
        lines.append(
            f"decoding in get_messages(last=50): p50 {decode['p50_us']:.2f} µs a message "
            f"({decode['bytes_per_message']} B entries, pure CPU)"
        )
    append = results.sections.get("append")
    if append is not None:
        extra = append.extra
        if extra["add_message_extra_us"] > 0:
            lines.append(
                f"add_message p50 - raw RPUSH p50 = {extra['add_message_extra_us']:.0f} µs: add_message meets 1.2x "
                f"where one round trip takes {extra['round_trip_us_for_1_2x']:,.0f} µs or more"
            )
        server = "; ".join(f"{name} {us:.1f} µs" for name, us in extra["server_us_per_call"].items())
        lines.append(f"server time per call, median of blocks taken in turn (INFO commandstats): {server}")
        wrapper = extra["telemetry_wrapper_ratio"]
        lines.append(f"OpenTelemetry wrapper, no SDK configured: add_message p50 {wrapper:.3f}x the unwrapped method")
    durable = results.sections.get("durability")
    if durable is not None:
        extra = durable.extra
        lines.append(
            f"Durability(replicas=1): add_message p50 {extra['p50_ratio']:.2f}x (+{extra['p50_extra_us']:,.0f} µs) "
            f"on {extra['where']}"
        )
    strands = results.sections.get("strands")
    if strands is not None:
        extra = strands.extra
        if extra.get("skipped"):
            lines.append(f"Strands adapter: {extra['note']}")
        else:
            lines.append(
                f"Strands restore of {extra['messages']:,} messages: {extra['requests_per_restore']} requests, "
                f"decoding p50 {extra['decode']['p50_us']:.2f} µs a message"
            )
            if extra["community"].get("skipped"):
                lines.append(f"community adapter: {extra['community']['note']}")
    return ["", *lines] if lines else []


def _reachable(target: Target) -> bool:
    assert target.floor is not None
    return target.floor <= target.threshold if target.op == "<=" else target.floor >= target.threshold


def target_lines(targets: Sequence[Target], seconds: float, *, measured: str = ">9,.2f") -> list[str]:
    """Return a report's closing part: each target met or missed, its floor, and how many were met.

    Args:
        targets: The run's targets, in the order to print them.
        seconds: How long the run took.
        measured: The format of each measured figure.
    """
    lines = ["", "Targets"]
    width = max((len(target.name) for target in targets), default=0)
    for target in targets:
        unit = target.unit
        lines.append(
            f"  {target.status}  {target.name:<{width}} {target.measured:{measured}}{unit}  "
            f"(target {target.op} {target.threshold:g}{unit})"
        )
        if target.floor is not None:
            beyond = " (the target is past it)" if not _reachable(target) else ""
            lines.append(f"        {'':<{width}} floor {target.floor:,.2f}{unit}: {target.floor_of}{beyond}")
    lines.append(f"\n{sum(t.passed for t in targets)} of {len(targets)} targets met in {seconds:.0f} s")
    return lines


def render(results: Results) -> str:
    """Return the report printed at the end of a run."""
    facts = results.facts
    versions, machine = facts.versions, facts.machine
    server = results.server
    kind = "embedded " if server["embedded"] else ""
    kind += f"cluster of {server['nodes']} nodes" if server["cluster"] else "standalone"
    lines = [
        f"glide-memory {versions['glide_memory']} benchmark ({results.config.mode}), {facts.started_at}",
        f"valkey-glide {versions['valkey_glide']}, server {versions['server']} ({kind}), Python {versions['python']}",
        f"{machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['platform']}",
        f"command: {facts.command}",
        "",
        *_latency_table(results),
        *_keyspace_table(results),
        *_concurrency_table(results),
        *_memory_table(results),
        *_notes(results),
        *target_lines(results.targets, facts.seconds),
    ]
    return "\n".join(lines)


def write_json(figures: dict[str, Any], path: Path) -> Path:
    """Write a run's JSON-ready ``figures`` to ``path`` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
