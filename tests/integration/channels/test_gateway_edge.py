"""The HTTP edge of the real gateway: bad input gets a clear 4xx naming the problem and the
gateway keeps serving; rate limits answer 429 with Retry-After; every request is one JSON log
line and one server span carrying the caller's trace; the OpenAPI document covers every route.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from _gateway_http import AUTH_TOKEN, ENDPOINTS, SECRETS, HttpGateway, apply_endpoints, http_gateway
from _platform import Platform
from aiohttp import web
from openapi_spec_validator import validate
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ccmesh.natsserver import free_port
from gateway.entrypoints.edge_middleware import Edge, EdgeSettings

pytestmark = pytest.mark.timeout(90)

MESSAGE = {
    "channel": "sms",
    # The example tenant's default entry point is not among these tests' endpoints: name one.
    "entryPoint": "t-sms",
    "from": {"kind": "phone", "value": "+447700900777"},
    "text": "hello",
    "providerMessageId": "SM-EDGE",
}
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[HttpGateway]:
    await apply_endpoints(platform, *ENDPOINTS)
    await platform.start("identity")
    async with http_gateway(platform) as running:
        yield running


class Collected(logging.Handler):
    """Keeps every record a logger emits, formatted as its handlers would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + (record.exc_text or ""))


@pytest.fixture
def access_lines() -> Iterator[Collected]:
    collected = Collected()
    logger = logging.getLogger("gateway.access")
    logger.addHandler(collected)
    try:
        yield collected
    finally:
        logger.removeHandler(collected)


def bearer(platform: Platform, tenant: str = "acme") -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.token(tenant, 'integration')}"}


