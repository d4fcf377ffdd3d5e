"""parse_url: what a valkey:// URL says about the server to reach (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from glide import (
    GlideClientConfiguration,
    GlideClusterClientConfiguration,
    IamAuthConfig,
    ReadFrom,
    ServiceType,
)

from glide_memory._transport._connect import build_configuration
from glide_memory._transport._url import ConnectionSettings, parse_url, redact
from glide_memory.errors import ConfigurationError, InvalidInputError


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
    assert parse_url(url) == ConnectionSettings(addresses=(("cache.local", 6379),), use_tls=use_tls)


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


@pytest.mark.parametrize("query", ["", "?cluster=false", "?cluster=0", "?cluster="])
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
        addresses=(("10.0.0.5", 6390),), use_tls=True, username="bob", password="pw", database=4
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


@pytest.mark.parametrize("url", [123, None, b"valkey://h", ["valkey://h"]])
def test_url_that_is_not_a_str_is_rejected(url: object) -> None:
    """A URL of the wrong type raises InvalidInputError, not AttributeError."""
    with pytest.raises(InvalidInputError, match="must be a str"):
        parse_url(url)


def test_user_without_password_is_rejected() -> None:
    """A URL naming a user but no password is refused instead of connecting as 'default'."""
    with pytest.raises(InvalidInputError, match="without a password"):
        build_configuration(parse_url("valkey://app@host:6379"), {})
    assert parse_url("valkey://app:@host").password == ""


def test_password_never_shows() -> None:
    """Neither the settings' repr nor the errors about a URL show its password."""
    settings = parse_url("valkey://app:s3cr%40t@host:6379")
    assert settings.password == "s3cr@t"
    assert "s3cr" not in repr(settings)
    with pytest.raises(InvalidInputError) as caught:
        parse_url("valkey://app:hunter2@host:notaport")
    assert "hunter2" not in str(caught.value)
    assert redact("valkeys://u:p@h:1/0") == "valkeys://u:***@h:1/0"


def test_several_seed_addresses() -> None:
    """A comma-separated host list gives every seed, IPv6 in brackets included, each with its port or 6379."""
    settings = parse_url("valkey://u:p@h1:7000,h2,[::1]:7002?cluster=true")
    assert settings.addresses == (("h1", 7000), ("h2", 6379), ("::1", 7002))
    assert (settings.host, settings.port, settings.cluster, settings.username) == ("h1", 7000, True, "u")


def test_query_options_are_typed() -> None:
    """Options in the query are parsed to their types; unknown or malformed ones are refused."""
    settings = parse_url(
        "valkeys://h?read_from=az_affinity&client_az=use1-az1&tls_insecure=true&request_timeout_ms=250"
        "&tls_ca=%2Fetc%2Fca.pem&client_name=svc"
    )
    assert settings.options == {
        "read_from": "az_affinity",
        "client_az": "use1-az1",
        "tls_insecure": True,
        "request_timeout_ms": 250,
        "tls_ca": "/etc/ca.pem",
        "client_name": "svc",
    }
    for bad in ("valkey://h?clustr=true", "valkey://h?tls_insecure=maybe", "valkey://h?request_timeout_ms=fast"):
        with pytest.raises(InvalidInputError):
            parse_url(bad)


def test_configuration_maps_every_option(tmp_path: Path) -> None:
    """build_configuration turns URL and options into glide's configuration, keywords winning over the query."""
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    settings = parse_url(f"valkey://app:pw@h1:7000,h2:7001?cluster=true&read_from=primary&tls_ca={ca}")
    config = build_configuration(settings, {"read_from": "prefer_replica", "request_timeout_ms": 400})
    assert isinstance(config, GlideClusterClientConfiguration)
    assert [(a.host, a.port) for a in config.addresses] == [("h1", 7000), ("h2", 7001)]
    assert config.read_from is ReadFrom.PREFER_REPLICA and config.request_timeout == 400 and config.use_tls
    assert config.credentials is not None and config.credentials.username == "app"
    tls = config.advanced_config.tls_config
    assert tls is not None and tls.root_pem_cacerts == ca.read_bytes() and not tls.use_insecure_tls
    plain = build_configuration(parse_url("valkey://h/3"), {"client_name": None})
    assert isinstance(plain, GlideClientConfiguration) and plain.database_id == 3 and not plain.use_tls
    assert plain.client_name is None and plain.read_from is ReadFrom.PRIMARY


def test_configuration_refuses_contradictions(tmp_path: Path) -> None:
    """AZ affinity needs client_az, mTLS needs cert and key, IAM needs a user and no password, files must exist."""
    with pytest.raises(ConfigurationError, match="client_az"):
        build_configuration(parse_url("valkey://h"), {"read_from": "az_affinity"})
    with pytest.raises(InvalidInputError, match="tls_key"):
        build_configuration(parse_url("valkey://h"), {"tls_cert": b"pem"})
    with pytest.raises(ConfigurationError, match="cannot read tls_ca"):
        build_configuration(parse_url("valkey://h"), {"tls_ca": tmp_path / "missing.pem"})
    with pytest.raises(InvalidInputError, match="read_from"):
        build_configuration(parse_url("valkey://h"), {"read_from": "replica-please"})
    iam = IamAuthConfig(cluster_name="c", service=ServiceType.ELASTICACHE, region="us-east-1")
    with pytest.raises(ConfigurationError, match="IAM"):
        build_configuration(parse_url("valkeys://u:pw@h"), {"iam": iam})
    config = build_configuration(parse_url("valkeys://iam-user@h:6379?cluster=true"), {"iam": iam})
    assert config.credentials is not None and config.credentials.username == "iam-user"
    assert config.credentials.iam_config is iam and config.use_tls
