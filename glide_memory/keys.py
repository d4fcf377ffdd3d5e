"""Key names: the one place that formats a server key.

Standalone servers get the cookbook's keys exactly (``chat:<id>``,
``meta:<id>``, ``user_sessions:<uid>``). With hash tags (always on cluster
clients) the session id is wrapped in braces (``chat:{<id>}``) so that every
key of a session lives in one slot and a turn is written atomically.

Besides ``chat`` and ``meta`` a session has ``msgids:<id>``, the ids of the
messages it stored (what makes retried writes idempotent), and any
*companion keys* an integration adds: ``<name>:<id>``, in the session's slot,
sharing its TTL and removed by ``delete_session``. Companion names are plain
words (letters, digits, ``_``, ``-``, ``.``), so a key always splits back
into one name and one id.
"""

from __future__ import annotations

import os
import re
import secrets
from base64 import urlsafe_b64encode
from dataclasses import dataclass, replace
from typing import NamedTuple

from glide_memory._validate import MAX_ID_LENGTH, identifier
from glide_memory.errors import ConfigurationError, InvalidIdError

__all__ = ["MAX_ID_LENGTH", "KeySchema", "SessionKeys", "new_message_id", "new_session_id"]

CORE_NAMES = frozenset(
    {"chat", "meta", "msgids", "ops", "vec", "vecmsg", "vdoc", "user_sessions", "recall", "gm_recall"}
)
"""Key names of the core; companions may not use them."""

MAX_COMPANION_NAME = 200
"""The longest companion name accepted, in characters."""

_COMPANION_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")
_THREAD_PREFIX = "thread."
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def new_session_id() -> str:
    """Return a fresh, unguessable session id (128 random bits, 32 hex digits)."""
    return secrets.token_hex(16)


def new_message_id() -> str:
    """Return a fresh message id (96 random bits, 16 URL-safe characters)."""
    return urlsafe_b64encode(os.urandom(12)).decode()  # 12 bytes: no padding; secrets.token_urlsafe, minus a layer


def escape_glob(text: str) -> str:
    """Escape the characters that SCAN's MATCH pattern treats as wildcards."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


class SessionKeys(NamedTuple):
    """The core keys of one session; all share its hash slot."""

    chat: str
    meta: str
    ids: str
    ops: str
    """Replies of recent operations that carry an id, so a retried one reports what the first did."""
    vectors: str
    """Message id to vector record, for semantic recall."""
    copies: str
    """Message id to a copy of the message (its thread, NUL, its stored JSON): what recall returns."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySchema:
    """Every key name the toolkit uses.

    Args:
        hash_tags: Wrap session ids in a hash tag (``chat:{<id>}``) so that a
            session's keys share a cluster slot; session ids may then not
            contain ``{`` or ``}``. ``None`` (the default) lets the store
            decide: on for cluster clients, off otherwise. A store on a
            cluster client refuses ``False``.
        namespace: A prefix put in front of every key (``"app1:"`` gives
            ``app1:chat:<id>``); empty by default, as in the cookbook.
    """

    hash_tags: bool | None = None
    namespace: str = ""

    def __post_init__(self) -> None:
        if self.hash_tags is not None and not isinstance(self.hash_tags, bool):
            raise ConfigurationError(f"hash_tags must be a bool or None, not {self.hash_tags!r}")
        if self.namespace:
            identifier(self.namespace, kind="namespace")
            if "{" in self.namespace or "}" in self.namespace:
                raise InvalidIdError("namespace must not contain '{' or '}'")

    def for_client(self, cluster: bool) -> KeySchema:
        """Return this schema resolved for a cluster (``True``) or standalone client.

        Raises:
            ConfigurationError: hash tags were turned off for a cluster client.
        """
        if self.hash_tags is None:
            return replace(self, hash_tags=cluster)
        if cluster and not self.hash_tags:
            raise ConfigurationError(
                "a cluster client needs hash-tagged keys so that a session's keys share a slot; "
                "pass KeySchema(hash_tags=True) or leave hash_tags unset"
            )
        return self

    def session_id(self, session_id: object) -> str:
        """Validate a session id for this schema and return it."""
        sid = identifier(session_id)
        if self.hash_tags and ("{" in sid or "}" in sid):
            raise InvalidIdError(
                f"session id {sid!r} contains a brace, which hash-tagged keys cannot hold", session_id=sid
            )
        return sid

    def _tagged(self, session_id: str) -> str:
        return f"{{{session_id}}}" if self.hash_tags else session_id

    def keys(self, session_id: object) -> SessionKeys:
        """Validate ``session_id`` once and return its core keys."""
        tagged = self._tagged(self.session_id(session_id))
        ns = self.namespace
        return SessionKeys(
            f"{ns}chat:{tagged}",
            f"{ns}meta:{tagged}",
            f"{ns}msgids:{tagged}",
            f"{ns}ops:{tagged}",
            f"{ns}vec:{tagged}",
            f"{ns}vecmsg:{tagged}",
        )

    def chat(self, session_id: object) -> str:
        """Return the LIST key of a session's messages."""
        return f"{self.namespace}chat:{self._tagged(self.session_id(session_id))}"

    def meta(self, session_id: object) -> str:
        """Return the HASH key of a session's metadata."""
        return f"{self.namespace}meta:{self._tagged(self.session_id(session_id))}"

    def session_keys(self, session_id: object) -> tuple[str, str]:
        """Validate ``session_id`` once and return its ``(chat, meta)`` keys."""
        keys = self.keys(session_id)
        return keys.chat, keys.meta

    def companion(self, session_id: object, name: object) -> str:
        """Return the key of a session's companion ``name`` (``<name>:<id>``, in the session's slot).

        Raises:
            InvalidIdError: ``name`` is not a plain word or is a core key name.
        """
        return f"{self.namespace}{companion_name(name)}:{self._tagged(self.session_id(session_id))}"

    def extension(self, name: object, key: object = None) -> str:
        """Return a key for an integration's data outside any session: ``<name>:<key>``, or ``<name>``.

        Raises:
            InvalidIdError: ``name`` is not a plain word or is a core key
                name, or ``key`` is not a usable id (up to 1,024 characters).
        """
        word = companion_name(name)
        if key is None:
            return f"{self.namespace}{word}"
        return f"{self.namespace}{word}:{identifier(key, kind='key', max_length=1024)}"

    def vector_document(self, session_id: object, message_id: str) -> str:
        """Return the HASH key a search module indexes for one message's vector (in the session's slot)."""
        return f"{self.namespace}vdoc:{self._tagged(self.session_id(session_id))}:{message_id}"

    def vector_document_prefix(self) -> str:
        """Return the key prefix of every search document of this schema (FT.CREATE's PREFIX)."""
        return f"{self.namespace}vdoc:"

    def recall_config(self) -> str:
        """Return the HASH key recording the embedder and backend of this schema's vectors."""
        return f"{self.namespace}recall"

    def recall_index(self, digest: str) -> str:
        """Return the name of the search index of this schema's vectors, for one embedder (``digest``)."""
        return f"{self.namespace}gm_recall_{digest}"

    def user_sessions(self, user_id: object) -> str:
        """Return the SET key indexing a user's sessions."""
        uid = identifier(user_id, kind="user id")
        return f"{self.namespace}user_sessions:{uid}"

    def index_scan_pattern(self) -> str:
        """Return a SCAN MATCH pattern for every user index of this schema."""
        return f"{escape_glob(self.namespace)}user_sessions:*"

    def user_id_from_index(self, key: str) -> str | None:
        """Return the user id of a user index key, or ``None`` if ``key`` is not one."""
        prefix = f"{self.namespace}user_sessions:"
        if not key.startswith(prefix):
            return None
        try:
            return identifier(key[len(prefix) :], kind="user id")
        except InvalidIdError:
            return None

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


