"""The recall benchmark's targets, terminal report and JSON figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.config import config_json
from benchmarks.harness import Section, Stats, Target
from benchmarks.recall_measure import K, RecallConfig
from benchmarks.report import target_lines
from benchmarks.runner import Facts

SEARCH_RECALL_AT_10 = 0.95
"""HNSW's recall@10 against brute force (DESIGN's "Semantic recall": the search backend must not lose hits)."""
EXACT_RECALL_AT_5 = 1.0
"""The exact backend returns what brute force returns."""
ADD_RATIO = 1.2
"""add_message with an embedder (embedding excluded) over add_message without one."""
PEER_SPEEDUP = 2.0
"""redisvl's SemanticMessageHistory p50 over recall's, same server and model."""
PEER_RECALL_AT_5 = 0.9


@dataclass(slots=True, kw_only=True)
class RecallResults:
    """Everything one recall run measured, with the facts needed to reproduce it."""

    config: RecallConfig
    facts: Facts
    servers: dict[str, Any]
    embedder: dict[str, Any]
    sections: dict[str, Section]
    targets: list[Target]
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        """Return every figure as a JSON-ready dict (raw samples left out)."""
        return {
            "schema_version": 1,
            "benchmark": "recall",
            "mode": self.config.mode,
            **self.facts.to_json(),
            "servers": self.servers,
            "embedder": self.embedder,
            "config": config_json(self.config),
            "sections": {key: section.to_json() for key, section in self.sections.items()},
            "targets": [target.to_json() for target in self.targets],
            "notes": self.notes,
        }


def _sized(sections: dict[str, Section], kind: str) -> list[Section]:
    return sorted((s for key, s in sections.items() if key.startswith(kind + "-")), key=lambda s: s.extra["messages"])


def _peer_choice(section: Section) -> str | None:
    """Return the key of redisvl's fastest setting that finds what brute force finds (recall@5 >= 0.9)."""
    names, quality = section.extra["names"], section.extra["quality"]
    good = [key for key in ("default", "2.0") if quality[names[key]][f"recall_at_{K}"] >= PEER_RECALL_AT_5]
    return min(good, key=lambda key: section.row(names[key]).p50_us, default=None)


def evaluate(sections: dict[str, Section]) -> list[Target]:
    """Return every target the run can answer, PASS or MISS."""
    targets: list[Target] = []
    for section in _sized(sections, "recall"):
        messages, quality = section.extra["messages"], section.extra["quality"]
        if "search" in quality:
            targets.append(
                Target(
                    name=f"search backend recall@10 vs brute force, {messages:,} messages",
                    measured=quality["search"]["at_10"]["recall_at_10"],
                    op=">=",
                    threshold=SEARCH_RECALL_AT_10,
                    unit="",
                )
            )
        targets.append(
            Target(
                name=f"exact backend recall@{K} vs brute force, {messages:,} messages",
                measured=quality["exact"][f"recall_at_{K}"],
                op=">=",
                threshold=EXACT_RECALL_AT_5,
                unit="",
            )
        )
    for section in _sized(sections, "add"):
        for backend, ratio in section.extra["ratios"].items():
            without = section.row(ratio["without"])
            server = section.extra["server"]
            extra_us = server[ratio["with"]]["exec_us_per_call"] - server[ratio["without"]]["exec_us_per_call"]
            targets.append(
                Target(
                    name=f"add_message with embedder / without, p50, {backend}, {section.extra['messages']:,} messages",
                    measured=ratio["p50"],
                    op="<=",
                    threshold=ADD_RATIO,
                    floor=(without.mean_us + extra_us) / without.mean_us,
                    floor_of="add_message without an embedder plus only the server's extra time with one (means)",
                )
            )
    peer = sections.get("redisvl")
    if peer is not None:
        targets += _peer_targets(peer)
    return targets


def _peer_targets(section: Section) -> list[Target]:
    names, quality, speedups = section.extra["names"], section.extra["quality"], section.extra["speedups"]
    messages = section.extra["messages"]
    targets = [
        Target(
            name=f"recall@{K} vs brute force, search backend, {messages:,} messages",
            measured=quality[names["search"]][f"recall_at_{K}"],
            op=">=",
            threshold=PEER_RECALL_AT_5,
            unit="",
        )
    ]
    choice = _peer_choice(section)
    if choice is None:
        return targets
    floor = speedups.get(f"floor vs {choice}")
    setting = "threshold 0.3" if choice == "default" else "threshold 2.0"
    targets.append(
        Target(
            name=f"redisvl ({setting}) p50 / recall p50, search backend, {messages:,} messages",
            measured=speedups[f"search vs {choice}"]["p50"],
            op=">=",
            threshold=PEER_SPEEDUP,
            floor=None if floor is None else floor["p50"],
            floor_of="the search backend's FT.SEARCH sent alone through glide (no owner check, no copies)",
        )
    )
    return targets


