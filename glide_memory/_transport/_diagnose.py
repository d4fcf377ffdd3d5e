"""Explain a failed connection by repeating the handshake step by step on a plain socket.

glide reports most connection failures as "timed out". After one, this
connects itself (TLS first, with the same CA and client certificate),
authenticates, sets a client name and asks INFO, and names the step that
fails: a refused port, a certificate that does not verify, a server that
does not speak TLS, wrong credentials, a missing ACL permission, or a
cluster-mode mismatch.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile

from glide import GlideError

from glide_memory._transport import _resp
from glide_memory._transport._errors import classify, translate
from glide_memory._transport._url import ConnectionSettings, TlsMaterial
from glide_memory.errors import (
    ConfigurationError,
    GlideMemoryError,
    PermissionDeniedError,
    ServerUnavailableError,
    TlsError,
)


def tls_context(tls: TlsMaterial) -> ssl.SSLContext:
    """Return an SSL context that verifies (or not) as glide was told to."""
    context = ssl.create_default_context(cadata=tls.ca.decode() if tls.ca else None)
    if tls.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert is not None and tls.key is not None:
        # the ssl module loads a certificate chain from files only
        with tempfile.TemporaryDirectory(prefix="glide-memory-tls-") as directory:
            cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
            for path, data in ((cert, tls.cert), (key, tls.key)):
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                    handle.write(data)
            context.load_cert_chain(cert, key)
    return context


def diagnose(
    address: tuple[str, int], settings: ConnectionSettings, tls: TlsMaterial, cluster: bool, exc: GlideError
) -> GlideMemoryError:
    """Return the error that explains why glide could not connect to ``address``."""
    host, port = address
    where = f"{host}:{port}"
    first = translate(exc)
    fallback: GlideMemoryError = (
        PermissionDeniedError(f"cannot connect to {where}: {first.args[0]}")
        if isinstance(first, PermissionDeniedError)
        else ServerUnavailableError(f"cannot connect to {where}: {exc}")
    )
    try:
        context = tls_context(tls) if tls.enabled else None
    except (ssl.SSLError, ValueError) as err:
        return TlsError(f"cannot use the TLS certificates given for {where}: {err}")
    try:
        connection = _resp.Connection(host, port, timeout=2.0, tls=context)
    except (TimeoutError, ssl.SSLError) as err:
        if context is not None and _speaks_plain(host, port):
            return TlsError(
                f"cannot connect to {where}: the server does not speak TLS; use valkey:// without TLS options"
            )
        if isinstance(err, ssl.SSLCertVerificationError):
            return TlsError(
                f"cannot connect to {where}: the server's certificate does not verify ({err.verify_message})"
            )
        if isinstance(err, ssl.SSLError):
            return TlsError(
                f"cannot connect to {where}: TLS handshake failed ({err.reason}); does the server speak TLS?"
            )
        return ServerUnavailableError(f"cannot connect to {where}: {err}")
    except ConnectionRefusedError:
        return ServerUnavailableError(f"cannot connect to {where}: connection refused (is the server running?)")
    except OSError as err:
        return ServerUnavailableError(f"cannot connect to {where}: {err}")
    with contextlib.closing(connection):
        try:
            return _probe(connection, settings, cluster, where) or fallback
        except ssl.SSLError as err:
            return TlsError(f"cannot connect to {where}: the server ended the TLS session ({err.reason})")
        except (OSError, ValueError) as err:
            hint = "" if tls.enabled else "; if the server only speaks TLS, use valkeys:// or tls_ca"
            return ServerUnavailableError(f"cannot connect to {where}: {err}{hint}")


def _speaks_plain(host: str, port: int) -> bool:
    """Return whether the server answers PING without TLS."""
    try:
        with _resp.Connection(host, port, timeout=1.0) as connection:
            reply = connection.call("PING")
    except (OSError, ValueError):
        return False
    return reply == b"PONG" or _denied(reply)


def _denied(reply: object) -> bool:
    """Whether ``reply`` is an error the one error map calls a refusal of credentials or permissions."""
    if not isinstance(reply, _resp.ErrorReply):
        return False
    found = classify(reply.text)
    return found is not None and found[0] is PermissionDeniedError


def _probe(
    connection: _resp.Connection, settings: ConnectionSettings, cluster: bool, where: str
) -> GlideMemoryError | None:
    if settings.password is not None:
        auth = ["AUTH", settings.username, settings.password] if settings.username else ["AUTH", settings.password]
        reply = connection.call(*[part for part in auth if part is not None])
        if isinstance(reply, _resp.ErrorReply):
            return PermissionDeniedError(
                f"cannot connect to {where}: the server refused the credentials ({reply.text})"
            )
    reply = connection.call("CLIENT", "SETNAME", "glide-memory-probe")
    if isinstance(reply, _resp.ErrorReply) and _denied(reply) and "NOAUTH" not in reply.text:
        return PermissionDeniedError(
            f"cannot connect to {where}: the user lacks +client|setname, which glide needs when a client "
            f"name is set ({reply.text}); grant it or pass client_name=None"
        )
    reply = connection.call("INFO", "cluster")
    if isinstance(reply, _resp.ErrorReply):
        if not _denied(reply):
            return None
        if "NOAUTH" in reply.text:
            return PermissionDeniedError(f"cannot connect to {where}: the server needs a password ({reply.text})")
        return PermissionDeniedError(
            f"cannot connect to {where}: the user lacks +info, which glide needs to connect ({reply.text})"
        )
    enabled = isinstance(reply, bytes) and b"cluster_enabled:1" in reply
    if enabled and not cluster:
        return ConfigurationError(
            f"{where} is a cluster node but the client is standalone: add ?cluster=true to the URL"
        )
    if cluster and not enabled:
        return ConfigurationError(f"{where} is not in cluster mode: drop ?cluster=true from the URL")
    return None
