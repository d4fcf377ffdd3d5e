"""Small helpers shared by the tests."""

from __future__ import annotations

import os
from typing import Any, cast

from glide import ClusterScanCursor, GlideClient, GlideClusterClient

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


async def keys_matching(client: Client, pattern: str) -> list[bytes]:
    """Return every key matching ``pattern`` (SCAN: for tests only)."""
    found: list[bytes] = []
    if isinstance(client, GlideClusterClient):
        cursor = ClusterScanCursor()  # type: ignore[no-untyped-call]
        while not cursor.is_finished():
            reply = await client.scan(cursor, match=pattern, count=1000)
            cursor, page = cast(ClusterScanCursor, reply[0]), cast(list[bytes], reply[1])
            found += page
        return sorted(found)
    position: Any = "0"
    while True:
        standalone: list[Any] = await client.scan(position, match=pattern, count=1000)
        position, page = standalone[0], standalone[1]
        found += page
        if position in (b"0", "0"):
            return sorted(found)


async def snapshot(client: Client, pattern: str = "*") -> dict[bytes, tuple[bytes, object, bool]]:
    """Return ``{key: (type, value, expires)}`` of every key matching ``pattern``, to compare before/after."""
    state: dict[bytes, tuple[bytes, object, bool]] = {}
    for key in await keys_matching(client, pattern):
        kind = await client.type(key)
        value: object
        if kind == b"list":
            value = await client.lrange(key, 0, -1)
        elif kind == b"hash":
            value = await client.hgetall(key)
        elif kind == b"set":
            value = sorted(await client.smembers(key))
        elif kind == b"string":
            value = await client.get(key)
        else:
            value = kind
        state[key] = (kind, value, await client.ttl(key) >= 0)
    return state
