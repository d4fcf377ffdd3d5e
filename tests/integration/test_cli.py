"""The glide-memory command line, run as a subprocess against the test session's server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from glide import GlideClient, GlideClusterClient

from glide_memory import SessionStore, __version__, acl_setuser
from glide_memory._server import LIBRARY
from glide_memory.keys import KeySchema, new_session_id

Client = GlideClient | GlideClusterClient

TURNS = [
    ("user", "Best time to visit Lisbon?", 7),
    ("assistant", "Spring:\nmild and quiet.", 12),
    ("user", "Thanks", 2),
]


@dataclass(frozen=True)
class Run:
    """What one run of the command line gave."""

    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()

    def json_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.out.splitlines()]


async def cli(*args: str, url: str | None, stdin: bytes | None = None) -> Run:
    """Run ``python -m glide_memory [--url URL] ARGS`` with ``stdin`` (no terminal) and return what it gave."""
    env = {k: v for k, v in os.environ.items() if k != "VALKEY_URL"}
    command = [sys.executable, "-m", "glide_memory", *(["--url", url] if url else []), *args]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out, err.decode())


async def two_sessions(store: SessionStore, user_id: str) -> list[str]:
    """Create a session with three messages and one with a single one; return their ids."""
    first = await store.create_session(user_id, title="Trip to Lisbon")
    for role, text, tokens in TURNS:
        await store.add_message(first.session_id, role, text, tokens_used=tokens)
    second = await store.create_session(user_id, title="Second")
    await store.add_message(second.session_id, "user", "hello", tokens_used=1)
    return [first.session_id, second.session_id]


def assert_one_error_line(run: Run, *words: str) -> None:
    """Check a failed run: exit code 1 and one 'glide-memory: error:' line naming ``words``, no traceback."""
    assert run.code == 1, run
    assert "Traceback" not in run.err
    assert len(run.err.strip().splitlines()) == 1, run.err
    assert run.err.startswith("glide-memory: error: ")
    for word in words:
        assert word in run.err


async def test_version_is_the_package_version() -> None:
    """--version prints the package's version and needs no server."""
    run = await cli("--version", url=None)
    assert (run.code, run.text) == (0, f"glide-memory {__version__}\n")


async def test_sessions_list_prints_a_table_and_json_lines(store: SessionStore, valkey_url: str, user_id: str) -> None:
    """Sessions list shows one row per session, newest first, and one JSON object per line with --json."""
    first, second = await two_sessions(store, user_id)
    table = await cli("sessions", "list", "--user", user_id, url=valkey_url)
    assert table.code == 0, table.err
    header, *rows = table.text.splitlines()
    assert header.split()[:4] == ["SESSION", "MESSAGES", "TOKENS", "LAST"]
    assert [row.split()[:3] for row in rows] == [[second, "1", "1"], [first, "3", "21"]]
    assert rows[1].endswith("Trip to Lisbon")
    listed = await cli("sessions", "list", "--user", user_id, "--json", url=valkey_url)
    documents = listed.json_lines()
    assert [d["session_id"] for d in documents] == [second, first]
    assert documents[1]["messages_stored"] == 3 and documents[1]["token_count"] == 21
    page = await cli("sessions", "list", "--user", user_id, "--limit", "1", url=valkey_url)
    assert len(page.text.splitlines()) == 2 and "--after" in page.err


async def test_session_show_prints_counts_tokens_and_ttl(store: SessionStore, valkey_url: str, user_id: str) -> None:
    """Session show prints the metadata, counts and TTL, as text and as one JSON document."""
    sid, _ = await two_sessions(store, user_id)
    shown = await cli("session", "show", sid, url=valkey_url)
    fields = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in shown.text.splitlines())
    assert (fields["session"], fields["user"], fields["title"]) == (sid, user_id, "Trip to Lisbon")
    assert (fields["messages stored"], fields["tokens"]) == ("3", "21")
    assert fields["ttl"].startswith("86400 s")
    document = json.loads((await cli("--json", "session", "show", sid, url=valkey_url)).out)
    assert document["session_id"] == sid and document["token_count"] == 21 and document["threads"] == []
    assert 0 < document["expires_in_seconds"] <= 86400


