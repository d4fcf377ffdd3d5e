"""Turn a ``valkey://`` URL and options (see :mod:`._url`) into a connected glide client, or a precise error."""

from __future__ import annotations

import asyncio
import time
from typing import Unpack

from glide import (
    AdvancedGlideClientConfiguration,
    AdvancedGlideClusterClientConfiguration,
    GlideClient,
    GlideClientConfiguration,
    GlideClusterClient,
    GlideClusterClientConfiguration,
    GlideError,
    IamAuthConfig,
    NodeAddress,
    ProtocolVersion,
    ReadFrom,
    ServerCredentials,
    TlsAdvancedConfiguration,
)

from glide_memory._transport._diagnose import diagnose
from glide_memory._transport._errors import translate
from glide_memory._transport._requests import check_event_loop
from glide_memory._transport._url import (
    _READ_FROM,
    DEFAULT_REQUEST_TIMEOUT_MS,
    ConnectionSettings,
    ConnectOptions,
    _tls,
    parse_url,
)
from glide_memory.errors import ConfigurationError, InvalidInputError


def build_configuration(
    settings: ConnectionSettings, options: ConnectOptions
) -> GlideClientConfiguration | GlideClusterClientConfiguration:
    """Return the glide configuration for ``settings`` and ``options`` (pure: nothing is connected).

    Raises:
        InvalidInputError, ConfigurationError: an option is out of range or contradicts another.
    """
    merged: dict[str, object] = {**settings.options, **options}
    cluster = merged.get("cluster")
    is_cluster = settings.cluster if cluster is None else cluster
    if type(is_cluster) is not bool:
        raise InvalidInputError(f"cluster must be a bool or None, not {cluster!r}")
    timeout = merged.get("request_timeout_ms", DEFAULT_REQUEST_TIMEOUT_MS)
    if type(timeout) is not int or not 0 < timeout <= 3_600_000:
        raise InvalidInputError(f"request_timeout_ms must be an int from 1 to 3600000, not {timeout!r}")
    connect_timeout = merged.get("connection_timeout_ms")
    if connect_timeout is not None and (type(connect_timeout) is not int or not 0 < connect_timeout <= 600_000):
        raise InvalidInputError(f"connection_timeout_ms must be an int from 1 to 600000, not {connect_timeout!r}")
    read_from = merged.get("read_from", "primary")
    if isinstance(read_from, str):
        if read_from not in _READ_FROM:
            raise InvalidInputError(f"read_from must be one of {', '.join(_READ_FROM)}, not {read_from!r}")
        read_from = _READ_FROM[read_from]
    if not isinstance(read_from, ReadFrom):
        raise InvalidInputError(f"read_from must be a name or a glide ReadFrom, not {read_from!r}")
    client_az = merged.get("client_az")
    if read_from in (ReadFrom.AZ_AFFINITY, ReadFrom.AZ_AFFINITY_REPLICAS_AND_PRIMARY) and not client_az:
        raise ConfigurationError("read_from az_affinity needs client_az (this client's availability zone)")
    client_name = merged.get("client_name", "glide-memory")
    iam = merged.get("iam")
    if iam is not None and not isinstance(iam, IamAuthConfig):
        raise InvalidInputError(f"iam must be a glide IamAuthConfig, not {type(iam).__name__}")
    credentials = None
    if iam is not None:
        if settings.password is not None or not settings.username:
            raise ConfigurationError("IAM authentication takes a user name in the URL and no password")
        credentials = ServerCredentials(username=settings.username, iam_config=iam)
    elif settings.password is not None:
        credentials = ServerCredentials(password=settings.password, username=settings.username)
    elif settings.username:
        raise InvalidInputError(
            f"the URL names user {settings.username!r} without a password; write valkey://user:password@host "
            "(any password works for a nopass user), or pass iam=... for IAM authentication"
        )
    tls = _tls(settings, options)
    tls_config = (
        TlsAdvancedConfiguration(
            use_insecure_tls=tls.insecure or None,
            root_pem_cacerts=tls.ca,
            client_cert_pem=tls.cert,
            client_key_pem=tls.key,
        )
        if tls.enabled
        else None
    )
    addresses = [NodeAddress(host, port) for host, port in settings.addresses]
    protocol = merged.get("protocol", "resp3")
    if protocol not in ("resp2", "resp3"):
        raise InvalidInputError(f"protocol must be 'resp2' or 'resp3', not {protocol!r}")
    common = {
        "protocol": ProtocolVersion.RESP2 if protocol == "resp2" else ProtocolVersion.RESP3,
        "use_tls": tls.enabled,
        "credentials": credentials,
        "read_from": read_from,
        "request_timeout": timeout,
        "client_name": client_name,
        "client_az": client_az,
    }
    if is_cluster:
        return GlideClusterClientConfiguration(
            addresses,
            advanced_config=AdvancedGlideClusterClientConfiguration(
                connection_timeout=connect_timeout, tls_config=tls_config
            ),
            **common,
        )
    return GlideClientConfiguration(
        addresses,
        database_id=settings.database,
        advanced_config=AdvancedGlideClientConfiguration(connection_timeout=connect_timeout, tls_config=tls_config),
        **common,
    )


