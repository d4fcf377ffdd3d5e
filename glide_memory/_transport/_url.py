"""What a ``valkey://`` URL and the connect options say: servers, credentials, TLS material.

URL form: ``valkey[s]://[user:password@]host[:port][,host[:port]...][/db][?option=value&...]``
(``redis://`` and ``rediss://`` too). Every option of :class:`ConnectOptions`
that is a plain value can be given in the query (``?cluster=true&read_from=prefer_replica``);
keyword arguments win over the query.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypedDict
from urllib.parse import parse_qs, unquote

from glide import GlideClientConfiguration, GlideClusterClientConfiguration, IamAuthConfig, ReadFrom

from glide_memory.errors import ConfigurationError, InvalidInputError

DEFAULT_REQUEST_TIMEOUT_MS = 1000
"""glide's own default is 250 ms, which a busy 2-core machine can overrun."""

ReadFromName = Literal["primary", "prefer_replica", "az_affinity", "az_affinity_replicas_and_primary", "all_nodes"]

_SCHEMES = {"valkey": False, "redis": False, "valkeys": True, "rediss": True}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_PASSWORD_IN_URL = re.compile(r"(//[^:/@]*:)[^@/]*@")
_READ_FROM: dict[str, ReadFrom] = {
    "primary": ReadFrom.PRIMARY,
    "prefer_replica": ReadFrom.PREFER_REPLICA,
    "az_affinity": ReadFrom.AZ_AFFINITY,
    "az_affinity_replicas_and_primary": ReadFrom.AZ_AFFINITY_REPLICAS_AND_PRIMARY,
    "all_nodes": ReadFrom.ALL_NODES,
}
_QUERY_OPTIONS = {
    "cluster": "bool",
    "read_from": "str",
    "client_az": "str",
    "client_name": "str",
    "tls_ca": "str",
    "tls_cert": "str",
    "tls_key": "str",
    "tls_insecure": "bool",
    "request_timeout_ms": "int",
    "connection_timeout_ms": "int",
    "protocol": "str",
}


class ConnectOptions(TypedDict, total=False):
    """How to connect, beyond what the URL says; every key is optional.

    Attributes:
        cluster: A cluster client (``True``) or standalone (``False``);
            the URL's ``?cluster=`` by default.
        request_timeout_ms: How long one attempt may take (1,000 ms).
        connection_timeout_ms: How long a TCP/TLS connect may take (glide: 2,000 ms).
        client_name: The name CLIENT LIST shows (``glide-memory``; needs
            ``+client|setname``); ``None`` sets none.
        tls_ca: The CA that signed the server's certificate: a PEM file's
            path or PEM bytes. Implies TLS.
        tls_cert: The client certificate for mutual TLS (path or PEM bytes).
        tls_key: The client certificate's private key (path or PEM bytes).
        tls_insecure: Accept any server certificate (development only).
        read_from: Where reads go: ``primary`` (default), ``prefer_replica``,
            ``az_affinity`` (with ``client_az``),
            ``az_affinity_replicas_and_primary``, ``all_nodes``.
        client_az: This client's availability zone, for the AZ modes.
        iam: glide's :class:`glide.IamAuthConfig` for ElastiCache/MemoryDB
            IAM authentication (the URL names the user, no password).
        configuration: A complete glide client configuration, used as it
            is; the URL then only says nothing (pass ``None``).
        deadline: Seconds to keep trying an unreachable server (10).
        protocol: ``"resp3"`` (default) or ``"resp2"``, which some search
            modules need (RediSearch answers FT.SEARCH in a shape glide
            reads only over RESP2).
    """

    cluster: bool | None
    request_timeout_ms: int
    connection_timeout_ms: int | None
    client_name: str | None
    tls_ca: str | os.PathLike[str] | bytes | None
    tls_cert: str | os.PathLike[str] | bytes | None
    tls_key: str | os.PathLike[str] | bytes | None
    tls_insecure: bool
    read_from: ReadFromName | ReadFrom
    client_az: str | None
    iam: IamAuthConfig | None
    configuration: GlideClientConfiguration | GlideClusterClientConfiguration | None
    deadline: float
    protocol: Literal["resp2", "resp3"]


