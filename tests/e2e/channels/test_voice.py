"""Voice end to end, as a caller and an agent meet it: the platform started as `ccctl up` does,
the provider sandbox's caller on the phone (it follows the TwiML the gateway answers: greeting,
`<Enqueue>` with its wait URL, hold messages, and the Calls API redirect when an agent accepts),
agents on the workspace socket.

- a whole call: greeting, queue (place and hold message), agent accepts, caller put through to
  the agent's client, caller hangs up, agent wraps up;
- a journey's call: greeting, a keypad menu (`<Gather>`, the caller keys 1), queue, agent;
- a caller who hangs up while queued abandons the contact: it is closed, never offered;
- an agent declines: the caller stays queued and the next agent gets the call;
- the provider fails the redirect (5xx) and then works: the caller is put through all the same;
- a call's live transcript, insights, summary and ticket on the agent's page in real Chromium
  (`voice_transcript_page.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.voice.synthesis import espeak_available
from ccmesh.configplane.store import ConfigStore
from ccsandbox.client import SandboxClient
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from tests.e2e.cdp_browser import find_chromium
from tests.e2e.channels.voice_transcript_page import walk_a_call_with_its_live_transcript
from tests.e2e.harness import RunningRegion, WsClient, eventually

pytestmark = pytest.mark.timeout(300)

ENDPOINT = "acme-uk-voice"
GREETING = "Thank you for calling ACME. Please hold while we connect you to an agent."
HOLD = "Thank you for waiting. An agent will be with you shortly."


async def dial_in(
    region: RunningRegion,
    sandbox: SandboxClient,
    caller: str,
    endpoint: str = ENDPOINT,
    answers: tuple[str, ...] = (),
) -> str:
    """A customer calls the example voice number; the sandbox plays Twilio. The call's sid."""
    spec = region.endpoints[ENDPOINT].spec
    assert spec.twilio is not None
    webhook = f"{region.http_base}/v1/twilio/{endpoint}/voice"
    call = await sandbox.dial_in(
        url=webhook,
        account_sid=spec.twilio.account_sid,
        auth_token=spec.twilio.auth_token,
        caller=caller,
        number=spec.address,
        status_callback=f"{webhook}/status",
        answers=answers,
    )
    return str(call["sid"])


def said(call: dict[str, Any]) -> list[str]:
    return [h["text"] for h in call["heard"] if h["verb"] in ("Say", "Play")]


async def on_hold(sandbox: SandboxClient, sid: str) -> dict[str, Any]:
    """The call once the caller waits in the support queue and heard their place in it."""
    return await sandbox.wait_call(sid, lambda c: c["queue"] == "support" and HOLD in said(c), seconds=30)


async def contact_of(region: RunningRegion, sid: str) -> str:
    async def found() -> str | None:
        for event in await region.events():
            if (
                event.WhichOneof("payload") == "message_received"
                and event.message_received.provider_message_id == f"{sid}:call"
            ):
                return str(event.contact_id)
        return None

    return await eventually(found)


async def wrap_up(agent: WsClient, contact_id: str, request_id: str) -> None:
    await agent.send(type="wrap_up", id=request_id, contactId=contact_id, disposition="resolved")
    await agent.expect("wrapped_up", seconds=30, id=request_id)


