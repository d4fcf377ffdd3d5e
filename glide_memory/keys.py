"""Key names and id validation: the one place that formats a server key.

Standalone servers get the cookbook's keys exactly (``chat:<id>``,
``meta:<id>``, ``user_sessions:<uid>``). With ``hash_tags=True`` (the default
on cluster clients) the session id is wrapped in a hash tag
(``chat:{<id>}``) so that both keys of a session live in one slot and a turn
can be written atomically.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import NamedTuple

from glide_memory.errors import InvalidIdError

MAX_ID_LENGTH = 256
"""The longest session or user id accepted, in characters."""

# C0 and C1 control characters, DEL, and lone surrogates (not encodable as UTF-8).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


def new_session_id() -> str:
    """Return a fresh, unguessable session id (128 random bits, 32 hex digits)."""
    return secrets.token_hex(16)


def validate_id(
    value: object, *, kind: str = "session id", session_id: str | None = None, max_length: int = MAX_ID_LENGTH
) -> str:
    """Return ``value`` if it is a usable id, else raise :class:`InvalidIdError`.

    Args:
        value: The candidate id.
        kind: What the id names, for the error message.
        session_id: The session concerned, carried by the error.
        max_length: The longest value accepted.

    Raises:
        InvalidIdError: ``value`` is not a string, is empty, is longer than
            ``max_length`` or contains a control character.
    """
    if not isinstance(value, str):
        raise InvalidIdError(f"{kind} must be a str, not {type(value).__name__}", session_id=session_id)
    if not value:
        raise InvalidIdError(f"{kind} must not be empty", session_id=session_id)
    if len(value) > max_length:
        raise InvalidIdError(f"{kind} is longer than {max_length} characters", session_id=session_id)
    if _FORBIDDEN.search(value):
        raise InvalidIdError(f"{kind} {value!r} contains a control character", session_id=session_id)
    return value


MAX_STORAGE_KEY_LENGTH = 1024
"""The longest snapshot-storage key accepted, in characters."""


class StrandsKeys(NamedTuple):
    """The keys of one Strands Agents session; all share the session's hash slot."""

    chat: str
    meta: str
    agents: str
    multi_agents: str
    messages_prefix: str


def escape_glob(text: str) -> str:
    """Escape the characters that SCAN's MATCH pattern treats as wildcards."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySchema:
    """Every key name the toolkit uses.

    Args:
        hash_tags: Wrap session ids in a hash tag (``chat:{<id>}``) so that a
            session's keys share a cluster slot. Session ids may then not
            contain ``{`` or ``}``.
        namespace: A prefix put in front of every key (``"app1:"`` gives
            ``app1:chat:<id>``); empty by default, as in the cookbook.
    """

    hash_tags: bool = False
    namespace: str = ""

    def __post_init__(self) -> None:
        if self.namespace:
            validate_id(self.namespace, kind="namespace")
            if "{" in self.namespace or "}" in self.namespace:
                raise InvalidIdError("namespace must not contain '{' or '}'")

    def session_id(self, session_id: object) -> str:
        """Validate a session id for this schema and return it."""
        sid = validate_id(session_id)
        if self.hash_tags and ("{" in sid or "}" in sid):
            raise InvalidIdError(
                f"session id {sid!r} contains a brace, which hash-tagged keys cannot hold",
                session_id=sid,
            )
        return sid

    def _tagged(self, session_id: str) -> str:
        return f"{{{session_id}}}" if self.hash_tags else session_id

    def chat(self, session_id: str) -> str:
        """Return the LIST key of a session's messages."""
        return f"{self.namespace}chat:{self._tagged(self.session_id(session_id))}"

    def meta(self, session_id: str) -> str:
        """Return the HASH key of a session's metadata."""
        return f"{self.namespace}meta:{self._tagged(self.session_id(session_id))}"

    def session_keys(self, session_id: object) -> tuple[str, str]:
        """Validate ``session_id`` once and return its ``(chat, meta)`` keys."""
        tagged = self._tagged(self.session_id(session_id))
        return f"{self.namespace}chat:{tagged}", f"{self.namespace}meta:{tagged}"

    def user_sessions(self, user_id: object) -> str:
        """Return the SET key indexing a user's sessions."""
        uid = validate_id(user_id, kind="user id")
        return f"{self.namespace}user_sessions:{uid}"

    def strands(self, session_id: object) -> StrandsKeys:
        """Return the keys of a Strands session.

        The session id is always braced in these keys (``strands:agents:{<id>}``),
        which keeps them in the session's cluster slot and makes the agent
        id that follows unambiguous; such session ids may not hold braces.
        """
        sid = validate_id(session_id)
        if "{" in sid or "}" in sid:
            raise InvalidIdError(f"session id {sid!r} contains a brace, which Strands keys cannot hold", session_id=sid)
        chat, meta = self.session_keys(sid)
        ns = self.namespace
        return StrandsKeys(
            chat=chat,
            meta=meta,
            agents=f"{ns}strands:agents:{{{sid}}}",
            multi_agents=f"{ns}strands:multi:{{{sid}}}",
            messages_prefix=f"{ns}strands:messages:{{{sid}}}:",
        )

    def strands_messages(self, session_id: str, agent_id: object) -> str:
        """Return the LIST key of one Strands agent's messages."""
        aid = validate_id(agent_id, kind="agent id", session_id=session_id)
        return self.strands(session_id).messages_prefix + aid

    def snapshot(self, key: object) -> str:
        """Return the STRING key holding one snapshot-storage blob."""
        name = validate_id(key, kind="storage key", max_length=MAX_STORAGE_KEY_LENGTH)
        return f"{self.namespace}strands:blob:{name}"

    def snapshot_index(self) -> str:
        """Return the sorted SET listing every snapshot-storage key, for prefix queries."""
        return f"{self.namespace}strands:blobs"

    def meta_scan_pattern(self) -> str:
        """Return a SCAN MATCH pattern for every meta key of this schema."""
        return f"{escape_glob(self.namespace)}meta:*"

    def session_id_from_meta(self, key: str) -> str | None:
        """Return the session id of a meta key, or ``None`` if ``key`` is not one."""
        prefix = f"{self.namespace}meta:"
        if not key.startswith(prefix):
            return None
        rest = key[len(prefix) :]
        if self.hash_tags:
            if not (rest.startswith("{") and rest.endswith("}")):
                return None
            rest = rest[1:-1]
        try:
            return self.session_id(rest)
        except InvalidIdError:
            return None
