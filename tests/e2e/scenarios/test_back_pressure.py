"""Back-pressure at the edge, as an admin sets it and customers meet it.

The admin gives globex's `surge-desk` queue a ceiling of 3 waiting contacts (the ContactCenter's
`tenants[].backPressure`, `ccctl apply -f`) and numbers that hand new contacts to that queue: SMS,
web chat and voice. Nobody staffs the queue. Three customers get in and wait; then a burst of
new customers texts at once: every webhook is answered 200 (zero 5xx), each of them gets the
deflection answer (expected wait, self-service link) by SMS at the provider sandbox, each is
recorded (ContactCreated, MessageReceived, ContactDeflected, ContactClosed) and none joins the
queue, which still holds its three. A chat customer reads the answer on the chat socket; a caller
hears it and the call ends. Once an agent takes a waiting customer, the next new one is queued.

SMS answers offer a call back: acme's support queue takes no new contact at all (a ceiling of 0);
a customer is deflected, replies CALL ME, is told they keep their place, and when the agent takes
the request the call is placed to their number and put through to her.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
import yaml

from ccctl.main import main as ccctl
from ccmesh.configplane.channels import ChannelEndpoint
from ccmesh.configplane.loader import load_file
from ccsandbox.client import SandboxClient
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from gateway.domain.back_pressure import CALLBACK_OFFER
from gateway.service_layer.back_pressure import REFRESH_SECONDS
from routing.domain.callbacks import REQUEST_TEXT
from tests.e2e.harness import EXAMPLES, RunningRegion, eventually

pytestmark = pytest.mark.timeout(300)

TENANT = "globex"
QUEUE = "surge-desk"
CEILING = 3
HELP = "https://help.globex.example"
SMS, CHAT, VOICE = "globex-surge-sms", "globex-surge-chat", "globex-surge-voice"


def _endpoint(template: dict[str, Any], name: str, **spec: Any) -> dict[str, Any]:
    document = {**template, "metadata": {"name": name}, "spec": {**template["spec"], **spec}}
    document["spec"].update(tenant=TENANT, brand="globex", queue=QUEUE)
    document["spec"].pop("prompts", None)
    return document


@pytest.fixture(scope="module")
def guarded(e2e_region: RunningRegion, tmp_path_factory: pytest.TempPathFactory) -> RunningRegion:
    """Globex's surge desk with its ceiling and three entry points, applied as an admin does."""
    region = yaml.safe_load((EXAMPLES / "eu.yaml").read_text())
    globex = next(t for t in region["spec"]["tenants"] if t["id"] == TENANT)
    globex["backPressure"] = {
        "queues": [{"queue": QUEUE, "maxWaiting": CEILING}],
        "deflection": {"selfServiceUrl": HELP},
    }
    # Acme's support queue takes no new contact: only call backs get in.
    acme = next(t for t in region["spec"]["tenants"] if t["id"] == "acme")
    acme["backPressure"] = {"queues": [{"queue": "support", "maxWaiting": 0}]}
    examples = {
        d["metadata"]["name"]: d for d in yaml.safe_load_all((EXAMPLES / "channels/eu.yaml").read_text())
    }
    assert e2e_region.platform.sandbox is not None
    sandbox_url = e2e_region.platform.sandbox.url
    endpoints = [
        _endpoint(examples["acme-uk-sms"], SMS, address="+442071838771", providerApiUrl=sandbox_url),
        _endpoint(examples["acme-webchat"], CHAT, address="globex-surge"),
        _endpoint(examples["acme-uk-voice"], VOICE, address="+442071838772", providerApiUrl=sandbox_url),
    ]
    path = tmp_path_factory.mktemp("admin") / "surge-desk.yaml"
    # The ContactCenter first: an entry point the gateway knows comes with its ceilings.
    path.write_text(yaml.safe_dump_all([region, *endpoints], sort_keys=False))
    assert ccctl(["apply", "-f", str(path), "--nats-url", e2e_region.nats_url]) == 0
    for applied in load_file(path):
        if isinstance(applied.document, ChannelEndpoint):
            e2e_region.endpoints[applied.document.metadata.name] = applied.document

    async def configure() -> None:
        async with e2e_region.connect() as nc:
            routing = e2e_region.stub(
                nc, routing_pb2_grpc.RoutingServiceStub, e2e_region.token("admin", tenant=TENANT)
            )
            await routing.ConfigureQueue(
                routing_pb2.ConfigureQueueRequest(
                    tenant_id=TENANT,
                    queue=routing_pb2.QueueDefinition(name=QUEUE, brand="globex", language="any"),
                )
            )

    asyncio.run(configure())
    return e2e_region


