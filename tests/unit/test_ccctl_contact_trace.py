"""`ccctl contacts trace` reads a trace from the back-ends SREs run: OTLP JSON as Tempo and
Jaeger answer it (hex or base64 ids, bare or wrapped), shown as a tree; and says clearly what
is wrong with a command line or an answer."""

from __future__ import annotations

import base64

import pytest

from ccctl.main import main
from ccctl.trace_query import TraceQueryError, in_tree_order, query_url, spans_of

TRACE = "0af7651916cd43dd8448eb211c80319c"
ROOT, CHILD, GRANDCHILD, ORPHAN = (
    "b7ad6b7169203331",
    "00f067aa0ba902b7",
    "53995c3f42cd8ad8",
    "1111111111111111",
)


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def _span(span_id: str, parent: str, name: str, start: int, **more: object) -> dict[str, object]:
    return {
        "traceId": TRACE,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 2,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 2_000_000),
        **more,
    }


def _resource(service: str, *spans: dict[str, object]) -> dict[str, object]:
    return {
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "ccmesh"}, "spans": list(spans)}],
    }


OTLP = {
    "resourceSpans": [
        _resource("gateway", _span(ROOT, "", "POST /v1/twilio/{endpoint}/sms", 1_000)),
        _resource(
            "routing",
            _span(GRANDCHILD, CHILD, "events-eu publish", 5_000, kind=4, status={"code": 2}),
            _span(CHILD, ROOT, "events-eu process", 3_000, kind=5),
            # Its parent was not exported (another process dropped it): shown at the top.
            _span(
                ORPHAN,
                "2222222222222222",
                "workspace accept",
                9_000,
                links=[{"traceId": TRACE, "spanId": ROOT}],
            ),
        ),
    ]
}


def test_an_otlp_json_trace_becomes_spans_with_their_services() -> None:
    spans = {s.span_id: s for s in spans_of(OTLP)}
    assert spans[ROOT].service == "gateway" and spans[ROOT].kind == "server"
    assert spans[CHILD].service == "routing" and spans[CHILD].kind == "consumer"
    assert spans[GRANDCHILD].status == "error" and spans[GRANDCHILD].duration_ms == 2.0
    assert spans[ORPHAN].links == ((TRACE, ROOT),)


def test_a_tree_puts_parents_before_children_and_orphans_at_the_top() -> None:
    ordered = [(depth, span.name) for depth, span in in_tree_order(spans_of(OTLP))]
    assert ordered == [
        (0, "POST /v1/twilio/{endpoint}/sms"),
        (1, "events-eu process"),
        (2, "events-eu publish"),
        (0, "workspace accept"),
    ]


def test_tempo_and_jaeger_wrappings_and_base64_ids_are_read_alike() -> None:
    batches = {
        "batches": [
            {
                "resource": OTLP["resourceSpans"][0]["resource"],  # type: ignore[index]
                "instrumentationLibrarySpans": [
                    {"spans": [{**_span(ROOT, "", "root", 1), "traceId": _b64(TRACE), "spanId": _b64(ROOT)}]}
                ],
            }
        ]
    }
    (tempo_v1,) = spans_of(batches)
    assert (tempo_v1.trace_id, tempo_v1.span_id, tempo_v1.service) == (TRACE, ROOT, "gateway")
    assert len(spans_of({"trace": OTLP})) == len(spans_of({"result": OTLP})) == 4
    named_kind = {"resourceSpans": [_resource("ai", _span(ROOT, "", "x", 1, kind="SPAN_KIND_PRODUCER"))]}
    assert spans_of(named_kind)[0].kind == "producer"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "a trace document is a JSON object, got list"),
        ({"data": []}, "not an OTLP JSON trace (no resourceSpans or batches): keys ['data']"),
        (
            {"resourceSpans": [_resource("ai", _span("not-an-id!", "", "x", 1))]},
            "not a trace or span id (hex or base64): 'not-an-id!'",
        ),
    ],
)
def test_an_answer_that_is_not_a_trace_is_named(document: object, problem: str) -> None:
    with pytest.raises(TraceQueryError) as raised:
        spans_of(document)
    assert str(raised.value) == problem


def test_the_query_url_is_tempos_path_unless_it_places_the_trace_id() -> None:
    assert query_url("http://tempo:3200/", TRACE) == f"http://tempo:3200/api/traces/{TRACE}"
    assert (
        query_url("http://jaeger:16686/api/v3/traces/{trace_id}", TRACE)
        == f"http://jaeger:16686/api/v3/traces/{TRACE}"
    )


def test_a_trace_without_a_back_end_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CC_TRACES_URL", raising=False)
    assert main(["contacts", "trace", "c-1", "--tenant", "acme", "--nats-url", "nats://127.0.0.1:1"]) == 2
    error = capsys.readouterr().err
    assert "ccctl contacts: error: no trace back-end: pass --traces-url (or set CC_TRACES_URL)" in error
