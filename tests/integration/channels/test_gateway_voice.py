"""Twilio voice webhooks driven by a real journey: a real routing service runs a published flow,
the gateway renders its actions as TwiML, and the caller's keys continue the same journey."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from _gateway_http import (
    AUTH_TOKEN,
    HttpGateway,
    apply_endpoints,
    channel_endpoint,
    http_gateway,
    stream_events,
)
from _platform import Platform

from contactcenter.common.v1 import common_pb2
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(90)

CATALOG = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata:
  name: ivr
spec:
  queues: [support]
  prompts: [welcome, main-menu]
  flows: [ivr]
"""
#: Greets, offers a key menu (1: an agent, 2: goodbye) and hands over or ends.
IVR_FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata:
  name: ivr
spec:
  start: welcome
  nodes:
    - id: welcome
      kind: message
      prompt: welcome
      next: menu
    - id: menu
      kind: collect
      prompt: main-menu
      mode: dtmf
      store: choice
      valid: input in ["1", "2"]
      retries: 1
      timeoutSeconds: 7
      next: choice
      onFailure: goodbye
    - id: choice
      kind: condition
      branches:
        - when: attributes.choice == "1"
          next: to-agent
      default: goodbye
    - id: to-agent
      kind: queue
      queue: support
    - id: goodbye
      kind: end
      outcome: caller-left
"""
VOICE = channel_endpoint(
    "t-voice",
    channel="voice",
    provider="twilio",
    address="+442071838751",
    flow="ivr",
    language="en-GB",
    prompts={"welcome": "Welcome to ACME & Co.", "main-menu": "Press 1 for an agent, 2 to hang up."},
    twilio={"accountSid": "AC" + "0123456789abcdef" * 2, "authToken": AUTH_TOKEN},
)


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[HttpGateway]:
    await apply_endpoints(platform, VOICE)
    await platform.start("identity", "routing")
    routing: Any = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    await routing.ConfigureQueue(
        routing_pb2.ConfigureQueueRequest(tenant_id="acme", queue=routing_pb2.QueueDefinition(name="support"))
    )
    files = [
        routing_pb2.FlowSourceFile(name="ivr/catalog.yaml", content=CATALOG),
        routing_pb2.FlowSourceFile(name="ivr/ivr.yaml", content=IVR_FLOW),
    ]
    published = await routing.PublishFlow(
        routing_pb2.PublishFlowRequest(tenant_id="acme", flow="ivr", files=files)
    )
    await routing.SetFlowAlias(
        routing_pb2.SetFlowAliasRequest(tenant_id="acme", flow="ivr", alias="live", version=published.version)
    )
    async with http_gateway(platform) as running:
        yield running


def call(sid: str, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "From": "+447700900111", "To": "+442071838751", "Direction": "inbound", **extra}


async def twiml(gateway: HttpGateway, url: str, params: dict[str, str]) -> ET.Element:
    """POST to a URL the gateway gave (absolute, as Twilio would), signed; the parsed TwiML."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    async with await gateway.twilio(path, params) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/xml"
        return ET.fromstring(await response.text())


async def test_a_call_runs_the_journey_as_twiml_and_the_callers_keys_continue_it(
    platform: Platform,
    gateway: HttpGateway,
) -> None:
    first = await twiml(gateway, gateway.url("/v1/twilio/t-voice/voice"), call("CA100"))
    gather = first.find("Gather")
    assert gather is not None and [child.tag for child in first] == ["Gather"]
    assert (gather.get("input"), gather.get("timeout"), gather.get("language")) == ("dtmf", "7", "en-GB")
    assert [(say.tag, say.text) for say in gather] == [
        ("Say", "Welcome to ACME & Co."),
        ("Say", "Press 1 for an agent, 2 to hang up."),
    ]
    action = gather.get("action") or ""
    query = parse_qs(urlsplit(action).query)
    assert urlsplit(action).path == "/v1/twilio/t-voice/voice/gather"
    assert query["step"] == ["1"]
    contact_id = query["contact"][0]
    stored = await platform.event_count()

    # Twilio retries the webhook: the same TwiML, nothing new.
    again = await twiml(gateway, gateway.url("/v1/twilio/t-voice/voice"), call("CA100"))
    assert ET.tostring(again) == ET.tostring(first)
    assert await platform.event_count() == stored

    # The caller presses 1: the journey hands the call to the support queue.
    queued = await twiml(gateway, action, call("CA100", Digits="1"))
    enqueue = queued.find("Enqueue")
    assert enqueue is not None and enqueue.text == "support"
    wait_url = enqueue.get("waitUrl") or ""
    assert urlsplit(wait_url).path == "/v1/twilio/t-voice/voice/wait"
    hold = await twiml(gateway, wait_url, {"CallSid": "CA100", "QueuePosition": "1"})
    # The caller's place, the hold message and the call-back offer, inside a one-key Gather whose
    # timeout is the pause; then back to the wait URL (a loop).
    assert [child.tag for child in hold] == ["Gather", "Redirect"]
    gather = hold[0]
    assert [child.tag for child in gather] == ["Say", "Say", "Say"]
    assert "1" in (gather[0].text or "")
    assert gather.get("numDigits") == "1"
    assert urlsplit(gather.get("action") or "").path == "/v1/twilio/t-voice/voice/hold-key"
    assert urlsplit((hold[1].text or "").strip()).path == "/v1/twilio/t-voice/voice/wait"

    events = [e for e in await stream_events(platform) if e.contact_id == contact_id]
    received = [e.message_received for e in events if e.WhichOneof("payload") == "message_received"]
    assert [(m.provider_message_id, m.text) for m in received] == [
        ("CA100:call", ""),
        ("CA100:gather:1", "1"),
    ]
    assert {m.channel for m in received} == {common_pb2.CHANNEL_KIND_VOICE}


async def test_the_other_key_ends_the_call_and_silence_is_asked_again_then_hung_up(
    gateway: HttpGateway,
) -> None:
    first = await twiml(gateway, gateway.url("/v1/twilio/t-voice/voice"), call("CA200"))
    action = first.find("Gather").get("action") or ""  # type: ignore[union-attr]

    silent = await twiml(gateway, action, call("CA200", Digits=""))
    retry = silent.find("Gather")
    assert retry is not None and retry.find("Say") is not None
    retry_action = retry.get("action") or ""
    assert parse_qs(urlsplit(retry_action).query)["silent"] == ["1"]
    silent_twice = await twiml(gateway, retry_action, call("CA200"))
    again_action = silent_twice.find("Gather").get("action") or ""  # type: ignore[union-attr]
    assert [child.tag for child in await twiml(gateway, again_action, call("CA200"))] == ["Hangup"]

    ended = await twiml(gateway, action, call("CA200", Digits="2"))
    assert [child.tag for child in ended] == ["Hangup"]


async def test_a_voice_webhook_without_a_valid_signature_gets_401_and_creates_nothing(
    platform: Platform,
    gateway: HttpGateway,
) -> None:
    async with await gateway.twilio("/v1/twilio/t-voice/voice", call("CA300"), signature=None) as response:
        assert response.status == 401
    async with await gateway.twilio(
        "/v1/twilio/t-voice/voice", call("CA300"), signature="valid", token="not-the-token-0123"
    ) as response:
        assert response.status == 401
    assert await platform.event_count() == 0
