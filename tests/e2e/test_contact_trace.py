"""One trace per contact, end to end, on the platform `ccctl up` starts, exporting over OTLP.

A customer's SMS comes in as Twilio posts it; alice is offered the contact on the workspace
socket, accepts it and replies; the reply reaches the provider sandbox. Every span of that
work, in five processes, is in the trace the webhook started: the webhook, identity resolving
the customer, routing taking the contact from the stream and offering it, the offer pushed to
alice, her accept and reply (begun in her socket's own trace, so linked to it), and the provider
call that delivers the reply. A web chat customer of the example journey gets a trace of their
own from their first message (linked to the chat socket's), holding the journey's start, its
continuation with the customer's answers and its hand-off to the queue. Every event of a
contact carries its trace id, the log lines carry it, and `ccctl contacts show|trace` find the
trace and list its spans from the receiver's query API, as an SRE would from Tempo or Jaeger.

Sampling is the platform's parent-based ratio, set to keep every trace here: each later hop
follows the decision made where the contact began.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ccsandbox.client import SandboxClient
from tests.e2e.harness import RunningRegion, WsClient, eventually, start_region
from tests.e2e.otlp_receiver import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.timeout(300)

SPAN_KIND_CLIENT = 3
#: Every hop the contact's trace must hold: (what it is, the span that shows it).
HOPS: dict[str, Callable[[ReceivedSpan], bool]] = {
    "provider webhook": lambda s: s.service == "gateway" and s.name == "POST /v1/twilio/{endpoint}/sms",
    "identity resolves the customer": lambda s: (
        s.service == "identity" and s.name.endswith("IdentityService/ResolveCustomer")
    ),
    "routing takes the queued contact": lambda s: (
        s.service == "routing" and s.attributes.get("messaging.consumer.group.name") == "routing-acd-queued"
    ),
    "routing offers it": lambda s: (
        s.service == "routing"
        and s.name.endswith(" publish")
        and ".contact_offered." in str(s.attributes.get("messaging.destination.name"))
    ),
    "the offer pushed to the agent": lambda s: s.service == "gateway" and s.name == "workspace offer",
    "the agent's accept": lambda s: s.service == "gateway" and s.name == "workspace accept",
    "routing answers the offer": lambda s: (
        s.service == "routing" and s.name.endswith("RoutingService/AnswerOffer")
    ),
    "the agent's reply": lambda s: s.service == "gateway" and s.name == "workspace send",
    "the customer's answer, by a later webhook": lambda s: (
        s.service == "gateway" and s.name == "inbound message" and bool(s.links)
    ),
    "the reply's event": lambda s: (
        s.service == "gateway"
        and s.name.endswith(" publish")
        and ".message_sent." in str(s.attributes.get("messaging.destination.name"))
    ),
    "outbound delivery to the provider": lambda s: (
        s.service == "gateway" and s.name == "twilio send" and s.kind == SPAN_KIND_CLIENT
    ),
}


BOT = {"from": "bot"}
#: The journey's hops of a web chat contact, beside the offer and the agent's answer.
CHAT_HOPS: dict[str, Callable[[ReceivedSpan], bool]] = {
    "the customer's first message": lambda s: s.service == "gateway" and s.name == "webchat message",
    "the journey starts": lambda s: s.service == "routing" and s.name.endswith("RoutingService/StartJourney"),
    "the journey goes on with an answer": lambda s: (
        s.service == "routing" and s.name.endswith("RoutingService/ContinueJourney")
    ),
    "the journey hands off to the queue": lambda s: (
        s.service == "routing"
        and s.name.endswith(" publish")
        and ".contact_queued." in str(s.attributes.get("messaging.destination.name"))
    ),
    **{hop: HOPS[hop] for hop in ("routing offers it", "the agent's accept", "the agent's reply")},
}


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    otlp = OtlpReceiver()
    await otlp.start()
    try:
        yield otlp
    finally:
        await otlp.stop()


async def ccctl(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ccctl.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_one_trace_follows_a_contact_from_the_webhook_to_the_delivered_reply(
    tmp_path: Path, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    # The platform's own sampler (decided once where a trace starts), keeping every trace here.
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "1.0")
    async with start_region(tmp_path / "platform") as region, region.http() as http:
        alice = await region.agent(http, "alice")
        sms_contact = await _sms_answered(region, alice)
        chat_contact = await _chat_journey_answered(region, http, alice)

        trace_id = await _the_contacts_trace(region, sms_contact)
        spans = await _whole_trace(receiver, trace_id, HOPS)
        assert {s.service for s in spans} >= {"gateway", "identity", "routing"}

        # The agent's actions began in her socket's trace: they join the contact's, linked to it.
        (accept,) = [s for s in spans if HOPS["the agent's accept"](s)]
        assert accept.attributes["contactcenter.contact.id"] == sms_contact
        assert accept.links and all(linked != trace_id for linked, _ in accept.links), accept

        # A web chat contact's trace starts at its first message (the socket's trace is the
        # socket's) and holds its journey too.
        chat_trace = await _the_contacts_trace(region, chat_contact)
        assert chat_trace != trace_id
        chat_spans = await _whole_trace(receiver, chat_trace, CHAT_HOPS)
        (first,) = [s for s in chat_spans if s.name == "webchat message" and not s.parent_span_id]
        assert first.links, first

        # The linked spans are the sockets' own: they end (and are exported) when they close.
        await alice.ws.close()
        await _linked_span(receiver, accept, "GET /v1/agent/ws")
        await _linked_span(receiver, first, "GET /v1/webchat/{endpoint}/ws")

        _check_log_lines(region, trace_id)
        await _check_ccctl_trace(region, receiver, sms_contact, trace_id)


async def _sms_answered(region: RunningRegion, alice: WsClient) -> str:
    """A customer's SMS through the signed webhook, accepted and answered by alice; the reply
    reaches the provider sandbox. Returns the contact id."""
    assert region.platform.sandbox is not None, "ccctl up starts the provider sandbox"
    phone = "+447700900" + str(int.from_bytes(os.urandom(2), "big") % 1000).zfill(3)
    async with region.http() as http, SandboxClient(region.platform.sandbox.url) as sandbox:
        status, _ = await region.sms(http, phone, "My parcel has not arrived, can you check?")
        assert status == 200
        contact_id = await _accept_and_reply(alice, "sms", "It leaves the depot today.")
        (delivered,) = await sandbox.wait_for(lambda m: m["kind"] == "sms" and m["to"] == phone)
        assert delivered["text"] == "It leaves the depot today." and delivered["accepted"]
        # The customer answers: a new webhook request, the same contact, so the same trace.
        status, _ = await region.sms(http, phone, "Thank you!")
        assert status == 200
        await alice.expect("message", contactId=contact_id, text="Thank you!")
    await region.wait_event("message_status_changed", contact_id)
    await region.wait_event("message_received", contact_id, count=2)
    return contact_id


async def _chat_journey_answered(region: RunningRegion, http: aiohttp.ClientSession, alice: WsClient) -> str:
    """A web chat customer of the example journey: welcomed, answers the bot until the journey
    queues the contact (the menu, if the AI did not read the intent, then the self-service offer:
    no), and gets alice's reply on the chat socket. Returns the contact id."""
    customer = await region.chat(
        http, endpoint="acme-webchat-journey", visitor="trace-" + os.urandom(4).hex()
    )
    await customer.send(type="message", id="m1", text="Hello, I have a question about my last order please")
    for turn in range(2, 5):
        prompt = await customer.expect("message", seconds=45, **BOT)
        if prompt["text"].startswith("Key 1 for orders"):
            await customer.send(type="message", id=f"m{turn}", text="1")
        elif prompt["text"].startswith("Would you like to try our help article first?"):
            await customer.send(type="message", id=f"m{turn}", text="no")
            break
    contact_id = await _accept_and_reply(alice, "webchat", "Let me look at your order.")
    answer = await customer.expect("message", seconds=45, **{"from": "agent"})
    assert answer["text"] == "Let me look at your order." and answer["contactId"] == contact_id
    await customer.ws.close()
    return contact_id


