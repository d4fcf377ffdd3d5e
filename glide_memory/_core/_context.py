"""What a model gets: windows that are valid input, lossless summaries, provider formats.

- A window keeps every pinned message (system prompts by default), gives the
  rest of its budget to the newest messages, and never opens with a tool
  result whose call was left out (the count window applied on append follows
  the same rules, on the server, in the append's round trip).
- :meth:`Context.summarize` asks your summarizer for a summary of the
  oldest messages and, in one atomic step that checks nothing moved
  meanwhile, moves them to the session's archive (still readable) and stores
  the summary with a watermark: the ids and number of messages it covers.
- :meth:`Context.context` returns pinned messages, then the latest summary,
  then the newest messages that fit, as :class:`Message` values or
  ready-to-send OpenAI or Anthropic input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from glide_memory import _validate, formats
from glide_memory._codec import decode_message, encode_message, format_time, tool_kind
from glide_memory._core._messages import Messages
from glide_memory._core._parts import Parts, Scope
from glide_memory._server import Write, functions
from glide_memory.errors import InvalidInputError, SessionNotFoundError, SummaryConflictError
from glide_memory.keys import new_message_id
from glide_memory.models import Format, Message, Role, Summarizer, Summary

FORMATS = (None, "openai", "openai_responses", "anthropic")


def _summary(raw: bytes, key: str, session_id: str) -> Summary:
    message = decode_message(raw, key=key, index=-1, session_id=session_id)
    mark = (message.metadata or {}).get("summary") or {}
    return Summary(message=message, covered=int(mark.get("covered", 0)), through=mark.get("through"))


class Context:
    """The context operations of one store or view."""

    def __init__(self, parts: Parts, scope: Scope, messages: Messages) -> None:
        self._parts = parts
        self._scope = scope
        self._messages = messages

    async def window(
        self, session_id: str, *, max_tokens: int | None, last: int | None, thread: str | None
    ) -> list[Message]:
        """Return the pinned messages, then the newest messages that fit the rest of ``max_tokens``."""
        pinned, _, newest = await self._read(session_id, max_tokens, last, thread, with_summary=False)
        return [*pinned, *newest]

    async def context(
        self,
        session_id: str,
        *,
        max_tokens: int | None,
        last: int | None,
        thread: str | None,
        format: Format | None,
    ) -> Any:
        """Return pinned messages, the latest summary and the newest that fit, as Messages or a provider's input."""
        if format not in FORMATS:
            raise InvalidInputError(f"format must be openai, openai_responses or anthropic, not {format!r}")
        pinned, summary, newest = await self._read(session_id, max_tokens, last, thread, with_summary=True)
        messages = [*pinned, *([summary.message] if summary else []), *newest]
        if format is None:
            return messages
        if format == "openai":
            return formats.to_openai_chat(messages)
        if format == "openai_responses":
            return formats.to_openai_responses(messages)
        system, conversation = formats.to_anthropic(messages)
        return {"messages": conversation} if system is None else {"system": system, "messages": conversation}

    async def _read(
        self, session_id: str, max_tokens: int | None, last: int | None, thread: str | None, *, with_summary: bool
    ) -> tuple[list[Message], Summary | None, list[Message]]:
        parts = self._parts
        keys, target, names = parts.list_of(session_id, thread)
        budget = (
            None
            if max_tokens is None
            else _validate.non_negative(max_tokens, "max_tokens", session_id=session_id, limit=_validate.MAX_COUNTER)
        )
        limit = _validate.optional_positive(last, "last", session_id=session_id) or 0
        found = await functions.context(
            parts.requests,
            target,
            keys.meta,
            session_id=session_id,
            max_tokens=budget,
            limit=limit,
            pin_field=names.pinned,
            summary_field=names.summary if with_summary else "",
            owner=self._scope.user_id,
        )
        if found.length == 0 and not found.pinned:
            await parts.must_exist(session_id, keys.meta)
        pinned = [decode_message(raw, key=target, index=at, session_id=session_id) for at, raw in found.pinned]
        newest = [
            decode_message(raw, key=target, index=found.first + n, session_id=session_id)
            for n, raw in enumerate(found.newest)
        ]
        summary = _summary(found.summary, keys.meta, session_id) if found.summary else None
        return pinned, summary, newest

    async def summary(self, session_id: str, *, thread: str | None) -> Summary | None:
        """Return the latest summary of a list, or ``None``."""
        parts = self._parts
        keys, _, names = parts.list_of(session_id, thread)
        replies = await self._scope.read(
            parts, session_id, keys.meta, [("EXISTS", keys.meta, ()), ("HGET", keys.meta, (names.summary,))]
        )
        if replies is None or not replies[0]:
            raise SessionNotFoundError(session_id)
        raw = replies[1]
        return None if raw is None else _summary(raw, keys.meta, session_id)

    async def summarize(
        self,
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
        parts = self._parts
        keys, target, names = parts.list_of(session_id, thread)
        replies = await self._scope.read(
            parts,
            session_id,
            keys.meta,
            [("EXISTS", keys.meta, ()), ("HGET", keys.meta, (names.summary,)), ("LRANGE", target, (0, -1))],
        )
        if replies is None or not replies[0]:
            raise SessionNotFoundError(session_id)
        _, previous_raw, entries = replies
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
        summary = self._summary_message(written, cover[-1].id, covered, session_id)
        payload, _ = encode_message(summary, session_id=session_id)
        archive = parts.schema.companion(session_id, names.archive)
        now = format_time(parts.settings.clock())

        async def call(write: Write) -> bool:
            return await functions.summarize(
                parts.requests,
                write,
                archive=write.keys.index(archive),
                summary_field=names.summary,
                previous=previous_raw or b"",
                covered=len(cover),
                first_id=cover[0].id or "",
                last_id=cover[-1].id or "",
                summary=payload,
            )

        stored = await parts.write(
            session_id, keys, call, owner=self._scope.user_id, target=target, register=names.archive, now=now
        )
        if not stored:
            raise SummaryConflictError(
                "the session changed while the summarizer ran (another summary, or a trim); nothing was stored",
                session_id=session_id,
            )
        return Summary(message=summary, covered=covered, through=cover[-1].id)

    def _summary_message(self, written: str | Message, through: str | None, covered: int, session_id: str) -> Message:
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
        if tokens == 0 and self._parts.settings.token_counter is not None:
            tokens = self._parts.count_tokens(message, session_id)
        return message.replace(
            metadata=metadata,
            tokens=tokens,
            pinned=True,
            timestamp=self._parts.settings.clock() if message.timestamp is None else message.timestamp,
            id=message.id or new_message_id(),
        )

    async def find(self, session_id: str, message_id: str, *, thread: str | None) -> Message | None:
        """Return the stored message with ``message_id``, or ``None``."""
        parts = self._parts
        keys, target, _ = parts.list_of(session_id, thread)
        wanted = _validate.identifier(message_id, kind="message id", session_id=session_id)
        found = await functions.find(
            parts.requests, target, keys.meta, session_id=session_id, message_id=wanted, owner=self._scope.user_id
        )
        if found is None:
            await parts.must_exist(session_id, keys.meta)
            return None
        position, raw = found
        return decode_message(raw, key=target, index=position, session_id=session_id)

    async def pin(self, session_id: str, message_id: str, pinned: bool, *, thread: str | None) -> bool:
        """Pin or unpin a stored message; return whether it was found."""
        if type(pinned) is not bool:
            raise InvalidInputError(f"pinned must be a bool, not {pinned!r}", session_id=session_id)
        message = await self.find(session_id, message_id, thread=thread)
        if message is None:
            return False
        if message.pinned == pinned:
            return True
        return await self._messages.replace(session_id, message.replace(pinned=pinned), thread=thread)


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
    # a call whose results have not come yet stays: archived, it would leave them orphaned when they come
    while boundary == len(unpinned) and boundary > 0 and tool_kind(unpinned[boundary - 1]) in ("call", "both"):
        boundary -= 1
    cover = list(unpinned[:boundary])
    # the server checks what it archives by id: entries other writers stored without one stay unsummarized
    return cover if all(m.id is not None for m in cover) else []
