"""A few blocking RESP2 commands on a plain socket, for probes glide cannot make.

Used to check that an embedded server is up and is ours, to drive an
embedded cluster before any client can connect, and to explain a failed
connection (wrong password, missing ACL permission, TLS, cluster mode).
Not a client: one short command at a time, replies of the simple kinds.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An error the server answered with (``-ERR ...``)."""

    text: str


Reply = bytes | int | None | ErrorReply | list["Reply"]


class Connection:
    """One blocking connection speaking RESP2.

    Args:
        host: Where the server listens.
        port: Its port.
        timeout: Seconds any step may take.
        tls: An SSL context to wrap the socket in, or ``None``.
        server_hostname: The name the certificate must carry, with ``tls``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 2.0,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        raw = socket.create_connection((host, port), timeout=timeout)
        try:
            self._sock: socket.socket = (
                tls.wrap_socket(raw, server_hostname=server_hostname or host) if tls is not None else raw
            )
        except BaseException:
            raw.close()
            raise
        self._buffer = b""

    def close(self) -> None:
        """Close the connection."""
        self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, *args: str | bytes) -> Reply:
        """Send one command and return its reply."""
        parts = [arg.encode() if isinstance(arg, str) else arg for arg in args]
        request = f"*{len(parts)}\r\n".encode() + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        self._sock.sendall(request)
        return self._read()

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection mid-reply")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _exactly(self, size: int) -> bytes:
        while len(self._buffer) < size + 2:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection mid-reply")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size + 2 :]
        return data

    def _read(self) -> Reply:
        line = self._line()
        kind, body = line[:1], line[1:]
        if kind == b"+":
            return body
        if kind == b"-":
            return ErrorReply(body.decode("utf-8", "replace"))
        if kind == b":":
            return int(body)
        if kind == b"$":
            size = int(body)
            return None if size < 0 else self._exactly(size)
        if kind == b"*":
            count = int(body)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise ConnectionError(f"not a RESP2 reply: {line[:40]!r}")


def ask(port: int, *args: str, host: str = "127.0.0.1", timeout: float = 1.0) -> Reply:
    """Send one command on a fresh connection and return the reply."""
    with Connection(host, port, timeout=timeout) as connection:
        return connection.call(*args)
