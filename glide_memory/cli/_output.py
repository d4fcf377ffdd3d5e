"""What the commands print: tables, JSON lines, times and messages, and the error a command raises."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from glide_memory.errors import GlideMemoryError
from glide_memory.models import Message


class CommandError(GlideMemoryError):
    """Raised for a command that cannot run as given: no URL, a refused confirmation."""


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
