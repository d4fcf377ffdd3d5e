"""The commands for operators: ``reindex``, ``stats``, ``functions load`` and ``acl``."""

from __future__ import annotations

import argparse
import math
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

from glide import Batch, ClusterBatch, ClusterScanCursor, GlideClient, GlideClusterClient, ObjectType

from glide_memory import Reindexed, SessionStore, acl_setuser
from glide_memory.cli._commands import _add, _group, _on_store, _positive
from glide_memory.cli._output import _emit, _plural, _warn

SCAN_COUNT = 1000
"""COUNT hint of the SCANs of ``stats``."""
_BAR_WIDTH = 30


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
    name = await store.load_functions()
    if args.json:
        _emit({"library": name})
    else:
        print(f"loaded function library {name}")
    return 0


def acl_rule(args: argparse.Namespace) -> int:
    """Print the ACL SETUSER command of a least-privilege user."""
    password = args.password
    if password is None:
        password = secrets.token_urlsafe(24)
        _warn(f"generated a random password for {args.user!r}; it is in the command below")
    command = acl_setuser(
        args.user,
        password,
        strands=args.strands,
        recall=args.recall,
        record_kinds=args.record_kind,
        namespace=args.namespace or "",
    )
    if args.json:
        _emit(list(command))
    else:
        print(" ".join(command))
    return 0


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
    rule.add_argument("--recall", action="store_true", help="also grant what semantic recall needs")
    rule.add_argument("--record-kind", action="append", default=[], metavar="KIND", help="a record kind (repeat)")
