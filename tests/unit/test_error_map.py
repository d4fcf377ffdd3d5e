"""The one error map covers every tag the function library can reply with and every server error it knows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from glide import ClosingError, RequestError
from glide import ConfigurationError as GlideConfigurationError
from glide import ConnectionError as GlideConnectionError
from glide import TimeoutError as GlideTimeoutError

from glide_memory import (
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
from glide_memory._transport._errors import SERVER_ERRORS, TAGS, classify, from_tag, translate

LUA = sorted((Path(__file__).parents[2] / "glide_memory" / "_server").glob("*.lua"))

# what each tag that means an error becomes; the others are outcomes the wrapper next to the call reads
ERROR_TAGS = {
    "missing": SessionNotFoundError,
    "forbidden": PermissionDeniedError,
    "conflict": MessageConflictError,
    "error": ServerError,
}
OUTCOME_TAGS = {"ok", "stale", "exists", "moved"}

# one sample of the server's own text per row of SERVER_ERRORS, with the class it must map to
SAMPLES = [
    ("OOM command not allowed when used memory > 'maxmemory'.", OutOfMemoryError),
    ("WRONGPASS invalid username-password pair or user is disabled.", PermissionDeniedError),
    ("NOPERM User app has no permissions to run the 'flushall' command", PermissionDeniedError),
    ("CROSSSLOT Keys in request don't hash to the same slot", ConfigurationError),
    ("TRYAGAIN Multiple keys request during rehashing of slot", ServerUnavailableError),
    ("MOVED 3999 127.0.0.1:6381", ServerUnavailableError),
    ("CLUSTERDOWN The cluster is down", ServerUnavailableError),
    ("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", ServerUnavailableError),
    ("LOADING Valkey is loading the dataset in memory", ServerUnavailableError),
    ("READONLY You can't write against a read only replica.", ServerUnavailableError),
    ("BUSY Valkey is busy running a script.", ServerUnavailableError),
    ("Reached maximum inflight requests", ServerUnavailableError),
    ("WRONGTYPE Operation against a key holding the wrong kind of value", CorruptedEntryError),
    ("ERR increment or decrement would overflow", InvalidTokensError),
]


def _tags_in(source: str) -> set[str]:
    """Every reply tag a function can send: the first element of each reply table literal."""
    return set(re.findall(r"\{'([a-z_]+)'", source))


def test_every_tag_the_library_sends_is_mapped() -> None:
    """Each tag written in a .lua file is in TAGS, and each tag in TAGS is sent by some function."""
    sent = set().union(*(_tags_in(path.read_text()) for path in LUA))
    assert sent == set(TAGS) == set(ERROR_TAGS) | OUTCOME_TAGS


@pytest.mark.parametrize("tag", sorted(ERROR_TAGS))
def test_each_error_tag_becomes_its_error(tag: str) -> None:
    """missing, forbidden, conflict and error give their classes, carrying the session and user ids."""
    reply = [tag.encode(), b"k", b"some unexpected failure"]
    error = from_tag(reply, session_id="s1", user_id="u1")
    assert isinstance(error, ERROR_TAGS[tag]) and error.session_id == "s1"


def test_every_row_of_the_table_is_reached() -> None:
    """Each row of SERVER_ERRORS has a sample that reaches it, so none is dead."""
    reached = {classify(text) for text, _ in SAMPLES}
    assert {(kind, meaning) for _, kind, meaning in SERVER_ERRORS} <= reached


@pytest.mark.parametrize(("text", "kind"), SAMPLES)
def test_server_errors_map_the_same_from_glide_and_from_a_function(text: str, kind: type[GlideMemoryError]) -> None:
    """A server error text maps to one class whether glide raised it or a function caught and returned it."""
    from_glide = translate(RequestError(f"An error was signalled by the server: - {text}"), session_id="s1")
    from_function = from_tag([b"error", b"meta:s1", text.encode()], session_id="s1")
    assert type(from_glide) is kind and type(from_function) is kind
    assert from_function.session_id == from_glide.session_id == "s1"
    assert from_glide.retryable == (kind is ServerUnavailableError)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (GlideTimeoutError("timed out"), ServerTimeoutError),
        (GlideConnectionError("lost"), ServerUnavailableError),
        (GlideConfigurationError("bad"), ConfigurationError),
        (ClosingError("closed"), ServerError),
        (RequestError("something new"), ServerError),
    ],
)
def test_client_side_errors(exc: Exception, kind: type[GlideMemoryError]) -> None:
    """glide's own failures map by their type; an unknown server text is a ServerError."""
    assert type(translate(exc)) is kind