def _phone() -> str:
    return "+4477009" + str(int.from_bytes(os.urandom(3), "big") % 100000).zfill(5)


async def _depth(region: RunningRegion) -> routing_pb2.QueueDepth:
    async with region.connect() as nc:
        routing = region.stub(
            nc, routing_pb2_grpc.RoutingServiceStub, region.token("supervisor", tenant=TENANT)
        )
        reply = await routing.GetQueueDepths(routing_pb2.GetQueueDepthsRequest(tenant_id=TENANT))
    return next(q for q in reply.queues if q.queue == QUEUE)


def _of(events: list[events_pb2.Event], kind: str, contact_id: str = "") -> list[events_pb2.Event]:
    return [e for e in events if e.WhichOneof("payload") == kind and contact_id in ("", e.contact_id)]


async def _fill_the_queue(region: RunningRegion) -> None:
    """Three customers wait in the surge desk, as routing counts them (once: the module shares it)."""
    if (await _depth(region)).waiting >= CEILING:
        return
    async with region.http() as http:

        async def known() -> bool | None:
            # The gateway follows `ccctl apply` live: 404 until it knows the new number.
            status, body = await region.sms(http, _phone(), "first in line", endpoint=SMS)
            assert status in (200, 404), body
            return True if status == 200 else None

        await eventually(known)
        for _ in range(CEILING - 1):
            status, body = await region.sms(http, _phone(), "waiting too", endpoint=SMS)
            assert status == 200, body

    async def full() -> bool | None:
        return True if (await _depth(region)).waiting == CEILING else None

    await eventually(full)
    # The gateway judges by routing's report of at most REFRESH_SECONDS ago plus what it admitted
    # since; past that interval its next report counts all three.
    await asyncio.sleep(REFRESH_SECONDS + 0.2)


async def test_a_burst_beyond_the_ceiling_is_answered_at_once_by_sms_and_nothing_is_lost(
    guarded: RunningRegion, sandbox: SandboxClient
) -> None:
    region = guarded
    await _fill_the_queue(region)
    burst = [_phone() for _ in range(25)]
    async with region.http() as http:
        answers = await asyncio.gather(
            *(region.sms(http, phone, f"help {phone}", endpoint=SMS) for phone in burst)
        )
    assert [status for status, _ in answers] == [200] * len(burst), answers

    for phone in burst:
        # One answer each: the deflection, sent once.
        (sent,) = await sandbox.wait_for(lambda m, phone=phone: m["to"] == phone, seconds=30)
        assert "all our agents are busy" in sent["text"].lower() and HELP in sent["text"], sent

    def contacts_of(stored: list[events_pb2.Event]) -> dict[str, str]:
        """The burst's contacts (id -> phone) as ContactCreated recorded them."""
        return {
            e.contact_id: getattr(e.contact_created, "from").value
            for e in _of(stored, "contact_created")
            if getattr(e.contact_created, "from").value in burst
        }

    async def recorded() -> list[events_pb2.Event] | None:
        stored = await region.events()
        deflected = {e.contact_id for e in _of(stored, "contact_deflected")}
        return stored if len(deflected & set(contacts_of(stored))) >= len(burst) else None

    stored = await eventually(recorded)
    contacts = contacts_of(stored)
    assert sorted(contacts.values()) == sorted(burst)  # every customer of the burst recorded
    for contact_id in contacts:
        (message,) = _of(stored, "message_received", contact_id)
        assert message.message_received.text.startswith("help ")
        (deflected,) = _of(stored, "contact_deflected", contact_id)
        body = deflected.contact_deflected
        assert (body.queue, body.ceiling, body.max_waiting) == (QUEUE, "queue", CEILING)
        assert body.waiting >= CEILING
        assert set(body.offered) == {"estimated_wait", "callback", "self_service"}
        (closed,) = _of(stored, "contact_closed", contact_id)
        assert closed.contact_closed.outcome == "deflected"
        # Never queued: the desk holds its three.
        assert _of(stored, "contact_queued", contact_id) == []
    assert (await _depth(region)).waiting == CEILING