def record_kind(kind: object) -> str:
    """Return ``kind`` if it can name a family of records: a companion name not taken by lists.

    Raises:
        InvalidIdError: not a plain word, a core name, or a name of a list
            companion (``archive...``, ``thread...``).
    """
    name = companion_name(kind)
    if name.startswith(("archive", _THREAD_PREFIX)):
        raise InvalidIdError(f"record kind {name!r} is taken by a session's lists (archive, thread.)")
    return name


def companion_name(name: object) -> str:
    """Return ``name`` if it can name a companion key, else raise :class:`InvalidIdError`."""
    if not isinstance(name, str) or not _COMPANION_NAME.fullmatch(name) or len(name) > MAX_COMPANION_NAME:
        raise InvalidIdError(
            f"companion name {name!r} must be 1 to {MAX_COMPANION_NAME} letters, digits, '_', '-' or '.'"
        )
    if name in CORE_NAMES:
        raise InvalidIdError(f"companion name {name!r} is a core key name")
    return name


def thread_companion(thread: object, *, session_id: str | None = None) -> str:
    """Return the companion name of a session's named thread (``thread.<name>``, escaped to a plain word).

    Letters, digits, ``_`` and ``-`` stay as they are; every other character
    becomes ``.`` and two hex digits per UTF-8 byte, so any id maps to one
    name and back.
    """
    name = identifier(thread, kind="thread name", session_id=session_id, max_length=MAX_COMPANION_NAME // 4)
    escaped = "".join(c if c in _PLAIN else "".join(f".{b:02x}" for b in c.encode()) for c in name)
    return _THREAD_PREFIX + escaped


def thread_of(companion: str) -> str | None:
    """Return the thread name a companion name stands for, or ``None`` if it is not a thread."""
    if not companion.startswith(_THREAD_PREFIX):
        return None
    raw = companion[len(_THREAD_PREFIX) :]
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == ".":
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out += raw[i].encode()
            i += 1
    return out.decode()


@dataclass(frozen=True, slots=True)
class ListNames:
    """The names that go with one list of a session: its companion name and its meta fields."""

    companion: str
    """``""`` for the main conversation, else the thread's companion name."""
    pinned: str
    """The meta field counting its pinned messages."""
    summary: str
    """The meta field holding its summary."""
    archive: str
    """The companion name of its archive (messages a summary covers)."""


MAIN_LIST = ListNames("", "pinned", "summary", "archive")
"""The names that go with the main conversation."""


def list_names(thread: str | None, *, session_id: str | None = None) -> ListNames:
    """Return the names that go with the main conversation (``None``) or a thread."""
    if thread is None:
        return MAIN_LIST
    companion = thread_companion(thread, session_id=session_id)
    return ListNames(companion, f"pinned:{companion}", f"summary:{companion}", f"archive.{companion}")
