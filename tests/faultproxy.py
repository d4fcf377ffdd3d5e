"""A TCP proxy that injects network faults between a client and a server, for tests.

The suite puts a :class:`FaultProxy` between a glide client and a real Valkey
server, then makes the network slow (``delay``), silent (``blackhole``),
hostile (``reset``, ``drop_after``) or absent (``refuse``) until ``heal()``::

    with FaultProxy("127.0.0.1", 6379) as proxy:
        client = await create_client(proxy.url)
        proxy.blackhole()  # the client's requests now time out
        proxy.heal()

The proxy runs on a thread of its own with plain sockets and ``selectors``,
never asyncio: valkey-glide delivers replies through the first event loop that
used it, so the proxy must neither share nor start one. Only that thread
touches the sockets; a fault method hands it a command and waits until it is
applied, so by the time ``reset()`` returns the resets have been sent.

What a valkey-glide 2.6 client saw, with a 500 ms request timeout: ``delay``
adds twice its value to each round trip; ``blackhole``, ``reset`` and
``refuse`` all surface as ``TimeoutError`` (glide keeps reconnecting until the
request times out), and a client created under ``refuse`` or ``blackhole``
fails with ``ClosingError`` after its connection timeout; ``drop_after`` cut
into a request gives ``ConnectionError`` at once. Healed after a second of
any fault, the same client recovered within half a second, and no reply was
ever matched to the wrong request.
"""

from __future__ import annotations

import contextlib
import enum
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TypeVarTuple

_CHUNK = 65536
# Past this many bytes held in one direction the proxy stops reading, as a full TCP window would.
_MAX_BUFFERED = 1 << 20
# SO_LINGER on with a zero timeout: close() then sends RST instead of FIN.
_LINGER_RST = struct.pack("ii", 1, 0)

Ts = TypeVarTuple("Ts")


class _Mode(enum.Enum):
    PASS = "pass"
    DELAY = "delay"
    BLACKHOLE = "blackhole"
    RESET = "reset"
    REFUSE = "refuse"
    DROP = "drop"
    DELAY_REPLIES_AFTER = "delay_replies_after"


@dataclass(eq=False)
class _Pipe:
    """One direction of a connection: bytes read from ``src`` on their way to ``dst``."""

    src: socket.socket
    dst: socket.socket
    held: deque[tuple[float, bytes]] = field(default_factory=deque)  # (due time, chunk), oldest first
    out: bytearray = field(default_factory=bytearray)  # due, not yet taken by dst
    eof: bool = False
    shut: bool = False


@dataclass(eq=False)
class _Conn:
    up: _Pipe  # client to server
    down: _Pipe  # server to client
    budget: int | None = None  # bytes still allowed upstream under drop_after
    doomed: bool = False
    closed: bool = False


class Scheduled:
    """A fault that a timer thread applies and later heals; see :meth:`FaultProxy.schedule`."""

    def __init__(self, thread: threading.Thread) -> None:
        self._thread = thread

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the fault has been healed; return False if ``timeout`` ran out first."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