async def _accept_and_reply(alice: WsClient, channel: str, text: str) -> str:
    offer = await alice.expect("offer", seconds=45, channel=channel)
    request = os.urandom(4).hex()
    await alice.send(type="accept", id=f"a-{request}", reservationId=offer["reservationId"])
    await alice.expect("accepted", id=f"a-{request}")
    contact_id = str(offer["contactId"])
    await alice.send(type="send", id=f"s-{request}", contactId=contact_id, text=text)
    await alice.expect("sent", id=f"s-{request}")
    return contact_id


async def _whole_trace(
    receiver: OtlpReceiver, trace_id: str, hops: dict[str, Callable[[ReceivedSpan], bool]]
) -> list[ReceivedSpan]:
    """The spans of `trace_id` once every hop is among them (they arrive in export batches)."""

    def missing(spans: list[ReceivedSpan]) -> list[str]:
        return [hop for hop, matches in hops.items() if not any(matches(s) for s in spans)]

    async def complete() -> list[ReceivedSpan] | None:
        spans = [s for s in receiver.spans if s.trace_id == trace_id]
        return spans if not missing(spans) else None

    try:
        return await eventually(complete)
    except AssertionError:
        spans = [s for s in receiver.spans if s.trace_id == trace_id]
        raise AssertionError(
            f"trace {trace_id} lacks {missing(spans)}; "
            f"it holds {sorted({(s.service, s.name) for s in spans})}"
        ) from None


