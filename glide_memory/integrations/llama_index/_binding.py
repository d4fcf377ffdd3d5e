"""What both chat stores are built on: a :class:`Binding` to the store and the chats on it.

LlamaIndex calls chat stores from everywhere: its sync wrappers run
coroutines with ``asyncio_run`` (a fresh loop, or a worker thread when a loop
is running), agents await from the application's loop; the binding carries
every call out on the store's own loop.
"""

from __future__ import annotations

from glide_memory import TTL, KeySchema, SessionStore, Unset
from glide_memory.integrations._bridge import Binding
from glide_memory.integrations.llama_index._chats import LlamaIndexChats

_BLOCKED = (
    "if a synchronous LlamaIndex call (memory.put, Memory.from_defaults(chat_history=...)) runs on that loop, "
    "it blocks the loop this call needs: use the async methods there, or give the chat store a url"
)


def bind(
    *,
    store: SessionStore | None,
    url: str | None,
    user_id: str | None,
    ttl: TTL | Unset | None,
    schema: KeySchema | None,
    call_timeout: float,
) -> tuple[Binding, LlamaIndexChats]:
    """Return a chat store's binding and its chats; a store the binding created is closed again if that fails."""
    binding = Binding(
        store=store, url=url, schema=schema, call_timeout=call_timeout, name="the chat store", blocked_hint=_BLOCKED
    )
    try:
        return binding, LlamaIndexChats(binding.store, user_id=user_id, ttl=ttl)
    except BaseException:
        binding.close()
        raise
