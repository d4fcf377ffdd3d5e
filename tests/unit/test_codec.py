"""Properties of the message codec and the session metadata parser (no server)."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from glide_memory._codec import (
    RESERVED_FIELDS,
    decode_message,
    decode_session_info,
    encode_message,
)
from glide_memory._validate import fields as check_fields_strict
from glide_memory.errors import (
    CorruptedEntryError,
    InvalidContentError,
    InvalidFieldError,
    InvalidIdError,
    InvalidRoleError,
    InvalidTokensError,
)
from glide_memory.models import Message, Role

KEY = "chat:s1"

# Any Unicode text UTF-8 can hold: everything but lone surrogates.
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
json_objects = st.dictionaries(text, json_values, max_size=5)
contents = text | st.lists(json_objects, max_size=4)
messages = st.builds(
    Message,
    role=st.sampled_from(Role),
    content=contents,
    tokens=st.integers(min_value=0, max_value=2**63 - 1),
    timestamp=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False) | st.integers(-(10**12), 10**12),
    id=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=40),
    name=st.none() | text,
    tool_calls=st.none() | st.lists(json_objects, max_size=3),
    tool_call_id=st.none() | text,
    metadata=st.none() | json_objects,
)


def same(a: object, b: object) -> bool:
    """Compare like ``==`` but also require equal types, so 1, 1.0 and True differ."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


def same_message(a: Message, b: Message) -> bool:
    """Compare two messages field by field with :func:`same`."""
    fields = ("role", "content", "tokens", "id", "name", "tool_calls", "tool_call_id", "metadata")
    if not all(same(getattr(a, f), getattr(b, f)) for f in fields):
        return False
    # Timestamps are compared as numbers: the Message type allows int or float.
    return a.timestamp == b.timestamp


def message(**fields: Any) -> Message:
    """Build a valid user message with ``fields`` overriding the defaults (any type, on purpose)."""
    values: dict[str, Any] = {"role": Role.USER, "content": "hello", "id": "m1", "timestamp": 1710000000.5}
    values.update(fields)
    return Message(**values)


def encoded(original: Message, *, session_id: str | None = None) -> bytes:
    """Return the stored bytes of ``original``."""
    return encode_message(original, session_id=session_id)[0]


def check_fields(fields: dict[Any, Any], *, session_id: str | None = None, allow_none: bool = False) -> None:
    """Check caller metadata as the store does."""
    check_fields_strict(fields, reserved=RESERVED_FIELDS, session_id=session_id, allow_none=allow_none)


def nested(depth: int) -> object:
    """Return a string wrapped in ``depth`` lists."""
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


# -- round trips ----------------------------------------------------------


@given(messages)
def test_round_trip_is_exact(original: Message) -> None:
    """decode_message(encode_message(m)) gives back m exactly, types of nested values included."""
    decoded = decode_message(encoded(original), key=KEY, index=3)
    assert decoded == original
    assert same_message(decoded, original)


@given(messages)
def test_stored_bytes_are_json_with_role_and_content(original: Message) -> None:
    """The stored form is a JSON object stdlib json reads, with top-level role and content."""
    doc = json.loads(encoded(original))
    assert isinstance(doc, dict)
    assert doc["role"] == original.role.value
    assert same(doc["content"], original.content)


@given(messages)
def test_stdlib_json_rewrite_decodes_the_same(original: Message) -> None:
    """An entry re-serialised by stdlib json (ASCII escapes, other spacing) decodes to the same message."""
    rewritten = json.dumps(json.loads(encoded(original))).encode()
    assert same_message(decode_message(rewritten, key=KEY, index=0), original)


@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1))
def test_non_ascii_text_is_stored_as_utf8(content: str) -> None:
    """Text content is written as UTF-8 (not escaped) and comes back unchanged."""
    raw = encoded(message(content=content))
    assert orjson.loads(raw)["content"] == content
    assert decode_message(raw, key=KEY, index=0).content == content


