"""Pure pieces of the gateway's HTTP edge: provider signatures, Meta's payload, TwiML, token
buckets and the OpenAPI route check."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from gateway.domain.conversation import JourneyAction
from gateway.domain.generic_signature import generic_signature, signature_problem
from gateway.domain.rate_limit import RateLimiter, TokenBucket
from gateway.domain.twilio_signature import twilio_signature, valid_twilio_signature
from gateway.domain.twiml import VoiceUrls, empty_response, render_voice
from gateway.domain.whatsapp_payload import PayloadError, message_text, parse_payload
from gateway.domain.whatsapp_signature import valid_whatsapp_signature, whatsapp_signature
from gateway.entrypoints.openapi import openapi_document, undocumented

TWILIO_DOCS_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_DOCS_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}


def test_twilio_signature_matches_the_example_in_twilios_documentation() -> None:
    assert (
        twilio_signature(TWILIO_DOCS_URL, TWILIO_DOCS_PARAMS.items(), "12345")
        == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )
    assert valid_twilio_signature(
        TWILIO_DOCS_URL, TWILIO_DOCS_PARAMS.items(), "12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )


@pytest.mark.parametrize(
    ("url", "params", "token", "signature"),
    [
        (TWILIO_DOCS_URL, TWILIO_DOCS_PARAMS, "12345", None),
        (TWILIO_DOCS_URL, TWILIO_DOCS_PARAMS, "12345", ""),
        (TWILIO_DOCS_URL, TWILIO_DOCS_PARAMS, "54321", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
        (TWILIO_DOCS_URL, {**TWILIO_DOCS_PARAMS, "Digits": "9"}, "12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
        (
            "https://mycompany.com/myapp.php?foo=1",
            TWILIO_DOCS_PARAMS,
            "12345",
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
        ),
    ],
)
def test_twilio_signature_refuses_anything_else(
    url: str, params: dict[str, str], token: str, signature: str | None
) -> None:
    assert not valid_twilio_signature(url, params.items(), token, signature)


def test_whatsapp_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    signature = whatsapp_signature("secret", body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert valid_whatsapp_signature("secret", body, signature)
    assert not valid_whatsapp_signature("secret", body + b" ", signature)
    assert not valid_whatsapp_signature("other", body, signature)
    assert not valid_whatsapp_signature("secret", body, signature.removeprefix("sha256="))
    assert not valid_whatsapp_signature("secret", body, None)


def test_generic_signature_covers_the_timestamp_and_refuses_old_ones() -> None:
    secret, body = "s" * 20, b'{"text":"hi"}'
    signature = generic_signature(secret, "1700000000", body)
    assert signature_problem(secret, "1700000000", signature, body, now=1700000100) is None
    assert "300 seconds" in (signature_problem(secret, "1700000000", signature, body, now=1700000301) or "")
    assert "300 seconds" in (signature_problem(secret, "1700000000", signature, body, now=1699999699) or "")
    assert "does not match" in (
        signature_problem(secret, "1700000001", signature, body, now=1700000000) or ""
    )
    assert "X-CC-Timestamp" in (signature_problem(secret, None, signature, body, now=0) or "")
    assert "Unix seconds" in (signature_problem(secret, "soon", signature, body, now=0) or "")
    assert "X-CC-Signature" in (signature_problem(secret, "1700000000", None, body, now=1700000000) or "")


def test_a_token_bucket_allows_its_burst_then_names_the_wait() -> None:
    bucket = TokenBucket(rate_per_second=2.0, burst=3)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.5)
    assert bucket.take(100.5) == 0.0  # half a second refilled one token
    limiter = RateLimiter()
    assert [limiter.retry_after("t", 0.1, 1, 10.0) for _ in range(2)] == [0, 10]
    # A changed limit takes effect at once (a fresh bucket).
    assert limiter.retry_after("t", 5.0, 10, 10.0) == 0


def test_whatsapp_payload_reads_every_message_kind_and_keeps_what_it_skips() -> None:
    payload = parse_payload(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "metadata": {"phone_number_id": "42"},
                                "contacts": [{"wa_id": "447700900123", "profile": {"name": "Jane"}}],
                                "messages": [
                                    {
                                        "from": "447700900123",
                                        "id": "w1",
                                        "type": "text",
                                        "text": {"body": "hi"},
                                    },
                                    {
                                        "from": "447700900123",
                                        "id": "w2",
                                        "type": "location",
                                        "location": {"latitude": 51.5, "longitude": -0.12, "name": "Shop"},
                                    },
                                    {
                                        "from": "447700900123",
                                        "id": "w3",
                                        "type": "interactive",
                                        "interactive": {
                                            "type": "button_reply",
                                            "button_reply": {"id": "b1", "title": "Yes"},
                                        },
                                    },
                                    {
                                        "from": "447700900123",
                                        "id": "w4",
                                        "type": "button",
                                        "button": {"text": "Stop", "payload": "STOP"},
                                    },
                                    {
                                        "from": "447700900123",
                                        "id": "w5",
                                        "type": "document",
                                        "document": {
                                            "id": "D1",
                                            "mime_type": "application/pdf",
                                            "filename": "a.pdf",
                                        },
                                    },
                                    {"from": "not-a-number", "id": "w6", "type": "text"},
                                ],
                                "statuses": [
                                    {
                                        "id": "out1",
                                        "status": "failed",
                                        "recipient_id": "447700900123",
                                        "errors": [{"code": 131047, "title": "Re-engagement message"}],
                                    },
                                    {"status": "read"},
                                ],
                            },
                        },
                        {"field": "account_update", "value": {}},
                    ]
                }
            ],
        }
    )
    assert [(m.message_id, m.text) for m in payload.messages] == [
        ("w1", "hi"),
        ("w2", "[location latitude=51.5 longitude=-0.12 name=Shop]"),
        ("w3", "Yes [interactive id=b1]"),
        ("w4", "Stop [button payload=STOP]"),
        ("w5", "[document id=D1 mime_type=application/pdf filename=a.pdf]"),
    ]
    assert {m.profile_name for m in payload.messages} == {"Jane"}
    assert [(s.message_id, s.status, s.reason) for s in payload.statuses] == [
        ("out1", "failed", "131047 Re-engagement message")
    ]
    assert len(payload.skipped) == 3  # the bad sender, the status without an id, the other field
    assert message_text({"type": "sticker", "sticker": {"id": "S1"}}) == "[sticker id=S1]"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "JSON object"),
        ({"object": "page", "entry": []}, "object"),
        ({"object": "whatsapp_business_account"}, "entry"),
    ],
)
def test_a_body_that_is_no_whatsapp_webhook_is_refused_naming_why(body: object, problem: str) -> None:
    with pytest.raises(PayloadError, match=problem):
        parse_payload(body)


URLS = VoiceUrls(
    gather="https://cc.example/v1/twilio/v/voice/gather?step=1&contact=c1", wait="https://cc.example/w"
)


def test_twiml_nests_prompts_in_the_gather_and_escapes_every_text() -> None:
    xml = render_voice(
        [
            JourneyAction(kind="send_prompt", node="a", name="welcome", text="Hi <b>& welcome</b>"),
            JourneyAction(kind="invoke_ai", node="b", name="intent"),
            JourneyAction(
                kind="await_input",
                node="c",
                name="menu",
                text="https://cdn.example/menu.mp3",
                mode="speech",
                timeout_seconds=4.2,
            ),
            JourneyAction(kind="hand_off", node="d", name="never-reached"),
        ],
        urls=URLS,
        language="en",
    )
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert [child.tag for child in root] == ["Gather"]
    gather = root[0]
    assert gather.attrib == {
        "input": "speech",
        "action": URLS.gather,
        "method": "POST",
        "timeout": "5",
        "actionOnEmptyResult": "true",
    }
    assert [(c.tag, c.text) for c in gather] == [
        ("Say", "Hi <b>& welcome</b>"),
        ("Play", "https://cdn.example/menu.mp3"),
    ]
    assert "&lt;b&gt;&amp;" in xml


@pytest.mark.parametrize(
    ("kind", "name", "tags"),
    [
        ("hand_off", "support", ["Say", "Enqueue"]),
        ("dial", "+442071838000", ["Say", "Dial"]),
        ("dial", "client:agent-7", ["Say", "Dial"]),
        ("ended", "done", ["Say", "Hangup"]),
    ],
)
def test_twiml_ends_with_the_journeys_last_verb(kind: str, name: str, tags: list[str]) -> None:
    root = ET.fromstring(
        render_voice(
            [
                JourneyAction(kind="send_prompt", node="a", name="bye", text=""),
                JourneyAction(kind=kind, node="b", name=name),
            ],
            urls=URLS,
        )
    )
    assert [child.tag for child in root] == tags
    assert root[0].text == "bye"  # a prompt without a text is spoken as its name
    if kind == "hand_off":
        assert (root[1].text, root[1].get("waitUrl")) == ("support", URLS.wait)
    if name.startswith("client:"):
        assert root[1][0].tag == "Client" and root[1][0].text == "agent-7"
    assert ET.fromstring(empty_response()).tag == "Response"


def test_the_openapi_document_is_valid_and_the_route_check_finds_an_undocumented_route() -> None:
    document = openapi_document()
    validate(document)

    async def handler(_: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_get("/healthz", handler)
    app.router.add_post("/v1/twilio/{endpoint}/sms", handler)
    assert undocumented(app, document) == []
    app.router.add_post("/v1/secret-backdoor", handler)
    app.router.add_put("/healthz", handler)
    assert undocumented(app, document) == ["POST /v1/secret-backdoor", "PUT /healthz"]
