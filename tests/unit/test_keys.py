"""Key names, hash tags, namespaces and id validation of KeySchema (no server)."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from glide_memory._validate import identifier as validate_id
from glide_memory.errors import ConfigurationError, InvalidIdError, InvalidInputError
from glide_memory.keys import MAX_ID_LENGTH, KeySchema, escape_glob, new_message_id, new_session_id

# Valid ids: any printable Unicode (no C0/DEL/C1 controls, no lone surrogates).
id_chars = st.characters(exclude_categories=("Cc", "Cs"))
ids = st.text(alphabet=id_chars, min_size=1, max_size=MAX_ID_LENGTH)
tag_safe_ids = st.text(alphabet=id_chars.filter(lambda c: c not in "{}"), min_size=1, max_size=MAX_ID_LENGTH)
namespaces = st.sampled_from(["", "app1:", "t:x:", "a*b?[c]\\:"])
schemas = st.builds(KeySchema, hash_tags=st.booleans(), namespace=namespaces)


def all_keys(schema: KeySchema, value: str) -> set[str]:
    """Every key the schema derives from ``value``, used as a session id and as a user id."""
    keys = {schema.user_sessions(value)}
    if not (schema.hash_tags and ("{" in value or "}" in value)):
        keys |= {*schema.keys(value), *schema.session_keys(value)}
        keys |= {schema.companion(value, name) for name in ("strands", "strands-agent.a", "x.y")}
    return keys


# -- exact names ----------------------------------------------------------


def test_standalone_names_match_the_cookbook() -> None:
    """Without hash tags or namespace, keys are exactly chat:<id>, meta:<id> and user_sessions:<uid>."""
    schema = KeySchema()
    assert schema.chat("abc123") == "chat:abc123"
    assert schema.meta("abc123") == "meta:abc123"
    assert schema.session_keys("abc123") == ("chat:abc123", "meta:abc123")
    assert schema.user_sessions("alice") == "user_sessions:alice"


def test_hash_tagged_names_wrap_the_session_id() -> None:
    """With hash tags, both session keys wrap the id in braces and the user index is unchanged."""
    schema = KeySchema(hash_tags=True)
    assert schema.chat("abc123") == "chat:{abc123}"
    assert schema.meta("abc123") == "meta:{abc123}"
    assert schema.session_keys("abc123") == ("chat:{abc123}", "meta:{abc123}")
    assert schema.user_sessions("alice") == "user_sessions:alice"


def test_namespace_prefixes_every_key() -> None:
    """A namespace is put in front of every key, tagged or not."""
    plain = KeySchema(namespace="app1:")
    assert plain.chat("s") == "app1:chat:s"
    assert plain.meta("s") == "app1:meta:s"
    assert plain.user_sessions("u") == "app1:user_sessions:u"
    tagged = KeySchema(hash_tags=True, namespace="app1:")
    assert tagged.chat("s") == "app1:chat:{s}"
    assert tagged.meta("s") == "app1:meta:{s}"
    assert tagged.user_sessions("u") == "app1:user_sessions:u"


@given(schemas, tag_safe_ids)
def test_session_keys_agree_with_chat_and_meta(schema: KeySchema, session_id: str) -> None:
    """session_keys returns the same names as chat() and meta()."""
    assert schema.session_keys(session_id) == (schema.chat(session_id), schema.meta(session_id))


@pytest.mark.parametrize("namespace", ["a{b", "}", "x\n", "\x7f", "\ud800"])
def test_bad_namespace_is_rejected(namespace: str) -> None:
    """A namespace with a brace or a control character raises InvalidIdError."""
    with pytest.raises(InvalidIdError):
        KeySchema(namespace=namespace)


# -- injectivity ----------------------------------------------------------


@given(schemas, ids, ids)
def test_distinct_ids_share_no_key(schema: KeySchema, a: str, b: str) -> None:
    """For distinct ids a and b, no key derived from a equals any key derived from b."""
    assume(a != b)
    assert all_keys(schema, a).isdisjoint(all_keys(schema, b))


@given(schemas, tag_safe_ids)
def test_one_ids_keys_are_distinct(schema: KeySchema, value: str) -> None:
    """A session's chat and meta keys and a user's index key with the same id are three different keys."""
    keys = [*schema.keys(value), schema.user_sessions(value), schema.companion(value, "strands")]
    assert len(set(keys)) == len(keys)


@given(st.booleans(), tag_safe_ids, tag_safe_ids)
def test_tagged_keys_of_one_session_share_the_hash_tag(namespace_on: bool, a: str, b: str) -> None:
    """With hash tags, a session's two keys carry the same {id} tag, and distinct ids carry distinct tags."""
    schema = KeySchema(hash_tags=True, namespace="app1:" if namespace_on else "")
    chat, meta = schema.session_keys(a)
    tag = "{" + a + "}"
    assert chat.endswith(tag)
    assert meta.endswith(tag)
    assert chat[chat.index("{") :] == meta[meta.index("{") :] == tag
    if a != b:
        other = schema.chat(b)
        assert other[other.index("{") :] != tag