def test_optional_fields_are_omitted_when_unset() -> None:
    """A bare message is stored with role and content only, as the cookbook writes it."""
    assert orjson.loads(encoded(message(content="hi"))) == {
        "role": "user",
        "content": "hi",
        "ts": 1710000000.5,
        "id": "m1",
    }


@pytest.mark.parametrize("role", ["system", "user", "assistant", "tool", *Role])
def test_every_role_is_accepted_as_str_or_enum(role: str) -> None:
    """Each of the four roles, as a plain str or a Role, encodes and decodes to the Role."""
    decoded = decode_message(encoded(message(role=role)), key=KEY, index=0)
    assert decoded.role is Role(role)


def test_deepest_accepted_nesting_round_trips() -> None:
    """Content nested 200 containers deep (the documented limit) is stored and read back."""
    content = [{"a": nested(198)}]
    decoded = decode_message(encoded(message(content=content)), key=KEY, index=0)
    assert decoded.content == content


def test_decode_cookbook_entry() -> None:
    """An entry the cookbook wrote with json.dumps decodes with tokens 0 and no timestamp."""
    raw = json.dumps({"role": "user", "content": "hi"}).encode()
    assert decode_message(raw, key=KEY, index=0) == Message(role=Role.USER, content="hi", tokens=0, timestamp=None)


# -- rejected input -------------------------------------------------------


@pytest.mark.parametrize("role", ["robot", "User", "", None, 1, b"user"])
def test_bad_role_is_rejected(role: object) -> None:
    """A role outside the four names raises InvalidRoleError carrying the session id."""
    with pytest.raises(InvalidRoleError) as caught:
        encoded(message(role=role), session_id="s1")
    assert caught.value.session_id == "s1"


@pytest.mark.parametrize("tokens", [-1, -(2**70), True, False, 1.0, 2.5, "3", None])
def test_bad_tokens_are_rejected(tokens: object) -> None:
    """Negative, bool, float, str or missing token counts raise InvalidTokensError."""
    with pytest.raises(InvalidTokensError) as caught:
        encoded(message(tokens=tokens), session_id="s1")
    assert caught.value.session_id == "s1"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param([{"x": math.nan}], id="nan"),
        pytest.param([{"x": math.inf}], id="inf"),
        pytest.param([{"x": [-math.inf]}], id="-inf-nested"),
        pytest.param([{"x": (1, 2)}], id="tuple"),
        pytest.param([{"x": {1, 2}}], id="set"),
        pytest.param([{"x": b"raw"}], id="bytes"),
        pytest.param([{"x": {1: "a"}}], id="int-key"),
        pytest.param([{"x": {None: "a"}}], id="none-key"),
        pytest.param([{"x": {("a",): "a"}}], id="tuple-key"),
        pytest.param("\ud800", id="lone-surrogate-text"),
        pytest.param([{"x": "a\udfffb"}], id="lone-surrogate-value"),
        pytest.param([{"\ud800": "a"}], id="lone-surrogate-key"),
        pytest.param([{"x": 2**64}], id="int-past-64-bits"),
        pytest.param([{"x": -(2**63) - 1}], id="negative-int-past-64-bits"),
        pytest.param([{"x": nested(199)}], id="too-deep"),
        pytest.param([{"x": nested(10_000)}], id="far-too-deep"),
        pytest.param(["text"], id="str-block"),
        pytest.param([["a"]], id="list-block"),
        pytest.param([None], id="none-block"),
        pytest.param(({"type": "text"},), id="tuple-of-blocks"),
        pytest.param(b"bytes", id="bytes-content"),
        pytest.param(None, id="none-content"),
        pytest.param(42, id="int-content"),
        pytest.param({"type": "text"}, id="dict-content"),
    ],
)
def test_content_json_cannot_hold_is_rejected(content: object) -> None:
    """Content that JSON cannot hold exactly raises InvalidContentError carrying the session id."""
    with pytest.raises(InvalidContentError) as caught:
        encoded(message(content=content), session_id="s1")
    assert caught.value.session_id == "s1"


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"tool_calls": [{"args": math.nan}]}, id="tool-calls-nan"),
        pytest.param({"tool_calls": {"id": "c1"}}, id="tool-calls-dict"),
        pytest.param({"tool_calls": ["c1"]}, id="tool-calls-str-item"),
        pytest.param({"metadata": {"k": {1, 2}}}, id="metadata-set"),
        pytest.param({"metadata": [1, 2]}, id="metadata-list"),
        pytest.param({"metadata": {2: "x"}}, id="metadata-int-key"),
        pytest.param({"timestamp": math.nan}, id="timestamp-nan"),
        pytest.param({"timestamp": math.inf}, id="timestamp-inf"),
        pytest.param({"timestamp": "now"}, id="timestamp-str"),
        pytest.param({"timestamp": True}, id="timestamp-bool"),
        pytest.param({"timestamp": None}, id="timestamp-missing"),
        pytest.param({"timestamp": 10**13}, id="timestamp-huge-int"),
        pytest.param({"timestamp": 10**400}, id="timestamp-past-float"),
        pytest.param({"timestamp": -1e13}, id="timestamp-huge-negative"),
        pytest.param({"name": b"bob"}, id="name-bytes"),
        pytest.param({"tool_call_id": ["c1"]}, id="tool-call-id-list"),
        pytest.param({"name": "\udc00"}, id="name-lone-surrogate"),
    ],
)
def test_bad_optional_fields_are_rejected(fields: dict[str, Any]) -> None:
    """Tool calls, metadata, timestamp and id fields JSON cannot hold raise InvalidContentError."""
    with pytest.raises(InvalidContentError):
        encoded(message(**fields))


