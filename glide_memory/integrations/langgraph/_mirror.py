"""The thread's conversation as a toolkit conversation: LangChain messages mirrored into the session's main list.

What the mirror shows: the message list of the root namespace's messages
channel (``messages`` in ``MessagesState``) as of the thread's most recent
checkpoint written through the saver.

- Messages appended to the channel are appended to the conversation with
  ``add_messages``, each exactly once under its LangChain id (a message
  without an id gets ``lc-<position>``).
- When the channel no longer starts with what the conversation holds (a
  ``RemoveMessage``, a message replaced under its id, a fork from an older
  checkpoint), the conversation is rewritten to equal the channel with one
  atomic ``set_messages``; messages kept keep their timestamps.
- Subgraph namespaces and other channels are not mirrored, and LangGraph
  restores from the checkpoints, never from the mirror.

Each message becomes a toolkit :class:`Message`: role from its type
(``human`` user, ``ai`` assistant, ``system`` system, ``tool`` and
``function`` tool, ``chat`` its role when it is one of those, else user),
its text or content blocks, ``name``, ``tool_calls``, ``tool_call_id``, an
AI message's output tokens, and ``metadata["langchain"]`` = ``{"type": ...}``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from glide_memory import Message, MessageConflictError, Role, SessionStore

_ROLES = {
    "human": Role.USER,
    "ai": Role.ASSISTANT,
    "system": Role.SYSTEM,
    "tool": Role.TOOL,
    "function": Role.TOOL,
}
_CACHED_THREADS = 1024

Seen = tuple[str, int, float | None]
"""What the mirror remembers of a stored message: its id, a digest of its content, its timestamp."""


def is_message_list(value: object) -> bool:
    """Return whether ``value`` is a list of LangChain messages (what ``MessagesState`` holds)."""
    return isinstance(value, list) and all(isinstance(item, BaseMessage) for item in value)


def _jsonable(value: Any) -> Any:
    """Return ``value`` as JSON holds it: unknown objects as their text, non-string keys as strings."""
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


def to_message(message: BaseMessage, position: int) -> Message:
    """Return the toolkit :class:`Message` that mirrors a LangChain message at ``position`` in the channel."""
    role = _ROLES.get(message.type)
    if role is None:
        named = getattr(message, "role", None)
        role = Role(named) if named in {r.value for r in Role} else Role.USER
    content: Any = message.content
    if not isinstance(content, str):
        content = _jsonable([{"type": "text", "text": block} if isinstance(block, str) else block for block in content])
    tool_calls = None
    tokens = 0
    if isinstance(message, AIMessage):
        if message.tool_calls:
            tool_calls = _jsonable([dict(call) for call in message.tool_calls])
        if message.usage_metadata:
            tokens = int(message.usage_metadata.get("output_tokens", 0) or 0)
    return Message(
        role=role,
        content=content,
        tokens=max(tokens, 0),
        id=message.id or f"lc-{position}",
        name=message.name,
        tool_calls=tool_calls,
        tool_call_id=message.tool_call_id if isinstance(message, ToolMessage) else None,
        metadata={"langchain": {"type": message.type}},
    )


def _digest(message: Message) -> int:
    essence = [message.role, message.content, message.name, message.tool_calls, message.tool_call_id, message.metadata]
    return hash(orjson.dumps(essence, option=orjson.OPT_SORT_KEYS))


def _seen(messages: Sequence[Message]) -> list[Seen]:
    return [(m.id or "", _digest(m), m.timestamp) for m in messages]


class Mirror:
    """Keeps each thread's main conversation equal to its messages channel, remembering what it last stored.

    Runs on the store's event loop only, so its memory needs no lock.
    """

    def __init__(self) -> None:
        self._seen: OrderedDict[str, list[Seen]] = OrderedDict()

    def forget(self, thread_id: str) -> None:
        """Drop what is remembered of a thread (it changed elsewhere, or a write failed)."""
        self._seen.pop(thread_id, None)

    async def sync(self, store: SessionStore, thread_id: str, messages: Sequence[Message]) -> None:
        """Make the thread's main conversation equal ``messages``: append what is new, or rewrite it all."""
        seen = self._seen.pop(thread_id, None)
        if seen is None:
            seen = _seen(await store.get_messages(thread_id))
        wanted = [(m.id or "", _digest(m)) for m in messages]
        if len(seen) <= len(wanted) and all(s[:2] == w for s, w in zip(seen, wanted, strict=False)):
            new = list(messages[len(seen) :])
            try:
                stored = await store.add_messages(thread_id, new) if new else []
            except MessageConflictError:  # an id of the new ones is stored with other content: rewrite
                stored = await self._rewrite(store, thread_id, messages, seen)
                seen = []
            self._remember(thread_id, [*seen, *_seen(stored)])
            return
        self._remember(thread_id, _seen(await self._rewrite(store, thread_id, messages, seen)))

    @staticmethod
    async def _rewrite(
        store: SessionStore, thread_id: str, messages: Sequence[Message], seen: Sequence[Seen]
    ) -> list[Message]:
        kept = {message_id: timestamp for message_id, _, timestamp in seen if timestamp is not None}
        return await store.set_messages(thread_id, [m.replace(timestamp=kept.get(m.id or "")) for m in messages])

    def _remember(self, thread_id: str, seen: list[Seen]) -> None:
        self._seen[thread_id] = seen
        while len(self._seen) > _CACHED_THREADS:
            self._seen.popitem(last=False)
