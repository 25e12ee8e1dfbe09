"""A queued caller is put through to the agent who accepts, and a caller who hangs up abandons.

Real nats-server, identity, routing (journey and ACD) and gateway; Twilio is the provider sandbox
(`ccsandbox`): its caller dials the voice webhook and follows the TwiML, and its Calls API
(`Calls/{CallSid}.json`: basic auth, form `Twiml`, Twilio's JSON errors) takes the redirect. The
call's journey ends in `<Enqueue>`; routing's ACD offers the contact to an available voice agent;
the agent accepts (routing AnswerOffer), and the gateway redirects the live call to
`<Dial><Client>agent</Client></Dial>`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from _gateway_http import (
    AUTH_TOKEN,
    TWILIO,
    HttpGateway,
    apply_endpoints,
    channel_endpoint,
    http_gateway,
    stream_events,
)
from _platform import REGION, Platform, eventually
from _providers import ProviderServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.js.errors import KeyNotFoundError

from ccmesh import naming
from ccmesh.events import EventPublisher
from ccmesh.natsserver import free_port
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from gateway.adapters.outbound.twilio_rest import TwilioRest
from gateway.domain.outbound_message import CallRequest, DeliveryFailed
from gateway.domain.voice_call import CallEnded, dial_agent_twiml
from gateway.entrypoints.voice_bridge_consumer import DURABLE as VOICE_BRIDGE_DURABLE
from routing.adapters.acd_codec import contact_from_bytes

pytestmark = pytest.mark.timeout(120)

CATALOG = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata:
  name: hotline
spec:
  queues: [support]
  prompts: [welcome]
  flows: [hotline]
"""
#: Greets the caller and hands the call to the support queue.
HOTLINE_FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata:
  name: hotline
spec:
  start: welcome
  nodes:
    - id: welcome
      kind: message
      prompt: welcome
      next: to-agent
    - id: to-agent
      kind: queue
      queue: support
