"""Every argument check, pure: run before anything is sent, so bad input writes nothing."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta

from glide_memory.errors import (
    InvalidContentError,
    InvalidFieldError,
    InvalidIdError,
    InvalidInputError,
    InvalidTokensError,
)

MAX_ID_LENGTH = 256
"""The longest session, user or message id accepted, in characters."""

MAX_TTL_SECONDS = 2**31 - 1
"""The longest TTL accepted (about 68 years), well inside what the server takes."""

MAX_COUNTER = 2**63 - 1
"""Counters are signed 64-bit integers on the server."""

MAX_POSITION = 2**53
"""The largest ``last``, ``index`` or window accepted."""

MAX_TIMESTAMP = 1e12
"""The largest absolute Unix time in seconds accepted (about the year 33,658)."""

# C0 and C1 control characters, DEL, and lone surrogates (not encodable as UTF-8).
_FORBIDDEN_IN_ID = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class Unset:
    """The type of :data:`UNSET`: an argument left out, as opposed to an explicit ``None``."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:  # one instance, so ``is UNSET`` works across pickling and copies
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __reduce__(self) -> str:
        return "UNSET"


UNSET = Unset()
"""Marks an optional argument the caller did not pass."""

TTL = int | float | timedelta
"""A time to live: seconds, or a timedelta."""


def identifier(
    value: object, *, kind: str = "session id", session_id: str | None = None, max_length: int = MAX_ID_LENGTH
) -> str:
    """Return ``value`` if it is a usable id, else raise :class:`InvalidIdError`.

    Args:
        value: The candidate id.
        kind: What the id names, for the error message.
        session_id: The session concerned, carried by the error.
        max_length: The longest value accepted.
    """
    if not isinstance(value, str):
        raise InvalidIdError(f"{kind} must be a str, not {type(value).__name__}", session_id=session_id)
    if not value:
        raise InvalidIdError(f"{kind} must not be empty", session_id=session_id)
    if len(value) > max_length:
        raise InvalidIdError(f"{kind} is longer than {max_length} characters", session_id=session_id)
    if _FORBIDDEN_IN_ID.search(value):
        raise InvalidIdError(
            f"{kind} {value!r} contains a control character or a lone surrogate", session_id=session_id
        )
    return value


def ttl(value: object, *, what: str = "ttl", session_id: str | None = None) -> int | None:
    """Return a TTL in whole seconds (rounded up), or ``None`` for "never expires".

    Raises:
        InvalidInputError: not a positive finite number of seconds (or
            timedelta) up to :data:`MAX_TTL_SECONDS`.
    """
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise InvalidInputError(
            f"{what} must be seconds or a timedelta, not {type(value).__name__}", session_id=session_id
        )
    if not (isinstance(seconds, int) or math.isfinite(seconds)) or not 0 < seconds <= MAX_TTL_SECONDS:
        raise InvalidInputError(
            f"{what} must be more than 0 and at most {MAX_TTL_SECONDS} seconds, not {value!r}", session_id=session_id
        )
    return math.ceil(seconds)


def tokens(value: object, *, session_id: str | None = None) -> int:
    """Return a token count: an int from 0 to 2**63-1."""
    if type(value) is not int or not 0 <= value <= MAX_COUNTER:
        raise InvalidTokensError(f"tokens must be an int from 0 to 2**63-1, not {value!r}", session_id=session_id)
    return value


def positive(value: object, what: str, *, session_id: str | None = None, limit: int = MAX_POSITION) -> int:
    """Return ``value`` if it is an int from 1 to ``limit``."""
    if type(value) is not int or not 1 <= value <= limit:
        raise InvalidInputError(f"{what} must be an int from 1 to {limit}, not {value!r}", session_id=session_id)
    return value


def optional_positive(value: object, what: str, *, session_id: str | None = None) -> int | None:
    """Return ``None`` or a positive int (see :func:`positive`)."""
    return None if value is None else positive(value, what, session_id=session_id)


def non_negative(value: object, what: str, *, session_id: str | None = None, limit: int = MAX_POSITION) -> int:
    """Return ``value`` if it is an int from 0 to ``limit``."""
    if type(value) is not int or not 0 <= value <= limit:
        raise InvalidInputError(f"{what} must be an int from 0 to {limit}, not {value!r}", session_id=session_id)
    return value


def index(value: object, *, session_id: str | None = None) -> int:
    """Return a list position: an int, negative counting from the end."""
    if type(value) is not int or not -MAX_POSITION <= value <= MAX_POSITION:
        raise InvalidInputError(
            f"index must be an int from -{MAX_POSITION} to {MAX_POSITION}, not {value!r}", session_id=session_id
        )
    return value


def timestamp(value: object, *, session_id: str | None = None) -> float:
    """Return a Unix time in seconds: a finite number within :data:`MAX_TIMESTAMP`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidContentError(f"timestamp must be a number, not {type(value).__name__}", session_id=session_id)
    if isinstance(value, int) and abs(value) > MAX_TIMESTAMP:
        raise InvalidContentError(f"timestamp {value!r} is out of range", session_id=session_id)
    seconds = float(value)
    if not math.isfinite(seconds) or abs(seconds) > MAX_TIMESTAMP:
        raise InvalidContentError(f"timestamp {value!r} is not a finite time within range", session_id=session_id)
    return seconds


def text(value: object, what: str, *, session_id: str | None = None) -> str:
    """Return ``value`` if it is a str that UTF-8 can hold (no lone surrogates)."""
    if not isinstance(value, str):
        raise InvalidFieldError(f"{what} must be a str, not {type(value).__name__}", session_id=session_id)
    if _SURROGATE.search(value):
        raise InvalidFieldError(f"{what} contains a lone surrogate, which UTF-8 cannot hold", session_id=session_id)
    return value


def optional_text(value: object, what: str, *, session_id: str | None = None) -> str | None:
    """Return ``None`` or a storable str (see :func:`text`)."""
    return None if value is None else text(value, what, session_id=session_id)


def fields(
    value: object,
    *,
    reserved: frozenset[str],
    session_id: str | None = None,
    allow_none: bool = False,
) -> dict[str, str | None]:
    """Return caller metadata as a dict of str to str (``None`` values only if ``allow_none``).

    Raises:
        InvalidFieldError: not a mapping, a name that is empty, reserved or
            unstorable, or a value that is not a storable str.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidFieldError(
            f"metadata must be a mapping of str to str, not {type(value).__name__}", session_id=session_id
        )
    checked: dict[str, str | None] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name:
            raise InvalidFieldError(f"field name {name!r} must be a non-empty str", session_id=session_id)
        text(name, "a field name", session_id=session_id)
        if name in reserved or name.partition(":")[0] in reserved:
            raise InvalidFieldError(f"field {name!r} is reserved for the toolkit", session_id=session_id)
        if item is None and allow_none:
            checked[name] = None
            continue
        checked[name] = text(item, f"field {name!r}", session_id=session_id)
    return checked
