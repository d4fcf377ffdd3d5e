"""The benchmark harness runs end to end with tiny sample counts and writes a complete report."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, cast

from glide import GlideClient

from tests.support import Client

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = 8
KEYSPACES = (20, 40)
TASKS = (1, 10, 100)
SECTIONS = {"commands", "append", "operations", "sizes", "memory", "concurrency", "keyspace", "strands", "durability"}
TARGETS = (
    "add_message p50 / floor function p50",
    "server µs per add_message / server µs of the floor function",
    "add_message p50 / raw glide RPUSH p50",
    "server µs per add_message / server µs of the cookbook's 4 commands",
    "cookbook 4-await add p50 / add_message p50",
    "get_messages(last=50) p50 / raw glide LRANGE -50 -1 p50",
    "get_messages decoding per message",
    "Strands restore of 20 messages, requests",
    "Strands restore decoding per message",
    "SCAN pattern (pipelined per page) / list_user_sessions p50, 40 sessions",
    "list_user_sessions in trips, 40 / 20 sessions",
    "add_message / floor function throughput, 100 tasks",
    "add_message / raw RPUSH throughput, 100 tasks",
    "memory per message / stored JSON",
)


async def _run(*args: str, env: dict[str, str] | None = None) -> str:
    """Run this Python with ``args`` from the repository's root; return its output once it has succeeded."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=90)
    output = stdout.decode()
    assert process.returncode == 0, output
    return output