"""
VOICE_NUMBER = "+442071838790"
ACCOUNT = TWILIO["accountSid"]


@pytest.fixture
async def twilio_calls() -> AsyncIterator[tuple[ProviderServer, str]]:
    provider = ProviderServer(ACCOUNT, AUTH_TOKEN, "unused-graph-token", "unused-signing-secret")
    await provider.start()
    try:
        yield provider, provider.base_url
    finally:
        await provider.stop()


@pytest.fixture
async def gateway(
    platform: Platform,
    twilio_calls: tuple[ProviderServer, str],
) -> AsyncIterator[HttpGateway]:
    _, api_url = twilio_calls
    await apply_endpoints(
        platform,
        channel_endpoint(
            "hotline",
            channel="voice",
            provider="twilio",
            address=VOICE_NUMBER,
            flow="hotline",
            language="en-GB",
            prompts={"welcome": "Welcome to ACME."},
            twilio=TWILIO,
            providerApiUrl=api_url,
        ),
    )
    await platform.start("identity", "routing")
    routing: Any = platform.stub(RoutingServiceStub, role="admin")
    await routing.ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id="acme", queue=pb.QueueDefinition(name="support"))
    )
    files = [
        pb.FlowSourceFile(name="hotline/catalog.yaml", content=CATALOG),
        pb.FlowSourceFile(name="hotline/hotline.yaml", content=HOTLINE_FLOW),
    ]
    published = await routing.PublishFlow(
        pb.PublishFlowRequest(tenant_id="acme", flow="hotline", files=files)
    )
    await routing.SetFlowAlias(
        pb.SetFlowAliasRequest(tenant_id="acme", flow="hotline", alias="live", version=published.version)
    )
    async with http_gateway(platform, outbound_retry_seconds=0.2) as running:
        yield running


async def available_voice_agent(platform: Platform, agent_id: str) -> None:
    routing: Any = platform.stub(RoutingServiceStub, role="admin")
    await routing.UpsertAgent(
        pb.UpsertAgentRequest(
            tenant_id="acme",
            agent=pb.AgentDefinition(
                agent_id=agent_id,
                languages=["en-GB"],
                capacity=[pb.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_VOICE, capacity=1)],
            ),
        )
    )
    await routing.SetAgentState(
        pb.SetAgentStateRequest(tenant_id="acme", agent_id=agent_id, state=pb.AGENT_STATE_AVAILABLE)
    )


async def incoming_call(
    gateway: HttpGateway, provider: ProviderServer, caller: str, *, status_callback: bool = True
) -> tuple[str, list[tuple[str, str]]]:
    """A customer calls (the sandbox's caller); the CallSid and what they heard until queued."""
    call = provider.sandbox.caller.dial_in(
        url=gateway.url("/v1/twilio/hotline/voice"),
        account_sid=ACCOUNT,
        auth_token=AUTH_TOKEN,
        caller=caller,
        number=VOICE_NUMBER,
        status_callback=gateway.url("/v1/twilio/hotline/voice/status") if status_callback else "",
    )

    async def queued() -> bool:
        return call.queue == "support"

    await eventually(queued)
    return call.sid, [(h["verb"], h["text"]) for h in call.heard]


async def contact_of_call(platform: Platform, call_sid: str) -> str:
    for event in await stream_events(platform):
        payload = event.WhichOneof("payload")
        if payload == "message_received" and event.message_received.provider_message_id == f"{call_sid}:call":
            return str(event.contact_id)
    raise AssertionError(f"no message of call {call_sid}")


async def events_of(platform: Platform, contact_id: str, payload: str) -> list[events_pb2.Event]:
    return [
        e
        for e in await stream_events(platform)
        if e.contact_id == contact_id and e.WhichOneof("payload") == payload
    ]


async def status_callback(
    gateway: HttpGateway, call_sid: str, status: str, *, signature: str | None = "valid"
) -> int:
    params = {"CallSid": call_sid, "CallStatus": status, "AccountSid": ACCOUNT, "CallDuration": "12"}
    async with await gateway.twilio(
        "/v1/twilio/hotline/voice/status", params, signature=signature
    ) as response:
        return response.status


async def test_an_accepted_call_is_redirected_to_the_agent_once_even_when_twilio_was_down(
    platform: Platform,
    gateway: HttpGateway,
    twilio_calls: tuple[ProviderServer, str],
) -> None:
    provider, _ = twilio_calls
    provider.script("call_update", (503, {}), (503, {}))  # Twilio is down twice, then up
    call_sid, heard = await incoming_call(gateway, provider, "+447700900801")
    assert heard[:2] == [("Say", "Welcome to ACME."), ("Enqueue", "support")]
    contact_id = await contact_of_call(platform, call_sid)

    js = platform.nc.jetstream()
    offers = await js.subscribe(f"ccevt.eu.acme.contact_offered.{contact_id}", ordered_consumer=True)
    await available_voice_agent(platform, "alice")
    offer = events_pb2.Event.FromString((await offers.next_msg(timeout=15)).data).contact_offered
    assert offer.agent_id == "alice"
    routing: Any = platform.stub(RoutingServiceStub, role="admin")
    await routing.AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id="acme",
            agent_id="alice",
            reservation_id=offer.reservation_id,
            answer=pb.OFFER_ANSWER_ACCEPT,
        )
    )

    async def bridged() -> list[events_pb2.Event]:
        changes = await events_of(platform, contact_id, "message_status_changed")
        return [e for e in changes if e.message_status_changed.status == "sent"]

    (sent,) = await eventually(bridged, seconds=30)
    status = sent.message_status_changed
    assert (status.message_id, status.provider, status.attempts) == (
        f"bridge:{offer.reservation_id}",
        "twilio",
        3,
    )
    assert status.provider_message_id == call_sid
    redirects = provider.requests("call_update")
    assert [r.status for r in redirects] == [503, 503, 200]
    assert {(r.sid, r.authorized) for r in redirects} == {(call_sid, True)}
    dial = ET.fromstring(redirects[-1].form["Twiml"])
    assert dial.tag == "Response"
    assert [(child.tag, [(c.tag, c.text) for c in child]) for child in dial] == [
        ("Dial", [("Client", "alice")])
    ]
    # Nothing failed, and nothing more was sent once it succeeded.
    assert not [
        e
        for e in await events_of(platform, contact_id, "message_status_changed")
        if e.message_status_changed.status == "failed"
    ]
    assert len(provider.requests("call_update")) == 3
    assert provider.sandbox.caller.get(call_sid).connected_to == "client:alice"  # type: ignore[union-attr]

    # A redelivery of the same accept (a lost ack; here a copy under another event id) redirects
    # nothing more: the outcome is kept per reservation.
    (accepted,) = await events_of(platform, contact_id, "contact_accepted")
    replay = events_pb2.Event()
    replay.CopyFrom(accepted)
    replay.event_id = f"{accepted.event_id}-replayed"
    published = await EventPublisher(js, REGION).publish(replay)

    async def consumed() -> bool:
        info = await js.consumer_info(naming.events_stream(REGION).name, VOICE_BRIDGE_DURABLE)
        return info.ack_floor.stream_seq >= published.sequence and info.num_ack_pending == 0

    await eventually(consumed)
    assert len(provider.requests("call_update")) == 3

    # The agent's call ends normally later: recorded, and not an abandoned contact.
    assert await status_callback(gateway, call_sid, "completed") == 200
    assert await events_of(platform, contact_id, "contact_closed") == []


