"""Random payloads and headers at every webhook of a real gateway: never a 5xx.

Hypothesis draws the route, content type, body (random bytes, random JSON, random forms,
random Meta-shaped payloads) and headers; a share of the requests is validly signed so the
parsers behind the signature checks get random input too. One gateway serves every example.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from _gateway_http import (
    APP_SECRET,
    AUTH_TOKEN,
    ENDPOINTS,
    SIGNING_SECRET,
    HttpGateway,
    apply_endpoints,
    http_gateway,
)
from _platform import Platform
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.domain.generic_signature import generic_signature
from gateway.domain.twilio_signature import twilio_signature
from gateway.domain.whatsapp_signature import whatsapp_signature

pytestmark = pytest.mark.timeout(300)

ROUTES = [
    ("POST", "/v1/twilio/t-sms/sms"),
    ("POST", "/v1/twilio/t-voice/voice"),
    ("POST", "/v1/twilio/t-voice/voice/gather?step=1"),
    ("POST", "/v1/twilio/t-voice/voice/wait"),
    ("POST", "/v1/twilio/t-voice/voice/status"),
    ("GET", "/v1/whatsapp/t-wa"),
    ("POST", "/v1/whatsapp/t-wa"),
    ("POST", "/v1/generic/t-generic/messages"),
    ("POST", "/v1/tenants/acme/messages"),
    ("POST", "/v1/twilio/{random}/sms"),
]
CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/json; charset=latin-1",
    "multipart/form-data; boundary=x",
    "",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
twilio_fields = st.dictionaries(
    st.sampled_from(
        [
            "MessageSid",
            "SmsSid",
            "CallSid",
            "From",
            "To",
            "Body",
            "NumMedia",
            "MediaUrl0",
            "MediaContentType0",
            "Digits",
            "SpeechResult",
            "Direction",
        ]
    )
    | st.text(max_size=10),
    st.text(max_size=30),
    max_size=8,
)
whatsapp_message = st.fixed_dictionaries(
    {
        "from": st.text(max_size=15) | st.from_regex(r"\A[0-9]{6,15}\Z"),
        "id": st.text(max_size=20),
        "type": st.sampled_from(["text", "image", "audio", "location", "interactive", "button", "x"])
        | st.text(max_size=8),
    },
    optional={"text": json_values, "image": json_values, "interactive": json_values, "location": json_values},
)
whatsapp_body = st.fixed_dictionaries(
    {
        "object": st.sampled_from(["whatsapp_business_account", "page"]) | st.text(max_size=5),
        "entry": st.lists(
            st.fixed_dictionaries(
                {
                    "changes": st.lists(
                        st.fixed_dictionaries(
                            {
                                "field": st.sampled_from(["messages", "other"]),
                                "value": st.fixed_dictionaries(
                                    {},
                                    optional={
                                        "metadata": st.fixed_dictionaries(
                                            {"phone_number_id": st.sampled_from(["106540352242922", "1"])}
                                        ),
                                        "messages": st.lists(whatsapp_message, max_size=3),
                                        "statuses": st.lists(json_values, max_size=2),
                                    },
                                ),
                            }
                        ),
                        max_size=2,
                    )
                    | json_values
                }
            ),
            max_size=2,
        )
        | json_values,
    }
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(orjson.dumps),
    twilio_fields.map(lambda fields: urlencode(fields).encode()),
    whatsapp_body.map(orjson.dumps),
)
header_names = st.sampled_from(
    [
        "X-Twilio-Signature",
        "X-Hub-Signature-256",
        "X-CC-Signature",
        "X-CC-Timestamp",
        "Authorization",
        "traceparent",
    ]
)
# Header values must be sendable: visible ASCII and spaces.
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


def signed(method: str, path: str, base: str, body: bytes, headers: dict[str, str]) -> None:
    """Sign the random request as its provider would, so the parsers see it."""
    if "/v1/twilio/" in path:
        from urllib.parse import parse_qsl

        try:
            params = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            params = []
        headers["X-Twilio-Signature"] = twilio_signature(base + path, params, AUTH_TOKEN)
    elif "/v1/whatsapp/" in path:
        headers["X-Hub-Signature-256"] = whatsapp_signature(APP_SECRET, body)
    elif "/v1/generic/" in path:
        stamp = str(int(time.time()))
        headers["X-CC-Timestamp"] = stamp
        headers["X-CC-Signature"] = generic_signature(SIGNING_SECRET, stamp, body)


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[HttpGateway]:
    from _gateway_http import channel_endpoint

    voice = channel_endpoint(
        "t-voice",
        channel="voice",
        provider="twilio",
        address="+442071838751",
        queue="support",
        twilio={"accountSid": "AC" + "0123456789abcdef" * 2, "authToken": AUTH_TOKEN},
        rateLimit={"perSecond": 10000, "burst": 100000},
    )
    generous = [
        e.model_copy(update={"spec": e.spec.model_copy(update={"rate_limit": voice.spec.rate_limit})})
        for e in ENDPOINTS
    ]
    await apply_endpoints(platform, *generous, voice)
    await platform.start("identity")
    async with http_gateway(platform) as running:
        yield running


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(ROUTES),
    content_type=st.sampled_from(CONTENT_TYPES),
    body=bodies,
    extra_headers=st.dictionaries(header_names, header_values, max_size=3),
    sign=st.booleans(),
    random_name=st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#%"),
        min_size=1,
        max_size=20,
    ),
)
async def test_no_webhook_answers_5xx_whatever_it_is_sent(
    platform: Platform,
    gateway: HttpGateway,
    route: tuple[str, str],
    content_type: str,
    body: bytes,
    extra_headers: dict[str, str],
    sign: bool,
    random_name: str,
) -> None:
    method, path = route
    path = path.replace("{random}", random_name)
    headers: dict[str, Any] = dict(extra_headers)
    if content_type:
        headers["Content-Type"] = content_type
    if path.startswith("/v1/tenants/") and sign:
        headers["Authorization"] = f"Bearer {platform.token('acme', 'integration')}"
    elif sign:
        signed(method, path, gateway.base, body, headers)
    async with gateway.session.request(
        method, gateway.url(path), data=body if method == "POST" else None, headers=headers
    ) as response:
        assert response.status < 500, (response.status, await response.text())
        if response.status >= 400:
            assert (await response.json())["error"]["message"]
