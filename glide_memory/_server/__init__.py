"""L3, the server library: the ``.lua`` functions, joined into one library, and one typed wrapper per function."""

from glide_memory._server import _functions as functions
from glide_memory._server._functions import (
    INDEX_MARGIN_SECONDS,
    NO_TAGS,
    Appended,
    Context,
    Encoded,
    SearchTags,
    Stale,
    VectorData,
    Write,
)
from glide_memory._server._library import LIBRARY

__all__ = [
    "INDEX_MARGIN_SECONDS",
    "LIBRARY",
    "NO_TAGS",
    "Appended",
    "Context",
    "Encoded",
    "SearchTags",
    "Stale",
    "VectorData",
    "Write",
    "functions",
]