async def test_a_call_back_answered_after_its_contact_closed_is_a_new_call_and_queued(
    platform: Platform, gateway: HttpGateway, twilio_calls: tuple[ProviderServer, str]
) -> None:
    provider, _ = twilio_calls
    # The answer URL of a call back placed for alice, for a contact that is no longer open.
    call = provider.sandbox.caller.dial_in(
        url=gateway.url("/v1/twilio/hotline/voice?contact=0c105ed0-0000-4000-8000-00000000dead&agent=alice"),
        account_sid=ACCOUNT,
        auth_token=AUTH_TOKEN,
        caller="+447700900809",
        number=VOICE_NUMBER,
    )

    async def queued() -> bool:
        return call.queue == "support"

    await eventually(queued)
    assert call.connected_to == "", call.connected_to
    assert [h["verb"] for h in call.heard][:2] == ["Say", "Enqueue"]
    assert await contact_of_call(platform, call.sid) != "0c105ed0-0000-4000-8000-00000000dead"


async def test_a_call_that_ended_before_the_redirect_is_reported_and_not_retried(
    platform: Platform,
    gateway: HttpGateway,
    twilio_calls: tuple[ProviderServer, str],
) -> None:
    provider, _ = twilio_calls
    # The caller hangs up and Twilio's status callback has not arrived yet: the redirect gets
    # Twilio's 21220 "Call is not in-progress. Cannot redirect."
    call_sid, _ = await incoming_call(gateway, provider, "+447700900802", status_callback=False)
    contact_id = await contact_of_call(platform, call_sid)
    js = platform.nc.jetstream()
    offers = await js.subscribe(f"ccevt.eu.acme.contact_offered.{contact_id}", ordered_consumer=True)
    await available_voice_agent(platform, "bob")
    offer = events_pb2.Event.FromString((await offers.next_msg(timeout=15)).data).contact_offered
    await provider.sandbox.caller.hang_up(call_sid)
    routing: Any = platform.stub(RoutingServiceStub, role="admin")
    await routing.AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id="acme",
            agent_id="bob",
            reservation_id=offer.reservation_id,
            answer=pb.OFFER_ANSWER_ACCEPT,
        )
    )

    async def failed() -> list[events_pb2.Event]:
        changes = await events_of(platform, contact_id, "message_status_changed")
        return [e for e in changes if e.message_status_changed.status == "failed"]

    (report,) = await eventually(failed, seconds=30)
    assert report.message_status_changed.attempts == 1
    assert "call already ended" in report.message_status_changed.reason
    assert "21220" in report.message_status_changed.reason
    assert AUTH_TOKEN not in report.message_status_changed.reason
    assert len(provider.requests("call_update")) == 1


