"""glide-memory: async chat memory for LLM apps on Valkey, through valkey-glide."""

from glide_memory._requests import RetryPolicy
from glide_memory._validate import TTL, UNSET, Unset
from glide_memory._version import __version__
from glide_memory.connection import ConnectOptions, create_client, parse_url
from glide_memory.context import Format, Summarizer, Summary
from glide_memory.embedded import EmbeddedServer
from glide_memory.embedded_cluster import EmbeddedCluster
from glide_memory.errors import (
    BridgeError,
    ConfigurationError,
    CorruptedEntryError,
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
from glide_memory.history import ChatHistory
from glide_memory.index import Reindexed, UserSessions
from glide_memory.keys import KeySchema
from glide_memory.models import Content, Message, Role, SessionInfo
from glide_memory.store import DEFAULT_TTL, SessionStore

__all__ = [
    "DEFAULT_TTL",
    "TTL",
    "UNSET",
    "BridgeError",
    "ChatHistory",
    "ConfigurationError",
    "ConnectOptions",
    "Content",
    "CorruptedEntryError",
    "EmbeddedCluster",
    "EmbeddedServer",
    "EmbeddedServerError",
    "EventLoopError",
    "Format",
    "GlideMemoryError",
    "InvalidContentError",
    "InvalidFieldError",
    "InvalidIdError",
    "InvalidInputError",
    "InvalidRoleError",
    "InvalidTokensError",
    "KeySchema",
    "Message",
    "MessageConflictError",
    "MissingDependencyError",
    "OutOfMemoryError",
    "PermissionDeniedError",
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
    "__version__",
    "create_client",
    "parse_url",
]