async def test_tail_prints_the_newest_messages(store: SessionStore, valkey_url: str, user_id: str) -> None:
    """Session tail -n N prints the newest N messages, continuation lines indented, or JSON lines."""
    sid, _ = await two_sessions(store, user_id)
    tail = await cli("session", "tail", sid, "-n", "2", url=valkey_url)
    lines = tail.text.splitlines()
    assert len(lines) == 3 and "assistant" in lines[0] and lines[0].endswith("Spring:")
    assert lines[1].strip() == "mild and quiet." and lines[2].endswith("Thanks")
    as_json = await cli("session", "tail", sid, "-n", "2", "--json", url=valkey_url)
    assert [m["content"] for m in as_json.json_lines()] == ["Spring:\nmild and quiet.", "Thanks"]


async def test_tail_follow_prints_new_messages_until_ctrl_c(store: SessionStore, valkey_url: str, user_id: str) -> None:
    """Tail --follow prints messages added later and exits 0 on SIGINT."""
    sid, _ = await two_sessions(store, user_id)
    command = [sys.executable, "-m", "glide_memory", "--url", valkey_url, "session", "tail", sid, "-n", "1"]
    process = await asyncio.create_subprocess_exec(
        *command, "--follow", "--interval", "0.1", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        assert (await asyncio.wait_for(process.stdout.readline(), 30)).endswith(b"Thanks\n")
        await store.add_message(sid, "assistant", "You are welcome", tokens_used=4)
        assert (await asyncio.wait_for(process.stdout.readline(), 30)).endswith(b"You are welcome\n")
    finally:
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err
    assert out == b"" and b"Traceback" not in err


async def test_server_cluster_serves_the_cli_until_ctrl_c() -> None:
    """Server --cluster prints a cluster URL the other commands use (stats, import, show), and stops on SIGINT."""
    command = [sys.executable, "-m", "glide_memory", "--json", "server", "--cluster", "--replicas", "1"]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        url = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))["url"]
        assert url.startswith("valkey://") and url.endswith("?cluster=true") and url.count(",") == 5
        async with await SessionStore.connect(url) as cluster_store:
            sid = (await cluster_store.create_session("ops")).session_id
            await cluster_store.add_message(sid, "user", "hello", 2)
        stats = json.loads((await cli("--json", "stats", url=url)).out)
        assert (stats["sessions"], stats["messages"]) == (1, 1), stats
        listed = await cli("--json", "sessions", "list", "--user", "ops", url=url)
        assert [d["session_id"] for d in listed.json_lines()] == [sid]
    finally:
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0 and b"Traceback" not in err
    ports = [int(seed.rsplit(":", 1)[1]) for seed in url.removeprefix("valkey://").split("?")[0].split(",")]
    for port in ports:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_server_started_in_the_background_stops_on_sigint() -> None:
    """A shell starts `glide-memory server &` with SIGINT ignored; kill -INT still stops it and its server."""
    process = subprocess.Popen(
        [sys.executable, "-m", "glide_memory", "--json", "server"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # what a shell's & does
    )  # fmt: skip
    try:
        assert process.stdout is not None
        port = int(json.loads(process.stdout.readline())["url"].rsplit(":", 1)[1])
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0 and b"Traceback" not in err
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_export_delete_import_export_gives_the_same_bytes(
    store: SessionStore, client: Client, valkey_url: str, user_id: str, namespace: str, tmp_path: Path
) -> None:
    """Export, delete, import (from a file, or stdin into a fresh namespace) and export again: the same bytes."""
    await two_sessions(store, user_id)
    exported = await cli("export", "--user", user_id, url=valkey_url)
    assert exported.code == 0 and len(exported.json_lines()) > 2
    to_file = await cli("export", "--user", user_id, "-o", str(tmp_path / "dump.jsonl"), url=valkey_url)
    assert (tmp_path / "dump.jsonl").read_bytes() == exported.out and "exported 2 sessions" in to_file.err
    assert (await cli("delete", "--user", user_id, "--yes", url=valkey_url)).code == 0
    loaded = await cli("import", str(tmp_path / "dump.jsonl"), url=valkey_url)
    assert (loaded.code, loaded.text) == (0, "imported 2 sessions, 4 messages\n")
    assert (await cli("export", "--user", user_id, url=valkey_url)).out == exported.out
    again = await cli("import", str(tmp_path / "dump.jsonl"), url=valkey_url)
    assert_one_error_line(again, "already exists", "--replace")
    elsewhere = await cli("--namespace", namespace, "--json", "import", "-", url=valkey_url, stdin=exported.out)
    assert json.loads(elsewhere.out)["imported"] == 2
    assert (await cli("export", "--namespace", namespace, "--user", user_id, url=valkey_url)).out == exported.out


async def test_delete_user_with_yes_removes_every_key_and_the_index(
    store: SessionStore, client: Client, valkey_url: str, user_id: str
) -> None:
    """Delete --user --yes removes the user's sessions, their keys and the index."""
    ids = await two_sessions(store, user_id)
    keys = [key for sid in ids for key in store.schema.keys(sid)[:3]]  # chat, meta, msgids: what they wrote
    index = store.schema.user_sessions(user_id)
    assert await client.exists([*keys, index]) == len(keys) + 1
    run = await cli("--json", "delete", "--user", user_id, "--yes", url=valkey_url)
    assert (run.code, json.loads(run.out)) == (0, {"deleted": 2})
    assert await client.exists([*keys, index]) == 0
    listed = await cli("sessions", "list", "--user", user_id, url=valkey_url)
    assert listed.out == b"" and "no sessions" in listed.err


async def test_delete_without_yes_and_without_a_terminal_refuses(
    store: SessionStore, valkey_url: str, user_id: str
) -> None:
    """Delete without --yes and without a terminal refuses with one error line and leaves the data."""
    first, second = await two_sessions(store, user_id)
    assert_one_error_line(await cli("delete", "--user", user_id, url=valkey_url), "--yes", "2 sessions")
    assert_one_error_line(await cli("delete", "--session", first, url=valkey_url), "--yes")
    assert len(await store.list_user_sessions(user_id)) == 2
    deleted = await cli("delete", "--session", second, "--yes", url=valkey_url)
    assert (deleted.code, deleted.text) == (0, "deleted 1 session\n")
    assert [info.session_id for info in await store.list_user_sessions(user_id)] == [first]


async def test_errors_are_one_line_and_exit_code_1(valkey_url: str) -> None:
    """An unknown session or file is one error line with exit code 1; bad usage exits 2."""
    unknown = new_session_id()
    for args in (["session", "show", unknown], ["session", "tail", unknown], ["export", "--session", unknown]):
        assert_one_error_line(await cli(*args, url=valkey_url), unknown, "does not exist")
    assert_one_error_line(await cli("import", "/no/such/file", url=valkey_url), "/no/such/file")
    usage = await cli("delete", "--yes", url=valkey_url)
    assert usage.code == 2 and "one of the arguments --user --session is required" in usage.err


async def test_without_url_or_valkey_url_commands_say_how_to_set_one() -> None:
    """With neither --url nor VALKEY_URL a server command fails at once, naming both; none starts a server."""
    run = await cli("sessions", "list", "--user", "u", url=None)
    assert_one_error_line(run, "--url", "VALKEY_URL")


async def test_stats_counts_sessions_messages_and_samples_bytes(
    ns_store: SessionStore, client: Client, valkey_url: str, namespace: str, user_id: str
) -> None:
    """Stats counts the namespace's sessions, messages and tokens, and averages the sampled entries' bytes."""
    ids = await two_sessions(ns_store, user_id)
    entries = [entry for sid in ids for entry in await client.lrange(ns_store.schema.chat(sid), 0, -1)]
    run = await cli("--namespace", namespace, "stats", "--json", url=valkey_url)
    assert json.loads(run.out) == {
        "sessions": 2,
        "messages": 4,
        "tokens": 22,
        "bytes_per_message": round(sum(map(len, entries)) / len(entries)),
        "sampled_sessions": 2,
        "sampled_messages": 4,
    }
    text = await cli("--namespace", namespace, "stats", url=valkey_url)
    assert "sampled" in text.text and text.text.startswith("sessions            2\n")


async def test_reindex_indexes_sessions_written_without_the_index(
    ns_store: SessionStore, client: Client, valkey_url: str, namespace: str, user_id: str
) -> None:
    """Reindex adds a session written with raw commands to its user's index, so sessions list finds it."""
    sid = new_session_id()
    await client.hset(ns_store.schema.meta(sid), {"user_id": user_id, "created_at": "1700000000"})
    await client.rpush(ns_store.schema.chat(sid), ['{"role": "user", "content": "hi"}'])
    before = await cli("--namespace", namespace, "sessions", "list", "--user", user_id, "--json", url=valkey_url)
    assert before.out == b""
    run = await cli("--namespace", namespace, "reindex", url=valkey_url)
    assert (run.code, run.text, run.err) == (0, "indexed 1 session, removed 0 stale index members\n", "")
    after = await cli("--namespace", namespace, "sessions", "list", "--user", user_id, "--json", url=valkey_url)
    assert [d["session_id"] for d in after.json_lines()] == [sid]


def test_reindex_shows_a_progress_bar_on_a_terminal(valkey_url: str, namespace: str) -> None:
    """With stderr on a terminal, reindex draws a bar from the SCAN pages and clears it before the result."""
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "VALKEY_URL"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "glide_memory", "--url", valkey_url, "--namespace", namespace,
             "reindex", "--count", "10"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal, env=env, timeout=60, check=False,
        )  # fmt: skip
        os.close(terminal)
        drawn = b""
        with contextlib.suppress(OSError):  # EIO once everything written to the terminal is read
            while chunk := os.read(controller, 4096):
                drawn += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0 and done.stdout.startswith(b"indexed ")
    assert b"reindexing [" in drawn and b"sessions indexed" in drawn and drawn.endswith(b"\r\x1b[K")


