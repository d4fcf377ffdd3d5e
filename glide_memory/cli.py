"""The glide-memory command line: inspect, export, import and delete sessions, and run a local server.

Every command that talks to a server takes ``--url`` (default ``$VALKEY_URL``)
and fails with one line if neither is given: only ``demo`` starts a
throwaway server by itself. ``--json`` switches to machine output, described
in each command's help. Errors are one ``glide-memory: error: ...`` line on
stderr with exit code 1 (2 for usage errors), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any

import msgspec
from glide import Batch, ClusterBatch, ClusterScanCursor, GlideClient, GlideClusterClient, Logger, LogLevel, ObjectType

from glide_memory import acl, scripts
from glide_memory._version import __version__
from glide_memory.embedded import EmbeddedServer
from glide_memory.errors import GlideMemoryError, SessionExistsError, SessionNotFoundError
from glide_memory.index import Reindexed
from glide_memory.keys import KeySchema
from glide_memory.models import Message
from glide_memory.store import SessionStore

Handler = Callable[[SessionStore, argparse.Namespace], Awaitable[int]]

SCAN_COUNT = 1000
_BAR_WIDTH = 30
"""COUNT hint of the SCANs of ``stats``."""

DEMO_TURNS = [
    ("system", "You answer questions about Valkey.", 8),
    ("user", "How fast is HINCRBY?", 12),
    ("assistant", "About 0.1 ms on a local server.", 9),
    ("user", "Und auf Deutsch? 🙂", 6),
]


class CommandError(GlideMemoryError):
    """Raised for a command that cannot run as given: no URL, a refused confirmation."""


# -- output helpers ----------------------------------------------------------


def _emit(document: object) -> None:
    """Print one JSON document on one line."""
    print(json.dumps(document, ensure_ascii=False, sort_keys=True), flush=True)


def _message_document(message: Message) -> dict[str, Any]:
    """Return a message as its stored form has it: fields that are not set are left out."""
    document: dict[str, Any] = msgspec.to_builtins(message)
    return {name: value for name, value in document.items() if value is not None}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _when(timestamp: float) -> str:
    """Format Unix seconds as UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp)) if timestamp else "-"


