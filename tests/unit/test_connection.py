"""parse_url: what a valkey:// URL says about the server to reach (no server)."""

from __future__ import annotations

import pytest

from glide_memory.connection import ConnectionSettings, parse_url
from glide_memory.errors import InvalidInputError


@pytest.mark.parametrize(
    ("url", "use_tls"),
    [
        ("valkey://cache.local", False),
        ("redis://cache.local", False),
        ("valkeys://cache.local", True),
        ("rediss://cache.local", True),
    ],
)
def test_schemes_choose_tls(url: str, use_tls: bool) -> None:
    """valkey:// and redis:// are plain, valkeys:// and rediss:// use TLS, all on port 6379 by default."""
    assert parse_url(url) == ConnectionSettings(host="cache.local", port=6379, use_tls=use_tls)


def test_minimal_url_defaults() -> None:
    """A bare host gives port 6379, no credentials, no database and no cluster."""
    settings = parse_url("valkey://localhost")
    assert settings.host == "localhost"
    assert settings.port == 6379
    assert settings.use_tls is False
    assert settings.username is None
    assert settings.password is None
    assert settings.database is None
    assert settings.cluster is False


def test_explicit_port() -> None:
    """An explicit port is used as given."""
    assert parse_url("valkey://127.0.0.1:7001").port == 7001
    assert parse_url("rediss://h:65535").port == 65535


def test_ipv6_host() -> None:
    """A bracketed IPv6 address gives the bare address as host."""
    settings = parse_url("valkey://[::1]:6390")
    assert settings.host == "::1"
    assert settings.port == 6390


def test_user_and_password() -> None:
    """user:password@ gives both credentials."""
    settings = parse_url("valkey://alice:s3cret@h:6380")
    assert settings.username == "alice"
    assert settings.password == "s3cret"
    assert settings.host == "h"
    assert settings.port == 6380


def test_percent_encoded_credentials_are_decoded() -> None:
    """Percent-encoded characters in the user name and password are decoded."""
    settings = parse_url("valkeys://app%40corp:p%40ss%3Aw%2Ford%20%C3%A9@h")
    assert settings.username == "app@corp"
    assert settings.password == "p@ss:w/ord é"
    assert settings.use_tls is True


def test_password_only() -> None:
    """:password@ gives a password and no user name (the default user)."""
    settings = parse_url("redis://:s3cret@h")
    assert settings.username is None
    assert settings.password == "s3cret"


@pytest.mark.parametrize(("path", "database"), [("/0", 0), ("/2", 2), ("/15", 15), ("/3/", 3), ("/", None)])
def test_database_from_path(path: str, database: int | None) -> None:
    """A numeric path selects that database; an empty one selects none."""
    assert parse_url(f"valkey://h:6379{path}").database == database


@pytest.mark.parametrize("flag", ["true", "True", "1", "yes", "on"])
def test_cluster_flag_true(flag: str) -> None:
    """?cluster= with a true value asks for a cluster client."""
    assert parse_url(f"valkey://h:7000?cluster={flag}").cluster is True


@pytest.mark.parametrize("query", ["", "?cluster=false", "?cluster=0", "?cluster=", "?other=true"])
def test_cluster_flag_false(query: str) -> None:
    """A missing or false ?cluster= flag gives a standalone client."""
    assert parse_url(f"valkey://h:7000{query}").cluster is False


def test_cluster_with_database_zero_is_accepted() -> None:
    """A cluster URL may name database 0, the only one a cluster has."""
    settings = parse_url("valkey://h/0?cluster=true")
    assert settings.cluster is True
    assert settings.database == 0


def test_full_url() -> None:
    """Every part of a full URL lands in its field."""
    assert parse_url("rediss://bob:pw@10.0.0.5:6390/4") == ConnectionSettings(
        host="10.0.0.5", port=6390, use_tls=True, username="bob", password="pw", database=4
    )


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://h:6379", id="http"),
        pytest.param("tcp://h:6379", id="tcp"),
        pytest.param("unix:///tmp/valkey.sock", id="unix"),
        pytest.param("localhost:6379", id="no-scheme"),
        pytest.param("h", id="bare-host"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_scheme_is_rejected(url: str) -> None:
    """A scheme other than valkey, valkeys, redis or rediss raises InvalidInputError."""
    with pytest.raises(InvalidInputError, match="scheme"):
        parse_url(url)


@pytest.mark.parametrize(
    "url", ["valkey://h:port", "valkey://h:99999", "valkey://h:-1", "valkey://h:6379x", "valkey://h:0"]
)
def test_bad_port_is_rejected(url: str) -> None:
    """A port that is not a number in range raises InvalidInputError."""
    with pytest.raises(InvalidInputError, match="port"):
        parse_url(url)


@pytest.mark.parametrize("url", ["valkey://", "valkey://:6379", "valkey:///0", "valkey://user:pw@:6379"])
def test_missing_host_is_rejected(url: str) -> None:
    """A URL without a host raises InvalidInputError."""
    with pytest.raises(InvalidInputError, match="host"):
        parse_url(url)


@pytest.mark.parametrize("path", ["/db1", "/-1", "/1.5", "/0/1", "/one"])
def test_non_numeric_database_is_rejected(path: str) -> None:
    """A path that is not a database number raises InvalidInputError."""
    with pytest.raises(InvalidInputError, match="database"):
        parse_url(f"valkey://h{path}")


@pytest.mark.parametrize("url", ["valkey://h/1?cluster=true", "valkeys://h:7000/5?cluster=yes"])
def test_cluster_with_database_is_rejected(url: str) -> None:
    """A cluster URL naming a database other than 0 raises InvalidInputError."""
    with pytest.raises(InvalidInputError, match="cluster"):
        parse_url(url)


def test_invalid_input_error_is_a_value_error() -> None:
    """URL errors can be caught as ValueError as well."""
    with pytest.raises(ValueError, match="scheme"):
        parse_url("ftp://h")