async def test_a_chat_customer_reads_the_answer_on_the_socket_and_a_caller_hears_it(
    guarded: RunningRegion,
) -> None:
    region = guarded
    await _fill_the_queue(region)
    async with region.http() as http:
        chat = await region.chat(http, CHAT, visitor="surge-" + os.urandom(4).hex())
        await chat.send(type="message", id="m1", text="is anyone there?")
        contact_id = (await chat.expect("ack", id="m1"))["contactId"]
        answer = await chat.expect("message", seconds=20, **{"from": "bot"})
        assert "all our agents are busy" in answer["text"].lower() and HELP in answer["text"]
        await chat.ws.close()

        spec = region.endpoints[VOICE].spec
        assert spec.twilio is not None
        call = {
            "CallSid": "CA" + os.urandom(16).hex(),
            "AccountSid": spec.twilio.account_sid,
            "From": _phone(),
            "To": spec.address,
            "Direction": "inbound",
            "CallStatus": "ringing",
        }
        status, twiml = await region.twilio(http, VOICE, "voice", call)
    assert status == 200, twiml
    assert "<Say" in twiml and "all our agents are busy" in twiml.lower() and "<Hangup" in twiml
    assert "<Enqueue" not in twiml
    (deflected,) = await region.wait_event("contact_deflected", contact_id)
    assert deflected.contact_deflected.queue == QUEUE
    assert (await _depth(region)).waiting == CEILING


async def test_once_an_agent_takes_a_waiting_contact_a_new_customer_is_queued_again(
    guarded: RunningRegion, sandbox: SandboxClient
) -> None:
    region = guarded
    await _fill_the_queue(region)
    async with region.connect() as nc:
        admin = region.stub(nc, routing_pb2_grpc.RoutingServiceStub, region.token("admin", tenant=TENANT))
        await admin.UpsertAgent(
            routing_pb2.UpsertAgentRequest(
                tenant_id=TENANT,
                agent=routing_pb2.AgentDefinition(
                    agent_id="gina",
                    brands=["globex"],
                    languages=["en"],
                    capacity=[routing_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_SMS, capacity=1)],
                ),
            )
        )
    async with region.http() as http:
        gina = await region.agent(http, "gina", tenant=TENANT)
        offer = await gina.expect("offer", seconds=45, queue=QUEUE)
        await gina.send(type="accept", id="take-1", reservationId=offer["reservationId"])
        await gina.expect("accepted", id="take-1")

        async def below_the_ceiling() -> bool | None:
            return True if (await _depth(region)).waiting < CEILING else None

        await eventually(below_the_ceiling)
        await asyncio.sleep(REFRESH_SECONDS + 0.2)  # the gateway's next report counts what left
        phone = _phone()
        status, body = await region.sms(http, phone, "am I in now?", endpoint=SMS)
        assert status == 200, body
        await gina.ws.close()

    async def queued() -> events_pb2.Event | None:
        stored = await region.events()
        opened = [
            e for e in _of(stored, "contact_created") if getattr(e.contact_created, "from").value == phone
        ]
        if not opened:
            return None
        found = _of(stored, "contact_queued", opened[0].contact_id)
        return found[0] if found else None

    assert (await eventually(queued)).contact_queued.queue == QUEUE
    assert not [m for m in await sandbox.messages() if m["to"] == phone]  # no deflection answer


async def test_a_deflected_sms_customer_replies_call_me_keeps_a_place_and_is_called_back(
    guarded: RunningRegion, sandbox: SandboxClient
) -> None:
    region, phone = guarded, _phone()
    async with region.http() as http:
        status, body = await region.sms(http, phone, "where is my parcel?")
        assert status == 200, body
        (answer,) = await sandbox.wait_for(lambda m: m["to"] == phone, seconds=30)
        assert answer["text"].endswith(CALLBACK_OFFER), answer

        # Still beyond the ceiling, the reply CALL ME gets in: a call back holds no line.
        status, body = await region.sms(http, phone, "call me")
        assert status == 200, body
        await sandbox.wait_for(lambda m: m["to"] == phone and m["text"] == REQUEST_TEXT, seconds=30)

        async def requested() -> events_pb2.Event | None:
            found = [e for e in _of(await region.events(), "contact_queued") if e.contact_queued.callback]
            mine = [e for e in found if e.contact_queued.queue == "support"]
            return mine[0] if mine else None

        queued = await eventually(requested)
        contact_id = queued.contact_id
        assert _of(await region.events(), "contact_deflected", contact_id) == []

        # The agent takes the request: the call is placed to the customer and put through to her.
        alice = await region.agent(http, "alice")
        offer = await alice.expect("offer", seconds=45, contactId=contact_id)
        assert offer["callback"] == {"number": phone}, offer
        await alice.send(type="accept", id="take-callback", reservationId=offer["reservationId"])
        await alice.expect("accepted", id="take-callback")

        async def put_through() -> dict[str, Any] | None:
            calls = [c for c in await sandbox.calls() if c["caller"] == phone and c["connected_to"]]
            return calls[0] if calls else None

        assert "alice" in str((await eventually(put_through))["connected_to"])
        await alice.ws.close()