# -- validation -----------------------------------------------------------


@given(ids)
def test_valid_ids_are_returned_unchanged(value: str) -> None:
    """validate_id returns any non-empty, short, control-free string as it is."""
    assert validate_id(value) == value


@pytest.mark.parametrize("value", [None, 1, 1.5, b"abc", ["abc"], object()])
def test_non_str_id_is_rejected(value: object) -> None:
    """A session id that is not a str raises InvalidIdError."""
    with pytest.raises(InvalidIdError):
        validate_id(value)


def test_empty_id_is_rejected() -> None:
    """An empty id raises InvalidIdError, for sessions and users alike."""
    with pytest.raises(InvalidIdError):
        validate_id("")
    with pytest.raises(InvalidIdError):
        KeySchema().user_sessions("")


def test_id_length_limit() -> None:
    """An id of MAX_ID_LENGTH characters is accepted and one character more is not."""
    assert validate_id("x" * MAX_ID_LENGTH) == "x" * MAX_ID_LENGTH
    with pytest.raises(InvalidIdError):
        validate_id("x" * (MAX_ID_LENGTH + 1))
    with pytest.raises(InvalidIdError):
        KeySchema().chat("é" * (MAX_ID_LENGTH + 1))


@pytest.mark.parametrize(
    "char",
    [
        *(chr(c) for c in range(0x00, 0x20)),
        "\x7f",
        *(chr(c) for c in range(0x80, 0xA0)),
        "\ud800",
        "\udbff",
        "\udc00",
        "\udfff",
    ],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_control_characters_and_lone_surrogates_are_rejected(char: str) -> None:
    """Any C0, DEL or C1 control character or lone surrogate anywhere in an id raises InvalidIdError."""
    for value in (char, f"abc{char}", f"{char}abc", f"a{char}b"):
        with pytest.raises(InvalidIdError):
            validate_id(value)
    with pytest.raises(InvalidIdError):
        KeySchema().meta(f"a{char}b")
    with pytest.raises(InvalidIdError):
        KeySchema().user_sessions(f"a{char}b")


def test_id_error_carries_session_and_is_a_value_error() -> None:
    """InvalidIdError carries the given session id and is both an InvalidInputError and a ValueError."""
    with pytest.raises(InvalidIdError) as caught:
        validate_id("", kind="user id", session_id="s1")
    assert caught.value.session_id == "s1"
    assert "user id" in str(caught.value)
    assert isinstance(caught.value, InvalidInputError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("value", ["a{b", "{abc}", "abc}", "{"])
def test_braces_are_rejected_only_under_hash_tags(value: str) -> None:
    """A session id with a brace is refused by a hash-tagged schema and accepted by a plain one."""
    assert KeySchema().chat(value) == f"chat:{value}"
    assert KeySchema().session_id(value) == value
    tagged = KeySchema(hash_tags=True)
    with pytest.raises(InvalidIdError) as caught:
        tagged.chat(value)
    assert caught.value.session_id == value
    with pytest.raises(InvalidIdError):
        tagged.meta(value)
    with pytest.raises(InvalidIdError):
        tagged.session_keys(value)


# -- new ids --------------------------------------------------------------


def test_new_session_id_is_32_hex_digits() -> None:
    """A fresh session id has 32 lowercase hex digits and is valid in every schema."""
    for _ in range(100):
        sid = new_session_id()
        assert len(sid) == 32
        assert set(sid) <= set(string.hexdigits.lower())
        assert KeySchema(hash_tags=True).session_id(sid) == sid


def test_new_session_ids_are_unique() -> None:
    """Fifty thousand fresh session ids are all different."""
    draws = [new_session_id() for _ in range(50_000)]
    assert len(set(draws)) == len(draws)


# -- SCAN patterns --------------------------------------------------------


def test_escape_glob_escapes_every_wildcard() -> None:
    """escape_glob puts a backslash before each of * ? [ ] and backslash."""
    assert escape_glob("*?[]\\") == "\\*\\?\\[\\]\\\\"
    assert escape_glob("a*b") == "a\\*b"
    assert escape_glob("plain:text-1") == "plain:text-1"


@given(st.text())
def test_escape_glob_is_undone_by_dropping_escapes(text: str) -> None:
    """Removing each escaping backslash from escape_glob's output gives back the input."""
    escaped = escape_glob(text)
    out = []
    chars = iter(escaped)
    for char in chars:
        if char == "\\":
            char = next(chars)
            assert char in "*?[]\\"
        else:
            assert char not in "*?[]\\"
        out.append(char)
    assert "".join(out) == text


def test_meta_scan_pattern_escapes_the_namespace() -> None:
    """The SCAN pattern matches meta keys under the namespace, its wildcards escaped."""
    assert KeySchema().meta_scan_pattern() == "meta:*"
    assert KeySchema(namespace="app1:").meta_scan_pattern() == "app1:meta:*"
    assert KeySchema(namespace="a*b?[c]\\:").meta_scan_pattern() == "a\\*b\\?\\[c\\]\\\\:meta:*"
    assert KeySchema(hash_tags=True, namespace="x:").meta_scan_pattern() == "x:meta:*"


# -- meta key parsing -----------------------------------------------------


@given(schemas, tag_safe_ids)
def test_session_id_from_meta_inverts_meta(schema: KeySchema, session_id: str) -> None:
    """session_id_from_meta(meta(id)) gives back the id in every schema."""
    assert schema.session_id_from_meta(schema.meta(session_id)) == session_id


@pytest.mark.parametrize(
    ("schema", "key"),
    [
        (KeySchema(), "chat:abc"),
        (KeySchema(), "user_sessions:abc"),
        (KeySchema(), "meta:"),
        (KeySchema(), "metadata:abc"),
        (KeySchema(), "app1:meta:abc"),
        (KeySchema(), "meta:a\nb"),
        (KeySchema(), "meta:" + "x" * (MAX_ID_LENGTH + 1)),
        (KeySchema(namespace="app1:"), "meta:abc"),
        (KeySchema(namespace="app1:"), "app2:meta:abc"),
        (KeySchema(hash_tags=True), "meta:abc"),
        (KeySchema(hash_tags=True), "meta:{abc"),
        (KeySchema(hash_tags=True), "meta:abc}"),
        (KeySchema(hash_tags=True), "meta:{}"),
        (KeySchema(hash_tags=True), "meta:{a{b}"),
        (KeySchema(hash_tags=True), "chat:{abc}"),
    ],
)
def test_session_id_from_meta_refuses_foreign_keys(schema: KeySchema, key: str) -> None:
    """A key that is not one of this schema's meta keys gives None."""
    assert schema.session_id_from_meta(key) is None


@given(schemas, tag_safe_ids)
def test_session_id_from_meta_refuses_other_key_kinds(schema: KeySchema, session_id: str) -> None:
    """The chat key and user index key of any id are never taken for a meta key."""
    assert schema.session_id_from_meta(schema.chat(session_id)) is None
    assert schema.session_id_from_meta(schema.user_sessions(session_id)) is None


# -- companions and client kinds ---------------------------------------------


@given(st.booleans(), tag_safe_ids)
def test_companion_keys_share_the_session_tag(namespace_on: bool, value: str) -> None:
    """A companion key carries the session's hash tag, so it lives in the session's slot."""
    schema = KeySchema(hash_tags=True, namespace="app1:" if namespace_on else "")
    key = schema.companion(value, "strands-agent.x")
    assert key.endswith("{" + value + "}") and key.count("{") == 1 + value.count("{")


def test_companion_key_names() -> None:
    """Companion keys are <name>:<id>, with the namespace first and the id tagged on clusters."""
    assert KeySchema(hash_tags=False).companion("s1", "strands") == "strands:s1"
    assert KeySchema(hash_tags=True, namespace="n:").companion("s1", "strands") == "n:strands:{s1}"
    assert KeySchema(hash_tags=False).keys("s1") == ("chat:s1", "meta:s1", "msgids:s1", "ops:s1", "vec:s1", "vecmsg:s1")


@pytest.mark.parametrize(
    "name", ["", "a:b", "a{b", "a b", "chat", "meta", "msgids", "ops", "user_sessions", "x" * 201, 5]
)
def test_bad_companion_names_are_rejected(name: object) -> None:
    """A companion name must be a plain word that is not a core key name."""
    with pytest.raises(InvalidIdError):
        KeySchema().companion("s1", name)


def test_cluster_clients_always_get_hash_tags() -> None:
    """An unset hash_tags follows the client kind; hash_tags=False is refused for a cluster client."""
    assert KeySchema().for_client(True).hash_tags is True
    assert KeySchema(namespace="app1:").for_client(True).hash_tags is True
    assert KeySchema().for_client(False).hash_tags is False
    assert KeySchema(hash_tags=True).for_client(False).hash_tags is True
    with pytest.raises(ConfigurationError, match="hash-tagged"):
        KeySchema(hash_tags=False).for_client(True)


def test_new_message_ids_are_short_and_unique() -> None:
    """Generated message ids are 16 URL-safe characters and do not repeat."""
    found = {new_message_id() for _ in range(10_000)}
    assert len(found) == 10_000
    assert all(len(value) == 16 and validate_id(value, kind="message id") == value for value in found)
