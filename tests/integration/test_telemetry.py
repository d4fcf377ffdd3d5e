"""OpenTelemetry: spans and metrics of store operations, read back from the SDK's in-memory exporter and reader.

The SDK's providers are process-wide; the ``otel`` fixture sets them for one
test and unsets them after (as OpenTelemetry's own test utilities do), so
the rest of the suite runs with no SDK configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util._once import Once
from strands import Agent

from glide_memory import SessionNotFoundError, SessionStore, parse_url
from glide_memory._transport import _telemetry
from glide_memory.integrations.strands import GlideSessionManager
from glide_memory.integrations.strands.testing import ScriptedModel, text
from tests.faultproxy import FaultProxy
from tests.support import Client


@dataclass
class Otel:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans.get_finished_spans() if span.name == name]

    def points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found += [(metric, point) for point in metric.data.data_points]
        return found


def _unset() -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    _telemetry._state.on = False
    _telemetry._state.tracer = _telemetry._state.duration = _telemetry._state.retries = None


@pytest.fixture
def otel() -> Iterator[Otel]:
    """An SDK configured for this test: spans to memory, metrics read on demand."""
    assert trace._TRACER_PROVIDER is None, "another test left an SDK configured"
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    try:
        yield Otel(exporter, reader)
    finally:
        _unset()


@pytest.fixture
async def plain(client: Client) -> AsyncIterator[SessionStore]:
    async with SessionStore(client) as store:
        yield store


async def test_nothing_is_recorded_without_an_sdk(plain: SessionStore) -> None:
    """No provider set: the wrapper takes the plain path, and sets up no tracer or instrument."""
    assert trace._TRACER_PROVIDER is None and metrics_internal._METER_PROVIDER is None
    sid = (await plain.create_session("u1")).session_id
    await plain.add_message(sid, "user", "hi")
    assert _telemetry._state.on is False and _telemetry._state.tracer is None


async def test_an_operation_is_a_client_span_with_its_attributes(plain: SessionStore, otel: Otel) -> None:
    """add_message: one span glide_memory.add_message, kind CLIENT, the documented attributes, and its duration."""
    sid = (await plain.create_session("u1")).session_id
    await plain.add_message(sid, "user", "hi", 1)
    (span,) = otel.finished("glide_memory.add_message")
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attributes = dict(span.attributes or {})
    host, port = plain._parts.requests.server or ("", 0)
    assert attributes == {
        "db.system.name": "valkey",
        "db.operation.name": "add_message",
        "server.address": host,
        "server.port": port,
        "glide_memory.session.id": sid,
        "glide_memory.retries": 0,
    }
    ((metric, point),) = [
        (m, p)
        for m, p in otel.points("glide_memory.operation.duration")
        if p.attributes["db.operation.name"] == "add_message"
    ]
    assert metric.unit == "s" and isinstance(point, HistogramDataPoint)
    assert point.count == 1 and 0 < point.sum < 10
    assert dict(point.attributes or {}) == {"db.system.name": "valkey", "db.operation.name": "add_message"}
    assert otel.finished("glide_memory.create_session"), "every public operation has its span"


async def test_an_error_is_recorded_on_the_span_and_the_metric(plain: SessionStore, otel: Otel) -> None:
    """A failed call: status ERROR, error.type, the exception event; the duration point carries error.type."""
    with pytest.raises(SessionNotFoundError):
        await plain.get_session_info("no-such-session")
    (span,) = otel.finished("glide_memory.get_session_info")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "glide_memory.errors.SessionNotFoundError"
    assert span.attributes["glide_memory.session.id"] == "no-such-session"
    assert [event.name for event in span.events] == ["exception"]
    points = [p for _, p in otel.points("glide_memory.operation.duration")]
    assert any(p.attributes.get("error.type") == "glide_memory.errors.SessionNotFoundError" for p in points)


async def test_spans_nest_under_the_callers_and_glides_would_nest_under_ours(plain: SessionStore, otel: Otel) -> None:
    """The caller's current span is the parent; ours is current while the call runs."""
    tracer = trace.get_tracer("app")
    seen: list[trace.Span] = []

    def summarizer_span(*_: object) -> None:
        seen.append(trace.get_current_span())

    with tracer.start_as_current_span("turn") as turn:
        sid = (await plain.create_session("u1")).session_id

        async def summarizer(previous: object, messages: object) -> str:
            summarizer_span()
            return "short"

        await plain.add_message(sid, "user", "one")
        await plain.add_message(sid, "user", "two")
        await plain.summarize(sid, summarizer, keep_last=1)
    ours = [s for s in otel.spans.get_finished_spans() if s.name.startswith("glide_memory.")]
    assert {s.name for s in ours} == {
        "glide_memory.create_session",
        "glide_memory.add_message",
        "glide_memory.summarize",
    }
    assert all(s.parent is not None and s.parent.span_id == turn.get_span_context().span_id for s in ours)
    (summarize,) = otel.finished("glide_memory.summarize")
    assert seen[0].get_span_context().span_id == summarize.context.span_id