async def test_a_caller_who_hangs_up_while_queued_abandons_the_contact_and_bad_signatures_change_nothing(
    platform: Platform,
    gateway: HttpGateway,
    twilio_calls: tuple[ProviderServer, str],
) -> None:
    provider, _ = twilio_calls
    caller = "+447700900803"
    call_sid, _ = await incoming_call(gateway, provider, caller)
    contact_id = await contact_of_call(platform, call_sid)
    # The call waits in routing's queue (nobody is available yet) before the caller hangs up.
    await eventually(lambda: acd_status_is(platform, contact_id, "waiting"))

    # Forged or unsigned status callbacks: 401, and the caller still waits.
    stored = await platform.event_count()
    assert await status_callback(gateway, call_sid, "completed", signature=None) == 401
    assert await status_callback(gateway, call_sid, "completed", signature="bm90IGEgc2lnbmF0dXJl") == 401
    assert await platform.event_count() == stored
    # Unknown statuses are refused with a reason naming the field.
    async with await gateway.twilio(
        "/v1/twilio/hotline/voice/status", {"CallSid": call_sid, "CallStatus": "exploded"}
    ) as response:
        assert response.status == 400
        assert "CallStatus" in await response.text()
    assert await platform.event_count() == stored

    # Progress reports change nothing; the caller's hang-up abandons the queued contact, once.
    assert await status_callback(gateway, call_sid, "in-progress") == 200
    await provider.sandbox.caller.hang_up(call_sid)  # Twilio posts `completed` to the status URL
    assert await status_callback(gateway, call_sid, "completed") == 200  # Twilio's retry
    closed = await eventually(lambda: events_of(platform, contact_id, "contact_closed"))
    assert [(e.contact_closed.outcome, e.contact_closed.closed_by) for e in closed] == [
        ("abandoned", "customer")
    ]

    # Routing takes the abandoned contact out of its queue: an agent who becomes available is
    # offered the customer's next call, never the abandoned one (older, so it would come first).
    await eventually(lambda: acd_status_is(platform, contact_id, "closed"))
    await available_voice_agent(platform, "carol")
    next_sid, _ = await incoming_call(gateway, provider, caller)
    next_contact = await contact_of_call(platform, next_sid)
    assert next_contact != contact_id
    offered = await eventually(lambda: events_of(platform, next_contact, "contact_offered"))
    assert offered[0].contact_offered.agent_id == "carol"
    assert await events_of(platform, contact_id, "contact_offered") == []
    assert await acd_status_is(platform, contact_id, "closed")
    # The abandoned one is never redirected.
    assert [r for r in provider.requests("call_update") if r.sid == call_sid] == []


async def acd_status_is(platform: Platform, contact_id: str, status: str) -> bool:
    """Whether routing's ACD record of the contact has `status` (read from its KV bucket)."""
    kv = await platform.nc.jetstream().key_value(naming.acd_bucket(REGION))
    try:
        entry = await kv.get(f"contact.acme.{contact_id}")
    except KeyNotFoundError:
        return False
    return entry.value is not None and contact_from_bytes(entry.value).status.value == status


async def test_a_transferred_caller_goes_back_on_hold_and_is_put_through_to_the_next_agent(
    platform: Platform,
    gateway: HttpGateway,
    twilio_calls: tuple[ProviderServer, str],
) -> None:
    provider, _ = twilio_calls
    routing: Any = platform.stub(RoutingServiceStub, role="admin")
    await routing.ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id="acme", queue=pb.QueueDefinition(name="billing"))
    )
    call_sid, _ = await incoming_call(gateway, provider, "+447700900804")
    contact_id = await contact_of_call(platform, call_sid)
    js = platform.nc.jetstream()
    offers = await js.subscribe(f"ccevt.eu.acme.contact_offered.{contact_id}", ordered_consumer=True)
    await available_voice_agent(platform, "dave")
    first = events_pb2.Event.FromString((await offers.next_msg(timeout=15)).data).contact_offered
    await routing.AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id="acme",
            agent_id="dave",
            reservation_id=first.reservation_id,
            answer=pb.OFFER_ANSWER_ACCEPT,
        )
    )
    live = provider.sandbox.caller.get(call_sid)
    assert live is not None

    async def connected_to(target: str) -> bool:
        return live.connected_to == target and live.queue == ""

    await eventually(lambda: connected_to("client:dave"), seconds=30)

    # Dave transfers the caller to billing (where erin works): the caller hears why and waits
    # there, on hold again.
    await available_voice_agent(platform, "erin")
    await routing.TransferContact(
        pb.TransferContactRequest(
            tenant_id="acme", contact_id=contact_id, agent_id="dave", queue="billing", reason="invoice"
        )
    )

    async def on_hold_in_billing() -> bool:
        texts = [h["text"] for h in live.heard]
        moving = "Please hold while we transfer your call."
        hold = "Please hold, an agent will be with you shortly."  # the wait URL's hold message
        return live.queue == "billing" and moving in texts and hold in texts[texts.index(moving) :]

    await eventually(on_hold_in_billing, seconds=30)

    # The next agent accepts: the caller is put through to them.
    second = events_pb2.Event.FromString((await offers.next_msg(timeout=15)).data).contact_offered
    assert second.agent_id == "erin"
    await routing.AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id="acme",
            agent_id="erin",
            reservation_id=second.reservation_id,
            answer=pb.OFFER_ANSWER_ACCEPT,
        )
    )
    await eventually(lambda: connected_to("client:erin"), seconds=30)
    assert [r.status for r in provider.requests("call_update")] == [200, 200, 200]
    # A hang-up now ends an answered call: no abandoned contact.
    await provider.sandbox.caller.hang_up(call_sid)
    assert [
        e
        for e in await events_of(platform, contact_id, "contact_closed")
        if e.contact_closed.outcome == "abandoned"
    ] == []


