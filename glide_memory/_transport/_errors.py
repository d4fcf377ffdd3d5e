"""The one error map: glide's errors, the server's error texts and the function library's tags, onto the tree.

Three kinds of failure reach the toolkit, and each goes through this module
and nowhere else:

- an exception glide raises (a timeout, a lost connection, a refused
  configuration, or a server error reply such as ``OOM`` or ``NOPERM``):
  :func:`translate`;
- a reply of one of our server functions tagged with anything but ``ok``
  (see ``_server/prelude.lua``): :func:`from_tag`. A function that catches a
  failed command returns ``{'error', key, text}`` with the server's own text,
  which is classified by the same table as glide's errors;
- the text of an error reply seen by the connection diagnosis:
  :func:`classify`.

:data:`SERVER_ERRORS` is the table; :data:`TAGS` lists every tag a function
can reply with and what becomes of it, and a test checks it against every
tag written in the ``.lua`` files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from glide import ClosingError, GlideError
from glide import ConfigurationError as GlideConfigurationError
from glide import ConnectionError as GlideConnectionError
from glide import TimeoutError as GlideTimeoutError

from glide_memory.errors import (
    ConfigurationError,
    CorruptedEntryError,
    GlideMemoryError,
    InvalidTokensError,
    MessageConflictError,
    OutOfMemoryError,
    PermissionDeniedError,
    ServerError,
    ServerTimeoutError,
    ServerUnavailableError,
    SessionNotFoundError,
)

FUNCTION_MISSING = "Function not found"
"""What the server says when our function library is not loaded on a node."""

# The server reports errors as text: "<CODE>: <message>" from glide for codes it does not know, "An error was
# signalled by the server: - <Kind>: <message>" for the ones it does, and the bare text inside a function; each
# row matches every spelling. First match wins.
SERVER_ERRORS: Sequence[tuple[re.Pattern[str], type[GlideMemoryError], str]] = (
    (re.compile(r"\bOOM\b"), OutOfMemoryError, "the server refuses writes: used memory is above maxmemory"),
    (
        re.compile(r"WRONGPASS|NOAUTH|AuthenticationFailed|invalid username-password"),
        PermissionDeniedError,
        "the server refused the credentials",
    ),
    (
        re.compile(r"NOPERM|PermissionDenied|ACL failure|[Nn]o permissions"),
        PermissionDeniedError,
        "the server's ACL refuses this user a command or key",
    ),
    (
        re.compile(r"CROSSSLOT|CrossSlot|crossed slots"),
        ConfigurationError,
        "keys of one call map to different cluster slots; use a cluster client (URL ?cluster=true) "
        "so session keys get hash tags",
    ),
    (re.compile(r"TRYAGAIN|TryAgain"), ServerUnavailableError, "the session's cluster slot is being migrated"),
    (re.compile(r"\bMOVED\b|\bMoved\b|\bASK\b|\bAsk\b"), ServerUnavailableError, "the cluster topology changed"),
    (re.compile(r"CLUSTERDOWN|ClusterDown"), ServerUnavailableError, "the cluster is down"),
    (re.compile(r"MASTERDOWN|MasterDown"), ServerUnavailableError, "the replica lost its primary"),
    (re.compile(r"\bLOADING\b|BusyLoading"), ServerUnavailableError, "the server is loading its data"),
    (re.compile(r"READONLY|ReadOnly"), ServerUnavailableError, "the node is a replica now (failover)"),
    (re.compile(r"\bBUSY\b"), ServerUnavailableError, "the server is busy running a script"),
    (re.compile(r"maximum inflight requests"), ServerUnavailableError, "glide's in-flight request limit was hit"),
    (re.compile(r"WRONGTYPE|not an integer"), CorruptedEntryError, "a key holds the wrong type of value"),
    (re.compile(r"overflow"), InvalidTokensError, "a counter would pass 2**63-1"),
)

TAGS: dict[str, str] = {
    "ok": "success: the wrapper next to the call reads the rest of the reply",
    "stale": "the caller's list of companion keys is out of date: the wrapper raises Stale and the caller retries",
    "exists": "create only: the id is taken; the caller decides (exist_ok, a retried create of its own)",
    "moved": "summarize only: the messages or the summary changed while the summarizer ran",
    "missing": "SessionNotFoundError",
    "forbidden": "PermissionDeniedError: the session belongs to another user (or none) than the scope's",
    "conflict": "MessageConflictError: a message id holds a different message",
    "error": "a command inside the function failed: its text goes through SERVER_ERRORS",
}
"""Every tag a server function can reply with, and what it means here."""


def classify(text: str) -> tuple[type[GlideMemoryError], str] | None:
    """Return the error class and meaning of a server error text, or ``None`` if no row matches."""
    for pattern, kind, meaning in SERVER_ERRORS:
        if pattern.search(text):
            return kind, meaning
    return None


def translate(
    exc: GlideError,
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    key: str | None = None,
) -> GlideMemoryError:
    """Return the :class:`GlideMemoryError` for a glide error; the caller raises it ``from exc``.

    Args:
        exc: What glide raised.
        session_id: The session of the call, carried by the error.
        user_id: The user of the call, carried by the error.
        key: The key the call was about, named by ``CorruptedEntryError``.
    """
    text = str(exc)
    where = f" (session {session_id!r})" if session_id else ""
    if isinstance(exc, GlideTimeoutError):
        return ServerTimeoutError(f"request timed out{where}: {text}", session_id=session_id, user_id=user_id)
    if isinstance(exc, GlideConnectionError):
        return ServerUnavailableError(f"connection lost{where}: {text}", session_id=session_id, user_id=user_id)
    if isinstance(exc, GlideConfigurationError):
        return ConfigurationError(f"glide refused the request{where}: {text}", session_id=session_id, user_id=user_id)
    found = classify(text)
    if found is not None:
        return _build(found, text, key or "?", where, session_id, user_id)
    if isinstance(exc, ClosingError):
        return ServerError(f"the glide client is closed{where}: {text}", session_id=session_id, user_id=user_id)
    return ServerError(f"request failed{where}: {text}", session_id=session_id, user_id=user_id)


def may_have_applied(exc: GlideError) -> bool:
    """Return whether a request that failed with ``exc`` may still have been applied by the server.

    A timeout or a lost connection leaves it unknown; a server's error reply
    (or glide refusing to send) means it was not applied.
    """
    return isinstance(exc, GlideTimeoutError | GlideConnectionError)


def from_tag(reply: Sequence[Any], *, session_id: str, user_id: str | None = None) -> GlideMemoryError:
    """Return the exception for a function reply tagged ``missing``, ``forbidden``, ``conflict`` or ``error``."""
    tag = _text(reply[0]) if reply else None
    if tag == "missing":
        return SessionNotFoundError(session_id, user_id=user_id)
    if tag == "forbidden":
        whose = f"user {user_id!r}" if user_id else "this scope"
        return PermissionDeniedError(
            f"session {session_id!r} does not belong to {whose}", session_id=session_id, user_id=user_id
        )
    if tag == "conflict":
        return MessageConflictError(_text(reply[1]) or "?", session_id=session_id)
    if tag == "error":
        key, text = _text(reply[1]) or "?", _text(reply[2]) or ""
        where = f" (session {session_id!r})"
        found = classify(text)
        if found is not None:
            error = _build(found, text, key, where, session_id, user_id)
            error.args = (f"{error.args[0]}; nothing was written",)
            return error
        return ServerError(
            f"the server failed a command on {key}; nothing was written: {text}", session_id=session_id, user_id=user_id
        )
    return ServerError(f"unexpected reply from the server: {reply!r}", session_id=session_id, user_id=user_id)


def is_function_missing(exc: GlideError) -> bool:
    """Return whether ``exc`` says our server-side function library is not loaded."""
    return FUNCTION_MISSING in str(exc)


def _build(
    found: tuple[type[GlideMemoryError], str],
    text: str,
    key: str,
    where: str,
    session_id: str | None,
    user_id: str | None,
) -> GlideMemoryError:
    kind, meaning = found
    if kind is CorruptedEntryError:
        return CorruptedEntryError(text, key=key, session_id=session_id, user_id=user_id)
    return kind(f"{meaning}{where}: {text}", session_id=session_id, user_id=user_id)


def _text(value: Any) -> str | None:
    if value is None or value is False:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