async def test_a_call_is_greeted_queued_put_through_to_the_agent_and_hung_up(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    async with e2e_region.http() as http:
        sid = await dial_in(e2e_region, sandbox, "+447700900701")
        queued = await on_hold(sandbox, sid)
        heard = said(queued)
        assert heard[0] == GREETING
        assert "You are number 1 in the queue." in heard
        contact_id = await contact_of(e2e_region, sid)

        alice = await e2e_region.agent(http, "alice")
        offer = await alice.expect("offer", seconds=30, contactId=contact_id)
        assert (offer["channel"], offer["queue"]) == ("voice", "support")
        await alice.send(type="accept", id="a1", reservationId=offer["reservationId"])
        await alice.expect("accepted", id="a1")

        # The gateway redirected the live call through the Calls API to the agent's client.
        connected = await sandbox.wait_call(sid, lambda c: c["connected_to"] == "client:alice", seconds=30)
        assert connected["status"] == "in-progress" and connected["queue"] == ""
        redirects = [m for m in await sandbox.messages() if m["kind"] == "call_update" and m["sid"] == sid]
        assert [r["accepted"] for r in redirects] == [True]
        assert "<Client>alice</Client>" in redirects[0]["fields"]["Twiml"]
        (bridged,) = [
            e
            for e in await e2e_region.wait_event("message_status_changed", contact_id)
            if e.message_status_changed.message_id.startswith("bridge:")
        ]
        assert (
            bridged.message_status_changed.status,
            bridged.message_status_changed.provider_message_id,
        ) == (
            "sent",
            sid,
        )

        # The caller hangs up after talking to alice: an answered call, not an abandoned contact.
        await sandbox.hang_up(sid)
        await sandbox.wait_call(sid, lambda c: c["status"] == "completed")
        await wrap_up(alice, contact_id, "w1")
        closed = await e2e_region.wait_event("contact_closed", contact_id)
        assert "abandoned" not in [e.contact_closed.outcome for e in closed]
        await alice.ws.close()


async def test_a_caller_who_hangs_up_while_queued_abandons_and_is_never_offered(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    async with e2e_region.http() as http:
        sid = await dial_in(e2e_region, sandbox, "+447700900702")
        await on_hold(sandbox, sid)
        contact_id = await contact_of(e2e_region, sid)
        await sandbox.hang_up(sid)

        closed = await e2e_region.wait_event("contact_closed", contact_id)
        assert [(e.contact_closed.outcome, e.contact_closed.closed_by) for e in closed] == [
            ("abandoned", "customer")
        ]
        # An agent who comes along later is offered the next caller, never the one who left.
        bob = await e2e_region.agent(http, "bob")
        next_sid = await dial_in(e2e_region, sandbox, "+447700900703")
        next_contact = await contact_of(e2e_region, next_sid)
        offer = await bob.expect("offer", seconds=30, channel="voice")
        assert offer["contactId"] == next_contact
        # Nothing was offered after the caller left (an agent still logged in from an earlier
        # call may have been offered it while it rang: that offer was withdrawn).
        kinds = [e.WhichOneof("payload") for e in await e2e_region.contact_events(contact_id)]
        assert "contact_offered" not in kinds[kinds.index("contact_closed") :]
        await bob.send(type="decline", id="d1", reservationId=offer["reservationId"])
        await bob.expect("declined", id="d1")
        await bob.send(type="set_state", id="b1", state="break")
        await bob.expect("state", id="b1")
        await sandbox.hang_up(next_sid)
        await e2e_region.wait_event("contact_closed", next_contact)
        await bob.ws.close()


async def test_an_agent_declines_the_caller_stays_queued_and_the_next_agent_gets_the_call(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        bob = await e2e_region.agent(http, "bob", available=False)
        sid = await dial_in(e2e_region, sandbox, "+447700900704")
        contact_id = await contact_of(e2e_region, sid)
        offer = await alice.expect("offer", seconds=30, contactId=contact_id)
        await alice.send(type="decline", id="d1", reservationId=offer["reservationId"])
        await alice.expect("declined", id="d1")
        await alice.send(type="set_state", id="s1", state="break")
        await alice.expect("state", id="s1")

        # Still on hold: declining never touches the caller's line.
        waiting = await on_hold(sandbox, sid)
        assert waiting["status"] == "in-progress" and waiting["connected_to"] == ""

        await bob.send(type="set_state", id="s2", state="available")
        await bob.expect("state", id="s2")
        second = await bob.expect("offer", seconds=30, contactId=contact_id)
        await bob.send(type="accept", id="a2", reservationId=second["reservationId"])
        await bob.expect("accepted", id="a2")
        await sandbox.wait_call(sid, lambda c: c["connected_to"] == "client:bob", seconds=30)
        await sandbox.hang_up(sid)
        await wrap_up(bob, contact_id, "w2")
        await alice.ws.close()
        await bob.ws.close()


async def test_a_provider_that_fails_the_redirect_twice_still_puts_the_caller_through(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    async with e2e_region.http() as http:
        sid = await dial_in(e2e_region, sandbox, "+447700900705")
        await on_hold(sandbox, sid)
        contact_id = await contact_of(e2e_region, sid)
        await sandbox.fail("call_update", {"status": 503}, {"status": 500})
        alice = await e2e_region.agent(http, "alice")
        offer = await alice.expect("offer", seconds=30, contactId=contact_id)
        await alice.send(type="accept", id="a3", reservationId=offer["reservationId"])
        await alice.expect("accepted", id="a3")
        await sandbox.wait_call(sid, lambda c: c["connected_to"] == "client:alice", seconds=60)
        redirects = [m for m in await sandbox.messages() if m["kind"] == "call_update" and m["sid"] == sid]
        assert [r["status"] for r in redirects] == [503, 500, 200]
        # One log line per failed attempt, no traceback.
        log = e2e_region.log("gateway")
        assert log.count(f"bridge:{offer['reservationId']}: attempt") == 2, log[-3000:]
        assert "Traceback" not in log
        await sandbox.hang_up(sid)
        await wrap_up(alice, contact_id, "w3")
        await alice.ws.close()


HOTLINE = "acme-uk-hotline"
HOTLINE_CATALOG = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata:
  name: e2e-hotline
spec:
  queues: [support]
  prompts: [welcome, main-menu]
  flows: [e2e-hotline]
"""
HOTLINE_FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata:
  name: e2e-hotline
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
      timeoutSeconds: 5
      next: to-agent
      onFailure: to-agent
    - id: to-agent
      kind: queue
      queue: support
"""


async def hotline(region: RunningRegion) -> None:
    """A voice endpoint whose calls run a journey: a greeting, a keypad menu, then the queue."""
    async with region.connect() as nc:
        routing = region.stub(nc, RoutingServiceStub, region.token("admin"))
        files = [
            routing_pb2.FlowSourceFile(name="e2e-hotline/catalog.yaml", content=HOTLINE_CATALOG),
            routing_pb2.FlowSourceFile(name="e2e-hotline/e2e-hotline.yaml", content=HOTLINE_FLOW),
        ]
        published = await routing.PublishFlow(
            routing_pb2.PublishFlowRequest(tenant_id="acme", flow="e2e-hotline", files=files)
        )
        await routing.SetFlowAlias(
            routing_pb2.SetFlowAliasRequest(
                tenant_id="acme", flow="e2e-hotline", alias="live", version=published.version
            )
        )
        example = region.endpoints[ENDPOINT]
        spec = example.spec.model_copy(
            update={
                "flow": "e2e-hotline",
                "queue": "",
                "address": "+442071838759",
                "prompts": {
                    "welcome": "Welcome to the ACME hotline.",
                    "main-menu": "Press 1 for orders.",
                    "hold": HOLD,
                },
                "provider_api_url": region.platform.sandbox.url if region.platform.sandbox else "",
            }
        )
        endpoint = example.model_copy(
            update={"metadata": example.metadata.model_copy(update={"name": HOTLINE}), "spec": spec}
        )
        await (await ConfigStore.open(nc.jetstream())).apply(endpoint)
    region.endpoints[HOTLINE] = endpoint

    async def known() -> bool | None:
        # The gateway knows the endpoint once its webhooks stop answering 404.
        async with region.http() as http:
            status, _ = await region.twilio(
                http, HOTLINE, "voice/status", {"CallSid": "CA0", "CallStatus": "ringing"}
            )
        return True if status == 200 else None

    await eventually(known)


async def test_a_journeys_call_greets_takes_the_menu_choice_queues_and_reaches_an_agent(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    await hotline(e2e_region)
    async with e2e_region.http() as http:
        sid = await dial_in(e2e_region, sandbox, "+447700900706", endpoint=HOTLINE, answers=("1",))
        queued = await on_hold(sandbox, sid)
        steps = [(h["verb"], h["text"]) for h in queued["heard"]]
        assert steps[:5] == [
            ("Say", "Welcome to the ACME hotline."),
            ("Say", "Press 1 for orders."),
            ("Gather", ""),
            ("Answered", "1"),
            ("Enqueue", "support"),
        ]
        contact_id = await contact_of(e2e_region, sid)
        received = await e2e_region.wait_event("message_received", contact_id, count=2)
        assert [e.message_received.text for e in received] == ["", "1"]

        alice = await e2e_region.agent(http, "alice")
        offer = await alice.expect("offer", seconds=30, contactId=contact_id)
        await alice.send(type="accept", id="a5", reservationId=offer["reservationId"])
        await alice.expect("accepted", id="a5")
        await sandbox.wait_call(sid, lambda c: c["connected_to"] == "client:alice", seconds=30)
        await sandbox.hang_up(sid)
        await wrap_up(alice, contact_id, "w5")
        await alice.ws.close()


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (run `make espeak`)")
async def test_a_call_shows_its_live_transcript_insights_summary_and_ticket_to_the_agent(
    e2e_region: RunningRegion, sandbox: SandboxClient, tmp_path: Path
) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on this machine: `make browser` (tools/install_chromium.sh) installs it")
    await walk_a_call_with_its_live_transcript(e2e_region, sandbox, chromium, tmp_path, dial_in)