# -- the terminal report --------------------------------------------------------


def _ms(us: float) -> str:
    ms = us / 1000
    return f"{ms:,.2f}" if ms < 100 else f"{ms:,.0f}"


def _latency(stats: Stats) -> str:
    return (
        f"{stats.samples:>8,}{_ms(stats.p50_us):>9}{_ms(stats.p95_us):>9}{_ms(stats.p99_us):>9}{_ms(stats.max_us):>9}"
    )


def _recall_table(results: RecallResults) -> list[str]:
    sections = _sized(results.sections, "recall")
    if not sections:
        return []
    lines = [
        f"[recall(k={K}) of one user across {results.config.sessions} sessions; ms, text query (embedding included)]",
        f"{'messages':>9}  {'what':<32}{'samples':>8}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}"
        f"{'busy ms':>9}{'reqs':>6}{'load s':>8}{'msgs/s':>8}{'B/msg':>7}",
    ]
    for section in sections:
        load, server = section.extra["load"], section.extra["server"]
        for stats in section.rows:
            backend = stats.name.split(" ", 1)[0]
            line = f"{section.extra['messages']:>9,}  {stats.name:<32}{_latency(stats)}"
            if backend in load:
                cost, figures = server[stats.name], load[backend]
                line += f"{_ms(cost['busy_us_per_call']):>9}{cost['requests_per_call']:>6.1f}"
                line += (
                    f"{figures['seconds']:>8.1f}{figures['messages_per_s']:>8,.0f}{figures['bytes_per_message']:>7,.0f}"
                )
            lines.append(line)
    lines.append(
        "  busy: the server's main thread per recall (INFO cpu); reqs: requests the client sends per recall; "
        "load: add_messages of 100 at a time, vectors precomputed; B/msg: used_memory growth per message"
    )
    lines += ["", "[Quality against brute force, tie-aware (a hit counts when its true score reaches the k-th best)]"]
    lines.append(
        f"{'messages':>9}  {'exact recall@5':>15}{'identical':>12}{'score err':>11}"
        f"{'search recall@5 (worst)':>25}{'search recall@10 (worst)':>26}"
    )
    for section in sections:
        exact = section.extra["quality"]["exact"]
        identical = f"{exact['identical_to_brute_force']}/{exact['queries']}"
        line = (
            f"{section.extra['messages']:>9,}  {exact['recall_at_5']:>15.4f}"
            f"{identical:>12}{exact['max_score_error']:>11.1e}"
        )
        search = section.extra["quality"].get("search")
        if search is not None:
            at10 = search["at_10"]
            line += f"{search['recall_at_5']:>17.4f} ({search['worst_recall_at_5']:.2f})"
            line += f"{at10['recall_at_10']:>18.4f} ({at10['worst_recall_at_10']:.2f})"
        lines.append(line)
    return ["", *lines]


def _add_table(results: RecallResults) -> list[str]:
    sections = _sized(results.sections, "add")
    if not sections:
        return []
    lines = [
        "",
        "[add_message with an embedder (a table: embedding excluded) vs without, interleaved; µs]",
        f"{'messages':>9}  {'server':<15}{'without p50':>12}{'with p50':>10}{'ratio':>7}"
        f"{'without p99':>13}{'with p99':>10}{'exec µs w/o':>13}{'with':>8}{'busy µs w/o':>13}{'with':>8}",
    ]
    for section in sections:
        for backend, ratio in section.extra["ratios"].items():
            without, with_ = section.row(ratio["without"]), section.row(ratio["with"])
            bare, full = section.extra["server"][ratio["without"]], section.extra["server"][ratio["with"]]
            lines.append(
                f"{section.extra['messages']:>9,}  {backend + ' backend':<15}"
                f"{without.p50_us:>12.0f}{with_.p50_us:>10.0f}"
                f"{ratio['p50']:>7.2f}{without.p99_us:>13.0f}{with_.p99_us:>10.0f}"
                f"{bare['exec_us_per_call']:>13.1f}{full['exec_us_per_call']:>8.1f}"
                f"{bare['busy_us_per_call']:>13.1f}{full['busy_us_per_call']:>8.1f}"
            )
    lines.append("  exec: the server's time in the commands (INFO commandstats); busy: its main thread's active time")
    return lines


