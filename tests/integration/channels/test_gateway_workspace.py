"""Web chat and the agent workspace end to end, with the real identity, routing, ai and gateway
services and real WebSockets: a customer's chat becomes a contact, is queued and offered to the
logged-in available agent, who accepts, answers (the customer sees it live), and wraps up; a
declined offer goes to the next agent; an agent can touch only its own offers and contacts; the
supervisor sees the queue."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from _gateway_conversation import contact_events, kinds
from _platform import Platform, eventually
from _workspace_harness import Client, agent, available, customer, start_workspace

from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def base(platform: Platform) -> str:
    return await start_workspace(platform)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def token(platform: Platform, subject: str, role: str = "agent", tenant: str = "acme") -> str:
    return platform.authority.mint(tenant, role, subject, 300)


async def offered(agent_socket: Client, contact_id: str) -> dict[str, object]:
    return await agent_socket.expect("offer", contactId=contact_id)


async def test_chat_is_offered_accepted_answered_and_wrapped_up(
    platform: Platform,
    base: str,
    http: aiohttp.ClientSession,
) -> None:
    alice = await agent(http, base, token(platform, "alice"))
    await available(alice)
    chat = await customer(http, base)
    await chat.send(type="message", id="m1", text="Where is my order 1234?")
    ack = await chat.expect("ack", id="m1")
    contact_id = ack["contactId"]
    assert ack["duplicate"] is False

    offer = await offered(alice, contact_id)
    assert (offer["queue"], offer["channel"]) == ("support", "webchat")
    assert offer["customer"]["firstMessage"] == "Where is my order 1234?"  # type: ignore[index]
    await alice.send(type="accept", id="a1", reservationId=offer["reservationId"])
    await alice.expect("accepted", id="a1", contactId=contact_id)
    conversation = await alice.expect("conversation", contactId=contact_id)
    assert [m["text"] for m in conversation["messages"]] == ["Where is my order 1234?"]
    assert conversation["channel"] == "webchat"
    # The customer's cross-channel history from identity sits beside the conversation.
    # (Identity writes it from the event stream on its own time, so only its shape is checked.)
    for entry in conversation["timeline"]:
        assert set(entry) == {"kind", "channel", "contactId", "at", "summary"}
    await chat.expect("agent_joined", contactId=contact_id)
    # A reload of the workspace keeps the contact: it comes back with its conversation.
    await alice.ws.close()
    alice = await agent(http, base, token(platform, "alice"))
    assert next(m for m in alice.seen if m["type"] == "ready")["contacts"] == [contact_id]
    await alice.expect("conversation", contactId=contact_id)

    await alice.send(type="send", id="s1", contactId=contact_id, text="Let me check that for you.")
    sent = await alice.expect("sent", id="s1")
    reply = await chat.expect("message", contactId=contact_id)
    assert (reply["from"], reply["text"], reply["messageId"]) == (
        "agent",
        "Let me check that for you.",
        sent["messageId"],
    )
    # The customer's next message reaches the agent live.
    await chat.send(type="message", id="m2", text="Thanks!")
    await chat.expect("ack", id="m2", contactId=contact_id)
    live = await alice.expect("message", contactId=contact_id, **{"from": "customer"})
    assert live["text"] == "Thanks!"

    await alice.send(
        type="wrap_up", id="w1", contactId=contact_id, disposition="resolved", notes="tracking sent"
    )
    wrapped = await alice.expect("wrapped_up", id="w1")
    assert wrapped["disposition"] == "resolved"
    await chat.expect("contact_closed", contactId=contact_id)

    async def closed() -> list[str] | None:
        found = kinds(await contact_events(platform.nc, contact_id))
        return found if "contact_closed" in found and "contact_wrapped_up" in found else None

    stored = await eventually(closed)
    assert stored.count("message_received") == 2 and stored.count("message_sent") == 1
    events = await contact_events(platform.nc, contact_id)
    wrap = next(e for e in events if e.WhichOneof("payload") == "contact_wrapped_up").contact_wrapped_up
    assert (wrap.agent_id, wrap.disposition, wrap.notes, wrap.queue) == (
        "alice",
        "resolved",
        "tracking sent",
        "support",
    )
    agent_reply = next(e for e in events if e.WhichOneof("payload") == "message_sent").message_sent
    assert agent_reply.sender == "agent:alice"

    # Wrapped up: the agent holds the contact no more, and the customer's next message opens a new one.
    await alice.send(type="send", id="s2", contactId=contact_id, text="one more thing")
    refused = await alice.expect("error", id="s2")
    assert refused["code"] == "forbidden"
    await chat.send(type="message", id="m3", text="Another question")
    again = await chat.expect("ack", id="m3")
    assert again["contactId"] != contact_id


async def test_a_declined_offer_goes_to_the_next_agent(
    platform: Platform,
    base: str,
    http: aiohttp.ClientSession,
) -> None:
    agents = {name: await agent(http, base, token(platform, name)) for name in ("alice", "bob")}
    for client in agents.values():
        await available(client)
    chat = await customer(http, base)
    await chat.send(type="message", id="m1", text="hello")
    contact_id = (await chat.expect("ack", id="m1"))["contactId"]

    first = await offered_to(platform, contact_id, 1)
    offer = await offered(agents[first], contact_id)
    await agents[first].send(type="decline", id="d1", reservationId=offer["reservationId"])
    await agents[first].expect("declined", id="d1", contactId=contact_id)
    withdrawn = next(m for m in agents[first].seen if m["type"] == "offer_withdrawn")
    assert (withdrawn["reservationId"], withdrawn["reason"]) == (offer["reservationId"], "declined")

    # The agent who passed is not asked again while another one is available.
    second = await offered_to(platform, contact_id, 2)
    assert second != first
    again = await offered(agents[second], contact_id)
    assert again["reservationId"] != offer["reservationId"]
    await agents[second].send(type="accept", id="b1", reservationId=again["reservationId"])
    await agents[second].expect("accepted", id="b1", contactId=contact_id)


async def offered_to(platform: Platform, contact_id: str, nth: int) -> str:
    """The agent the contact's `nth` offer went to, read from the stream."""

    async def offers() -> list[str] | None:
        events = await contact_events(platform.nc, contact_id)
        agents = [e.contact_offered.agent_id for e in events if e.WhichOneof("payload") == "contact_offered"]
        return agents if len(agents) >= nth else None

    return str((await eventually(offers, seconds=20))[nth - 1])


