"""What a model gets: windows that are valid input, lossless summaries, provider formats.

- A window keeps every pinned message (system prompts by default), gives the
  rest of its budget to the newest messages, and never opens with a tool
  result whose call was left out (the count window applied on append follows
  the same rules, on the server, in the append's round trip).
- :func:`summarize` asks your summarizer for a summary of the oldest
  messages and, in one atomic step that checks nothing moved meanwhile,
  moves them to the session's archive (still readable) and stores the
  summary with a watermark: the ids and number of messages it covers.
- :func:`get_context` returns pinned messages, then the latest summary, then
  the newest messages that fit, as :class:`Message` values or ready-to-send
  OpenAI or Anthropic input.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from glide_memory import _validate, scripts
from glide_memory.codec import decode_message, encode_message, format_time, tool_kind
from glide_memory.errors import InvalidInputError, SummaryConflictError
from glide_memory.keys import new_message_id
from glide_memory.models import Message, Role

if TYPE_CHECKING:
    from glide_memory.store import SessionStore

Format = Literal["openai", "openai_responses", "anthropic"]
Summarizer = Callable[[Message | None, list[Message]], Awaitable[str | Message]]
"""Your summarizer: given the previous summary (or ``None``) and the messages to cover, returns the new summary."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """A stored summary and what it covers."""

    message: Message
    """The summary itself, a pinned system message."""
    covered: int
    """How many messages this summary (with those before it) covers."""
    through: str | None
    """The id of the newest message it covers: its watermark."""


def _summary(raw: bytes, key: str, session_id: str) -> Summary:
    message = decode_message(raw, key=key, index=-1, session_id=session_id)
    mark = (message.metadata or {}).get("summary") or {}
    return Summary(message=message, covered=int(mark.get("covered", 0)), through=mark.get("through"))


async def get_window(
    store: SessionStore, session_id: str, *, max_tokens: int | None, last: int | None, thread: str | None
) -> list[Message]:
    """Return the pinned messages, then the newest messages that fit the rest of ``max_tokens``."""
    pinned, _, newest = await _context(store, session_id, max_tokens, last, thread, with_summary=False)
    return [*pinned, *newest]


async def get_context(
    store: SessionStore,
    session_id: str,
    *,
    max_tokens: int | None,
    last: int | None,
    thread: str | None,
    format: Format | None,
) -> Any:
    """Return pinned messages, the latest summary and the newest that fit, as Messages or a provider's input."""
    if format not in (None, "openai", "openai_responses", "anthropic"):
        raise InvalidInputError(f"format must be openai, openai_responses or anthropic, not {format!r}")
    pinned, summary, newest = await _context(store, session_id, max_tokens, last, thread, with_summary=True)
    messages = [*pinned, *([summary.message] if summary else []), *newest]
    if format is None:
        return messages
    from glide_memory import formats

    if format == "openai":
        return formats.to_openai_chat(messages)
    if format == "openai_responses":
        return formats.to_openai_responses(messages)
    system, conversation = formats.to_anthropic(messages)
    return {"messages": conversation} if system is None else {"system": system, "messages": conversation}


async def _context(
    store: SessionStore,
    session_id: str,
    max_tokens: int | None,
    last: int | None,
    thread: str | None,
    *,
    with_summary: bool,
) -> tuple[list[Message], Summary | None, list[Message]]:
    keys, target, names = store._list(session_id, thread)
    budget = (
        None
        if max_tokens is None
        else _validate.non_negative(max_tokens, "max_tokens", session_id=session_id, limit=_validate.MAX_COUNTER)
    )
    limit = _validate.optional_positive(last, "last", session_id=session_id) or 0
    found = await store._read_context(
        session_id, target, keys.meta, budget, limit, names.pinned, names.summary if with_summary else ""
    )
    if found.length == 0 and not found.pinned:
        await store._must_exist(session_id, keys.meta)
    pinned = [decode_message(raw, key=target, index=at, session_id=session_id) for at, raw in found.pinned]
    newest = [
        decode_message(raw, key=target, index=found.first + n, session_id=session_id)
        for n, raw in enumerate(found.newest)
    ]
    summary = _summary(found.summary, keys.meta, session_id) if found.summary else None
    return pinned, summary, newest


async def get_summary(store: SessionStore, session_id: str, *, thread: str | None) -> Summary | None:
    """Return the latest summary of a list, or ``None``."""
    keys, _, names = store._list(session_id, thread)
    (raw,) = await store.pipeline(lambda batch: batch.hget(keys.meta, names.summary), session_id=session_id)
    if raw is None:
        await store._must_exist(session_id, keys.meta)
        return None
    return _summary(raw, keys.meta, session_id)


