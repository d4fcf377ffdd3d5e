"""TLS against a real server with a private CA made here: verification, mutual TLS, and honest errors.

The bundled Valkey binary has no TLS; Debian's redis-server is built with it
(``.ci/run`` and ``make test`` install it), so these tests run that.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glide_memory import EmbeddedServer, ServerUnavailableError, SessionStore, TlsError
from glide_memory._embedded._server import TlsFiles


def openssl(*args: str) -> None:
    """Run one openssl command, failing loudly."""
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_pki(directory: Path) -> dict[str, Path]:
    """Create a CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA."""
    files = {
        name: directory / f"{name}.pem" for name in ("ca", "ca-key", "server", "server-key", "client", "client-key")
    }
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=glide-memory test CA",
            "-keyout", str(files["ca-key"]), "-out", str(files["ca"]))  # fmt: skip
    extensions = directory / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        request = directory / f"{name}.csr"
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(files[f"{name}-key"]),
                "-out", str(request))  # fmt: skip
        openssl("x509", "-req", "-in", str(request), "-CA", str(files["ca"]), "-CAkey", str(files["ca-key"]),
                "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(files[name]))  # fmt: skip
    return files


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A private CA and certificates signed by it."""
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_binary() -> str:
    """Debian's redis-server, built with TLS."""
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert Path(found).exists(), (
        "the TLS tests need redis-server (apt-get install redis-server), which make test installs"
    )
    return found


@pytest.fixture(scope="module")
def tls_server(pki: dict[str, Path]) -> Iterator[EmbeddedServer]:
    """A TLS-only server whose certificate only our private CA vouches for."""
    files = TlsFiles(cert=pki["server"], key=pki["server-key"], ca=pki["ca"])
    with EmbeddedServer(binary=tls_binary(), tls=files) as server:
        yield server


@pytest.fixture(scope="module")
def mtls_server(pki: dict[str, Path]) -> Iterator[EmbeddedServer]:
    """A TLS-only server that also requires a client certificate from our CA."""
    files = TlsFiles(cert=pki["server"], key=pki["server-key"], ca=pki["ca"], require_client_cert=True)
    with EmbeddedServer(binary=tls_binary(), tls=files) as server:
        yield server


async def test_session_lifecycle_over_tls_with_a_private_ca(tls_server: EmbeddedServer, pki: dict[str, Path]) -> None:
    """With tls_ca (as an option, a URL parameter or PEM bytes) the whole lifecycle runs over TLS."""
    assert tls_server.url.startswith("valkeys://") and "tls_ca=" in tls_server.url
    port = tls_server.port
    for url, options in (
        (tls_server.url, {}),
        (f"valkeys://127.0.0.1:{port}", {"tls_ca": pki["ca"]}),
        (f"valkey://127.0.0.1:{port}", {"tls_ca": pki["ca"].read_bytes()}),  # a CA alone implies TLS
    ):
        async with await SessionStore.connect(url, **options) as store:
            sid = (await store.create_session("tls-user")).session_id
            await store.add_message(sid, "user", "über TLS", 3)
            assert [m.content for m in await store.get_messages(sid)] == ["über TLS"]
            assert await store.delete_session(sid)


async def test_unknown_ca_is_a_tls_error_at_once(tls_server: EmbeddedServer) -> None:
    """Without our CA the certificate does not verify: TlsError saying so, not "timed out", and no retrying."""
    started = time.monotonic()
    with pytest.raises(TlsError, match="does not verify") as caught:
        await SessionStore.connect(f"valkeys://127.0.0.1:{tls_server.port}")
    assert not caught.value.retryable and time.monotonic() - started < 8


async def test_insecure_mode_skips_verification(tls_server: EmbeddedServer) -> None:
    """tls_insecure connects without the CA (for development)."""
    async with await SessionStore.connect(f"valkeys://127.0.0.1:{tls_server.port}?tls_insecure=true") as store:
        assert await store.exists("nothing") is False


async def test_plain_client_to_a_tls_server_says_use_tls(tls_server: EmbeddedServer) -> None:
    """A plain valkey:// URL to a TLS-only port fails with a hint to use valkeys://."""
    with pytest.raises(ServerUnavailableError, match="valkeys://"):
        await SessionStore.connect(f"valkey://127.0.0.1:{tls_server.port}", deadline=1)


async def test_tls_client_to_a_plain_server_is_a_tls_error(valkey_url: str) -> None:
    """valkeys:// to a server without TLS is a TlsError asking whether the server speaks TLS."""
    plain = valkey_url.replace("valkey://", "valkeys://")
    with pytest.raises(TlsError, match="does not speak TLS"):
        await SessionStore.connect(plain, tls_insecure=True, deadline=1)


async def test_mutual_tls(mtls_server: EmbeddedServer, pki: dict[str, Path]) -> None:
    """A server requiring client certificates accepts tls_cert/tls_key and refuses a client without them."""
    url = f"valkeys://127.0.0.1:{mtls_server.port}"
    async with await SessionStore.connect(
        url, tls_ca=pki["ca"], tls_cert=pki["client"], tls_key=pki["client-key"]
    ) as store:
        sid = (await store.create_session("mtls-user")).session_id
        assert await store.delete_session(sid)
    with pytest.raises((TlsError, ServerUnavailableError)):
        await SessionStore.connect(url, tls_ca=pki["ca"], deadline=1)