async def test_an_agent_cannot_answer_another_agents_offer_or_write_to_its_contact(
    platform: Platform,
    base: str,
    http: aiohttp.ClientSession,
) -> None:
    alice = await agent(http, base, token(platform, "alice"))
    bob = await agent(http, base, token(platform, "bob"))  # logged in, not available
    await available(alice)
    chat = await customer(http, base)
    await chat.send(type="message", id="m1", text="hi")
    contact_id = (await chat.expect("ack", id="m1"))["contactId"]
    offer = await offered(alice, contact_id)

    await bob.send(type="accept", id="b1", reservationId=offer["reservationId"])
    assert (await bob.expect("error", id="b1"))["code"] == "forbidden"
    await bob.send(type="decline", id="b2", reservationId=offer["reservationId"])
    assert (await bob.expect("error", id="b2"))["code"] == "forbidden"
    await alice.send(type="accept", id="a1", reservationId=offer["reservationId"])
    await alice.expect("accepted", id="a1")
    await bob.send(type="send", id="b3", contactId=contact_id, text="I am not your agent")
    assert (await bob.expect("error", id="b3"))["code"] == "forbidden"
    await bob.send(type="wrap_up", id="b4", contactId=contact_id, disposition="resolved")
    assert (await bob.expect("error", id="b4"))["code"] == "forbidden"
    # Agents have no queue feed; the refusal leaves the socket usable.
    await bob.send(type="subscribe_queues", id="b5")
    assert (await bob.expect("error", id="b5"))["code"] == "forbidden"
    await bob.send(type="ping", id="b6")
    await bob.expect("pong", id="b6")
    events = await contact_events(platform.nc, contact_id)
    assert "message_sent" not in kinds(events)


async def test_the_supervisor_sees_queue_depth_on_the_socket_and_the_http_api(
    platform: Platform,
    base: str,
    http: aiohttp.ClientSession,
) -> None:
    chat = await customer(http, base)
    await chat.send(type="message", id="m1", text="anyone there?")
    await chat.expect("ack", id="m1")
    supervisor = await agent(http, base, token(platform, "sue", role="supervisor"))
    await supervisor.send(type="subscribe_queues", id="q", intervalSeconds=1)
    await supervisor.expect("ack", id="q")

    async def waiting() -> dict[str, object] | None:
        board = await supervisor.expect("queues")
        support = next(q for q in board["queues"] if q["name"] == "support")
        return board if support["depth"] == 1 else None

    board = await eventually(waiting, seconds=20)
    support = next(q for q in board["queues"] if q["name"] == "support")  # type: ignore[attr-defined]
    assert support["longestWaitSeconds"] >= 0 and "serviceLevelTarget" in support
    assert {"available", "busy", "offline"} <= set(board["agents"])  # type: ignore[arg-type]

    url = f"{base}/v1/tenants/acme/queues"
    headers = {"Authorization": f"Bearer {token(platform, 'sue', role='supervisor')}"}
    async with http.get(url, headers=headers) as response:
        assert response.status == 200
        body = await response.json()
    assert next(q for q in body["queues"] if q["name"] == "support")["depth"] == 1
    for bad_headers, status in (
        ({}, 401),
        ({"Authorization": f"Bearer {token(platform, 'alice')}"}, 403),
        ({"Authorization": f"Bearer {token(platform, 'sue', role='supervisor', tenant='globex')}"}, 403),
    ):
        async with http.get(url, headers=bad_headers) as response:
            assert response.status == status
            assert (await response.json())["error"]["message"]