async def _run_bench(out: Path, *args: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    """Run ``python -m benchmarks`` with tiny counts; return its JSON report and its output."""
    output = await _run(
        *("-m", "benchmarks", "--samples", str(SAMPLES), "--calls", "200", "--messages", "20", "--no-progress"),
        *("--keyspaces", ",".join(map(str, KEYSPACES)), "--tasks", ",".join(map(str, TASKS)), "--out", str(out)),
        *args,
        env=env,
    )
    return _written(out, output), output


def _written(out: Path, output: str) -> dict[str, Any]:
    """Return the one JSON report in ``out`` after checking the one PNG chart beside it."""
    reports = list(out.glob("bench-*.json"))
    charts = list(out.glob("bench-*.png"))
    assert len(reports) == 1 and len(charts) == 1, output
    assert charts[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and charts[0].stat().st_size > 20_000
    assert str(reports[0]) in output and str(charts[0]) in output
    report: dict[str, Any] = json.loads(reports[0].read_text(encoding="utf-8"))
    return report


async def _left(client: GlideClient, pattern: str) -> list[bytes]:
    """Return the keys matching ``pattern`` (a whole SCAN)."""
    cursor: bytes | str = "0"
    left: list[bytes] = []
    while True:
        page = await client.scan(cursor, match=pattern, count=1000)
        cursor, left = cast(bytes, page[0]), left + cast(list[bytes], page[1])
        if cursor == b"0":
            return left


def _check_targets(targets: list[dict[str, Any]], expected: tuple[str, ...], output: str) -> None:
    """Each expected target is reported in order, PASS or MISS, with a positive figure, and printed."""
    assert len(targets) == len(expected)
    for name, target in zip(expected, targets, strict=True):
        assert target["name"].startswith(name), target
        assert target["status"] in ("PASS", "MISS") and target["measured"] > 0, target
        assert f"{target['status']}  {target['name']}" in output


def _check_rows(rows: list[dict[str, Any]], samples: int | None = SAMPLES) -> None:
    assert rows
    for row in rows:
        if samples is not None:
            assert row["samples"] == samples, row
        assert 0 < row["p50_us"] <= row["p95_us"] <= row["p99_us"] <= row["max_us"], row
        assert row["mean_us"] > 0 and row["ops_per_s"] > 0, row


def _check_report(report: dict[str, Any], output: str) -> None:
    """Every section, figure and target is there, positive and named as the issue asks."""
    assert report["mode"] == "custom" and report["duration_s"] > 0
    assert report["versions"]["valkey_glide"][0].isdigit() and report["versions"]["server"][0].isdigit()
    assert report["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["platform"]
    sections = report["sections"]
    assert set(sections) == SECTIONS
    commands = sections["commands"]["rows"]
    _check_rows(commands)
    assert len(commands) == 12 and any(row["name"].startswith("SCAN MATCH meta:*") for row in commands)
    _check_rows(sections["append"]["rows"])
    assert [row["name"] for row in sections["append"]["rows"]][:3] == [
        "raw glide RPUSH",
        "add_message",
        "add_message, telemetry wrapper bypassed",
    ]
    server = sections["append"]["server_us_per_call"]
    assert set(server) == {
        "add_message (FCALL)",
        "cookbook's 4 commands",
        "floor script (id check + the 4 writes)",
        "floor function (id check + the 4 writes)",
        "no-op script",
    }
    assert all(us > 0 for us in server.values()), server
    # the floor does less than the function: a server that reports otherwise is not measuring what we think
    assert server["no-op script"] < server["floor script (id check + the 4 writes)"] < server["add_message (FCALL)"] * 2
    _check_rows(sections["operations"]["rows"])
    names = [row["name"] for row in sections["operations"]["rows"]]
    assert {"raw glide LRANGE -50 -1", "raw LRANGE -50 -1, then decode", "get_messages(last=50)"} <= set(names), names
    assert sections["operations"]["decode"]["p50_us"] > 0
    _check_rows(sections["sizes"]["rows"])
    assert len(sections["sizes"]["rows"]) == 6
    _check_rows(sections["keyspace"]["rows"], samples=None)
    levels = sections["keyspace"]["levels"]
    assert [level["sessions"] for level in levels] == list(KEYSPACES)
    assert all(level["ratio (pipelined per page)"] > 0 and level["dbsize"] >= level["sessions"] for level in levels)
    throughput = sections["concurrency"]["levels"]
    assert [level["tasks"] for level in throughput] == list(TASKS)
    assert all(level["add_message_ops_per_s"] > 0 and level["raw_rpush_ops_per_s"] > 0 for level in throughput)
    assert all(level["floor_script_ops_per_s"] > 0 and level["floor_ratio"] > 0 for level in throughput)
    assert all(level["floor_function_ops_per_s"] > 0 and level["ratio_to_floor_function"] > 0 for level in throughput)
    assert sections["append"]["telemetry_wrapper_ratio"] > 0
    durable = sections["durability"]
    _check_rows(durable["rows"])
    assert [row["name"] for row in durable["rows"]] == ["add_message", "add_message, Durability(replicas=1)"]
    assert durable["p50_ratio"] > 0 and "Durability(replicas=1): add_message p50" in output
    memory = sections["memory"]["rows"]
    assert len(memory) == 4 and all(row["bytes_per_message"] > row["stored_json_bytes"] * 0.5 for row in memory)
    strands = sections["strands"]
    assert not strands["skipped"], strands  # make test installs the strands extra
    _check_rows(strands["rows"][:1])
    assert strands["requests_per_restore"] == 3 and strands["decode"]["p50_us"] > 0
    community = strands["community"]
    if community["skipped"]:  # it needs the server's JSON module (the embedded server lacks it) and one server
        reason = "standalone servers only" if report["server"]["cluster"] else "JSON module"
        assert reason in community["note"] and community["note"] in output, community
    else:
        assert any(row["name"].startswith("strands-valkey-session-manager") for row in strands["rows"])
    _check_targets(report["targets"], TARGETS, output)
    assert report["server"]["keys_deleted_after"] > 0


async def test_quick_harness_writes_complete_report(valkey_url: str, client: Client, tmp_path: Path) -> None:
    """The harness against the test server reports every section and target, and deletes its keys."""
    report, output = await _run_bench(tmp_path, "--url", valkey_url)
    _check_report(report, output)
    assert report["server"]["cluster"] is False
    assert isinstance(client, GlideClient)
    assert await _left(client, report["server"]["namespace"] + "*") == []


async def test_harness_runs_on_a_cluster_client(tmp_path: Path) -> None:
    """--cluster runs every section through a cluster client (an embedded 3-primary, 3-replica cluster)."""
    env = {name: value for name, value in os.environ.items() if name != "VALKEY_URL"}
    cluster_url = os.environ.get("VALKEY_CLUSTER_URL")
    report, output = await _run_bench(tmp_path, "--cluster", *(("--url", cluster_url) if cluster_url else ()), env=env)
    _check_report(report, output)
    assert report["server"]["cluster"] is True
    if not cluster_url:
        assert report["server"]["nodes"] == 6 and "cluster of 6 nodes" in output


RECALL_SIZE = 200
RECALL_TARGETS = (
    f"search backend recall@10 vs brute force, {RECALL_SIZE} messages",
    f"exact backend recall@5 vs brute force, {RECALL_SIZE} messages",
    f"add_message with embedder / without, p50, exact, {RECALL_SIZE} messages",
    f"add_message with embedder / without, p50, search, {RECALL_SIZE} messages",
    f"recall@5 vs brute force, search backend, {RECALL_SIZE} messages",
    "redisvl (threshold ",
)


async def test_recall_benchmark_writes_complete_report(valkey_url: str, client: Client, tmp_path: Path) -> None:
    """The recall benchmark, tiny, reports latency, quality against brute force, add_message, redisvl; cleans up."""
    output = await _run(
        *("-m", "benchmarks.recall", "--url", valkey_url, "--sizes", str(RECALL_SIZE), "--queries", "10"),
        *("--samples", "5", "--compare-messages", str(RECALL_SIZE), "--compare-rounds", "2", "--no-progress"),
        *("--out", str(tmp_path)),
    )
    report = _recall_report(tmp_path, output)
    assert report["benchmark"] == "recall" and report["mode"] == "custom" and report["notes"] == [], report["notes"]
    assert report["versions"]["redisvl"][0].isdigit() and report["versions"]["wordllama"][0].isdigit()
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["openblas_num_threads"] == "1"
    assert report["servers"]["search"]["search_module"] and report["embedder"]["dimensions"] == 256
    sections = report["sections"]
    assert set(sections) == {f"recall-{RECALL_SIZE}", f"add-{RECALL_SIZE}", "redisvl"}

    recall = sections[f"recall-{RECALL_SIZE}"]
    _check_rows(recall["rows"], samples=5)
    assert [row["name"] for row in recall["rows"]] == [
        "exact backend, recall(k=5)",
        "search backend, recall(k=5)",
        "query embedding alone (1 text)",
    ]
    for backend in ("exact", "search"):
        load = recall["load"][backend]
        assert load["seconds"] > 0 and load["messages_per_s"] > 0 and load["bytes_per_message"] > 1024, load
        cost = recall["server"][f"{backend} backend, recall(k=5)"]
        assert cost["requests_per_call"] >= 1 and cost["exec_us_per_call"] > 0 and cost["busy_us_per_call"] > 0
    exact, search = recall["quality"]["exact"], recall["quality"]["search"]
    # the exact backend returns what brute force returns: the same scores, in the same order, for every query
    assert exact["backend"] == "exact" and exact["queries"] >= 5
    assert exact["recall_at_5"] == 1.0 and exact["identical_to_brute_force"] == exact["queries"], exact
    assert exact["max_score_error"] < 1e-6
    assert search["backend"] == "search" and search["queries"] == 10 and 0 < search["recall_at_5"] <= 1
    assert 0 < search["at_10"]["recall_at_10"] <= 1 and search["at_10"]["queries"] == 10

    add = sections[f"add-{RECALL_SIZE}"]
    _check_rows(add["rows"], samples=5)
    assert set(add["ratios"]) == {"exact", "search"}
    for ratio in add["ratios"].values():
        assert ratio["p50"] > 0 and ratio["server_us"] > 0
        assert add["server"][ratio["with"]]["requests_per_call"] == 1  # one atomic call, vector included

    peer = sections["redisvl"]
    _check_rows(peer["rows"][:6], samples=5 * 2)
    names = peer["names"]
    assert set(names) == {"default", "2.0", "search", "exact", "floor"}
    assert set(peer["load"]) == {"glide-memory search", "glide-memory exact", "redisvl"}
    assert peer["load"]["redisvl"]["stored"] == RECALL_SIZE and peer["same_vectors_max_difference"] < 1e-5
    for key in ("default", "2.0", "search", "exact"):
        judged = peer["quality"][names[key]]
        assert judged["queries"] >= 1 and 0 <= judged["recall_at_5"] <= 1, judged
        assert peer["server"][names[key]]["busy_us_per_call"] > 0
    assert peer["quality"][names["exact"]]["recall_at_5"] == 1.0
    assert peer["quality"][names["2.0"]]["recall_at_5"] == 1.0  # every message a candidate: brute force too
    assert all(s["p50"] > 0 and s["median_of_rounds"] > 0 for s in peer["speedups"].values())

    _check_targets(report["targets"], RECALL_TARGETS, output)
    assert isinstance(client, GlideClient)
    assert await _left(client, report["servers"]["namespace"] + "*") == []


def _recall_report(out: Path, output: str) -> dict[str, Any]:
    """Return the one JSON report of the recall benchmark in ``out``."""
    reports = list(out.glob("recall-*.json"))
    assert len(reports) == 1 and str(reports[0]) in output, output
    report: dict[str, Any] = json.loads(reports[0].read_text(encoding="utf-8"))
    return report