@pytest.mark.parametrize("message_id", [None, 5, "", "a\x00b", "x" * 257, "\ud800"])
def test_bad_message_id_is_rejected(message_id: object) -> None:
    """A message id that is missing, not a str, empty, overlong or unprintable raises InvalidIdError."""
    with pytest.raises(InvalidIdError):
        encoded(message(id=message_id))


# -- the idempotency digest -------------------------------------------------


@given(messages, st.floats(min_value=0, max_value=1e11))
def test_digest_ignores_timestamp_and_id(original: Message, other_time: float) -> None:
    """A retry of the same message later, or under another id, has the same digest."""
    retried = original.replace(timestamp=other_time, id=f"{original.id}x")
    assert encode_message(original)[1] == encode_message(retried)[1]


@pytest.mark.parametrize(
    "change",
    [
        {"content": "hellO"},
        {"role": Role.ASSISTANT},
        {"tokens": 1},
        {"name": "bob"},
        {"tool_call_id": "c1"},
        {"tool_calls": [{"id": "c1"}]},
        {"metadata": {"k": 1}},
    ],
)
def test_digest_tells_different_messages_apart(change: dict[str, Any]) -> None:
    """Changing anything but the timestamp and id changes the digest."""
    assert encode_message(message())[1] != encode_message(message(**change))[1]


def test_stored_entry_ends_with_timestamp_and_id() -> None:
    """The stored JSON is the digested body with the timestamp and id spliced on last."""
    payload, _ = encode_message(message(content="x", tokens=3))
    assert payload == b'{"role":"user","content":"x","tokens":3,"ts":1710000000.5,"id":"m1"}'