async def test_acl_prints_the_least_privilege_rule() -> None:
    """Acl prints acl_setuser's command, as text or a JSON array, without a server."""
    run = await cli("acl", "--user", "app", "--password", "s3cret", "--strands", url=None)
    assert (run.code, run.text) == (0, " ".join(acl_setuser("app", "s3cret", strands=True)) + "\n")
    as_json = await cli("--json", "acl", "--user", "app", "--password", "s3cret", url=None)
    assert json.loads(as_json.out) == list(acl_setuser("app", "s3cret"))


async def test_functions_load_names_the_library(valkey_url: str) -> None:
    """Functions load (re)loads the function library and names it."""
    run = await cli("--json", "functions", "load", url=valkey_url)
    assert (run.code, json.loads(run.out)) == (0, {"library": LIBRARY.name})


@pytest.mark.parametrize("command", ["sessions list", "session show", "session tail", "export", "import", "delete",
                                     "reindex", "stats", "functions load", "acl", "server", "demo", "embed",
                                     "recall"])  # fmt: skip
async def test_every_command_has_plain_help(command: str) -> None:
    """--help works on every subcommand and its text has no reStructuredText markup."""
    run = await cli(*command.split(), "--help", url=None)
    assert run.code == 0 and run.text.startswith("usage: glide-memory " + command)
    assert "``" not in run.text and ":class:" not in run.text


