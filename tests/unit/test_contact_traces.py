"""One trace per contact, in-process: which trace a contact's work continues, how work started
elsewhere joins it (with a link), the sampling decision it follows, and the trace id on every
log line. Spans come from a local SDK provider with an in-memory exporter (no global state)."""

from __future__ import annotations

import io
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import SpanContext, TraceFlags

from ccmesh import telemetry
from ccmesh.telemetry import (
    CONTACT_ATTRIBUTE,
    LOG_FORMAT,
    ContactTraces,
    TraceIdFilter,
    contact_context,
    contact_span,
    new_trace_span,
    remember_contact,
    trace_context_of,
)

SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def context(trace_id: int, span_id: int, sampled: bool = True) -> SpanContext:
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=SAMPLED if sampled else TraceFlags(0))


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> trace.Tracer:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test")


# -- which trace a contact is in ------------------------------------------------------------


def test_the_first_trace_seen_is_the_contacts_and_another_does_not_replace_it() -> None:
    traces = ContactTraces()
    traces.remember("c-1", context(1, 10))
    traces.remember("c-1", context(2, 20))  # work that began in another trace
    assert traces.span_context_of("c-1") == context(1, 10)
    traces.remember("c-1", context(1, 11))  # a later span of its own trace: the new parent
    assert traces.span_context_of("c-1") == context(1, 11)


def test_nothing_is_remembered_without_a_contact_or_a_valid_context() -> None:
    traces = ContactTraces()
    traces.remember("", context(1, 10))
    traces.remember("c-1", trace.INVALID_SPAN_CONTEXT)
    assert len(traces) == 0 and traces.span_context_of("c-1") is None


def test_the_least_recently_seen_contact_is_forgotten_first() -> None:
    traces = ContactTraces(capacity=2)
    traces.remember("a", context(1, 1))
    traces.remember("b", context(2, 2))
    traces.remember("a", context(1, 3))  # seen again: now the most recent
    traces.remember("c", context(3, 4))
    assert traces.span_context_of("b") is None
    assert traces.span_context_of("a") == context(1, 3) and traces.span_context_of("c") == context(3, 4)
    traces.forget("a")
    assert traces.span_context_of("a") is None


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1, got 0"):
        ContactTraces(capacity=0)


def test_headers_name_the_trace_of_the_message() -> None:
    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    found = trace_context_of(headers)
    assert found.trace_id == 0x0AF7651916CD43DD8448EB211C80319C and found.trace_flags.sampled
    assert not trace_context_of({}).is_valid and not trace_context_of(None).is_valid
    assert not trace_context_of({"traceparent": "garbage"}).is_valid
    remember_contact("c-headers", headers)
    assert telemetry.contact_traces.span_context_of("c-headers") == found
    telemetry.contact_traces.forget("c-headers")


# -- work joining the contact's trace -------------------------------------------------------