def _duration(seconds: float | None) -> str:
    """Format a time left as its two largest units (``1d2h``, ``4m10s``), or ``never``."""
    if seconds is None:
        return "never"
    left = max(int(seconds), 0)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts[:2])


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Iterable[int] = ()) -> None:
    """Print rows under a header, columns padded; ``numeric`` columns right-aligned."""
    right = set(numeric)
    widths = [max(len(row[col]) for row in [header, *rows]) for col in range(len(header))]
    for row in [header, *rows]:
        cells = [
            cell.rjust(width) if col in right else cell.ljust(width)
            for col, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def _content_text(message: Message) -> str:
    if isinstance(message.content, str):
        return message.content
    return json.dumps(message.content, ensure_ascii=False)


def _print_message(message: Message, as_json: bool) -> None:
    """Print a message: a JSON line, or time, role, tokens and text (continuation lines indented)."""
    if as_json:
        _emit(_message_document(message))
        return
    prefix = f"{_when(message.timestamp or 0)}  {message.role.value:>9}  {message.tokens:>5} tok  "
    first, *rest = _content_text(message).split("\n")
    print(prefix + first)
    for line in rest:
        print(" " * len(prefix) + line)
    sys.stdout.flush()


def _warn(text: str) -> None:
    print(f"glide-memory: {text}", file=sys.stderr, flush=True)


# -- connecting ---------------------------------------------------------------


async def _connect(args: argparse.Namespace) -> SessionStore:
    """Connect to the URL the command line or ``$VALKEY_URL`` names; never start a server."""
    if not args.url:
        raise CommandError("no server to talk to: pass --url valkey://HOST:PORT or set VALKEY_URL")
    schema = KeySchema(namespace=args.namespace) if args.namespace else None
    # glide logs each failed connection attempt to the terminal; the one error line says what failed
    Logger.set_logger_config(LogLevel.OFF)
    return await SessionStore.connect(args.url, schema=schema)


def _on_store(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """Turn an async handler of a store into a command: connect, run it, close."""

    async def connected(args: argparse.Namespace) -> int:
        async with await _connect(args) as store:
            return await handler(store, args)

    def run(args: argparse.Namespace) -> int:
        return asyncio.run(connected(args))

    run.__doc__ = handler.__doc__
    return run


# -- sessions and one session -------------------------------------------------


async def sessions_list(store: SessionStore, args: argparse.Namespace) -> int:
    """List a user's sessions, most recently active first."""
    found = await store.list_user_sessions(args.user, limit=args.limit, after=args.after)
    if args.json:
        for info in found:
            _emit(dataclasses.asdict(info))
    else:
        rows = [
            [
                info.session_id,
                str(info.messages_stored),
                str(info.token_count),
                _when(info.last_active),
                _duration(info.expires_in_seconds),
                info.title or "",
            ]
            for info in found
        ]
        if rows:
            _table(["SESSION", "MESSAGES", "TOKENS", "LAST ACTIVE", "EXPIRES IN", "TITLE"], rows, numeric=(1, 2))
        elif args.after is None:
            _warn(f"user {args.user!r} has no sessions")
    if found.unreachable:
        _warn(f"warning: {_plural(len(found.unreachable), 'session')} unreachable: {', '.join(found.unreachable)}")
    if found.next_after is not None:
        _warn(f"more sessions: add --after {found.next_after}")
    return 0


async def session_show(store: SessionStore, args: argparse.Namespace) -> int:
    """Print a session's metadata, counts, tokens and time left."""
    info = await store.get_session_info(args.session_id)
    threads = await store.threads(args.session_id)
    if args.json:
        _emit({**dataclasses.asdict(info), "threads": threads})
        return 0
    rows = [
        ("session", info.session_id),
        ("user", info.user_id or "-"),
        ("title", info.title or "-"),
        ("model", info.model or "-"),
        ("created", _when(info.created_at)),
        ("last active", _when(info.last_active)),
        ("messages stored", str(info.messages_stored)),
        ("messages ever", str(info.message_count)),
        ("tokens", str(info.token_count)),
        ("ttl", "none" if info.ttl is None else f"{info.ttl} s (refreshed by activity)"),
        ("expires in", _duration(info.expires_in_seconds)),
        ("threads", ", ".join(threads) or "-"),
        *((f"meta {name}", value) for name, value in sorted(info.metadata.items())),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


async def _appended_since(store: SessionStore, session_id: str, seen: int) -> tuple[list[Message], int]:
    """Return the messages appended after the session's count was ``seen``, and its count now.

    The count is read again after the messages; if it moved meanwhile, the
    read is repeated so that no message is skipped or shown twice.
    """
    messages: list[Message] = []
    count = seen
    for _ in range(5):
        count = (await store.get_session_info(session_id)).message_count
        if count <= seen:
            return [], count
        messages = await store.get_messages(session_id, last=count - seen)
        if (await store.get_session_info(session_id)).message_count == count:
            break
    return messages, count


async def session_tail(store: SessionStore, args: argparse.Namespace) -> int:
    """Print a session's newest messages; with --follow, keep printing new ones until Ctrl-C."""
    seen = (await store.get_session_info(args.session_id)).message_count
    for message in await store.get_messages(args.session_id, last=args.lines):
        _print_message(message, args.json)
    while args.follow:
        await asyncio.sleep(args.interval)
        messages, seen = await _appended_since(store, args.session_id, seen)
        for message in messages:
            _print_message(message, args.json)
    return 0


def tail(args: argparse.Namespace) -> int:
    """Run ``session tail``; Ctrl-C ends ``--follow`` normally."""
    try:
        return _on_store(session_tail)(args)
    except KeyboardInterrupt:
        if args.follow:
            return 0
        raise


# -- export, import, delete ---------------------------------------------------


def _lines(store: SessionStore, args: argparse.Namespace) -> AsyncIterator[bytes]:
    if args.user is not None:
        return store.export_user(args.user)
    return store.export_session(args.session)


def _export_to(out: IO[bytes]) -> Handler:
    async def export_lines(store: SessionStore, args: argparse.Namespace) -> int:
        sessions = 0
        async for line in _lines(store, args):
            out.write(line)
            sessions += b'"type":"session"' in line  # quotes in JSON strings are escaped: only a session record
        out.flush()
        if args.output not in (None, "-"):
            _warn(f"exported {_plural(sessions, 'session')} to {args.output}")
        return 0

    return export_lines


def export(args: argparse.Namespace) -> int:
    """Write sessions as JSON Lines to stdout or a file (written whole, or not at all)."""
    if args.output in (None, "-"):
        return _on_store(_export_to(sys.stdout.buffer))(args)
    target = Path(args.output)
    pending = target.with_name(f".{target.name}.partial")
    try:
        with pending.open("wb") as out:
            code = _on_store(_export_to(out))(args)
        pending.replace(target)
    finally:
        pending.unlink(missing_ok=True)
    return code


def _counted(lines: Iterable[bytes], counts: dict[str, int]) -> Iterator[bytes]:
    """Pass lines through, adding up the entries the ``end`` lines report."""
    for line in lines:
        # quotes inside JSON strings are escaped, so this matches only an end record
        if b'"type":"end"' in line:
            counts["messages"] += int(json.loads(line).get("entries", 0))
        yield line


def _import_from(source: IO[bytes]) -> Handler:
    async def load(store: SessionStore, args: argparse.Namespace) -> int:
        counts = {"messages": 0}
        try:
            ids = await store.import_sessions(_counted(source, counts), replace=args.replace)
        except SessionExistsError as exc:
            raise SessionExistsError(exc.session_id or "?", reason="pass --replace to overwrite it") from exc
        if args.json:
            _emit({"imported": len(ids), "messages": counts["messages"], "session_ids": ids})
        else:
            print(f"imported {_plural(len(ids), 'session')}, {_plural(counts['messages'], 'message')}")
        return 0

    return load


def import_(args: argparse.Namespace) -> int:
    """Load sessions from an export file (or stdin) and print what was imported."""
    if args.file == "-":
        return _on_store(_import_from(sys.stdin.buffer))(args)
    with open(args.file, "rb") as source:
        return _on_store(_import_from(source))(args)


async def _confirm(what: str, args: argparse.Namespace) -> None:
    """Ask for ``yes`` on a terminal; refuse without one unless --yes was given."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CommandError(f"refusing to delete {what} without --yes (stdin is not a terminal to confirm on)")
    answer = await asyncio.to_thread(input, f"This deletes {what} for good. Type yes to continue: ")
    if answer.strip() != "yes":
        raise CommandError("nothing deleted: not confirmed")


async def delete(store: SessionStore, args: argparse.Namespace) -> int:
    """Delete one session or every session of a user."""
    if args.user is not None:
        count = len(await store.list_user_sessions(args.user))
        await _confirm(f"{_plural(count, 'session')} of user {args.user!r}", args)
        deleted = await store.delete_user(args.user)
    else:
        info = await store.get_session_info(args.session)
        await _confirm(f"session {info.session_id!r} ({_plural(info.messages_stored, 'message')})", args)
        if not await store.delete_session(args.session):
            raise SessionNotFoundError(args.session)
        deleted = 1
    if args.json:
        _emit({"deleted": deleted})
    else:
        print(f"deleted {_plural(deleted, 'session')}")
    return 0


# -- maintenance --------------------------------------------------------------


def _bar(done: Reindexed, pages: int) -> str:
    """One frame of the reindex progress bar: SCAN pages read against the pages expected."""
    share = min(done.pages / pages, 0.99) if pages else 0.99
    filled = int(share * _BAR_WIDTH)
    return (
        f"\rreindexing [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {share:4.0%}  "
        f"{done.indexed:,} sessions indexed, {done.removed:,} stale members removed"
    )


async def reindex(store: SessionStore, args: argparse.Namespace) -> int:
    """Rebuild the per-user indexes from the sessions' metadata (a keyspace SCAN)."""
    show: Callable[[Reindexed], None] | None = None
    if sys.stderr.isatty():
        # two SCAN passes, each of about DBSIZE / COUNT pages
        pages = 2 * max(1, math.ceil(await store.client.dbsize() / args.count))

        def show(done: Reindexed) -> None:
            print(_bar(done, pages), end="", file=sys.stderr, flush=True)

    try:
        done = await store.reindex_user_sessions(count=args.count, progress=show)
    finally:
        if show is not None:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
    if args.json:
        _emit({"indexed": done.indexed, "removed": done.removed})
    else:
        print(f"indexed {_plural(done.indexed, 'session')}, removed {_plural(done.removed, 'stale index member')}")
    return 0


async def _scan_page(
    cursor: str | bytes | ClusterScanCursor, pattern: str, client: GlideClient | GlideClusterClient
) -> list[Any]:
    """Return one SCAN reply, ``[cursor, keys]``, for the meta HASH keys matching ``pattern``."""
    if isinstance(client, GlideClusterClient):
        assert isinstance(cursor, ClusterScanCursor)
        return await client.scan(cursor, match=pattern, count=SCAN_COUNT, type=ObjectType.HASH)
    assert not isinstance(cursor, ClusterScanCursor)
    return await client.scan(cursor, match=pattern, count=SCAN_COUNT, type=ObjectType.HASH)


async def _scan(store: SessionStore, pattern: str) -> AsyncIterator[list[bytes]]:
    """Yield pages of the meta HASH keys matching ``pattern`` (SCAN with COUNT, every node of a cluster)."""
    if isinstance(store.client, GlideClusterClient):
        cursor = ClusterScanCursor()  # type: ignore[no-untyped-call]  # glide's cursor is untyped
        while not cursor.is_finished():
            reply = await store.call(partial(_scan_page, cursor, pattern))
            cursor = reply[0]
            yield list(reply[1])
        return
    position: str | bytes = "0"
    while True:
        page = await store.call(partial(_scan_page, position, pattern))
        position = page[0]
        yield list(page[1])
        if position in (b"0", "0"):
            return


async def stats(store: SessionStore, args: argparse.Namespace) -> int:
    """Count sessions, stored messages and tokens; estimate bytes per message from a sample."""
    totals = {"sessions": 0, "messages": 0, "tokens": 0}
    sample: list[int] = []
    sampled_sessions = 0
    async for keys in _scan(store, store.schema.meta_scan_pattern()):
        ids = [sid for key in keys if (sid := store.schema.session_id_from_meta(key.decode("utf-8", "replace")))]
        if not ids:
            continue
        take = max(0, min(len(ids), args.sample - sampled_sessions))

        def fill(batch: Batch | ClusterBatch, ids: list[str] = ids, take: int = take) -> None:
            for sid in ids:
                batch.llen(store.schema.chat(sid)).hget(store.schema.meta(sid), "token_count")
            for sid in ids[:take]:
                batch.lrange(store.schema.chat(sid), -10, -1)

        replies = await store.pipeline(fill)
        totals["sessions"] += len(ids)
        totals["messages"] += sum(int(n) for n in replies[0 : 2 * len(ids) : 2])
        totals["tokens"] += sum(int(t or 0) for t in replies[1 : 2 * len(ids) : 2])
        sample += [len(entry) for entries in replies[2 * len(ids) :] for entry in entries]
        sampled_sessions += take
    per_message = round(sum(sample) / len(sample)) if sample else None
    if args.json:
        _emit({**totals, "bytes_per_message": per_message, "sampled_sessions": sampled_sessions,
               "sampled_messages": len(sample)})  # fmt: skip
        return 0
    print(f"sessions            {totals['sessions']}")
    print(f"messages stored     {totals['messages']}  (main conversations, threads not counted)")
    print(f"tokens accounted    {totals['tokens']}")
    estimate = "-" if per_message is None else str(per_message)
    sampled = f"{_plural(len(sample), 'message')} from {_plural(sampled_sessions, 'session')}"
    print(f"bytes per message   {estimate}  (sampled: the newest {sampled})")
    return 0


async def functions_load(store: SessionStore, args: argparse.Namespace) -> int:
    """Load the server functions (connecting loads them, on every primary of a cluster)."""
    if args.json:
        _emit({"library": scripts.LIBRARY_NAME})
    else:
        print(f"loaded function library {scripts.LIBRARY_NAME}")
    return 0


def acl_rule(args: argparse.Namespace) -> int:
    """Print the ACL SETUSER command of a least-privilege user."""
    password = args.password
    if password is None:
        password = secrets.token_urlsafe(24)
        _warn(f"generated a random password for {args.user!r}; it is in the command below")
    command = acl.setuser(
        args.user, password, strands=args.strands, record_kinds=args.record_kind, namespace=args.namespace or ""
    )
    if args.json:
        _emit(list(command))
    else:
        print(" ".join(command))
    return 0


# -- local servers --------------------------------------------------------------


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def _announce(url: str, args: argparse.Namespace) -> None:
    if args.json:
        _emit({"url": url})
    else:
        print(f"valkey-server running: export VALKEY_URL={url}  (Ctrl-C stops it)", flush=True)


def server(args: argparse.Namespace) -> int:
    """Run an embedded server (or a 3-primary cluster) in the foreground until Ctrl-C."""
    if args.cluster:
        if args.port is not None:
            raise CommandError("--port cannot be combined with --cluster (its nodes take free ports)")
        from glide_memory.embedded_cluster import EmbeddedCluster

        with EmbeddedCluster(primaries=args.primaries, replicas=args.replicas, persistent=False) as cluster:
            _announce(cluster.url, args)
            _wait_for_interrupt()
        return 0
    with EmbeddedServer(port=args.port) as embedded:
        _announce(embedded.url, args)
        _wait_for_interrupt()
    return 0


async def _demo(url: str | None) -> int:
    """Run a short session end to end and print what was stored."""
    async with await SessionStore.connect(url, ttl=3600, max_messages=20) as store:
        embedded = store.embedded_server
        print(f"connected to {'an embedded valkey-server at ' + embedded.url if embedded else url or '$VALKEY_URL'}")
        info = await store.create_session(user_id="user_42", model="claude-3-haiku", title="Valkey questions")
        sid = info.session_id
        print(f"created session {sid} (ttl {info.ttl} s)")
        for role, text, tokens in DEMO_TURNS:
            await store.add_message(sid, role, text, tokens_used=tokens)
        tool_use = {"type": "tool_use", "id": "call_1", "name": "latency", "input": {"command": "HINCRBY"}}
        await store.add_message(sid, "assistant", [tool_use], 5)
        await store.add_message(sid, "tool", "0.09 ms", 3, tool_call_id="call_1")

        print("\nmessages (get_messages):")
        for message in await store.get_messages(sid, last=50):
            content = json.dumps(message.content, ensure_ascii=False)
            print(f"  {message.role.value:>9}  {message.tokens:>3} tokens  {content}")
        window = await store.history(sid).window(max_tokens=10)
        print(f"\nnewest messages within 10 tokens: {[m.content for m in window]}")
        summary = await store.get_session_info(sid)
        print(
            f"\nsession info: {summary.message_count} messages, {summary.token_count} tokens, "
            f"{summary.messages_stored} stored, expires in {summary.expires_in_seconds:.0f} s"
        )
        mine = await store.list_user_sessions("user_42")
        print(f"user_42 has {len(mine)} session(s): {[s.session_id for s in mine]}")

        client = store.client
        chat, meta = store.schema.session_keys(sid)
        index = store.schema.user_sessions("user_42")
        print("\nraw keys on the server:")
        print(f"  {meta} (HASH, TTL {await client.ttl(meta)} s)")
        for field, value in sorted((await client.hgetall(meta)).items()):
            print(f"    {field.decode()} = {value.decode()}")
        first = (await client.lindex(chat, 0) or b"").decode()
        print(f"  {chat} (LIST, TTL {await client.ttl(chat)} s), first entry: {first}")
        print(f"  {index} (SET): {sorted(m.decode() for m in await client.smembers(index))}")

        await store.delete_session(sid)
        print(f"\ndeleted session; it exists: {await store.exists(sid)}")
    return 0


def demo(args: argparse.Namespace) -> int:
    """Run the demo on --url, $VALKEY_URL, or else an embedded server."""
    return asyncio.run(_demo(args.url))


# -- the parser ---------------------------------------------------------------


def _whole(text: str, *, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, not {value}")
    return value


def _positive(text: str) -> int:
    return _whole(text, least=1)


def _non_negative(text: str) -> int:
    return _whole(text, least=0)


def _common(defaults: bool) -> argparse.ArgumentParser:
    """Return the options every command accepts, before or after its name.

    Only the top-level parser has defaults, so an option given before the
    command name is not reset by the command's parser.
    """
    common = argparse.ArgumentParser(add_help=False)
    default: Any = (lambda value: value) if defaults else (lambda value: argparse.SUPPRESS)
    common.add_argument(
        "--url",
        default=default(os.environ.get("VALKEY_URL")),
        help="the server, valkey://HOST:PORT (default: $VALKEY_URL)",
    )
    common.add_argument("--json", action="store_true", default=default(False), help="machine output (see each command)")
    common.add_argument(
        "--namespace", default=default(None), help="key prefix of the store (KeySchema namespace; default: none)"
    )
    return common


def _either_user_or_session(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--user", help="every session of this user")
    which.add_argument("--session", help="this session")


def _add(
    commands: Any, name: str, run: Callable[[argparse.Namespace], int], summary: str, about: str = "", out: str = ""
) -> argparse.ArgumentParser:
    """Add a subcommand: ``summary`` in the list of commands, ``about`` below it, and what ``--json`` prints."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=f"{summary[0].upper()}{summary[1:]}. {about}".strip(),
        epilog=f"With --json: {out}" if out else None,
        parents=[_common(defaults=False)],
    )
    parser.set_defaults(run=run)
    return parser


def _group(commands: Any, name: str, summary: str) -> Any:
    """Add a command that only holds subcommands (``sessions list``, ``session show``)."""
    group = commands.add_parser(name, help=summary, description=f"{summary[0].upper()}{summary[1:]}.")
    return group.add_subparsers(dest="action", required=True, metavar="ACTION")


def _add_session_commands(commands: Any) -> None:
    listing = _add(
        _group(commands, "sessions", "list sessions"),
        "list",
        _on_store(sessions_list),
        "list a user's sessions, most recently active first",
        "Columns: session id, messages stored, tokens, last active (UTC), time left, title. Sessions on "
        "unreachable cluster nodes are named on stderr.",
        "one JSON object per session per line (JSON Lines).",
    )
    listing.add_argument("--user", required=True, help="the user whose sessions to list")
    listing.add_argument("--limit", type=_positive, help="at most N sessions (a page; stderr tells how to go on)")
    listing.add_argument("--after", help="continue after this session id (a previous page's last)")

    actions = _group(commands, "session", "show or tail one session")
    show = _add(
        actions,
        "show",
        _on_store(session_show),
        "show a session's metadata, message and token counts, TTL and time left",
        out="one JSON object: the session's fields and its threads.",
    )
    show.add_argument("session_id", metavar="ID", help="the session")
    follow = _add(
        actions,
        "tail",
        tail,
        "print a session's newest messages",
        "With --follow, poll for new messages and print them until Ctrl-C, which exits with code 0.",
        "one JSON object per message per line, as stored (JSON Lines).",
    )
    follow.add_argument("session_id", metavar="ID", help="the session")
    follow.add_argument("-n", "--lines", type=_non_negative, default=10, help="how many to print (default 10)")
    follow.add_argument("-f", "--follow", action="store_true", help="keep printing new messages")
    follow.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")


def _add_data_commands(commands: Any) -> None:
    exporting = _add(
        commands,
        "export",
        export,
        "export sessions as JSON Lines",
        "One session, or every session of a user, to stdout or a file (written whole or not at all). "
        "Importing an export and exporting again gives the same bytes.",
        "no change: the output is JSON Lines already.",
    )
    _either_user_or_session(exporting)
    exporting.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    importing = _add(
        commands,
        "import",
        import_,
        "import sessions from an export",
        "Reads FILE, or stdin for -, and prints how many sessions and messages it imported.",
        'one JSON object: {"imported": N, "messages": M, "session_ids": [...]}.',
    )
    importing.add_argument("file", metavar="FILE", help="the JSON Lines file, or - for stdin")
    importing.add_argument("--replace", action="store_true", help="overwrite sessions that exist under an imported id")
    deleting = _add(
        commands,
        "delete",
        _on_store(delete),
        "delete a session, or every session of a user",
        "Everything they hold goes, index entries included. On a terminal it asks you to type yes; without "
        "one it refuses unless --yes is given.",
        'one JSON object: {"deleted": N}.',
    )
    _either_user_or_session(deleting)
    deleting.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _add_operator_commands(commands: Any) -> None:
    reindexing = _add(
        commands,
        "reindex",
        _on_store(reindex),
        "rebuild the per-user session indexes",
        "Finds every session by its metadata with a SCAN of the whole keyspace: maintenance, not for a "
        "request path. Shows a progress bar on a terminal.",
        'one JSON object: {"indexed": N, "removed": M}.',
    )
    reindexing.add_argument("--count", type=_positive, default=1000, help="SCAN COUNT hint (default 1000)")
    counting = _add(
        commands,
        "stats",
        _on_store(stats),
        "count sessions, messages and tokens",
        "Scans the meta keys (SCAN with COUNT, every node of a cluster) and reads each session's list "
        "length and token counter. Bytes per message are sampled: the newest 10 messages of the first "
        "--sample sessions found.",
        "one JSON object: sessions, messages, tokens, bytes_per_message, sampled_sessions, sampled_messages.",
    )
    counting.add_argument("--sample", type=_positive, default=100, help="sessions to sample (default 100)")
    _add(
        _group(commands, "functions", "manage the server functions"),
        "load",
        _on_store(functions_load),
        "load the store's function library",
        "Loads (or reloads) it on the server, on every primary of a cluster: for an administrator, when "
        "the application's user may not run FUNCTION LOAD.",
        'one JSON object: {"library": NAME}.',
    )
    rule = _add(
        commands,
        "acl",
        acl_rule,
        "print the ACL rule of a least-privilege user",
        "Prints an ACL SETUSER command granting exactly what glide-memory sends; needs no server.",
        "a JSON array of the command's arguments.",
    )
    rule.add_argument("--user", default="glide-memory", help="the ACL user name (default glide-memory)")
    rule.add_argument("--password", help="its password (default: a random one, printed in the command)")
    rule.add_argument("--strands", action="store_true", help="also grant what the Strands adapter needs")
    rule.add_argument("--record-kind", action="append", default=[], metavar="KIND", help="a record kind (repeat)")


def _add_local_commands(commands: Any) -> None:
    serving = _add(
        commands,
        "server",
        server,
        "run an embedded valkey-server until Ctrl-C",
        "Prints its URL; with --cluster runs a cluster of --primaries primaries with --replicas replicas "
        "each instead. Its data goes when it stops.",
        'one JSON object: {"url": URL}.',
    )
    serving.add_argument("--port", type=int, help="port to listen on (default: a free one)")
    serving.add_argument("--cluster", action="store_true", help="run a Valkey Cluster on loopback")
    serving.add_argument("--primaries", type=_positive, default=3, help="with --cluster: primaries (default 3)")
    serving.add_argument("--replicas", type=_non_negative, default=0, help="with --cluster: replicas each (default 0)")
    _add(
        commands,
        "demo",
        demo,
        "run a short session end to end",
        "Uses --url or $VALKEY_URL, or else starts an embedded server for the demo. --json has no effect.",
    )


def parser() -> argparse.ArgumentParser:
    """Return the parser of the glide-memory command line."""
    top = argparse.ArgumentParser(
        prog="glide-memory",
        description="Inspect and manage glide-memory chat sessions on Valkey.",
        epilog="Errors are one line on stderr and exit code 1 (2 for usage errors).",
        parents=[_common(defaults=True)],
    )
    top.add_argument("--version", action="version", version=f"glide-memory {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_session_commands(commands)
    _add_data_commands(commands)
    _add_operator_commands(commands)
    _add_local_commands(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen command; errors become one line and exit code 1."""
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:
        # the reader went away (| head): stop quietly, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        return _fail(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
    except GlideMemoryError as exc:
        return _fail(str(exc) or type(exc).__name__)
    except KeyboardInterrupt:
        return _fail("interrupted")
    return code


def _fail(text: str) -> int:
    print(f"glide-memory: error: {' '.join(text.split())}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
