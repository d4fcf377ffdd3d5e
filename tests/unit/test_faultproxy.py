"""FaultProxy between a plain socket client and a threaded echo server (no Valkey)."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.faultproxy import FaultProxy

# Long enough for a loaded machine to deliver bytes that are on their way, short enough to keep the module fast.
SILENCE = 0.3


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        assert isinstance(self.server, EchoServer)
        self.request.settimeout(30)  # a safety net: the proxy closes its side at the end of each test
        with self.server.lock:
            self.server.received.append(bytearray())
            received = self.server.received[-1]
        while True:
            try:
                data = self.request.recv(65536)
                if not data:
                    return
                received += data
                self.request.sendall(data)
            except OSError:
                return


class EchoServer(socketserver.ThreadingTCPServer):
    """Echo every byte back, and keep what each connection received."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.lock = threading.Lock()
        self.received: list[bytearray] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    """An echo server on a thread, shut down and joined after the test."""
    server = EchoServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[FaultProxy]:
    """A started proxy in front of the echo server, stopped after the test."""
    with FaultProxy("127.0.0.1", echo.port) as fault_proxy:
        yield fault_proxy


def connect(proxy: FaultProxy) -> socket.socket:
    """Open a client connection through the proxy, with a timeout no test should reach."""
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=5)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read ``size`` bytes, failing on an early end of stream."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"end of stream after {data!r}"
        data += chunk
    return data


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``check()`` holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def refused(port: int) -> bool:
    """Return whether a connect to ``port`` is refused."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:  # caught in the backlog of a listener being closed
        return False
    return False


def assert_reset_at_first_contact(proxy: FaultProxy) -> None:
    """Check that a new connection is reset: at connect or at the first read, whichever the RST beats."""
    # The kernel completes the handshake before the proxy even accepts, so connect() usually succeeds and
    # the first read meets the RST; on a busy machine the RST can land first, and connect() reports it.
    with pytest.raises(ConnectionResetError), connect(proxy) as client:
        client.recv(1)


def proxy_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("faultproxy")]


def test_pass_through_echoes_and_counts(proxy: FaultProxy) -> None:
    """Without a fault, bytes go through both ways and the counters add them up."""
    assert proxy.url == f"valkey://127.0.0.1:{proxy.port}"
    with connect(proxy) as client:
        client.sendall(b"hello")
        assert recv_exactly(client, 5) == b"hello"
        client.sendall(b"world!")
        assert recv_exactly(client, 6) == b"world!"
    assert proxy.connections_accepted == 1
    assert proxy.bytes_up == 11
    eventually(lambda: proxy.bytes_down == 11)


def test_client_close_reaches_the_server(proxy: FaultProxy, echo: EchoServer) -> None:
    """A client's close is passed on as an end of stream, which the server sees."""
    with connect(proxy) as client:
        client.sendall(b"bye")
        assert recv_exactly(client, 3) == b"bye"
        client.shutdown(socket.SHUT_WR)
        assert client.recv(1) == b""
    assert echo.received == [bytearray(b"bye")]


def test_delay_holds_both_directions(proxy: FaultProxy) -> None:
    """delay(0.3) holds the request and the reply 0.3 s each, so a round trip takes at least 0.6 s."""
    with connect(proxy) as client:
        proxy.delay(0.3)
        start = time.monotonic()
        client.sendall(b"slow")
        assert recv_exactly(client, 4) == b"slow"
        assert time.monotonic() - start >= 0.6


def test_delay_keeps_order_across_heal(proxy: FaultProxy) -> None:
    """Bytes sent after heal() never overtake bytes still held by an earlier delay()."""
    with connect(proxy) as client:
        proxy.delay(0.5)
        client.sendall(b"first,")
        time.sleep(0.05)
        proxy.heal()
        client.sendall(b"second")
        assert recv_exactly(client, 12) == b"first,second"


def test_blackhole_holds_bytes_until_heal(proxy: FaultProxy, echo: EchoServer) -> None:
    """blackhole() forwards nothing, new connections included, and heal() delivers what was held, late but whole."""
    with connect(proxy) as old:
        old.sendall(b"ping")
        assert recv_exactly(old, 4) == b"ping"
        proxy.blackhole()
        old.sendall(b"held")
        old.settimeout(SILENCE)
        with pytest.raises(TimeoutError):
            old.recv(4)
        with connect(proxy) as new:
            new.settimeout(SILENCE)
            new.sendall(b"lost?")
            with pytest.raises(TimeoutError):
                new.recv(5)
            eventually(lambda: proxy.connections_accepted == 2)
            assert proxy.bytes_up == 4
            assert b"".join(echo.received) == b"ping"
            proxy.heal()
            new.settimeout(5)
            old.settimeout(5)
            assert recv_exactly(new, 5) == b"lost?"
            assert recv_exactly(old, 4) == b"held"
        with connect(proxy) as fresh:
            fresh.sendall(b"ok")
            assert recv_exactly(fresh, 2) == b"ok"