async def test_status_callbacks_of_unknown_calls_and_endpoints(
    platform: Platform,
    gateway: HttpGateway,
) -> None:
    stored = await platform.event_count()
    assert await status_callback(gateway, "CA" + "9" * 32, "completed") == 200
    async with await gateway.twilio(
        "/v1/twilio/nowhere/voice/status", {"CallSid": "CA1", "CallStatus": "completed"}
    ) as response:
        assert response.status == 404
        assert "nowhere" in await response.text()
    assert await platform.event_count() == stored


async def test_the_twilio_calls_adapter_against_a_local_twilio(
    twilio_calls: tuple[ProviderServer, str],
) -> None:
    provider, api_url = twilio_calls

    def hotline(api: str, token: str = AUTH_TOKEN) -> Any:
        credentials = {"accountSid": ACCOUNT, "authToken": token}
        return channel_endpoint(
            "hotline",
            channel="voice",
            provider="twilio",
            address=VOICE_NUMBER,
            queue="support",
            twilio=credentials,
            providerApiUrl=api,
        )

    endpoint = hotline(api_url)
    async with aiohttp.ClientSession() as session:
        twilio = TwilioRest(session)
        # Call backs ask Twilio to report the call's end to the status route.
        status_url = "https://cc.example.com/v1/twilio/hotline/voice/status"
        await twilio.place_call(
            endpoint, CallRequest("r1", "acme", "c1", "+447700900804", "https://cc.example.com/a", status_url)
        )
        (placed,) = provider.requests("calls")
        assert (placed.form["StatusCallback"], placed.form["StatusCallbackMethod"]) == (
            status_url,
            "POST",
        )
        # Not a CallSid: refused before any request, permanently.
        with pytest.raises(DeliveryFailed) as refused:
            await twilio.update_call(endpoint, "CA1/../Messages", dial_agent_twiml("alice"))
        assert not refused.value.transient and provider.requests("call_update") == []
        # A revoked token is permanent but not an ended call; the reason names no secret.
        revoked = hotline(api_url, token="revoked-token-0123456789")
        with pytest.raises(DeliveryFailed) as unauthorized:
            await twilio.update_call(revoked, "CA" + "5" * 32, dial_agent_twiml("alice"))
        assert not unauthorized.value.transient and not isinstance(unauthorized.value, CallEnded)
        assert "20003" in unauthorized.value.reason and "revoked" not in unauthorized.value.reason
        # Twilio's 404 for a call it does not know: the call has ended.
        with pytest.raises(CallEnded):
            await twilio.update_call(endpoint, "CA" + "6" * 32, dial_agent_twiml("alice"))
        # Nobody listening: worth a retry.
        gone = hotline(f"http://127.0.0.1:{free_port()}")
        with pytest.raises(DeliveryFailed) as refused_connection:
            await twilio.update_call(gone, "CA" + "6" * 32, dial_agent_twiml("alice"))
        assert refused_connection.value.transient


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    form=st.dictionaries(
        st.sampled_from(["CallSid", "CallStatus", "AccountSid", "CallDuration", "From", "X"]),
        st.sampled_from(["completed", "ringing", "CA" + "8" * 32, ""]) | st.text(max_size=80),
        max_size=5,
    )
)
async def test_signed_random_status_callbacks_get_a_clear_answer_and_never_a_5xx(
    gateway: HttpGateway, form: dict[str, str]
) -> None:
    async with await gateway.twilio("/v1/twilio/hotline/voice/status", form) as response:
        assert response.status in (200, 400), await response.text()
        if response.status == 400:
            message = (await response.json())["error"]["message"]
            assert message.startswith(("CallSid", "CallStatus")), message