def redact(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``."""
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionSettings:
    """What a URL says about the servers to reach; its ``repr`` never shows the password."""

    addresses: tuple[tuple[str, int], ...]
    use_tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    database: int | None = None
    cluster: bool = False
    options: dict[str, object] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """The first seed's host."""
        return self.addresses[0][0]

    @property
    def port(self) -> int:
        """The first seed's port."""
        return self.addresses[0][1]


def _address(part: str, shown: str) -> tuple[str, int]:
    host, port_text = part, ""
    if part.startswith("["):  # [IPv6]:port
        end = part.find("]")
        if end < 0:
            raise InvalidInputError(f"malformed address {part!r} in {shown!r}")
        host, port_text = part[1:end], part[end + 1 :].removeprefix(":")
    elif ":" in part:
        host, port_text = part.rsplit(":", 1)
    if not host:
        raise InvalidInputError(f"no host in {shown!r}")
    if not port_text:
        return host, 6379
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidInputError(f"bad port in {shown!r}: it must be a number from 1 to 65535")
    return host, int(port_text)


def _query(text: str, shown: str) -> dict[str, object]:
    options: dict[str, object] = {}
    for name, values in parse_qs(text, keep_blank_values=True).items():
        kind = _QUERY_OPTIONS.get(name)
        if kind is None:
            raise InvalidInputError(f"unknown option {name!r} in {shown!r}; known: {', '.join(_QUERY_OPTIONS)}")
        value = values[-1]
        if kind == "bool":
            if value.lower() not in _TRUE | _FALSE | {""}:
                raise InvalidInputError(f"option {name!r} in {shown!r} must be true or false, not {value!r}")
            options[name] = value.lower() in _TRUE
        elif kind == "int":
            if not value.isdigit():
                raise InvalidInputError(f"option {name!r} in {shown!r} must be a whole number, not {value!r}")
            options[name] = int(value)
        else:
            options[name] = unquote(value)
    return options


def parse_url(url: object) -> ConnectionSettings:
    """Parse a ``valkey://`` URL (see the module docstring).

    Raises:
        InvalidInputError: the URL is malformed or names an unknown scheme or option.
    """
    if not isinstance(url, str):
        raise InvalidInputError(f"the URL must be a str, not {type(url).__name__}")
    shown = redact(url)
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in _SCHEMES:
        raise InvalidInputError(f"unsupported URL scheme {scheme!r} in {shown!r}; use valkey:// or valkeys://")
    rest, _, query = rest.partition("?")
    rest = rest.partition("#")[0]
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        userinfo, hosts = "", netloc
    username = password = None
    if userinfo:
        name, colon, secret = userinfo.partition(":")
        username = unquote(name) or None
        password = unquote(secret) if colon else None
    if not hosts:
        raise InvalidInputError(f"no host in {shown!r}")
    addresses = tuple(_address(part, shown) for part in hosts.split(","))
    database = None
    path = path.strip("/")
    if path:
        if not path.isdigit():
            raise InvalidInputError(f"the database in {shown!r} must be a number")
        database = int(path)
    options = _query(query, shown)
    cluster = bool(options.pop("cluster", False))
    if cluster and database:
        raise InvalidInputError("a cluster has only database 0")
    return ConnectionSettings(
        addresses=addresses,
        use_tls=_SCHEMES[scheme],
        username=username,
        password=password,
        database=database,
        cluster=cluster,
        options=options,
    )


def _pem(value: object, what: str) -> bytes | None:
    """Return PEM bytes from bytes or a file path."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str | os.PathLike):
        try:
            return Path(value).read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read {what} from {os.fspath(value)!r}: {exc.strerror}") from exc
    raise InvalidInputError(f"{what} must be a path or PEM bytes, not {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """The TLS settings that decide how a connection is verified, resolved to bytes."""

    enabled: bool
    ca: bytes | None
    cert: bytes | None
    key: bytes | None
    insecure: bool


def _tls(settings: ConnectionSettings, options: ConnectOptions) -> TlsMaterial:
    merged = {**settings.options, **options}
    ca = _pem(merged.get("tls_ca"), "tls_ca")
    cert = _pem(merged.get("tls_cert"), "tls_cert")
    key = _pem(merged.get("tls_key"), "tls_key")
    insecure = bool(merged.get("tls_insecure", False))
    if (cert is None) != (key is None):
        raise InvalidInputError("mutual TLS needs both tls_cert and tls_key")
    enabled = settings.use_tls or any(value is not None for value in (ca, cert)) or insecure
    return TlsMaterial(enabled, ca, cert, key, insecure)
