"""Least-privilege ACL rules for glide-memory's users, as data the tests check.

:func:`setuser` renders an ``ACL SETUSER`` command that grants exactly what
the toolkit sends: the key patterns of the core (and, with
``integrations``, of the Strands adapter) and the commands its functions and
reads use, plus what glide needs to connect (``INFO``, ``CLIENT SETNAME``,
``HELLO``). ``FUNCTION LOAD`` is included so the store can (re)load its
function library; drop it if an administrator loads the library with
``glide-memory functions load``.
"""

from __future__ import annotations

from collections.abc import Sequence

from glide_memory._validate import identifier
from glide_memory.keys import escape_glob

CONNECT = ("hello", "info", "client|setname", "ping")
"""What glide sends when it connects."""

CORE_COMMANDS = (
    *CONNECT,
    "fcall", "fcall_ro", "function|load",
    "multi", "exec", "wait", "waitaof",
    "exists", "del", "expire", "pexpire", "pttl", "persist", "type",
    "hgetall", "hget", "hmget", "hset", "hsetnx", "hdel", "hincrby", "hexists", "hlen", "hrandfield",
    "lrange", "lindex", "llen", "rpush", "rpop", "ltrim", "lset", "lrem", "lpush",
    "sadd", "srem", "smembers",
    "scan",
)  # fmt: skip
"""Every command the core sends, directly or inside its functions (SCAN: reindexing only; WAIT, WAITAOF,
TYPE, HRANDFIELD: durable writes)."""

CORE_KEYS = (
    "chat:*", "meta:*", "msgids:*", "ops:*", "vec:*", "vecmsg:*", "user_sessions:*", "thread.*", "archive*",
)  # fmt: skip
"""The core's key patterns (``thread.*``: a session's named threads; ``archive*``: what summaries archived;
``vec``/``vecmsg``: what semantic recall keeps, declared by every write)."""

RECALL_KEYS = ("recall", "vdoc:*", "gm_recall_*")
"""What semantic recall adds: the schema's recall setup, and with a search module its documents and index."""

RECALL_COMMANDS = ("lpos", "ft.search", "ft.create", "ft._list", "ft.info")
"""What semantic recall adds: catching up a vector checks its message (LPOS); a search module's commands."""

STRANDS_COMMANDS = ("set", "get", "zadd", "zrem", "zrangebylex")
"""What the Strands adapter adds: the snapshot storage's blobs."""

STRANDS_KEYS = ("strands:*", "strands-blob:*", "strands-blobs")
"""The Strands adapter's key patterns: its records and snapshot blobs (its agents talk in threads)."""


def rules(
    *, strands: bool = False, recall: bool = False, record_kinds: Sequence[str] = (), namespace: str = ""
) -> list[str]:
    """Return the ACL rules (``resetkeys``, ``~pattern``, ``+command``...) for the core, and what else is asked.

    Args:
        strands: Also grant what the Strands adapter needs.
        recall: Also grant what semantic recall needs (a search module's commands included).
        record_kinds: The kinds of records (``store.put_record``) the app keeps.
        namespace: The ``KeySchema`` namespace of the user's stores.
    """
    keys = [
        *CORE_KEYS, *(STRANDS_KEYS if strands else ()), *(RECALL_KEYS if recall else ()),
        *(f"{kind}:*" for kind in record_kinds),
    ]  # fmt: skip
    commands = [*CORE_COMMANDS, *(STRANDS_COMMANDS if strands else ()), *(RECALL_COMMANDS if recall else ())]
    prefix = escape_glob(namespace)
    return [
        "resetkeys",
        "resetchannels",
        *(f"~{prefix}{pattern}" for pattern in keys),
        "-@all",
        *(f"+{command}" for command in commands),
    ]


def setuser(
    user: str,
    password: str,
    *,
    strands: bool = False,
    recall: bool = False,
    record_kinds: Sequence[str] = (),
    namespace: str = "",
) -> Sequence[str]:
    """Return the ``ACL SETUSER`` command (as arguments) for a least-privilege glide-memory user.

    Args:
        user: The user name.
        password: Its password.
        strands: Also grant what the Strands adapter needs.
        recall: Also grant what semantic recall needs.
        record_kinds: The kinds of records (``store.put_record``) the app keeps.
        namespace: The ``KeySchema`` namespace the user's stores use.
    """
    identifier(user, kind="user name")
    granted = rules(strands=strands, recall=recall, record_kinds=record_kinds, namespace=namespace)
    return ["ACL", "SETUSER", user, "reset", "on", f">{password}", *granted]
