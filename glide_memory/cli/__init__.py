"""The glide-memory command line: inspect, export, import and delete sessions, and run a local server.

Every command that talks to a server takes ``--url`` (default ``$VALKEY_URL``)
and fails with one line if neither is given: only ``demo`` starts a
throwaway server by itself. ``--json`` switches to machine output, described
in each command's help. Errors are one ``glide-memory: error: ...`` line on
stderr with exit code 1 (2 for usage errors), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from glide_memory import __version__
from glide_memory.cli._commands import _common
from glide_memory.cli._output import CommandError
from glide_memory.cli.data import _add_data_commands, delete, export, import_
from glide_memory.cli.local import DEMO_TURNS, _add_local_commands, demo, server
from glide_memory.cli.operators import SCAN_COUNT, _add_operator_commands, acl_rule, functions_load, reindex, stats
from glide_memory.cli.recall import _add_recall_commands, embed, recall
from glide_memory.cli.sessions import _add_session_commands, session_show, session_tail, sessions_list, tail
from glide_memory.errors import GlideMemoryError

__all__ = [
    "DEMO_TURNS",
    "SCAN_COUNT",
    "CommandError",
    "acl_rule",
    "delete",
    "demo",
    "embed",
    "export",
    "functions_load",
    "import_",
    "main",
    "parser",
    "recall",
    "reindex",
    "server",
    "session_show",
    "session_tail",
    "sessions_list",
    "stats",
    "tail",
]


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
    _add_recall_commands(commands)
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
