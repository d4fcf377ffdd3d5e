"""The Strands adapter's codec: what a restore decodes, on the fast path and off it (pure)."""

from __future__ import annotations

import orjson
import pytest
from strands.types.session import SessionMessage

from glide_memory import Message, Role
from glide_memory._codec import encode_message
from glide_memory.errors import CorruptedEntryError
from glide_memory.integrations.strands import _codec

PNG = b"\x89PNG\r\n\x1a\n\xff"


def stored(message: Message) -> bytes:
    return encode_message(message.replace(timestamp=1_700_000_000.0, id=message.id or "m"))[0]


def round_trip(message: SessionMessage) -> SessionMessage:
    raw = stored(_codec.to_stored(message, "default"))
    return _codec.from_stored(raw, key="k", position=0, session_id="s")


def test_bytes_in_the_message_and_its_redaction_come_back_as_bytes() -> None:
    original = SessionMessage(
        message={"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": PNG}}}]},
        message_id=3,
        redact_message={"role": "user", "content": [{"document": {"name": "d", "source": {"bytes": PNG}}}]},
    )
    assert round_trip(original) == original


def test_a_message_shaped_like_a_bytes_envelope_is_not_decoded() -> None:
    """Only bytes the adapter enveloped itself are turned back into bytes."""
    lookalike = {"__bytes_encoded__": True, "data": "AAAA"}
    original = SessionMessage(message={"role": "user", "content": [{"json": lookalike}]}, message_id=0)  # type: ignore[typeddict-unknown-key]
    assert round_trip(original).message == original.message


def test_extra_keys_ids_and_times_survive() -> None:
    original = SessionMessage(
        message={"role": "assistant", "content": [{"text": "hi"}], "tag": 7},  # type: ignore[typeddict-unknown-key]
        message_id=41,
        created_at="2026-01-01T00:00:00+00:00",
        updated_at="2026-01-02T00:00:00+00:00",
    )
    assert round_trip(original) == original


def test_a_core_message_reads_as_a_text_block_with_its_position_as_id() -> None:
    raw = stored(Message(role=Role.USER, content="plain", metadata={"strands_message": "not ours"}))
    restored = _codec.from_stored(raw, key="k", position=9, session_id="s")
    assert (restored.message, restored.message_id) == ({"role": "user", "content": [{"text": "plain"}]}, 9)


def test_a_legacy_entry_with_envelopes_is_decoded_by_a_scan() -> None:
    envelope = {"__bytes_encoded__": True, "data": "iVBORw=="}
    raw = orjson.dumps(
        {
            "role": "user",
            "content": [{"image": {"source": {"bytes": envelope}}}],
            "metadata": {"strands": {"message_id": 2}},
        }
    )
    restored = _codec.from_stored(raw, key="k", position=0, session_id="s")
    assert restored.message_id == 2
    assert restored.message["content"][0]["image"]["source"]["bytes"] == b"\x89PNG"


def test_many_matches_one_by_one_and_reports_positions() -> None:
    entries = [
        (
            n,
            stored(
                _codec.to_stored(
                    SessionMessage(message={"role": "user", "content": [{"text": f"t{n}"}]}, message_id=n), "a"
                )
            ),
        )
        for n in range(5)
    ]
    many = _codec.from_stored_many(entries, key="k", session_id="s")
    assert many == [_codec.from_stored(raw, key="k", position=n, session_id="s") for n, raw in entries]
    with pytest.raises(CorruptedEntryError) as caught:
        _codec.from_stored_many([*entries, (5, b"{not json")], key="k", session_id="s")
    assert caught.value.index == 5
