"""LlamaIndex adapter: chat stores for ``ChatMemoryBuffer`` and ``Memory``, on Valkey.

Install with ``pip install 'glide-memory[llama-index]'``, then::

    from llama_index.core.memory import Memory
    from glide_memory.integrations.llama_index import GlideDBChatStore

    memory = Memory.from_defaults(session_id="chat-42", chat_store=GlideDBChatStore(url="valkey://localhost:6379"))

Two classes, because llama-index-core's two chat-store interfaces use the
same method names, one sync and one async: :class:`GlideChatStore` is a
``BaseChatStore`` (``ChatMemoryBuffer``, ``ChatSummaryMemoryBuffer``), and
:class:`GlideDBChatStore` an ``AsyncDBChatStore`` (``Memory``), whose
ARCHIVED messages are the toolkit's archive.

Each chat-store key is a toolkit session: its messages are readable with
``store.get_messages(key)``, listed by ``list_user_sessions`` when a user
id is given, exported and deleted like any other.
"""

from glide_memory.errors import MissingDependencyError

try:
    import llama_index.core  # noqa: F401 - only to say what to install
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(
        "glide_memory.integrations.llama_index needs llama-index-core: pip install 'glide-memory[llama-index]'"
    ) from exc

from glide_memory.integrations.llama_index._chats import KIND, LlamaIndexChats
from glide_memory.integrations.llama_index._codec import RECORD
from glide_memory.integrations.llama_index.chat_store import GlideChatStore
from glide_memory.integrations.llama_index.db_chat_store import GlideDBChatStore

__all__ = ["KIND", "RECORD", "GlideChatStore", "GlideDBChatStore", "LlamaIndexChats"]
