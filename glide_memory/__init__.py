"""glide-memory: async chat memory for LLM apps on Valkey, through valkey-glide."""

from glide_memory.connection import create_client, parse_url
from glide_memory.embedded import EmbeddedServer
from glide_memory.errors import (
    CorruptedEntryError,
    EmbeddedServerError,
    GlideMemoryError,
    InvalidContentError,
    InvalidFieldError,
    InvalidIdError,
    InvalidInputError,
    InvalidRoleError,
    InvalidTokensError,
    MissingDependencyError,
    ServerError,
    ServerTimeoutError,
    ServerUnavailableError,
    SessionExistsError,
    SessionNotFoundError,
    StoreClosedError,
)
from glide_memory.history import ChatHistory
from glide_memory.keys import KeySchema
from glide_memory.models import Message, Role, SessionInfo
from glide_memory.store import SessionStore

__all__ = [
    "ChatHistory",
    "CorruptedEntryError",
    "EmbeddedServer",
    "EmbeddedServerError",
    "GlideMemoryError",
    "InvalidContentError",
    "InvalidFieldError",
    "InvalidIdError",
    "InvalidInputError",
    "InvalidRoleError",
    "InvalidTokensError",
    "KeySchema",
    "Message",
    "MissingDependencyError",
    "Role",
    "ServerError",
    "ServerTimeoutError",
    "ServerUnavailableError",
    "SessionExistsError",
    "SessionInfo",
    "SessionNotFoundError",
    "SessionStore",
    "StoreClosedError",
    "create_client",
    "parse_url",
]