# -- corrupted entries ----------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"role": "user", "content": "hi"', id="truncated"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b'[{"role": "user", "content": "hi"}]', id="array"),
        pytest.param(b'"user"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"content": "hi"}', id="no-role"),
        pytest.param(b'{"role": "robot", "content": "hi"}', id="unknown-role"),
        pytest.param(b'{"role": ["user"], "content": "hi"}', id="list-role"),
        pytest.param(b'{"role": "user"}', id="no-content"),
        pytest.param(b'{"role": "user", "content": 5}', id="int-content"),
        pytest.param(b'{"role": "user", "content": {"text": "hi"}}', id="dict-content"),
        pytest.param(b'{"role": "user", "content": "hi", "tokens": "3"}', id="str-tokens"),
        pytest.param(b'{"role": "user", "content": "hi", "tokens": 1.5}', id="float-tokens"),
        pytest.param(b'{"role": "user", "content": "hi", "tokens": true}', id="bool-tokens"),
        pytest.param(b'{"role": "user", "content": "hi", "tokens": null}', id="null-tokens"),
        pytest.param(b'{"role": "user", "content": "hi", "ts": "yesterday"}', id="str-ts"),
        pytest.param(b'{"role": "user", "content": "hi", "ts": true}', id="bool-ts"),
        pytest.param(b'{"role": {"user": 1}, "content": "hi"}', id="dict-role"),
    ],
)
def test_garbage_entry_raises_corrupted_entry(raw: bytes) -> None:
    """An entry that is not a message document raises CorruptedEntryError naming its key and index."""
    with pytest.raises(CorruptedEntryError) as caught:
        decode_message(raw, key=KEY, index=7, session_id="s1")
    assert caught.value.key == KEY
    assert caught.value.index == 7
    assert caught.value.session_id == "s1"
    assert f"{KEY}[7]" in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"role": "user", "content": ["text"]}', id="str-block"),
        pytest.param(b'{"role": "user", "content": [1, 2]}', id="int-blocks"),
        pytest.param(b'{"role": "user", "content": "hi", "id": 5}', id="int-id"),
        pytest.param(b'{"role": "user", "content": "hi", "name": ["bob"]}', id="list-name"),
        pytest.param(b'{"role": "tool", "content": "hi", "tool_call_id": 1}', id="int-tool-call-id"),
        pytest.param(b'{"role": "assistant", "content": "hi", "tool_calls": "c1"}', id="str-tool-calls"),
        pytest.param(b'{"role": "assistant", "content": "hi", "tool_calls": [1]}', id="int-tool-call"),
        pytest.param(b'{"role": "user", "content": "hi", "metadata": [1]}', id="list-metadata"),
    ],
)
def test_entry_encode_would_refuse_raises_corrupted_entry(raw: bytes) -> None:
    """A stored entry whose fields have types no Message can hold raises CorruptedEntryError, not a bad Message."""
    with pytest.raises(CorruptedEntryError) as caught:
        decode_message(raw, key=KEY, index=2)
    assert caught.value.key == KEY
    assert caught.value.index == 2


# -- session metadata -----------------------------------------------------


def test_decode_session_info_cookbook_fields() -> None:
    """A meta HASH as the cookbook writes it parses into every SessionInfo field."""
    raw = {
        b"user_id": b"alice",
        b"model": b"gpt-4o",
        b"title": "Voyage à Zürich".encode(),
        b"created_at": b"1710000000.0",
        b"last_active": b"1710000123.5",
        b"message_count": b"12",
        b"token_count": b"3456",
        b"ttl": b"3600",
    }
    info = decode_session_info("s1", raw, messages_stored=10, pttl_ms=1_500_000, key="meta:s1")
    assert info.session_id == "s1"
    assert info.user_id == "alice"
    assert info.model == "gpt-4o"
    assert info.title == "Voyage à Zürich"
    assert info.created_at == 1710000000.0
    assert info.last_active == 1710000123.5
    assert info.message_count == 12
    assert info.token_count == 3456
    assert info.messages_stored == 10
    assert info.expires_in_seconds == 1500.0
    assert info.ttl == 3600
    assert info.metadata == {}


def test_decode_session_info_missing_optional_fields() -> None:
    """Missing optional fields read as None or zero, and last_active falls back to created_at."""
    raw = {b"user_id": b"bob", b"created_at": b"1710000000.25"}
    info = decode_session_info("s2", raw, messages_stored=0, pttl_ms=-1, key="meta:s2")
    assert info.user_id == "bob"
    assert info.model is None
    assert info.title is None
    assert info.created_at == 1710000000.25
    assert info.last_active == 1710000000.25
    assert (info.message_count, info.token_count, info.messages_stored) == (0, 0, 0)
    assert info.ttl is None
    assert info.metadata == {}