def test_reset_aborts_open_and_new_connections(proxy: FaultProxy) -> None:
    """reset() aborts open connections with an RST, and each new one as soon as it is accepted."""
    with connect(proxy) as client:
        client.sendall(b"a")
        assert recv_exactly(client, 1) == b"a"
        proxy.reset()
        with pytest.raises(ConnectionResetError):
            client.recv(1)
    assert_reset_at_first_contact(proxy)
    assert proxy.connections_accepted == 2
    proxy.heal()
    with connect(proxy) as client:
        client.sendall(b"b")
        assert recv_exactly(client, 1) == b"b"


def test_send_after_reset_fails(proxy: FaultProxy) -> None:
    """After an RST a write fails too: the RST is reported once, then the pipe is broken."""
    with connect(proxy) as client:
        proxy.reset()
        time.sleep(0.05)  # the RST crosses loopback at once, but give it a moment on a busy machine
        with pytest.raises(ConnectionResetError):
            client.sendall(b"x")
        with pytest.raises(BrokenPipeError):
            client.sendall(b"x")


def test_refuse_then_heal_on_the_same_port(proxy: FaultProxy) -> None:
    """refuse() resets open connections and refuses connects; heal() accepts again on the same port."""
    port = proxy.port
    with connect(proxy) as client:
        proxy.refuse()
        with pytest.raises(ConnectionResetError):
            client.recv(1)
    assert refused(port)
    proxy.heal()
    assert proxy.port == port
    with connect(proxy) as client:
        client.sendall(b"back")
        assert recv_exactly(client, 4) == b"back"


def test_drop_after_cuts_a_request_short(proxy: FaultProxy, echo: EchoServer) -> None:
    """drop_after(4) forwards exactly four more bytes upstream, then resets the client."""
    with connect(proxy) as client:
        client.sendall(b"warm")
        assert recv_exactly(client, 4) == b"warm"
        proxy.drop_after(4)
        client.sendall(b"0123456789")
        with pytest.raises(ConnectionResetError):
            # The echo of the four bytes may or may not beat the RST; the RST always comes.
            while client.recv(64):
                pass
    eventually(lambda: bytes(echo.received[0]) == b"warm0123")
    assert proxy.bytes_up == 8


def test_drop_after_spares_a_connection_under_budget(proxy: FaultProxy) -> None:
    """A connection that sends fewer bytes than the allowance keeps working."""
    proxy.drop_after(100)
    with connect(proxy) as client:
        client.sendall(b"small")
        assert recv_exactly(client, 5) == b"small"


def test_schedule_applies_then_heals(proxy: FaultProxy) -> None:
    """schedule() applies the fault after `at` seconds and heals it `heal_after` seconds later."""
    start = time.monotonic()
    scheduled = proxy.schedule(proxy.refuse, at=0.1, heal_after=SILENCE)
    eventually(lambda: refused(proxy.port))
    assert scheduled.wait(timeout=5)
    assert time.monotonic() - start >= 0.1 + SILENCE
    with connect(proxy) as client:
        client.sendall(b"up")
        assert recv_exactly(client, 2) == b"up"


def test_schedule_passes_arguments(proxy: FaultProxy) -> None:
    """schedule() calls the fault with the positional arguments it was given."""
    calls: list[tuple[int, str]] = []

    def fault(count: int, word: str) -> None:
        calls.append((count, word))

    assert proxy.schedule(fault, 3, "three", at=0, heal_after=0).wait(timeout=5)
    assert calls == [(3, "three")]


def test_unreachable_upstream_resets_the_client() -> None:
    """When the server refuses the proxy, the client's connection is reset."""
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        dead_port = placeholder.getsockname()[1]
    with FaultProxy("127.0.0.1", dead_port) as proxy:
        assert_reset_at_first_contact(proxy)


def test_stop_closes_connections_and_is_idempotent(echo: EchoServer) -> None:
    """stop() ends open connections with an end of stream, frees the port, joins the thread, and can be repeated."""
    proxy = FaultProxy("127.0.0.1", echo.port).start()
    try:
        assert proxy.start() is proxy
        assert len(proxy_threads()) == 1
        with connect(proxy) as client:
            client.sendall(b"a")
            assert recv_exactly(client, 1) == b"a"
            proxy.stop()
            assert client.recv(1) == b""
    finally:
        proxy.stop()
    assert proxy_threads() == []
    assert refused(proxy.port)
    proxy.heal()  # a fault method on a stopped proxy does nothing
    assert refused(proxy.port)


def test_stop_without_start() -> None:
    """A proxy never started stops without error."""
    proxy = FaultProxy("127.0.0.1", 1)
    proxy.stop()
    proxy.stop()
    assert proxy_threads() == []