async def test_embed_and_recall(store: SessionStore, valkey_url: str, namespace: str) -> None:
    """Embed catches a user's sessions up (once), and recall prints the user's closest messages."""
    plain = SessionStore(store.client, schema=KeySchema(namespace=namespace))
    sid = (await plain.create_session("una")).session_id
    await plain.add_message(sid, "user", "x509: certificate signed by unknown authority")
    await plain.add_message(sid, "user", "a recipe for tomato soup")
    first = await cli("--json", "--namespace", namespace, "embed", "--user", "una", url=valkey_url)
    assert (first.code, json.loads(first.out)) == (0, {"embedded": 2, "sessions": 1}), first.err
    again = await cli("--json", "--namespace", namespace, "embed", "--all", url=valkey_url)
    assert (again.code, json.loads(again.out)) == (0, {"embedded": 0, "sessions": 1}), again.err
    found = await cli("--namespace", namespace, "recall", "una", "certificate error", "-k", "1", url=valkey_url)
    assert found.code == 0, found.err
    header, row = found.text.splitlines()
    assert header.split() == ["SCORE", "SESSION", "ROLE", "MESSAGE"] and sid in row and "x509" in row
    as_json = await cli("--json", "--namespace", namespace, "recall", "una", "soup", url=valkey_url)
    assert as_json.json_lines()[0]["content"] == "a recipe for tomato soup"
