"""Follow-the-sun: eu is closed (a holiday override), its contacts are served by us agents.

eu + us run as `ccctl up --regions eu,us` starts them. eu's `support` queue is closed all day by
an override of its calendar and sends its contacts to `after-hours`, whose overflow rule hands
them to us's `support` queue (allowed: the tenant's residency lists us as pseudonymous, and a
hand-over carries no personal data). A web chat customer and an SMS customer of eu converse with
carol in us through the workspace socket, both ways; carol transfers one contact to dave, both
wrap up. The us agents see channel, name and conversation, read at view time from eu (each read
a crossing there); a byte scan of every us stream and bucket finds nothing of the customers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from ccmesh import naming
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2, identity_pb2_grpc
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from gateway.domain.socket_views import AGENT_JOINED_TEXT
from tests.e2e.harness import RunningRegion, WsClient, eventually, running_region
from tests.e2e.scenarios._regions import (
    FakeTwilio,
    agent_in,
    closed_today,
    examples_with,
    region_store_bytes,
)

SMS_CUSTOMER = "+447700900561"
CALLBACK_CUSTOMER = "+447700900562"
VISITOR = "fts-visitor-0b7e"
CHAT_NAME = "Dana Whitfield"
SECRET_TEXTS = [
    "My order 4711 never arrived",
    "The parcel went to my old address on Baker Street",
    "Thanks, the tracking number is TRK-99812",
    "I am still waiting for the refund of 42 pounds",
]

#: The us agents speak every language the detector may find in short texts.
US_AGENT = {
    "brands": ["acme-retail"],
    "languages": ["en", "de", "fr", "es", "it", "pt", "nl"],
    "channels": {"webchat": 3, "sms": 3},
}


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def sun(tmp_path_factory: pytest.TempPathFactory, twilio: FakeTwilio) -> Iterator[RunningRegion]:
    root = tmp_path_factory.mktemp("follow-the-sun")
    examples = examples_with(
        root,
        contact_centers={
            "eu": {
                "routing": {
                    "overflow": [
                        {
                            "name": "follow-the-sun",
                            "tenant": "acme",
                            "queue": "after-hours",
                            "targetQueue": "support",
                            "targetRegion": "us",
                            "action": "move",
                            "waitSecondsOver": 0,
                        }
                    ]
                }
            }
        },
        workspaces={
            "eu": {
                "tenant": "acme",
                "queues": [
                    {"name": "support", "brand": "acme-retail"},
                    {"name": "after-hours", "brand": "acme-retail"},
                    {"name": "callbacks", "brand": "acme-retail"},
                ],
                "agents": [{"id": "erin", "queues": ["callbacks"], **US_AGENT}],
            },
            "us": {
                "tenant": "acme",
                "queues": [
                    {"name": "support", "brand": "acme-retail"},
                    {"name": "escalations", "brand": "acme-retail"},
                ],
                "agents": [
                    {"id": "carol", "displayName": "Carol (us)", "queues": ["support"], **US_AGENT},
                    {"id": "dave", "displayName": "Dave (us)", "queues": ["escalations"], **US_AGENT},
                ],
            },
        },
        endpoint_changes={
            "acme-uk-sms": {"providerApiUrl": twilio.url},
            "acme-uk-voice": {"providerApiUrl": twilio.url},
        },
        channels={
            "eu": [
                {
                    "apiVersion": "contactcenter.dev/v1alpha1",
                    "kind": "ChannelEndpoint",
                    "metadata": {"name": "acme-callback-sms"},
                    "spec": {
                        "region": "eu",
                        "tenant": "acme",
                        "brand": "acme-retail",
                        "channel": "sms",
                        "provider": "twilio",
                        "address": "+442071838799",
                        "queue": "callbacks",
                        "providerApiUrl": twilio.url,
                        "twilio": {
                            "accountSid": "AC" + "1" * 32,
                            "authToken": "callback-auth-token-0123",
                        },
                    },
                }
            ]
        },
    )
    with running_region(root / "data", ["eu", "us"], examples_dir=examples) as region:
        yield region


async def _close_eu(region: RunningRegion, queue: str, action: str, target: str = "") -> None:
    async with region.connect() as nc:
        routing = region.stub(nc, routing_pb2_grpc.RoutingServiceStub, region.token("admin"), "eu")
        await routing.ConfigureQueue(
            routing_pb2.ConfigureQueueRequest(
                tenant_id="acme",
                queue=routing_pb2.QueueDefinition(
                    name=queue, brand="acme-retail", hours=closed_today("Europe/London", action, target)
                ),
            )
        )


async def _open_eu(region: RunningRegion, queue: str) -> None:
    async with region.connect() as nc:
        routing = region.stub(nc, routing_pb2_grpc.RoutingServiceStub, region.token("admin"), "eu")
        await routing.ConfigureQueue(
            routing_pb2.ConfigureQueueRequest(
                tenant_id="acme", queue=routing_pb2.QueueDefinition(name=queue, brand="acme-retail")
            )
        )


async def _take(agent: WsClient, channel: str) -> tuple[str, dict[str, Any]]:
    """The next offer on `channel`, accepted; its contact id and the conversation pushed."""
    offer = await agent.expect("offer", seconds=60, channel=channel)
    await agent.send(type="accept", id=f"a-{offer['reservationId']}", reservationId=offer["reservationId"])
    await agent.expect("accepted", reservationId=offer["reservationId"])
    conversation = await agent.expect("conversation", contactId=offer["contactId"])
    return str(offer["contactId"]), {"offer": offer, **conversation}


@pytest.fixture
async def us_agents(sun: RunningRegion) -> AsyncIterator[dict[str, WsClient]]:
    async with sun.http() as http:
        yield {name: await agent_in(sun, http, "us", name) for name in ("carol", "dave")}


async def test_us_agents_serve_eu_customers_through_eu(
    sun: RunningRegion, twilio: FakeTwilio, us_agents: dict[str, WsClient]
) -> None:
    await _close_eu(sun, "support", "queue", "after-hours")
    carol, dave = us_agents["carol"], us_agents["dave"]
    async with sun.http() as http:
        # An eu web chat customer; the chat page is eu's (the first region's gateway).
        chat = await sun.chat(http, visitor=VISITOR, name=CHAT_NAME)
        await chat.send(type="message", id="m1", text=SECRET_TEXTS[0])
        chat_contact = (await chat.expect("ack", id="m1"))["contactId"]
        taken, view = await _take(carol, "webchat")
        assert taken == chat_contact
        assert view["offer"]["homeRegion"] == "eu" and view["homeRegion"] == "eu"
        assert view["channel"] == "webchat"
        assert [m["text"] for m in view["messages"]] == [SECRET_TEXTS[0]]
        assert "displayName" in view["offer"]["customer"]
        # The customer in eu is told that an agent joined, as a customer served in eu is.
        joined = await chat.expect("agent_joined", contactId=chat_contact)
        assert joined["text"] == AGENT_JOINED_TEXT
        assert set(joined) - {"_taken"} == {"type", "contactId", "text"}

        # Both ways: carol's reply reaches the chat socket in eu, the customer's answer reaches carol.
        await carol.send(type="send", id="s1", contactId=chat_contact, text="Let me look into it.")
        sent = await carol.expect("sent", id="s1")
        reply = await chat.expect("message", contactId=chat_contact)
        assert (reply["from"], reply["text"], reply["messageId"]) == (
            "agent",
            "Let me look into it.",
            sent["messageId"],
        )
        await chat.send(type="message", id="m2", text=SECRET_TEXTS[1])
        live = await carol.expect("message", contactId=chat_contact, **{"from": "customer"})
        assert live["text"] == SECRET_TEXTS[1]

        # An eu SMS customer, through Twilio's signed webhook in eu.
        status, _ = await sun.sms(http, SMS_CUSTOMER, SECRET_TEXTS[2])
        assert status == 200
        sms_contact, sms_view = await _take(carol, "sms")
        assert sms_view["channel"] == "sms"
        assert [m["text"] for m in sms_view["messages"]] == [SECRET_TEXTS[2]]
        await carol.send(type="send", id="s2", contactId=sms_contact, text="Your parcel is on its way.")
        await carol.expect("sent", id="s2")
        delivered = await eventually(_until(lambda: twilio.sms_to(SMS_CUSTOMER)))
        assert delivered == ["Your parcel is on its way."]
        await sun.sms(http, SMS_CUSTOMER, SECRET_TEXTS[3])
        live = await carol.expect("message", contactId=sms_contact, **{"from": "customer"})
        assert live["text"] == SECRET_TEXTS[3]

        # Transfer: carol hands the SMS contact to dave's queue in us; dave answers and wraps up.
        await carol.send(type="transfer", id="t1", contactId=sms_contact, queue="escalations")
        await carol.expect("transferred", id="t1", contactId=sms_contact)
        taken, dave_view = await _take(dave, "sms")
        assert taken == sms_contact
        assert [m["text"] for m in dave_view["messages"]][:2] == [
            SECRET_TEXTS[2],
            "Your parcel is on its way.",
        ]
        await dave.send(type="send", id="d1", contactId=sms_contact, text="Refund issued today.")
        await dave.expect("sent", id="d1")
        await eventually(
            _until(lambda: [t for t in twilio.sms_to(SMS_CUSTOMER) if t == "Refund issued today."])
        )
        await dave.send(type="wrap_up", id="dw", contactId=sms_contact, disposition="resolved")
        await dave.expect("wrapped_up", id="dw", contactId=sms_contact)

        await carol.send(type="wrap_up", id="cw", contactId=chat_contact, disposition="resolved", notes="ok")
        await carol.expect("wrapped_up", id="cw", contactId=chat_contact)
        await chat.expect("contact_closed", contactId=chat_contact)

    # The conversation, the wrap-ups and the closes are eu's events; the replies were published there.
    for contact in (chat_contact, sms_contact):
        stored = [e.WhichOneof("payload") for e in await sun.contact_events(contact, "eu")]
        assert (
            "contact_overflowed" in stored and "contact_wrapped_up" in stored and "contact_closed" in stored
        )
        assert "message_sent" in stored
        # The us agent's accept was told to eu (where the customer's socket follows the contact).
        assert "contact_accepted" in stored
    sms_sent = [
        e for e in await sun.contact_events(sms_contact, "eu") if e.WhichOneof("payload") == "message_sent"
    ]
    assert [e.message_sent.sender for e in sms_sent] == ["agent:carol", "agent:dave"]

    # Every view was a crossing recorded in eu, naming us and the agent.
    async with sun.connect() as nc:
        identity = sun.stub(nc, identity_pb2_grpc.IdentityServiceStub, sun.token("admin"), "eu")
        listed = await identity.ListCrossings(
            identity_pb2.ListCrossingsRequest(tenant=common_pb2.TenantRef(tenant_id="acme"))
        )
        crossings = listed.crossings
    views = [c for c in crossings if c.kind == "view"]
    assert {c.to_region for c in views} == {"us"}
    assert {"agent:carol", "agent:dave"} <= {c.actor for c in views}

    # Nothing of the customers is stored in us: no identifier, no name, no message text.
    stored_in_us = await region_store_bytes(sun, "us")
    assert any(name.startswith("KV_") for name in stored_in_us) and any(
        name.startswith("events") for name in stored_in_us
    )
    # The identifiers the customers wrote from, as eu recorded them (the chat visitor's id is the
    # gateway's own, not the `visitor` hint the page sent).
    identifiers = [
        getattr(e.contact_created, "from").value
        for contact in (chat_contact, sms_contact)
        for e in await sun.contact_events(contact, "eu")
        if e.WhichOneof("payload") == "contact_created"
    ]
    assert SMS_CUSTOMER in identifiers and len(identifiers) == 2
    secrets = [
        *identifiers,
        VISITOR,
        CHAT_NAME,
        *SECRET_TEXTS,
        "Let me look into it.",
        "Refund issued today.",
    ]
    for stream, data in stored_in_us.items():
        leaked = [secret for secret in secrets if secret.encode() in data]
        assert not leaked, f"us stream {stream} holds {leaked}"
    # ...whereas eu holds them (the scan would find them if they were there).
    stored_in_eu = b"".join((await region_store_bytes(sun, "eu")).values())
    assert SECRET_TEXTS[0].encode() in stored_in_eu and SMS_CUSTOMER.encode() in stored_in_eu


async def test_a_callback_closed_action_ends_with_the_callback_placed(
    sun: RunningRegion, twilio: FakeTwilio
) -> None:
    dead_before = await _dead_letters(sun)
    await _close_eu(sun, "callbacks", "callback")
    async with sun.http() as http:
        status, _ = await sun.sms(
            http, CALLBACK_CUSTOMER, "Please call me back", endpoint="acme-callback-sms"
        )
        assert status == 200
        # The customer is told, on their channel, that the call back is booked.
        await eventually(_until(lambda: twilio.sms_to(CALLBACK_CUSTOMER)))
        # The queue opens and an agent is free: the request keeps its place and is offered; once
        # the agent takes it, the call is placed from the brand's voice number.
        erin = await sun.agent(http, "erin")
        await _open_eu(sun, "callbacks")
        contact_id, _ = await _take(erin, "sms")
        calls = await eventually(_until(lambda: twilio.calls_to(CALLBACK_CUSTOMER)))
        assert len(calls) == 1
    stored = [e.WhichOneof("payload") for e in await sun.contact_events(contact_id, "eu")]
    assert "callback_requested" in stored and "contact_accepted" in stored
    assert await _dead_letters(sun) == dead_before, "a business condition ended in the dead-letter stream"


async def _dead_letters(region: RunningRegion) -> int:
    async with region.connect() as nc:
        info = await nc.jetstream().stream_info(naming.dead_letter_stream("eu").name)
        return int(info.state.messages)


def _until(read: Callable[[], list[Any]]) -> Callable[[], Awaitable[list[Any] | None]]:
    """A probe for `eventually`: what `read` returns once it is not empty."""

    async def probe() -> list[Any] | None:
        return read() or None

    return probe
