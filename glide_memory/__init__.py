"""glide-memory: async chat memory for LLM apps on Valkey, through valkey-glide."""

from glide_memory._acl import setuser as acl_setuser
from glide_memory._codec import read_stored as decode_message
from glide_memory._codec import stored_form as encode_message
from glide_memory._core import Reindexed, UserSessions
from glide_memory._embedded import EmbeddedCluster, EmbeddedServer
from glide_memory._history import ChatHistory
from glide_memory._store import DEFAULT_TTL, SessionStore
from glide_memory._transport import (
    DEFAULT_MAX_IN_FLIGHT,
    ConnectionSettings,
    ConnectOptions,
    RetryPolicy,
    create_client,
    parse_url,
)
from glide_memory._validate import TTL, UNSET, Unset
from glide_memory._version import __version__
from glide_memory.errors import (
    BridgeError,
    ConfigurationError,
    CorruptedEntryError,
    DurabilityError,
    EmbeddedServerError,
    EventLoopError,
    GlideMemoryError,
    InvalidContentError,
    InvalidFieldError,
    InvalidIdError,
    InvalidInputError,
    InvalidRoleError,
    InvalidTokensError,
    MessageConflictError,
    MissingDependencyError,
    OutOfMemoryError,
    PermissionDeniedError,
    ServerError,
    ServerTimeoutError,
    ServerUnavailableError,
    SessionExistsError,
    SessionNotFoundError,
    StoreClosedError,
    SummaryConflictError,
    TlsError,
)
from glide_memory.formats import AnthropicRequest, AnthropicSystem
from glide_memory.keys import KeySchema
from glide_memory.models import Content, Durability, Format, JSONValue, Message, Role, SessionInfo, Summarizer, Summary
from glide_memory.recall import Embedder, Recalled, RecallHit, WordLlamaEmbedder

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_TTL",
    "TTL",
    "UNSET",
    "AnthropicRequest",
    "AnthropicSystem",
    "BridgeError",
    "ChatHistory",
    "ConfigurationError",
    "ConnectOptions",
    "ConnectionSettings",
    "Content",
    "CorruptedEntryError",
    "Durability",
    "DurabilityError",
    "EmbeddedCluster",
    "EmbeddedServer",
    "EmbeddedServerError",
    "Embedder",
    "EventLoopError",
    "Format",
    "GlideMemoryError",
    "InvalidContentError",
    "InvalidFieldError",
    "InvalidIdError",
    "InvalidInputError",
    "InvalidRoleError",
    "InvalidTokensError",
    "JSONValue",
    "KeySchema",
    "Message",
    "MessageConflictError",
    "MissingDependencyError",
    "OutOfMemoryError",
    "PermissionDeniedError",
    "RecallHit",
    "Recalled",
    "Reindexed",
    "RetryPolicy",
    "Role",
    "ServerError",
    "ServerTimeoutError",
    "ServerUnavailableError",
    "SessionExistsError",
    "SessionInfo",
    "SessionNotFoundError",
    "SessionStore",
    "StoreClosedError",
    "Summarizer",
    "Summary",
    "SummaryConflictError",
    "TlsError",
    "Unset",
    "UserSessions",
    "WordLlamaEmbedder",
    "__version__",
    "acl_setuser",
    "create_client",
    "decode_message",
    "encode_message",
    "parse_url",
]
