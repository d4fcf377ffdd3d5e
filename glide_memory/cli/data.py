"""The commands that move data: ``export``, ``import`` and ``delete``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from glide_memory import SessionStore
from glide_memory.cli._commands import Handler, _add, _on_store
from glide_memory.cli._output import CommandError, _emit, _plural, _warn
from glide_memory.errors import SessionExistsError, SessionNotFoundError


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


def _either_user_or_session(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--user", help="every session of this user")
    which.add_argument("--session", help="this session")


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
