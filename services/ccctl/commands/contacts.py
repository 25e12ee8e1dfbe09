"""`ccctl contacts show|trace`: a contact's events with their trace ids, and the spans of its trace.

    ccctl contacts show 6c8a... --tenant acme [--region eu] [-o json]
    ccctl contacts trace 6c8a... --tenant acme --traces-url http://tempo:3200 [-o json]

Both read the contact's events from the region's event stream over NATS (an operator's
credentials, as `ccctl status` uses): each event keeps the trace context it was published in.
A contact's trace is the one its first event (the webhook that created it) started; every later
hop continues it. `show` prints the trace id beside each event, to find the contact's log lines
(each carries `trace_id=`) or its trace in any back-end.

`trace` asks the trace back-end the services export to (`--traces-url`, default
$CC_TRACES_URL) for the spans of the contact's trace(s) and lists them as a tree: the URL is
Tempo's base URL (`/api/traces/<id>` is added) or any URL with `{trace_id}` in it, e.g. Jaeger's
`http://jaeger:16686/api/v3/traces/{trace_id}`. A trace the sampler dropped has no spans
(by default 1 contact in 100 is kept, see OTEL_TRACES_SAMPLER_ARG); its trace id still finds
the log lines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccctl.trace_query import TraceNotFound, TraceQueryError, TraceSpan, fetch_trace, in_tree_order
from ccmesh.contact_history import HistoryReadError, TracedEvent, traced_contact_history


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "contacts", help="a contact's events with their trace ids, and the spans of its trace"
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    show = verbs.add_parser("show", help="the contact's events, each with the trace id it was published in")
    show.add_argument("contact_id")
    _common(show)
    show.set_defaults(handler=run_show)

    trace = verbs.add_parser("trace", help="the spans of the contact's trace, from the trace back-end")
    trace.add_argument("contact_id")
    trace.add_argument(
        "--traces-url",
        default=os.environ.get("CC_TRACES_URL", ""),
        metavar="URL",
        help="trace query API: Tempo's base URL, or a URL with {trace_id} (default $CC_TRACES_URL)",
    )
    _common(trace)
    trace.set_defaults(handler=run_trace)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant id")
    parser.add_argument(
        "--region", default=os.environ.get("CC_REGION", "eu"), help="region whose event stream to read"
    )
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    add_nats_url_option(parser)


async def _events(args: argparse.Namespace) -> list[TracedEvent]:
    async with connected(args.nats_url) as nc:
        try:
            events = await traced_contact_history(nc.jetstream(), args.region, args.tenant, args.contact_id)
        except ValueError as error:
            raise CommandError(str(error), EXIT_USAGE) from None
        except HistoryReadError as error:
            raise CommandError(str(error)) from None
    if not events:
        raise CommandError(
            f"contact {args.contact_id!r} of tenant {args.tenant!r} has no events in region {args.region!r} "
            "(another region or tenant, or older than the stream's retention)"
        )
    return events


def trace_ids(events: list[TracedEvent]) -> list[str]:
    """The traces the contact's events were published in, the contact's own (its first) first."""
    return list(dict.fromkeys(e.trace_id for e in events if e.trace_id))


def _event_view(traced: TracedEvent) -> dict[str, Any]:
    event = traced.event
    return {
        "at": event.occurred_at.seconds + event.occurred_at.nanos / 1e9,
        "kind": event.WhichOneof("payload") or "",
        "eventId": event.event_id,
        "traceId": traced.trace_id,
        "sampled": traced.sampled,
    }


def run_show(args: argparse.Namespace) -> int:
    events = asyncio.run(_events(args))
    views = [_event_view(e) for e in events]
    traces = trace_ids(events)
    if args.output == "json":
        document = {"contactId": args.contact_id, "tenant": args.tenant, "region": args.region}
        print(orjson.dumps({**document, "traceIds": traces, "events": views}).decode())
        return 0
    print(f"contact  {args.contact_id}   tenant {args.tenant}   region {args.region}")
    first = events[0]
    if first.trace_id:
        print(f"trace    {first.trace_id}   ({'sampled' if first.sampled else 'not sampled'})")
    rows = [("AT", "EVENT", "TRACE ID", "SAMPLED")] + [
        (_clock(v["at"]), v["kind"], v["traceId"] or "-", "yes" if v["sampled"] else "no") for v in views
    ]
    _print_table(rows)
    return 0


def run_trace(args: argparse.Namespace) -> int:
    if not args.traces_url:
        raise CommandError(
            "no trace back-end: pass --traces-url (or set CC_TRACES_URL) to the query API of the "
            "back-end the services export to, e.g. http://tempo:3200 or "
            "http://jaeger:16686/api/v3/traces/{trace_id}",
            EXIT_USAGE,
        )
    events = asyncio.run(_events(args))
    traces = asyncio.run(_traces(args.traces_url, events))
    if not any(traces.values()):
        raise CommandError(_nothing_found(events, traces))
    if args.output == "json":
        document = {
            "contactId": args.contact_id,
            "traces": [
                {"traceId": trace_id, "spans": [_span_view(depth, s) for depth, s in in_tree_order(spans)]}
                for trace_id, spans in traces.items()
            ],
        }
        print(orjson.dumps(document).decode())
        return 0
    for trace_id, spans in traces.items():
        if not spans:
            print(f"trace {trace_id}: no spans (not sampled, or not exported yet)", file=sys.stderr)
            continue
        _print_trace(trace_id, spans)
    return 0


async def _traces(url: str, events: list[TracedEvent]) -> dict[str, list[TraceSpan]]:
    sampled = {e.trace_id: e.sampled for e in reversed(events) if e.trace_id}
    found: dict[str, list[TraceSpan]] = {}
    for trace_id in trace_ids(events):
        if not sampled[trace_id]:
            found[trace_id] = []  # the sampler dropped it: the back-end cannot hold it
            continue
        try:
            found[trace_id] = await fetch_trace(url, trace_id)
        except TraceNotFound:
            found[trace_id] = []
        except TraceQueryError as error:
            raise CommandError(str(error)) from None
    return found


def _nothing_found(events: list[TracedEvent], traces: dict[str, list[TraceSpan]]) -> str:
    if not traces:
        return "the contact's events carry no trace context (published without tracing)"
    if not any(e.sampled for e in events):
        return (
            f"the contact's trace {next(iter(traces))} was not sampled: no spans were recorded "
            "(OTEL_TRACES_SAMPLER_ARG sets the share of contacts traced); its trace id still finds "
            "the contact's log lines"
        )
    return f"the trace back-end holds no span of trace(s) {', '.join(traces)} (not exported yet, or expired)"


def _span_view(depth: int, span: TraceSpan) -> dict[str, Any]:
    return {
        "depth": depth,
        "spanId": span.span_id,
        "parentSpanId": span.parent_span_id,
        "service": span.service,
        "name": span.name,
        "kind": span.kind,
        "startUnixNano": span.start_ns,
        "durationMs": round(span.duration_ms, 3),
        "status": span.status,
        "links": [{"traceId": t, "spanId": s} for t, s in span.links],
        "attributes": span.attributes,
    }


def _print_trace(trace_id: str, spans: list[TraceSpan]) -> None:
    ordered = in_tree_order(spans)
    began = min(s.start_ns for s in spans)
    services = sorted({s.service for s in spans})
    print(f"trace {trace_id}: {len(spans)} spans from {', '.join(services)}")
    rows = [("START ms", "DURATION ms", "SERVICE", "KIND", "SPAN")] + [
        (
            f"{(span.start_ns - began) / 1e6:.1f}",
            f"{span.duration_ms:.1f}",
            span.service,
            span.kind,
            "  " * depth + _label(span),
        )
        for depth, span in ordered
    ]
    _print_table(rows)


def _label(span: TraceSpan) -> str:
    """The span's name, with what an SRE looks for beside it: the event a messaging span carried,
    the consumer that took it, an error, and a link to the trace where the work began."""
    parts = [span.name]
    event_type = span.attributes.get("contactcenter.event.type")
    if event_type:
        parts.append(str(event_type))
    group = span.attributes.get("messaging.consumer.group.name")
    if group:
        parts.append(f"by {group}")
    if span.status:
        parts.append("[error]")
    if span.links:
        parts.append("(linked)")
    return " ".join(parts)


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