def _peer_table(results: RecallResults) -> list[str]:
    section = results.sections.get("redisvl")
    if section is None:
        return []
    extra = section.extra
    names, quality, server, speedups = extra["names"], extra["quality"], extra["server"], extra["speedups"]
    rounds = results.config.compare_rounds
    lines = [
        "",
        f"[{section.title}: same RediSearch server, same model; warm blocks, {rounds} rounds x "
        f"{results.config.compare_block} calls; ms]",
        f"{'contender':<75}{'p50':>7}{'p99':>8}{'x 0.3':>7}{'x 2.0':>7}{'recall@5':>10}{'exec ms':>9}{'busy ms':>9}"
        f"{'reqs':>6}",
    ]
    keys = {name: key for key, name in names.items()}
    for stats in section.rows:
        key = keys.get(stats.name)
        line = f"{stats.name:<75}{_ms(stats.p50_us):>7}{_ms(stats.p99_us):>8}"
        if key in ("search", "exact", "floor"):
            line += f"{speedups[f'{key} vs default']['p50']:>7.2f}{speedups[f'{key} vs 2.0']['p50']:>7.2f}"
        else:
            line += f"{'':>14}"
        judged = quality.get(stats.name)
        line += f"{judged['recall_at_5']:>10.3f}" if judged else f"{'':>10}"
        cost = server.get(stats.name)
        if cost:
            line += (
                f"{_ms(cost['exec_us_per_call']):>9}{_ms(cost['busy_us_per_call']):>9}{cost['requests_per_call']:>6.1f}"
            )
        lines.append(line.rstrip())
    lines.append(
        "  x: speed-up, the redisvl row's p50 over this row's (above 1: faster than redisvl); exec: server time in "
        "the commands sent; busy: the server's main thread"
    )
    for stats_name, cost in server.items():
        parts = ", ".join(
            f"{name} {c['calls_per_call']:g}x {c['us_per_call']:,.0f} µs"
            + (" (in scripts)" if c["inside_scripts"] else "")
            for name, c in cost["by_command"].items()
        )
        lines.append(f"  server per call, {stats_name}: {parts}")
    lines.append(
        f"  the same model on both sides: the largest gap between redisvl's and glide-memory's vector of a query is "
        f"{extra['same_vectors_max_difference']:.1e}"
    )
    for name, figures in extra["load"].items():
        lines.append(
            f"  loading {extra['messages']:,} messages, {name}: {figures['seconds']:.1f} s "
            f"({figures['messages_per_s']:,.0f}/s), {figures['bytes_per_message']:,.0f} B a message"
        )
    return lines


def _loads(values: list[float]) -> str:
    return " ".join(f"{value:.2f}" for value in values) or "unknown"


def render(results: RecallResults) -> str:
    """Return the report printed at the end of a run."""
    facts, servers, embedder = results.facts, results.servers, results.embedder
    versions, machine = facts.versions, facts.machine
    lines = [
        f"glide-memory {versions['glide_memory']} semantic recall benchmark ({results.config.mode}), "
        f"{facts.started_at}",
        f"valkey-glide {versions['valkey_glide']}, Python {versions['python']}, numpy {versions['numpy']} "
        f"(OPENBLAS_NUM_THREADS={machine['openblas_num_threads']}), wordllama {versions['wordllama']}, "
        f"redisvl {versions['redisvl']}, redis-py {versions['redis']}",
    ]
    for key in ("exact", "search"):
        if key in servers:
            lines.append(f"{servers[key]['role']}: {servers[key]['description']}")
    lines += [
        f"{machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['platform']}; load average "
        f"{_loads(machine['load_average_start'])} at the start, {_loads(machine['load_average_end'])} at the end",
        f"embedder: {embedder['name']} ({embedder['dimensions']} dims), {embedder['texts_up_front']:,} texts "
        f"embedded up front in {embedder['seconds_up_front']:.1f} s; {results.config.queries} distinct queries",
        f"command: {facts.command}",
        *_recall_table(results),
        *_add_table(results),
        *_peer_table(results),
    ]
    if results.notes:
        lines += ["", *(f"note: {note}" for note in results.notes)]
    lines += target_lines(results.targets, facts.seconds, measured=">8,.3f")
    return "\n".join(lines)