def test_decode_session_info_without_user() -> None:
    """A HASH lacking user_id parses with user_id None instead of failing."""
    info = decode_session_info("s3", {b"message_count": b"2"}, messages_stored=2, pttl_ms=-1, key="meta:s3")
    assert info.user_id is None
    assert info.message_count == 2


def test_decode_session_info_caller_metadata() -> None:
    """Fields the toolkit does not own come back as caller metadata, reserved ones do not."""
    raw = {
        b"user_id": b"carol",
        b"created_at": b"1.0",
        b"ttl": b"60",
        b"team": b"support",
        b"langue": "français".encode(),
    }
    info = decode_session_info("s4", raw, messages_stored=0, pttl_ms=59_000, key="meta:s4")
    assert info.metadata == {"team": "support", "langue": "français"}


@pytest.mark.parametrize("pttl_ms", [-1, -2])
def test_negative_pttl_means_no_expiry(pttl_ms: int) -> None:
    """A negative PTTL (no expiry, or key gone) gives expires_in_seconds None."""
    info = decode_session_info("s5", {b"user_id": b"u"}, messages_stored=0, pttl_ms=pttl_ms, key="meta:s5")
    assert info.expires_in_seconds is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message_count", b"twelve"),
        ("message_count", b"1.5"),
        ("token_count", b""),
        ("token_count", b"12abc"),
        ("created_at", b"yesterday"),
        ("last_active", b"soon"),
        ("ttl", b"forever"),
    ],
)
def test_decode_session_info_rejects_non_numeric(field: str, value: bytes) -> None:
    """A counter, timestamp or ttl that does not parse raises CorruptedEntryError naming the meta key."""
    raw = {b"user_id": b"u", b"created_at": b"1.0", field.encode(): value}
    with pytest.raises(CorruptedEntryError) as caught:
        decode_session_info("s6", raw, messages_stored=0, pttl_ms=-1, key="meta:s6")
    assert caught.value.key == "meta:s6"
    assert caught.value.index is None
    assert caught.value.session_id == "s6"
    assert field in str(caught.value)


# -- caller fields --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RESERVED_FIELDS))
def test_check_fields_rejects_reserved_names(name: str) -> None:
    """Every field the toolkit owns is refused as caller metadata."""
    with pytest.raises(InvalidFieldError) as caught:
        check_fields({name: "x"}, session_id="s1")
    assert caught.value.session_id == "s1"


def test_reserved_fields_cover_the_standard_hash() -> None:
    """The reserved names include every standard meta field of the data model."""
    standard = {"user_id", "model", "created_at", "last_active", "message_count", "token_count", "title"}
    assert standard <= RESERVED_FIELDS


@pytest.mark.parametrize("value", [1, 1.5, True, b"bytes", ["a"], {"a": "b"}, None])
def test_check_fields_rejects_non_str_values(value: object) -> None:
    """A caller field whose value is not a str raises InvalidFieldError (None too, unless allowed)."""
    with pytest.raises(InvalidFieldError):
        check_fields({"team": value})


@pytest.mark.parametrize("name", ["", 1, None, b"team"])
def test_check_fields_rejects_bad_names(name: Any) -> None:
    """An empty or non-str field name raises InvalidFieldError."""
    with pytest.raises(InvalidFieldError):
        check_fields({name: "x"})


def test_check_fields_accepts_str_fields_and_allowed_none() -> None:
    """String caller fields pass, and None passes only when removal is allowed."""
    check_fields({"team": "support", "langue": "français", "empty": ""})
    check_fields({"team": None}, allow_none=True)
    with pytest.raises(InvalidFieldError):
        check_fields({"team": None}, allow_none=False)


@given(st.dictionaries(text.filter(lambda s: s != "" and s not in RESERVED_FIELDS), text, max_size=5))
def test_check_fields_accepts_any_unreserved_str_mapping(fields: dict[str, str]) -> None:
    """Any mapping of non-empty unreserved names to str values passes, and one non-str value spoils it."""
    check_fields(fields)
    with pytest.raises(InvalidFieldError):
        check_fields({**fields, "extra": 1})
