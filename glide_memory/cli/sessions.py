"""The commands that read sessions: ``sessions list``, ``session show`` and ``session tail``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from typing import Any

from glide_memory import SessionStore
from glide_memory.cli._commands import _add, _group, _non_negative, _on_store, _positive
from glide_memory.cli._output import _duration, _emit, _plural, _print_message, _table, _warn, _when
from glide_memory.models import Message


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
