"""Small helpers shared by the tests."""

from __future__ import annotations

import os

from glide import GlideClient, GlideClusterClient

Client = GlideClient | GlideClusterClient


def alive(pid: int) -> bool:
    """Return whether process ``pid`` still exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True