def test_work_begun_in_another_trace_joins_the_contacts_with_a_link(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    traces = ContactTraces()
    contact = context(0xC0FFEE, 0xAB)
    traces.remember("c-1", contact)
    with (
        tracer.start_as_current_span("agent socket session") as session,
        contact_span("c-1", "workspace accept", traces=traces, using=tracer),
    ):
        pass
    (accept,) = [s for s in exporter.get_finished_spans() if s.name == "workspace accept"]
    assert accept.context.trace_id == 0xC0FFEE
    assert accept.parent is not None and accept.parent.span_id == 0xAB
    assert [link.context for link in accept.links] == [session.get_span_context()]
    assert dict(accept.attributes or {})[CONTACT_ATTRIBUTE] == "c-1"


def test_the_first_work_for_an_unknown_contact_makes_its_trace(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    traces = ContactTraces()
    with (
        tracer.start_as_current_span("POST /v1/twilio/{endpoint}/sms") as webhook,
        contact_span("c-new", "create contact", traces=traces, using=tracer) as created,
    ):
        pass
    assert created.get_span_context().trace_id == webhook.get_span_context().trace_id
    assert traces.span_context_of("c-new") == created.get_span_context()
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "create contact"]
    assert span.parent is not None and span.parent.span_id == webhook.get_span_context().span_id
    assert not span.links


def test_a_contact_whose_trace_was_dropped_is_not_recorded_later_but_keeps_its_trace_id(
    exporter: InMemorySpanExporter,
) -> None:
    # Parent-based sampling (the platform's default): the decision made where the contact
    # began holds for every later hop, even where the local root sampler would keep spans.
    provider = TracerProvider(sampler=ParentBased(root=ALWAYS_OFF))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    traces = ContactTraces()
    traces.remember("dropped", context(0xD0, 0x1, sampled=False))
    traces.remember("kept", context(0xE0, 0x2, sampled=True))
    with contact_span("dropped", "workspace send", traces=traces, using=tracer) as dropped:
        assert not dropped.is_recording()
        assert dropped.get_span_context().trace_id == 0xD0  # still on log lines
    with contact_span("kept", "workspace send", traces=traces, using=tracer) as kept:
        assert kept.is_recording()
    assert [s.context.trace_id for s in exporter.get_finished_spans()] == [0xE0]


def test_a_contact_beginning_on_a_long_connection_gets_a_trace_of_its_own(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    with (
        tracer.start_as_current_span("GET /v1/webchat/{endpoint}/ws") as socket,
        new_trace_span("webchat message", using=tracer) as first,
    ):
        assert trace.get_current_span() is first
    with new_trace_span("SMTP DATA", using=tracer):
        pass
    message, mail = [s for s in exporter.get_finished_spans() if s.name in ("webchat message", "SMTP DATA")]
    assert message.parent is None and message.context.trace_id != socket.get_span_context().trace_id
    assert [link.context for link in message.links] == [socket.get_span_context()]
    assert mail.parent is None and not mail.links


def test_work_with_no_current_span_starts_in_the_contacts_trace(tracer: trace.Tracer) -> None:
    traces = ContactTraces()
    traces.remember("c-1", context(0xC1, 0x5))
    found = contact_context("c-1", traces)
    assert found is not None and trace.get_current_span(found).get_span_context() == context(0xC1, 0x5)
    assert contact_context("unknown", traces) is None
    with tracer.start_as_current_span("explicit parent"):
        assert contact_context("c-1", traces) is None  # a current span is the caller's choice


# -- trace ids on log lines -----------------------------------------------------------------


def _line(logger: logging.Logger, handler: logging.Handler, text: str) -> str:
    stream = handler.stream  # type: ignore[attr-defined]
    logger.warning(text)
    return str(stream.getvalue().splitlines()[-1])


@pytest.fixture
def logged() -> tuple[logging.Logger, logging.Handler]:
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter(LOG_FORMAT.format(service="gateway")))
    handler.addFilter(TraceIdFilter())
    logger = logging.getLogger("tests.contact_traces")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, handler
    logger.removeHandler(handler)


def test_a_line_written_in_a_span_names_its_trace_and_span(
    tracer: trace.Tracer, logged: tuple[logging.Logger, logging.Handler]
) -> None:
    logger, handler = logged
    with tracer.start_as_current_span("work") as span:
        line = _line(logger, handler, "delivered")
    ids = span.get_span_context()
    assert (
        f"gateway WARNING tests.contact_traces [trace_id={ids.trace_id:032x} span_id={ids.span_id:016x}]"
        in line
    )
    assert line.endswith(": delivered")


def test_a_line_outside_any_trace_says_so(logged: tuple[logging.Logger, logging.Handler]) -> None:
    logger, handler = logged
    assert "[trace_id=0 span_id=0]: starting" in _line(logger, handler, "starting")


def test_a_record_that_names_its_trace_keeps_it(
    tracer: trace.Tracer, logged: tuple[logging.Logger, logging.Handler]
) -> None:
    logger, handler = logged
    with tracer.start_as_current_span("work"):
        logger.warning("relayed", extra={"otelTraceID": "f" * 32, "otelSpanID": "e" * 16})
    assert f"[trace_id={'f' * 32} span_id={'e' * 16}]" in handler.stream.getvalue()  # type: ignore[attr-defined]


def test_configured_logging_puts_the_filter_on_every_handler_once(
    tracer: trace.Tracer, caplog: pytest.LogCaptureFixture
) -> None:
    telemetry.configure_logging("routing")
    telemetry.configure_logging("routing")  # a second call adds nothing
    for handler in logging.getLogger().handlers:
        assert sum(isinstance(f, TraceIdFilter) for f in handler.filters) == 1
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("routing.test").warning("offered")
    assert caplog.records[-1].otelTraceID == f"{span.get_span_context().trace_id:032x}"  # type: ignore[attr-defined]