async def create_client(url: str | None, **options: Unpack[ConnectOptions]) -> GlideClient | GlideClusterClient:
    """Connect to the servers ``url`` names and return the glide client.

    A server that is unreachable is tried again until ``deadline`` seconds
    have passed; a failure that retrying cannot fix is explained at once.

    Args:
        url: A ``valkey://`` URL (see the module docstring); ``None`` only
            with ``configuration``.
        **options: See :class:`ConnectOptions`.

    Raises:
        InvalidInputError: the URL or an option is malformed.
        PermissionDeniedError: wrong credentials, or an ACL permission glide needs is missing.
        TlsError: the TLS handshake failed (verification, or one side not speaking TLS).
        ConfigurationError: a standalone client for a cluster-mode server, or the reverse.
        ServerUnavailableError: the servers stayed unreachable.
    """
    configuration = options.get("configuration")
    if configuration is not None:
        if url is not None:
            raise InvalidInputError("pass either a URL or a complete glide configuration, not both")
        if not isinstance(configuration, GlideClientConfiguration | GlideClusterClientConfiguration):
            raise InvalidInputError("configuration must be a glide client configuration")
        check_event_loop(connecting=True)
        try:
            if isinstance(configuration, GlideClusterClientConfiguration):
                return await GlideClusterClient.create(configuration)
            return await GlideClient.create(configuration)
        except GlideError as exc:
            raise translate(exc) from exc
    if url is None:
        raise InvalidInputError("a URL is needed (or a complete glide configuration)")
    settings = parse_url(url)
    glide_config = build_configuration(settings, options)
    tls = _tls(settings, options)
    deadline = options.get("deadline", 10.0)
    is_cluster = isinstance(glide_config, GlideClusterClientConfiguration)
    check_event_loop(connecting=True)
    start = time.monotonic()
    wait = 0.05
    while True:
        try:
            if isinstance(glide_config, GlideClusterClientConfiguration):
                return await GlideClusterClient.create(glide_config)
            client = await GlideClient.create(glide_config)
            await _refuse_cluster_server(client, settings)
            return client
        except GlideError as exc:
            failure = await asyncio.to_thread(diagnose, settings.addresses[0], settings, tls, is_cluster, exc)
            if not failure.retryable or time.monotonic() - start + wait >= deadline:
                raise failure from exc
        await asyncio.sleep(wait)
        wait = min(1.0, wait * 2)


async def _refuse_cluster_server(client: GlideClient, settings: ConnectionSettings) -> None:
    try:
        info = await client.custom_command(["INFO", "cluster"])
    except GlideError as exc:
        await client.close()
        raise translate(exc) from exc
    if b"cluster_enabled:1" in (info if isinstance(info, bytes) else b""):
        await client.close()
        raise ConfigurationError(
            f"{settings.host}:{settings.port} is a cluster node but the client is standalone: "
            "add ?cluster=true to the URL (or pass cluster=True)"
        )
