"""L2, the transport: URLs and connecting, the one error map, and the one request path every call takes."""

from glide_memory._transport._connect import create_client
from glide_memory._transport._durable import durable
from glide_memory._transport._errors import from_tag
from glide_memory._transport._requests import (
    DEFAULT_MAX_IN_FLIGHT,
    MISS,
    Attempts,
    Library,
    Requests,
    RetryPolicy,
    check_event_loop,
)
from glide_memory._transport._telemetry import observed, observed_iterator
from glide_memory._transport._telemetry import prime as prime_telemetry
from glide_memory._transport._url import ConnectionSettings, ConnectOptions, parse_url, redact

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "MISS",
    "Attempts",
    "ConnectOptions",
    "ConnectionSettings",
    "Library",
    "Requests",
    "RetryPolicy",
    "check_event_loop",
    "create_client",
    "durable",
    "from_tag",
    "observed",
    "observed_iterator",
    "parse_url",
    "prime_telemetry",
    "redact",
]