async def test_the_agent_gets_ai_help_and_transfers_are_checked(
    platform: Platform,
    base: str,
    http: aiohttp.ClientSession,
) -> None:
    alice = await agent(http, base, token(platform, "alice"))
    await available(alice)
    chat = await customer(http, base)
    await chat.send(type="message", id="m1", text="I want a refund for my broken phone")
    contact_id = (await chat.expect("ack", id="m1"))["contactId"]
    offer = await offered(alice, contact_id)
    await alice.send(type="accept", id="a1", reservationId=offer["reservationId"])
    await alice.expect("accepted", id="a1")
    conversation = await alice.expect("conversation", contactId=contact_id)

    # The ai service analyses each customer message: its insight is in the conversation when it
    # came before the accept, else it is pushed when it comes.
    insight = conversation["insights"][0] if conversation["insights"] else await alice.expect("insight")
    assert insight["contactId"] == contact_id
    assert insight["language"] and "sentiment" in insight
    await alice.send(type="summarize", id="sum", contactId=contact_id)
    summary = await alice.expect("summary", id="sum")
    assert summary["contactId"] == contact_id and summary["messages"] >= 1
    await alice.send(type="suggest", id="sug", contactId=contact_id)
    suggestions = await alice.expect("suggestions", id="sug")
    assert isinstance(suggestions["suggestions"], list)

    await alice.send(type="transfer", id="t1", contactId=contact_id, queue="support")
    assert "already" in (await alice.expect("error", id="t1"))["message"]
    await alice.send(type="transfer", id="t2", contactId=contact_id, queue="no-such-queue")
    refused = await alice.expect("error", id="t2")
    assert refused["code"] == "bad_request" and "no-such-queue" in refused["message"]
    await alice.send(type="transfer", id="t3", contactId="someone-elses", queue="billing")
    assert (await alice.expect("error", id="t3"))["code"] == "forbidden"
    # Still hers after the refused transfers.
    await alice.send(type="send", id="s1", contactId=contact_id, text="Sorry to hear that.")
    await alice.expect("sent", id="s1")

    # A transfer moves the contact to billing: routing frees alice's slot and offers it to bob.
    bob = await agent(http, base, token(platform, "bob"))
    await available(bob)
    await alice.send(type="transfer", id="t4", contactId=contact_id, queue="billing", reason="refund")
    assert (await alice.expect("transferred", id="t4"))["queue"] == "billing"
    offer_to_bob = await offered(bob, contact_id)
    assert offer_to_bob["queue"] == "billing"
    await alice.send(type="send", id="s2", contactId=contact_id, text="still there?")
    assert (await alice.expect("error", id="s2"))["code"] == "forbidden"
    await bob.send(type="accept", id="b1", reservationId=offer_to_bob["reservationId"])
    await bob.expect("accepted", id="b1", contactId=contact_id)

    async def transferred_once() -> list[events_pb2.Event] | None:
        events = await contact_events(platform.nc, contact_id)
        moves = [e for e in events if e.WhichOneof("payload") == "contact_transferred"]
        return moves or None

    moves = await eventually(transferred_once)
    assert [(m.contact_transferred.from_queue, m.contact_transferred.to_queue) for m in moves] == [
        ("support", "billing")
    ]
    assert moves[0].contact_transferred.reason == "refund"


async def test_an_offer_is_withdrawn_when_the_customer_leaves_while_it_rings(
    platform: Platform,
    base: str,
    http: aiohttp.ClientSession,
) -> None:
    alice = await agent(http, base, token(platform, "alice"))
    await available(alice)
    chat = await customer(http, base)
    await chat.send(type="message", id="m1", text="hello?")
    contact_id = (await chat.expect("ack", id="m1"))["contactId"]
    offer = await offered(alice, contact_id)
    # The customer leaves (as a caller hanging up in the queue does): routing withdraws the offer.
    await EventPublisher(platform.nc.jetstream(), "eu").publish(
        events_pb2.Event(
            event_id=f"{contact_id}.left",
            tenant=common_pb2.TenantRef(tenant_id="acme"),
            region="eu",
            contact_id=contact_id,
            source="gateway",
            schema_version=1,
            contact_closed=events_pb2.ContactClosed(outcome="abandoned", closed_by="customer"),
        )
    )
    withdrawn = await alice.expect("offer_withdrawn", reservationId=offer["reservationId"])
    assert (withdrawn["contactId"], withdrawn["reason"]) == (contact_id, "closed")
    await alice.send(type="accept", id="late", reservationId=offer["reservationId"])
    # The page dropped it: the socket no longer counts it among alice's open offers.
    assert (await alice.expect("error", id="late"))["code"] == "forbidden"
