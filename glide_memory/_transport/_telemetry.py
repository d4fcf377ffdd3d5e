"""OpenTelemetry: one span per public store operation, its duration, and the retries it took.

With ``opentelemetry-api`` installed (``pip install 'glide-memory[otel]'``)
and an SDK configured (a tracer or meter provider set), each public store
operation records:

- a span ``glide_memory.<method>`` (kind CLIENT, current while the call runs,
  so glide's own spans and anything the call triggers nest under it) with
  ``db.system.name`` = ``valkey``, ``db.operation.name``, ``server.address``,
  ``server.port``, ``glide_memory.session.id`` and ``glide_memory.retries``,
  and on failure ``error.type`` and an ERROR status;
- the histogram ``glide_memory.operation.duration`` (seconds) and the counter
  ``glide_memory.retries``, by operation (and ``error.type`` on failure).

Without an SDK the API's global providers are unset, and each call costs one
check of two module globals (about 20 ns) and nothing else: no span, no
attribute is built. The providers named by ``OTEL_PYTHON_TRACER_PROVIDER``
and ``OTEL_PYTHON_METER_PROVIDER`` are loaded when a store is created (see
:func:`prime`); a provider set later is seen from the next call on.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import time
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any, TypeVar

from glide import GlideClient, GlideClusterClient

from glide_memory._version import __version__

T = TypeVar("T")

RETRIES: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("glide_memory_retries", default=None)
"""The retry count of the operation being observed (a one-item list), or ``None`` when none is."""

try:
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
    from opentelemetry.metrics import _internal as _metrics_internal
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # pragma: no cover - the [otel] extra (or strands) brings the API
    _trace = None  # type: ignore[assignment]


class _State:
    on = False
    tracer: Any = None
    duration: Any = None
    retries: Any = None


_state = _State()


def _configured() -> bool:
    """Whether an SDK is configured: a tracer or meter provider was set (checked once it is, then kept)."""
    if _state.on:
        return True
    if _trace is None:
        return False
    try:
        unset = _trace._TRACER_PROVIDER is None and _metrics_internal._METER_PROVIDER is None
    except AttributeError:  # the API's internals moved: ask it the public (slower) way
        unset = isinstance(_trace.get_tracer_provider(), _trace.ProxyTracerProvider) and isinstance(
            _metrics.get_meter_provider(), _metrics_internal._ProxyMeterProvider
        )
    if unset:
        return False
    meter = _metrics.get_meter("glide_memory", __version__)
    _state.tracer = _trace.get_tracer("glide_memory", __version__)
    _state.duration = meter.create_histogram(
        "glide_memory.operation.duration", unit="s", description="Duration of glide-memory store operations"
    )
    _state.retries = meter.create_counter(
        "glide_memory.retries", unit="{retry}", description="Retries of glide-memory store operations"
    )
    _state.on = True
    return True


def prime() -> None:
    """Load the providers the environment names (``OTEL_PYTHON_*_PROVIDER``), as a store is created."""
    if _trace is not None and not _state.on:
        _trace.get_tracer_provider()
        _metrics.get_meter_provider()


def server_of(client: GlideClient | GlideClusterClient) -> tuple[str, int] | None:
    """Return the first address the client was configured with, for ``server.address`` and ``server.port``."""
    addresses = getattr(getattr(client, "config", None), "addresses", None) or []
    if not addresses:
        return None
    return str(addresses[0].host), int(addresses[0].port)


def _error_type(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


class _Operation:
    """What one observed call records: its span's attributes, start, retries."""

    __slots__ = ("attributes", "cell", "metric", "operation", "start")

    def __init__(self, operation: str, server: tuple[str, int] | None, session_id: object) -> None:
        self.operation = operation
        self.metric: dict[str, str] = {"db.system.name": "valkey", "db.operation.name": operation}
        self.attributes: dict[str, Any] = dict(self.metric)
        if server is not None:
            self.attributes["server.address"], self.attributes["server.port"] = server
        if isinstance(session_id, str):
            self.attributes["glide_memory.session.id"] = session_id
        self.cell = [0]
        """Retries so far: the request path adds to it through :data:`RETRIES`."""
        self.start = time.perf_counter()

    def failed(self, span: Any, exc: BaseException) -> None:
        error = _error_type(exc)
        self.metric["error.type"] = error
        span.set_attribute("error.type", error)
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))

    def end(self, span: Any) -> None:
        retries = self.cell[0]
        span.set_attribute("glide_memory.retries", retries)
        _state.duration.record(time.perf_counter() - self.start, self.metric)
        if retries:
            _state.retries.add(retries, self.metric)


def _session_position(method: Callable[..., Any]) -> int | None:
    """Return where ``session_id`` sits among the positional arguments after ``self`` (``None``: nowhere)."""
    names = [
        p.name
        for p in inspect.signature(method).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return names.index("session_id") - 1 if "session_id" in names else None


def _session_of(position: int | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
    if position is not None and position < len(args):
        return args[position]
    return kwargs.get("session_id")


def observed(
    method: Callable[..., Coroutine[Any, Any, T]], server: Callable[[Any], tuple[str, int] | None]
) -> Callable[..., Coroutine[Any, Any, T]]:
    """Wrap a public coroutine method of the store so that it is observed when an SDK is configured.

    Args:
        method: The method (its first argument is the store).
        server: Returns the server address of a store, for ``server.address``.
    """
    operation = method.__name__
    name = f"glide_memory.{operation}"
    position = _session_position(method)

    @functools.wraps(method)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        if not (_state.on or _configured()):
            return await method(self, *args, **kwargs)
        call = _Operation(operation, server(self), _session_of(position, args, kwargs))
        token = RETRIES.set(call.cell)
        with _state.tracer.start_as_current_span(
            name,
            kind=SpanKind.CLIENT,
            attributes=call.attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                return await method(self, *args, **kwargs)
            except BaseException as exc:
                call.failed(span, exc)
                raise
            finally:
                RETRIES.reset(token)
                call.end(span)

    return wrapper


def observed_iterator(
    method: Callable[..., AsyncGenerator[T, None]], server: Callable[[Any], tuple[str, int] | None]
) -> Callable[..., AsyncGenerator[T, None]]:
    """Wrap a public async-iterator method: one span from the first item asked to the last (not made current).

    An iterator's span cannot be the current one: the caller's code runs
    between its items, and would nest under it.
    """
    operation = method.__name__
    name = f"glide_memory.{operation}"
    position = _session_position(method)

    @functools.wraps(method)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> AsyncGenerator[T, None]:
        if not (_state.on or _configured()):
            plain = method(self, *args, **kwargs)
            try:
                async for item in plain:
                    yield item
            finally:
                await plain.aclose()  # a caller that stops early closes ours, and so the method's
            return
        call = _Operation(operation, server(self), _session_of(position, args, kwargs))
        span = _state.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=call.attributes)
        iterator = method(self, *args, **kwargs)
        try:
            while True:
                token = RETRIES.set(call.cell)  # only while the iterator runs: the caller's code between items
                try:
                    item = await anext(iterator)
                except StopAsyncIteration:
                    break
                finally:
                    RETRIES.reset(token)
                yield item
        except GeneratorExit:
            raise  # the caller stopped early: not a failure
        except BaseException as exc:
            call.failed(span, exc)
            raise
        finally:
            await iterator.aclose()
            call.end(span)
            span.end()

    return wrapper