async def summarize(
    store: SessionStore,
    session_id: str,
    summarizer: Summarizer,
    *,
    keep_last: int | None,
    keep_tokens: int | None,
    thread: str | None,
) -> Summary | None:
    """Summarize and archive the oldest messages; see :meth:`SessionStore.summarize`."""
    if (keep_last is None) == (keep_tokens is None):
        raise InvalidInputError("pass exactly one of keep_last and keep_tokens", session_id=session_id)
    if keep_last is not None:
        _validate.non_negative(keep_last, "keep_last", session_id=session_id)
    if keep_tokens is not None:
        _validate.non_negative(keep_tokens, "keep_tokens", session_id=session_id, limit=_validate.MAX_COUNTER)
    if not callable(summarizer):
        raise InvalidInputError("summarizer must be an async callable", session_id=session_id)
    keys, target, names = store._list(session_id, thread)
    previous_raw, entries = await store._read_for_summary(session_id, keys.meta, target, names.summary)
    previous = _summary(previous_raw, keys.meta, session_id) if previous_raw else None
    unpinned = [
        message
        for index, raw in enumerate(entries)
        if not (message := decode_message(raw, key=target, index=index, session_id=session_id)).pinned
    ]
    cover = _to_cover(unpinned, keep_last, keep_tokens)
    if not cover:
        return None
    written = await summarizer(previous.message if previous else None, cover)
    covered = (previous.covered if previous else 0) + len(cover)
    summary = _summary_message(store, written, cover[-1].id, covered, session_id)
    payload, _ = encode_message(summary, session_id=session_id)
    stored = await store._store_summary(
        session_id,
        keys,
        target,
        names,
        previous=previous_raw or b"",
        count=len(cover),
        first_id=cover[0].id or "",
        last_id=cover[-1].id or "",
        payload=payload,
        now=format_time(store._clock()),
    )
    if not stored:
        raise SummaryConflictError(
            "the session changed while the summarizer ran (another summary, or a trim); nothing was stored",
            session_id=session_id,
        )
    return Summary(message=summary, covered=covered, through=cover[-1].id)


def _to_cover(unpinned: Sequence[Message], keep_last: int | None, keep_tokens: int | None) -> list[Message]:
    """The oldest messages to summarize: all but what to keep, never leaving a tool result first among the kept."""
    if keep_last is not None:
        boundary = max(0, len(unpinned) - keep_last)
    else:
        assert keep_tokens is not None
        used, boundary = 0, len(unpinned)
        while boundary > 0 and used + unpinned[boundary - 1].tokens <= keep_tokens:
            used += unpinned[boundary - 1].tokens
            boundary -= 1
    # the kept part must not open with results whose call is summarized: summarize those results too
    while boundary < len(unpinned) and tool_kind(unpinned[boundary]) in ("result", "both"):
        boundary += 1
    cover = list(unpinned[:boundary])
    # the server checks what it archives by id: entries other writers stored without one stay unsummarized
    return cover if all(m.id is not None for m in cover) else []


def _summary_message(
    store: SessionStore, written: str | Message, through: str | None, covered: int, session_id: str
) -> Message:
    if isinstance(written, str):
        message = Message(role=Role.SYSTEM, content=written)
    elif isinstance(written, Message):
        message = written
    else:
        raise InvalidInputError(
            f"the summarizer must return a str or a Message, not {type(written).__name__}", session_id=session_id
        )
    metadata = dict(message.metadata or {})
    metadata["summary"] = {"through": through, "covered": covered}
    tokens = message.tokens
    if tokens == 0 and store.token_counter is not None:
        tokens = store._count(message, session_id)
    return message.replace(
        metadata=metadata,
        tokens=tokens,
        pinned=True,
        timestamp=store._clock() if message.timestamp is None else message.timestamp,
        id=message.id or new_message_id(),
    )


async def find_message(store: SessionStore, session_id: str, message_id: str, *, thread: str | None) -> Message | None:
    """Return the stored message with ``message_id``, or ``None``."""
    keys, target, _ = store._list(session_id, thread)
    wanted = _validate.identifier(message_id, kind="message id", session_id=session_id)
    found = await scripts.find(store._requests, target, session_id=session_id, message_id=wanted)
    if found is None:
        await store._must_exist(session_id, keys.meta)
        return None
    position, raw = found
    return decode_message(raw, key=target, index=position, session_id=session_id)


async def pin(store: SessionStore, session_id: str, message_id: str, pinned: bool, *, thread: str | None) -> bool:
    """Pin or unpin a stored message; return whether it was found."""
    if type(pinned) is not bool:
        raise InvalidInputError(f"pinned must be a bool, not {pinned!r}", session_id=session_id)
    message = await find_message(store, session_id, message_id, thread=thread)
    if message is None:
        return False
    if message.pinned == pinned:
        return True
    return await store.replace_message(session_id, message.replace(pinned=pinned), thread=thread)


__all__ = [
    "Format",
    "Summarizer",
    "Summary",
    "SummaryConflictError",
    "find_message",
    "get_context",
    "get_summary",
    "get_window",
    "pin",
    "summarize",
]