async def _linked_span(receiver: OtlpReceiver, span: ReceivedSpan, name: str) -> None:
    async def linked() -> list[ReceivedSpan] | None:
        return [s for s in receiver.spans if (s.trace_id, s.span_id) in span.links] or None

    (found,) = await eventually(linked)
    assert found.service == "gateway" and found.name.startswith(name), found
    assert found.trace_id != span.trace_id


async def _the_contacts_trace(region: RunningRegion, contact_id: str) -> str:
    """The trace id `ccctl contacts show` gives; every event of the contact is in it."""
    shown = await ccctl(
        "contacts", "show", contact_id, "--tenant", "acme", "--nats-url", region.nats_url, "-o", "json"
    )
    assert shown.returncode == 0, shown.stderr
    document: dict[str, Any] = orjson.loads(shown.stdout)
    kinds = [e["kind"] for e in document["events"]]
    assert kinds[0] == "contact_created" and {"contact_offered", "message_sent"} <= set(kinds), kinds
    assert len(document["traceIds"]) == 1, document  # one trace per contact
    (trace_id,) = document["traceIds"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id) and all(e["sampled"] for e in document["events"])

    text = await ccctl("contacts", "show", contact_id, "--tenant", "acme", "--nats-url", region.nats_url)
    assert text.returncode == 0, text.stderr
    assert f"trace    {trace_id}   (sampled)" in text.stdout
    assert re.search(rf"contact_created\s+{trace_id}\s+yes", text.stdout), text.stdout
    return str(trace_id)


def _check_log_lines(region: RunningRegion, trace_id: str) -> None:
    # The gateway's access log line for the webhook names the contact's trace.
    assert f'"trace_id":"{trace_id}"' in region.log("gateway")
    # Every line a service writes says which trace it was written in ("0" outside any).
    for service in ("gateway", "identity", "routing", "integration", "ai"):
        lines = [line for line in region.log(service).splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]
        assert lines, f"{service} wrote no log line"
        unmarked = [line for line in lines if not re.search(r" \[trace_id=(0|[0-9a-f]{32}) span_id=", line)]
        assert not unmarked, f"{service} log lines without a trace id: {unmarked[:3]}"


async def _check_ccctl_trace(
    region: RunningRegion, receiver: OtlpReceiver, contact_id: str, trace_id: str
) -> None:
    base = ("contacts", "trace", contact_id, "--tenant", "acme", "--nats-url", region.nats_url)
    listed = await ccctl(*base, "--traces-url", receiver.query_url, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    (trace,) = orjson.loads(listed.stdout)["traces"]
    assert trace["traceId"] == trace_id
    names = {(s["service"], s["name"]) for s in trace["spans"]}
    assert {
        ("gateway", "POST /v1/twilio/{endpoint}/sms"),
        ("gateway", "workspace offer"),
        ("gateway", "workspace accept"),
        ("gateway", "workspace send"),
        ("gateway", "twilio send"),
    } <= names, names
    (root,) = [s for s in trace["spans"] if s["depth"] == 0 and s["name"].startswith("POST ")]
    assert root["service"] == "gateway" and root["parentSpanId"] == ""

    # The same through a URL that places the trace id, as Jaeger's query API takes it.
    text = await ccctl(*base, "--traces-url", receiver.query_url + "/api/traces/{trace_id}")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"trace {trace_id}: ")
    assert re.search(r"\n\S+\s+\S+\s+gateway\s+server\s+POST /v1/twilio/\{endpoint\}/sms\n", text.stdout)
    assert re.search(r"gateway\s+internal\s+workspace accept \(linked\)", text.stdout), text.stdout
    # Messaging spans name the event they carried and the consumer that took it.
    assert re.search(r"routing\s+producer\s+events-eu publish contact_offered\n", text.stdout), text.stdout
    assert re.search(
        r"gateway\s+consumer\s+events-eu process message_sent by gateway-outbound\n", text.stdout
    )

    # What an SRE gets wrong is named.
    unknown = await ccctl(
        "contacts", "trace", "no-such-contact", *base[3:], "--traces-url", receiver.query_url
    )
    assert unknown.returncode == 1
    assert "contact 'no-such-contact' of tenant 'acme' has no events in region 'eu'" in unknown.stderr
    widening = await ccctl("contacts", "show", "c.*", *base[3:])
    assert widening.returncode == 2 and "contact_id 'c.*' is not a valid subject token" in widening.stderr
    unreachable = await ccctl(*base, "--traces-url", "http://127.0.0.1:1")
    assert unreachable.returncode == 1 and "cannot read http://127.0.0.1:1/api/traces/" in unreachable.stderr
