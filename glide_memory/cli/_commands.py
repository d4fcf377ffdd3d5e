"""What every command shares: its connection to the store, its common options, how it joins the parser."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from glide import Logger, LogLevel

from glide_memory import SessionStore
from glide_memory.cli._output import CommandError
from glide_memory.keys import KeySchema

Handler = Callable[[SessionStore, argparse.Namespace], Awaitable[int]]


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