async def test_retries_are_counted(valkey_url: str, client: Client, otel: Otel) -> None:
    """A write whose first reply is lost: the span says it retried, and the retries counter went up."""
    upstream = parse_url(valkey_url)
    with FaultProxy(upstream.host, upstream.port) as proxy:
        async with await SessionStore.connect(proxy.url, request_timeout_ms=300) as store:
            sid = (await store.create_session("u1")).session_id
            proxy.delay_replies_after(b"$5\r\nFCALL\r\n", 0.5)
            task = asyncio.ensure_future(store.add_message(sid, "user", "hi"))
            await asyncio.sleep(0.4)
            proxy.heal()
            await task
    (span,) = otel.finished("glide_memory.add_message")
    assert span.attributes is not None and int(span.attributes["glide_memory.retries"]) >= 1  # type: ignore[arg-type]
    counted = [p for m, p in otel.points("glide_memory.retries") if p.attributes["db.operation.name"] == "add_message"]
    assert len(counted) == 1 and isinstance(counted[0], NumberDataPoint) and counted[0].value >= 1


async def test_an_iterator_has_one_span_that_is_not_current(plain: SessionStore, otel: Otel) -> None:
    """iter_messages: one span over the whole iteration; the caller's code between items does not nest under it."""
    sid = (await plain.create_session("u1")).session_id
    await plain.add_message(sid, "user", "a")
    await plain.add_message(sid, "user", "b")
    inside = []
    async for message in plain.iter_messages(sid):
        inside.append((message.content, trace.get_current_span().get_span_context().is_valid))
    assert inside == [("a", False), ("b", False)]
    (span,) = otel.finished("glide_memory.iter_messages")
    assert span.status.status_code is StatusCode.UNSET
    # stopping early is not a failure
    async with contextlib.aclosing(plain.iter_messages(sid)) as messages:
        async for _ in messages:
            break
    assert len(otel.finished("glide_memory.iter_messages")) == 2
    assert all(s.status.status_code is StatusCode.UNSET for s in otel.finished("glide_memory.iter_messages"))


async def test_a_provider_set_after_the_store_is_seen(plain: SessionStore) -> None:
    """The store was created with no SDK; one configured later is used from the next call on."""
    sid = (await plain.create_session("u1")).session_id
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    try:
        await plain.count_messages(sid)
        assert [s.name for s in exporter.get_finished_spans()] == ["glide_memory.count_messages"]
    finally:
        _unset()


def test_every_public_operation_is_observed() -> None:
    """Each public coroutine or async iterator of the store goes through the telemetry wrapper."""
    missing = [
        name
        for name, member in inspect.getmembers(SessionStore)
        if not name.startswith("_")
        and (inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member))
        and not hasattr(member, "__wrapped__")
    ]
    assert missing == []


async def test_the_strands_adapters_spans_nest_under_the_agents(valkey_url: str, otel: Otel) -> None:
    """Strands traces its agents with OpenTelemetry: the session manager's store spans are children of its spans."""

    def converse() -> None:
        with GlideSessionManager("otel-strands", url=valkey_url, ttl=600, user_id="u1") as manager:
            Agent(model=ScriptedModel([text("hi")]), session_manager=manager, callback_handler=None)("hello")

    await asyncio.to_thread(converse)
    spans = otel.spans.get_finished_spans()
    by_id = {span.context.span_id: span for span in spans}
    agent = [span for span in spans if span.name.startswith("invoke_agent")]
    assert agent, [span.name for span in spans]
    ours = [span for span in spans if span.name in ("glide_memory.add_message", "glide_memory.add_messages")]
    assert ours, "the agent's messages were stored through add_message"

    def ancestors(span: ReadableSpan) -> list[str]:
        names = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            names.append(span.name)
        return names

    assert all(agent[0].name in ancestors(span) for span in ours), [ancestors(span) for span in ours]