class FaultProxy:
    """Relay TCP connections from a local port to ``upstream_host:upstream_port``, with faults on demand.

    Counters, written by the proxy thread only: ``connections_accepted``,
    ``bytes_up`` (delivered to the server) and ``bytes_down`` (delivered to
    clients).
    """

    def __init__(
        self, upstream_host: str, upstream_port: int, *, listen_host: str = "127.0.0.1", listen_port: int = 0
    ) -> None:
        self.port = listen_port
        self.connections_accepted = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.held_bytes = 0
        """Bytes the proxy holds or has yet to send, updated by its thread: 0 once a delay has drained."""
        self._upstream = (upstream_host, upstream_port)
        self._listen_host = listen_host
        self._mode = _Mode.PASS
        self._delay = 0.0
        self._reply_delay = 0.0
        self._replies_held = False
        self._marker = b""
        self._budget = 0
        self._lock = threading.Lock()
        self._state = "new"  # then "running", "stopping" and "stopped"; guarded by _lock
        self._commands: deque[tuple[_Mode, float, Future[None]]] = deque()
        self._conns: set[_Conn] = set()
        self._listener: socket.socket | None = None
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name=f"faultproxy-{upstream_port}", daemon=True)

    @property
    def url(self) -> str:
        """The ``valkey://`` URL that reaches the server through the proxy."""
        host = f"[{self._listen_host}]" if ":" in self._listen_host else self._listen_host
        return f"valkey://{host}:{self.port}"

    def start(self) -> FaultProxy:
        """Bind the listening port and start relaying; a second call does nothing."""
        with self._lock:
            if self._state != "new":
                return self
            # Bound even under refuse(), so that the port is known and heal() binds it again.
            self._bind()
            if self._mode is _Mode.REFUSE:
                self._unbind()
            self._wake_r.setblocking(False)
            self._wake_w.setblocking(False)
            self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            self._state = "running"
            self._thread.start()
        return self

    def stop(self) -> None:
        """Close every socket and join the proxy thread; a second call does nothing."""
        with self._lock:
            if self._state == "new":
                self._state = "stopped"
                self._sel.close()
                self._wake_r.close()
                self._wake_w.close()
            elif self._state == "running":
                self._state = "stopping"
        if self._thread.ident is not None:
            self._wake()
            self._thread.join()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def heal(self) -> None:
        """Forward everything again, accepting on the same port if ``refuse()`` closed it."""
        self._command(_Mode.PASS)

    def delay(self, seconds: float) -> None:
        """Hold every chunk, in both directions, ``seconds`` before forwarding it.

        Chunks already held keep their due time, even through ``heal()``, so
        that later bytes never overtake them.
        """
        self._command(_Mode.DELAY, seconds)

    def blackhole(self) -> None:
        """Keep connections open, new ones included, but forward nothing either way."""
        self._command(_Mode.BLACKHOLE)

    def reset(self) -> None:
        """Abort every connection with a TCP RST, and each new one as soon as it is accepted."""
        self._command(_Mode.RESET)

    def refuse(self) -> None:
        """Close the listening socket so that connects are refused, and reset every connection."""
        self._command(_Mode.REFUSE)

    def delay_replies_after(self, marker: bytes, seconds: float) -> None:
        """Forward as usual until a request containing ``marker`` goes up, then hold every reply ``seconds``.

        The request itself reaches the server at once, so the server applies
        it while its reply (and every later one, in order) is held: with
        ``seconds`` above the client's request timeout, the first attempt of
        a write is applied and its reply lost, and the retries after
        ``heal()`` answer behind it.
        """
        self._marker = marker
        self._command(_Mode.DELAY_REPLIES_AFTER, seconds)

    def drop_after(self, nbytes: int) -> None:
        """Let each connection forward ``nbytes`` more bytes upstream, then reset it.

        The count starts afresh for every connection open now or accepted
        later. A connection whose allowance is spent is reset when the client
        sends its next byte, or at once if the allowance ran out mid-chunk.
        """
        self._command(_Mode.DROP, nbytes)

    def schedule(self, fault: Callable[[*Ts], object], *args: *Ts, at: float, heal_after: float) -> Scheduled:
        """Apply ``fault(*args)`` after ``at`` seconds and ``heal()`` a further ``heal_after`` seconds later.

        Args:
            fault: A fault method of this proxy, such as ``proxy.blackhole``.
            *args: Its arguments.
            at: Seconds from now until the fault.
            heal_after: Seconds the fault lasts.

        Returns:
            A handle whose ``wait()`` blocks until the proxy is healed.
        """

        def run() -> None:
            time.sleep(at)
            try:
                fault(*args)
                time.sleep(heal_after)
            finally:
                self.heal()

        thread = threading.Thread(target=run, name="faultproxy-schedule", daemon=True)
        thread.start()
        return Scheduled(thread)

    def _command(self, mode: _Mode, arg: float = 0.0) -> None:
        done: Future[None] = Future()
        with self._lock:
            if self._state not in ("running", "stopping"):  # no thread to race with
                self._apply(mode, arg)
                return
            self._commands.append((mode, arg, done))
        self._wake()
        done.result()

    def _wake(self) -> None:
        # A full socket means the thread is awake already; a closed one, that the proxy has stopped.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _apply(self, mode: _Mode, arg: float) -> None:
        self._mode = mode
        self._delay = arg if mode is _Mode.DELAY else 0.0
        self._reply_delay = arg if mode is _Mode.DELAY_REPLIES_AFTER else 0.0
        self._replies_held = False
        self._budget = int(arg)
        for conn in list(self._conns):
            if mode in (_Mode.RESET, _Mode.REFUSE):
                self._abort(conn)
            conn.budget = self._budget if mode is _Mode.DROP else None
        if mode is _Mode.REFUSE:
            self._unbind()
        elif self._listener is None and self._state == "running":
            self._bind()

    def _bind(self) -> None:
        family = socket.AF_INET6 if ":" in self._listen_host else socket.AF_INET
        # create_server sets SO_REUSEADDR, which lets heal() take the same port back after refuse().
        self._listener = socket.create_server((self._listen_host, self.port), family=family, backlog=128)
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._sel.register(self._listener, selectors.EVENT_READ, "listen")

    def _unbind(self) -> None:
        if self._listener is not None:
            self._close(self._listener)
            self._listener = None

    def _run(self) -> None:
        try:
            while self._state == "running":
                self._run_commands()
                now = time.monotonic()
                for conn in list(self._conns):
                    self._pump(conn, now)
                self.held_bytes = sum(
                    len(pipe.out) + sum(len(chunk) for _, chunk in pipe.held)
                    for conn in self._conns
                    for pipe in (conn.up, conn.down)
                )
                dues = [pipe.held[0][0] for conn in self._conns for pipe in (conn.up, conn.down) if pipe.held]
                timeout = max(0.0, min(dues) - now) if dues else None
                for key, mask in self._sel.select(timeout):
                    if key.data == "wake":
                        self._wake_r.recv(4096)  # what is left wakes the next select()
                    elif key.data == "listen":
                        self._accept()
                    elif mask & selectors.EVENT_READ:
                        self._read(*key.data)
        finally:
            # Under the lock, so that a fault method called meanwhile waits and then finds nothing to touch.
            with self._lock:
                self._state = "stopped"
                self._run_commands()
                for conn in list(self._conns):
                    self._abort(conn, rst=False)
                self._unbind()
                self._sel.close()
                self._wake_r.close()
                self._wake_w.close()

    def _run_commands(self) -> None:
        while self._commands:
            mode, arg, done = self._commands.popleft()
            try:
                self._apply(mode, arg)
            except Exception as exc:  # heal() fails if another socket took the port meanwhile
                done.set_exception(exc)
            else:
                done.set_result(None)

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        self.connections_accepted += 1
        if self._mode is _Mode.RESET:
            self._close(client, rst=True)
            return
        try:
            # Blocking, but the upstream is a test server on this machine: it answers or refuses at once.
            server = socket.create_connection(self._upstream, timeout=5)
        except OSError:
            self._close(client, rst=True)
            return
        for sock in (client, server):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        budget = self._budget if self._mode is _Mode.DROP else None
        self._conns.add(_Conn(_Pipe(client, server), _Pipe(server, client), budget=budget))

    def _read(self, conn: _Conn, pipe: _Pipe) -> None:
        if conn.closed:  # aborted by an earlier event of the same select()
            return
        try:
            chunk = pipe.src.recv(_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            self._abort(conn)
            return
        if not chunk:
            pipe.eof = True
            return
        if pipe is conn.up and conn.budget is not None:
            kept = chunk[: conn.budget]
            conn.budget -= len(kept)
            conn.doomed = len(kept) < len(chunk) or conn.budget == 0
            chunk = kept
        if self._mode is _Mode.DELAY_REPLIES_AFTER and pipe is conn.up and self._marker in chunk:
            self._replies_held = True
        delay = self._delay + (self._reply_delay if self._replies_held and pipe is conn.down else 0.0)
        if chunk:
            pipe.held.append((time.monotonic() + delay, chunk))

    def _pump(self, conn: _Conn, now: float) -> None:
        """Forward what is due, close what is finished and watch the sockets for what comes next."""
        # A blackhole stops reading instead of dropping what it reads: the client's writes back up
        # as in a real partition, and after heal() the held bytes arrive late but whole, so the
        # protocol stream of an old connection is never cut in the middle.
        blackholed = self._mode is _Mode.BLACKHOLE
        for pipe in (conn.up, conn.down):
            while pipe.held and pipe.held[0][0] <= now:
                pipe.out += pipe.held.popleft()[1]
            if pipe.out and not blackholed:
                try:
                    sent = pipe.dst.send(pipe.out)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    self._abort(conn)
                    return
                del pipe.out[:sent]
                if pipe is conn.up:
                    self.bytes_up += sent
                else:
                    self.bytes_down += sent
            if pipe.eof and not pipe.shut and not pipe.held and not pipe.out:
                pipe.shut = True
                with contextlib.suppress(OSError):
                    pipe.dst.shutdown(socket.SHUT_WR)
        if conn.doomed and not conn.up.held and not conn.up.out:
            self._abort(conn)
        elif conn.up.shut and conn.down.shut:
            self._abort(conn, rst=False)
        else:
            for pipe, other in ((conn.up, conn.down), (conn.down, conn.up)):
                events = 0
                full = len(pipe.out) + sum(len(chunk) for _, chunk in pipe.held) >= _MAX_BUFFERED
                if not (blackholed or full or pipe.eof or (pipe is conn.up and conn.doomed)):
                    events |= selectors.EVENT_READ
                if other.out and not blackholed:
                    events |= selectors.EVENT_WRITE
                self._watch(pipe.src, events, (conn, pipe))

    def _watch(self, sock: socket.socket, events: int, data: tuple[_Conn, _Pipe]) -> None:
        if not events:
            with contextlib.suppress(KeyError):
                self._sel.unregister(sock)
            return
        try:
            self._sel.modify(sock, events, data)  # does nothing when the events are the same
        except KeyError:
            self._sel.register(sock, events, data)

    def _abort(self, conn: _Conn, *, rst: bool = True) -> None:
        conn.closed = True
        self._conns.discard(conn)
        self._close(conn.up.src, rst=rst)
        self._close(conn.up.dst, rst=rst)

    def _close(self, sock: socket.socket, *, rst: bool = False) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(sock)
        if rst:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        sock.close()
