"""Turn a ``valkey://`` URL and options into a connected glide client."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from glide import (
    GlideClient,
    GlideClientConfiguration,
    GlideClusterClient,
    GlideClusterClientConfiguration,
    GlideError,
    NodeAddress,
    ServerCredentials,
)

from glide_memory.errors import InvalidInputError, ServerUnavailableError

DEFAULT_REQUEST_TIMEOUT_MS = 1000
"""glide's own default is 250 ms, which a busy 2-core machine can overrun."""

_SCHEMES = {"valkey": False, "redis": False, "valkeys": True, "rediss": True}
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionSettings:
    """What a URL says about the server to reach."""

    host: str
    port: int
    use_tls: bool = False
    username: str | None = None
    password: str | None = None
    database: int | None = None
    cluster: bool = False


def parse_url(url: str) -> ConnectionSettings:
    """Parse ``valkey[s]://[user:password@]host[:port][/db][?cluster=true]``.

    ``redis://`` and ``rediss://`` are accepted as synonyms.

    Raises:
        InvalidInputError: the URL is malformed or names an unknown scheme.
    """
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise InvalidInputError(f"unsupported URL scheme {parts.scheme!r}; use valkey:// or valkeys://")
    try:
        port = 6379 if parts.port is None else parts.port
    except ValueError as exc:
        raise InvalidInputError(f"bad port in {url!r}") from exc
    if port == 0:
        raise InvalidInputError(f"port 0 in {url!r} names no server")
    if not parts.hostname:
        raise InvalidInputError(f"no host in {url!r}")
    database = None
    path = parts.path.strip("/")
    if path:
        if not path.isdigit():
            raise InvalidInputError(f"database in {url!r} must be a number")
        database = int(path)
    query = parse_qs(parts.query)
    cluster = any(value.lower() in _TRUE for value in query.get("cluster", []))
    if cluster and database:
        raise InvalidInputError("a cluster has only database 0")
    return ConnectionSettings(
        host=parts.hostname,
        port=port,
        use_tls=_SCHEMES[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        database=database,
        cluster=cluster,
    )


async def create_client(
    url: str,
    *,
    cluster: bool | None = None,
    request_timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS,
    client_name: str | None = "glide-memory",
) -> GlideClient | GlideClusterClient:
    """Connect to the server ``url`` names and return the glide client.

    Args:
        url: A ``valkey://`` URL (see :func:`parse_url`).
        cluster: Force a cluster (``True``) or standalone (``False``) client;
            ``None`` follows the URL's ``?cluster=`` flag.
        request_timeout_ms: How long one request may take.
        client_name: The name shown by CLIENT LIST.

    Raises:
        InvalidInputError: the URL is malformed.
        ServerUnavailableError: the server could not be reached.
    """
    settings = parse_url(url)
    is_cluster = settings.cluster if cluster is None else cluster
    credentials = (
        ServerCredentials(password=settings.password, username=settings.username) if settings.password else None
    )
    addresses = [NodeAddress(settings.host, settings.port)]
    try:
        if is_cluster:
            return await GlideClusterClient.create(
                GlideClusterClientConfiguration(
                    addresses,
                    use_tls=settings.use_tls,
                    credentials=credentials,
                    request_timeout=request_timeout_ms,
                    client_name=client_name,
                )
            )
        return await GlideClient.create(
            GlideClientConfiguration(
                addresses,
                use_tls=settings.use_tls,
                credentials=credentials,
                request_timeout=request_timeout_ms,
                database_id=settings.database,
                client_name=client_name,
            )
        )
    except GlideError as exc:
        raise ServerUnavailableError(f"cannot connect to {settings.host}:{settings.port}: {exc}") from exc