BAD_INPUTS: list[tuple[str, str, str, dict[str, str], bytes, int, str]] = [
    # (name, method, path, headers, body, status, words the message must contain)
    (
        "malformed JSON",
        "POST",
        "/v1/tenants/acme/messages",
        {"Content-Type": "application/json"},
        b'{"channel": ',
        400,
        "not valid JSON",
    ),
    (
        "wrong content type",
        "POST",
        "/v1/tenants/acme/messages",
        {"Content-Type": "text/plain"},
        orjson.dumps(MESSAGE),
        415,
        "expected application/json, got text/plain",
    ),
    (
        "invalid UTF-8",
        "POST",
        "/v1/tenants/acme/messages",
        {"Content-Type": "application/json"},
        b'{"text": "\xff\xfe"}',
        400,
        "not valid UTF-8",
    ),
    (
        "unknown channel",
        "POST",
        "/v1/tenants/acme/messages",
        {"Content-Type": "application/json"},
        orjson.dumps(dict(MESSAGE, channel="fax")),
        400,
        "channel: unknown channel 'fax'; one of voice",
    ),
    (
        "unknown field",
        "POST",
        "/v1/tenants/acme/messages",
        {"Content-Type": "application/json"},
        orjson.dumps(dict(MESSAGE, colour="red")),
        400,
        "unknown field(s) ['colour']",
    ),
    (
        "oversized body",
        "POST",
        "/v1/tenants/acme/messages",
        {"Content-Type": "application/json"},
        b"{" + b" " * (200 * 1024) + b"}",
        413,
        "larger than the limit of 131072 bytes",
    ),
    (
        "unknown endpoint",
        "POST",
        "/v1/twilio/no-such/sms",
        {"Content-Type": FORM},
        b"From=%2B44",
        404,
        "endpoint 'no-such'",
    ),
    (
        "disabled endpoint",
        "POST",
        "/v1/twilio/t-closed/sms",
        {"Content-Type": FORM},
        b"From=%2B44",
        404,
        "endpoint 't-closed'",
    ),
    (
        "endpoint of another channel",
        "POST",
        "/v1/twilio/t-wa/sms",
        {"Content-Type": FORM},
        b"From=%2B44",
        404,
        "serves channel whatsapp, not sms",
    ),
    (
        "form with invalid UTF-8",
        "POST",
        "/v1/twilio/t-sms/sms",
        {"Content-Type": FORM},
        b"Body=\xff",
        400,
        "not valid UTF-8",
    ),
    (
        "form with bad percent-encoding",
        "POST",
        "/v1/twilio/t-sms/sms",
        {"Content-Type": FORM},
        b"Body=%FF",
        400,
        "not a valid form",
    ),
    (
        "JSON to a form webhook",
        "POST",
        "/v1/twilio/t-sms/sms",
        {"Content-Type": "application/json"},
        b"{}",
        415,
        "expected application/x-www-form-urlencoded",
    ),
    (
        "WhatsApp non-JSON",
        "POST",
        "/v1/whatsapp/t-wa",
        {"Content-Type": FORM},
        b"a=b",
        415,
        "expected application/json",
    ),
    ("unknown route", "GET", "/v1/nothing-here", {}, b"", 404, "no route for GET /v1/nothing-here"),
    ("wrong method", "DELETE", "/v1/tenants/acme/messages", {}, b"", 405, "method DELETE not allowed"),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "words"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
async def test_bad_input_gets_a_clear_4xx_and_the_gateway_keeps_serving(
    platform: Platform,
    gateway: HttpGateway,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    words: str,
) -> None:
    sent = {**bearer(platform), **headers}
    async with gateway.session.request(method, gateway.url(path), data=body, headers=sent) as response:
        assert response.status == status
        error = (await response.json())["error"]
    assert words in error["message"]
    assert await platform.event_count() == 0
    # Nothing was lost or broken: the next good message is accepted.
    async with gateway.session.post(
        gateway.url("/v1/tenants/acme/messages"), json=MESSAGE, headers=bearer(platform)
    ) as response:
        assert response.status == 201


async def test_a_chunked_body_over_the_limit_is_refused_with_413(
    gateway: HttpGateway,
    platform: Platform,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(300):
            yield b" " * 1024

    headers = {**bearer(platform), "Content-Type": "application/json"}
    async with gateway.session.post(
        gateway.url("/v1/tenants/acme/messages"), data=chunks(), headers=headers
    ) as response:
        assert response.status == 413
        assert "131072 bytes" in (await response.json())["error"]["message"]


async def test_an_unknown_tenant_is_refused_naming_it(gateway: HttpGateway, platform: Platform) -> None:
    async with gateway.session.post(
        gateway.url("/v1/tenants/nosuch/messages"), json=MESSAGE, headers=bearer(platform, "nosuch")
    ) as response:
        assert 400 <= response.status < 500
        assert "nosuch" in (await response.json())["error"]["message"]
    # A token of another tenant is refused before anything is read.
    async with gateway.session.post(
        gateway.url("/v1/tenants/globex/messages"), json=MESSAGE, headers=bearer(platform, "acme")
    ) as response:
        assert response.status == 403
    assert await platform.event_count() == 0


async def test_an_endpoints_rate_limit_answers_429_with_retry_after(gateway: HttpGateway) -> None:
    statuses = []
    for index in range(3):
        body = orjson.dumps(
            {"from": {"kind": "phone", "value": "+447700900888"}, "providerMessageId": f"R{index}"}
        )
        async with await gateway.generic("t-limited", body) as response:
            statuses.append(response.status)
            if response.status == 429:
                retry_after = response.headers["Retry-After"]
                error = (await response.json())["error"]
    assert statuses == [201, 201, 429]
    assert int(retry_after) >= 1
    assert error["code"] == "RATE_LIMITED"
    assert "burst 2" in error["message"]
    # Other endpoints of the tenant have their own buckets.
    body = orjson.dumps({"from": {"kind": "phone", "value": "+447700900888"}, "providerMessageId": "R-other"})
    async with await gateway.generic("t-generic", body) as response:
        assert response.status == 201


async def test_every_request_is_one_json_log_line_and_a_server_span_in_the_callers_trace(
    spans: InMemorySpanExporter,
    platform: Platform,
    gateway: HttpGateway,
    access_lines: Collected,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    token = platform.token("acme", "integration")
    headers = {"Authorization": f"Bearer {token}", "traceparent": traceparent}
    async with gateway.session.post(
        gateway.url("/v1/tenants/acme/messages"), json=MESSAGE, headers=headers
    ) as response:
        assert response.status == 201
    from gateway.domain.twilio_signature import twilio_signature

    sms = {"MessageSid": "SM-LOG", "From": "+447700900999", "To": "+442071838750", "Body": "my PIN is 4321"}
    signature = twilio_signature(gateway.url("/v1/twilio/t-sms/sms"), sms.items(), AUTH_TOKEN)
    async with await gateway.twilio("/v1/twilio/t-sms/sms", sms, signature=signature) as response:
        assert response.status == 200

    lines = [orjson.loads(line) for line in access_lines.lines]
    submit = next(line for line in lines if line["route"] == "/v1/tenants/{tenant}/messages")
    assert submit["trace_id"] == trace_id
    assert (submit["method"], submit["status"], submit["tenant"]) == ("POST", 201, "acme")
    assert len(submit["span_id"]) == 16 and submit["duration_ms"] >= 0
    webhook = next(line for line in lines if line["route"] == "/v1/twilio/{endpoint}/sms")
    assert (webhook["endpoint"], webhook["tenant"], webhook["status"]) == ("t-sms", "acme", 200)
    everything = "\n".join(access_lines.lines + [record.getMessage() for record in caplog.records])
    for secret in (*SECRETS, token, signature, "my PIN is 4321"):
        assert secret not in everything

    server = [s for s in spans.get_finished_spans() if s.name == "POST /v1/tenants/{tenant}/messages"]
    assert len(server) == 1
    span = server[0]
    assert span.kind == SpanKind.SERVER
    assert format(span.context.trace_id, "032x") == trace_id
    attributes: dict[str, Any] = dict(span.attributes or {})
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.route"] == "/v1/tenants/{tenant}/messages"
    assert attributes["http.response.status_code"] == 201
    # The identity call made for this request is a child in the same trace.
    children = [
        s
        for s in spans.get_finished_spans()
        if s.parent is not None and s.parent.span_id == span.context.span_id
    ]
    assert children and all(format(s.context.trace_id, "032x") == trace_id for s in children)


async def test_the_openapi_document_is_valid_and_covers_every_route(
    gateway: HttpGateway, caplog: pytest.LogCaptureFixture
) -> None:
    async with gateway.session.get(gateway.url("/openapi.json")) as response:
        assert response.status == 200
        document = await response.json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    for path in ("/v1/twilio/{endpoint}/sms", "/v1/twilio/{endpoint}/voice", "/v1/whatsapp/{endpoint}"):
        assert path in document["paths"]
    assert "X-CC-Signature" in document["paths"]["/v1/generic/{endpoint}/messages"]["post"]["description"]
    # The app checked its own routes against the document when it started.
    assert not [r for r in caplog.records if "undocumented HTTP routes" in r.getMessage()]


async def test_the_tenant_api_is_limited_per_tenant(platform: Platform) -> None:
    await apply_endpoints(platform, *ENDPOINTS)
    await platform.start("identity")
    async with http_gateway(platform, tenant_rate_per_second=0.01, tenant_rate_burst=1) as gateway:
        url = gateway.url("/v1/tenants/acme/messages")
        async with gateway.session.post(url, json=MESSAGE, headers=bearer(platform)) as response:
            assert response.status == 201
        async with gateway.session.post(url, json=MESSAGE, headers=bearer(platform)) as response:
            assert response.status == 429
            assert int(response.headers["Retry-After"]) >= 1
            assert "tenant:acme" in (await response.json())["error"]["message"]
        # Another tenant has its own bucket.
        async with gateway.session.post(
            gateway.url("/v1/tenants/globex/messages"),
            json=MESSAGE,
            headers=bearer(platform, "globex"),
        ) as response:
            assert response.status != 429


async def test_an_unexpected_error_is_a_500_naming_only_the_trace_id_and_logged_with_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The edge in front of a route that fails unexpectedly (none of the gateway's should)."""

    async def broken(_: web.Request) -> web.Response:
        raise RuntimeError("connection string postgres://admin:hunter2@db")

    edge = Edge(
        EdgeSettings(region="eu", max_body_bytes=1024, tenant_rate_per_second=10, tenant_rate_burst=10), None
    )
    app = web.Application(middlewares=edge.middlewares())
    app.router.add_get("/broken", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/broken") as response,
        ):
            assert response.status == 500
            error = (await response.json())["error"]
    finally:
        await runner.cleanup()
    assert error["code"] == "INTERNAL"
    assert "hunter2" not in error["message"] and "RuntimeError" not in error["message"]
    trace_id = error["message"].rsplit(" ", 1)[-1]
    logged = [r for r in caplog.records if r.name == "gateway.entrypoints.edge_middleware"]
    assert logged and trace_id in logged[0].getMessage()
