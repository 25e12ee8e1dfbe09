"""One trace read from a trace back-end's query API, as the spans `ccctl contacts trace` lists.

The back-end is the one the platform's OTLP exporters send to (through a collector or not):
its query URL either names the place of the trace id, `{trace_id}`, or is a base URL to which
Tempo's path `/api/traces/{trace_id}` is added. Answers in the OTLP JSON encoding are read,
bare (`resourceSpans`), as Tempo's v1 API sends them (`batches`, base64 ids) and wrapped as
Tempo's v2 (`trace`) and Jaeger's v3 API (`result`) send them; ids may be hex or base64.

    Tempo:   http://tempo:3200
    Jaeger:  http://jaeger:16686/api/v3/traces/{trace_id}
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

#: Tempo's trace-by-id path, added to a query URL that does not place the trace id itself.
DEFAULT_PATH = "/api/traces/{trace_id}"
TIMEOUT_SECONDS = 10.0

_KINDS = {
    0: "unspecified",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
}


class TraceQueryError(Exception):
    """The trace back-end could not be asked, or answered something that is not a trace."""


class TraceNotFound(TraceQueryError):
    """The back-end holds no span of the trace."""


@dataclass(frozen=True)
class TraceSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    service: str
    kind: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any] = field(default_factory=dict)
    #: Span ids (with their trace ids) this span links to: work that started it elsewhere.
    links: tuple[tuple[str, str], ...] = ()

    @property
    def duration_ms(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e6


def query_url(base: str, trace_id: str) -> str:
    """Where the back-end answers for `trace_id`."""
    if "{trace_id}" in base:
        return base.replace("{trace_id}", trace_id)
    return base.rstrip("/") + DEFAULT_PATH.format(trace_id=trace_id)


async def fetch_trace(base: str, trace_id: str) -> list[TraceSpan]:
    url = query_url(base, trace_id)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)) as session,
            session.get(url, headers={"Accept": "application/json"}) as response,
        ):
            body = await response.read()
            if response.status == 404:
                raise TraceNotFound(f"{url}: no span of trace {trace_id}")
            if response.status != 200:
                raise TraceQueryError(
                    f"{url} answered {response.status}: {body[:200].decode(errors='replace')}"
                )
    except (aiohttp.ClientError, TimeoutError) as error:
        raise TraceQueryError(f"cannot read {url}: {str(error) or type(error).__name__}") from None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise TraceQueryError(f"{url} did not answer JSON: {error}") from None
    return spans_of(document)


def spans_of(document: Any) -> list[TraceSpan]:
    """The spans of an OTLP JSON trace document (in any of the wrappings the module names)."""
    if not isinstance(document, Mapping):
        raise TraceQueryError(f"a trace document is a JSON object, got {type(document).__name__}")
    for wrapper in ("trace", "result", "data"):
        inner = document.get(wrapper)
        if isinstance(inner, Mapping):
            document = inner
            break
    resources = document.get("resourceSpans", document.get("batches"))
    if not isinstance(resources, list):
        raise TraceQueryError(
            f"not an OTLP JSON trace (no resourceSpans or batches): keys {sorted(document)}"
        )
    spans: list[TraceSpan] = []
    for resource_spans in resources:
        service = str(
            _attributes(resource_spans.get("resource", {}).get("attributes", [])).get("service.name", "?")
        )
        for scope_spans in resource_spans.get(
            "scopeSpans", resource_spans.get("instrumentationLibrarySpans", [])
        ):
            spans.extend(_span(raw, service) for raw in scope_spans.get("spans", []))
    return spans


def _span(raw: Mapping[str, Any], service: str) -> TraceSpan:
    kind = raw.get("kind", 0)
    status = raw.get("status", {}) or {}
    code = status.get("code", 0)
    return TraceSpan(
        trace_id=_id(raw.get("traceId", "")),
        span_id=_id(raw.get("spanId", "")),
        parent_span_id=_id(raw.get("parentSpanId", "")),
        name=str(raw.get("name", "")),
        service=service,
        kind=_KINDS.get(kind, str(kind))
        if isinstance(kind, int)
        else str(kind).removeprefix("SPAN_KIND_").lower(),
        start_ns=int(raw.get("startTimeUnixNano", 0)),
        end_ns=int(raw.get("endTimeUnixNano", 0)),
        status="error" if code in (2, "STATUS_CODE_ERROR") else "",
        attributes=_attributes(raw.get("attributes", [])),
        links=tuple(
            (_id(link.get("traceId", "")), _id(link.get("spanId", ""))) for link in raw.get("links", [])
        ),
    )


def _id(text: str) -> str:
    """A trace or span id as hex: OTLP JSON sends hex, protobuf's JSON mapping base64."""
    if not text:
        return ""
    if len(text) in (16, 32) and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.lower()
    try:
        return base64.b64decode(text, validate=True).hex()
    except (binascii.Error, ValueError):
        raise TraceQueryError(f"not a trace or span id (hex or base64): {text!r}") from None


def _attributes(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        value = item.get("value", {}) or {}
        # One key of AnyValue is set: stringValue, intValue (a string in JSON), boolValue...
        found[str(item.get("key", ""))] = next(iter(value.values()), "") if value else ""
    return found


def in_tree_order(spans: Iterable[TraceSpan]) -> list[tuple[int, TraceSpan]]:
    """Each span with its depth, parents before their children, siblings by start time.

    A span whose parent is not in the list (not sampled by its process, or not exported yet)
    is shown at the top level, where it started.
    """
    spans = sorted(spans, key=lambda s: (s.start_ns, s.span_id))
    ids = {s.span_id for s in spans}
    children: dict[str, list[TraceSpan]] = {}
    roots: list[TraceSpan] = []
    for span in spans:
        if span.parent_span_id and span.parent_span_id in ids:
            children.setdefault(span.parent_span_id, []).append(span)
        else:
            roots.append(span)
    ordered: list[tuple[int, TraceSpan]] = []
    stack = [(0, span) for span in reversed(roots)]
    while stack:
        depth, span = stack.pop()
        ordered.append((depth, span))
        stack.extend((depth + 1, child) for child in reversed(children.get(span.span_id, [])))
    return ordered
