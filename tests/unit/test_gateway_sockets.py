"""The sockets' pure parts: frame decoding and field errors, the flood guard, visitor tokens,
what each side is shown of a contact's events, and the agent profile routing gets."""

from __future__ import annotations

import pytest

from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2
from gateway.domain.socket_protocol import BadFrame, FloodGuard, SocketError, parse_frame
from gateway.domain.socket_views import agent_view, conversation_facts, customer_history, customer_view
from gateway.domain.visitor_token import mint_visitor_token, visitor_key, visitor_of
from gateway.domain.workspace_state import Offer, OfferBook, routing_agent

KEY = visitor_key("s" * 32)
VISITOR = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "not json",
        "[1]",
        '"text"',
        "{}",
        '{"type": ""}',
        '{"type": 7}',
        '{"type": null}',
        "{\"type\": 'x'}",
    ],
)
def test_frames_that_are_not_a_typed_json_object_break_the_protocol(frame: str) -> None:
    with pytest.raises(BadFrame):
        parse_frame(frame)


def test_a_bad_id_is_an_error_reply_not_a_close() -> None:
    with pytest.raises(SocketError) as caught:
        parse_frame('{"type": "ping", "id": 5}')
    assert caught.value.code == "bad_request" and caught.value.message.startswith("id:")
    with pytest.raises(SocketError):
        parse_frame('{"type": "ping", "id": "' + "x" * 65 + '"}')


def test_fields_are_checked_and_errors_name_them() -> None:
    message = parse_frame('{"type": "message", "id": "m1", "text": "hi", "blank": "  ", "n": true}')
    assert (message.type, message.id, message.text("text")) == ("message", "m1", "hi")
    assert message.text("absent", required=False) == ""
    for call, name in (
        (lambda: message.text("blank"), "blank:"),
        (lambda: message.text("absent"), "absent:"),
        (lambda: message.text("text", max_chars=1), "text: at most 1"),
        (lambda: message.choice("text", {"a", "b"}), "text: must be one of ['a', 'b']"),
        (lambda: message.number("n", default=1, low=0, high=2), "n: a number"),
    ):
        with pytest.raises(SocketError) as caught:
            call()
        assert caught.value.message.startswith(name)
    assert message.number("missing", default=2, low=1, high=10) == 2.0


def test_the_flood_guard_allows_the_burst_then_the_rate() -> None:
    guard = FloodGuard(rate=10, burst=3, now=0.0)
    assert [guard.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert guard.allow(0.1) and not guard.allow(0.1)  # one more token after 1/10 s
    assert all(guard.allow(1.0 + i) for i in range(5))  # a calm client is never cut off


def test_visitor_tokens_verify_only_with_our_key_and_unchanged() -> None:
    token = mint_visitor_token(KEY, VISITOR)
    assert visitor_of(KEY, token) == VISITOR
    assert visitor_of(visitor_key("t" * 32), token) is None
    other = "f" * 32
    assert visitor_of(KEY, token.replace(VISITOR, other)) is None
    for junk in ("", "wv1", "wv1..", "cct1.a.b", "wv1.NOTHEX.sig", token + "x"):
        assert visitor_of(KEY, junk) is None
    with pytest.raises(ValueError):
        mint_visitor_token(KEY, "not-an-id")


def _event(contact: str = "c1", brand: str = "retail", **payload: object) -> events_pb2.Event:
    event = events_pb2.Event(
        event_id="e",
        contact_id=contact,
        tenant=common_pb2.TenantRef(tenant_id="acme", brand_id=brand),
        **payload,
    )
    event.occurred_at.FromSeconds(100)
    return event


def test_the_customer_sees_replies_joins_and_the_end_never_agent_ids() -> None:
    reply = customer_view(
        _event(message_sent=events_pb2.MessageSent(message_id="m9", text="hello", sender="agent:alice"))
    )
    assert reply == {
        "type": "message",
        "contactId": "c1",
        "messageId": "m9",
        "from": "agent",
        "text": "hello",
        "at": 100.0,
    }
    bot = customer_view(_event(message_sent=events_pb2.MessageSent(message_id="m8", text="hi", sender="bot")))
    assert bot is not None and bot["from"] == "bot"
    joined = customer_view(_event(contact_accepted=events_pb2.ContactAccepted(agent_id="alice")))
    assert joined is not None and joined["type"] == "agent_joined" and "alice" not in str(joined)
    closed = customer_view(
        _event(contact_closed=events_pb2.ContactClosed(outcome="completed", closed_by="alice"))
    )
    assert closed == {"type": "contact_closed", "contactId": "c1", "outcome": "completed"}
    assert customer_view(_event(ai_insight=events_pb2.AiInsight(intent="refund"))) is None
    history = customer_history(
        [
            _event(message_received=events_pb2.MessageReceived(message_id="m1", text="q")),
            _event(ai_insight=events_pb2.AiInsight(intent="refund")),
            _event(message_sent=events_pb2.MessageSent(message_id="m2", text="a", sender="agent:alice")),
        ]
    )
    assert [(m["from"], m["text"]) for m in history] == [("customer", "q"), ("agent", "a")]
    assert all("sender" not in m for m in history)


def test_the_agent_sees_both_sides_insights_and_delivery() -> None:
    received = agent_view(_event(message_received=events_pb2.MessageReceived(message_id="m1", text="q")))
    assert received is not None and (received["type"], received["from"]) == ("message", "customer")
    insight = agent_view(
        _event(ai_insight=events_pb2.AiInsight(message_id="m1", language="en", sentiment=-0.5))
    )
    assert insight is not None and (insight["type"], insight["language"], insight["sentiment"]) == (
        "insight",
        "en",
        -0.5,
    )
    status = agent_view(
        _event(
            message_status_changed=events_pb2.MessageStatusChanged(
                message_id="m2", status="failed", reason="x"
            )
        )
    )
    assert status == {
        "type": "message_status",
        "contactId": "c1",
        "messageId": "m2",
        "status": "failed",
        "reason": "x",
    }
    assert agent_view(_event(contact_offered=events_pb2.ContactOffered(agent_id="a"))) is None


def test_contact_facts_come_from_its_first_events() -> None:
    facts = conversation_facts(
        [
            _event(
                contact_created=events_pb2.ContactCreated(
                    channel=common_pb2.CHANNEL_KIND_WEBCHAT, customer_id="cu1"
                )
            ),
            _event(message_received=events_pb2.MessageReceived(text="first", customer_id="cu1")),
            _event(message_received=events_pb2.MessageReceived(text="second", customer_id="cu1")),
        ]
    )
    assert (facts.channel, facts.customer_id, facts.brand_id, facts.first_message) == (
        common_pb2.CHANNEL_KIND_WEBCHAT,
        "cu1",
        "retail",
        "first",
    )


def test_routing_gets_the_agents_skills_languages_and_capacity_per_channel() -> None:
    agent = identity_pb2.Agent(
        agent_id="alice",
        skills=[identity_pb2.Skill(name="billing", proficiency=9), identity_pb2.Skill(name="de")],
        languages=["en"],
        brands=["retail"],
        channels=[
            identity_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_SMS, max_concurrent=2),
            identity_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_WHATSAPP, max_concurrent=4),
            identity_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_VOICE, max_concurrent=3),
            identity_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_WEBCHAT, max_concurrent=2),
        ],
    )
    definition = routing_agent(agent)
    assert dict(definition.skills) == {"billing": 5, "de": 1}
    capacity = {c.channel: c.capacity for c in definition.capacity}
    assert capacity == {
        common_pb2.CHANNEL_KIND_VOICE: 1,  # routing allows one call at a time
        common_pb2.CHANNEL_KIND_WEBCHAT: 2,
        common_pb2.CHANNEL_KIND_SMS: 2,  # each channel keeps its own limit
        common_pb2.CHANNEL_KIND_WHATSAPP: 4,
    }


def test_an_offer_can_be_answered_once() -> None:
    book = OfferBook()
    book.offered(Offer("r1", "c1", "support"))
    assert book.get("r2") is None
    assert book.answered("r1") == Offer("r1", "c1", "support")
    assert book.answered("r1") is None


def test_an_offer_told_again_is_not_shown_again_even_after_it_ended() -> None:
    # Routing sweeps an offer it could not confirm on the stream: it may come twice, or late.
    book = OfferBook()
    assert book.offered(Offer("r1", "c1", "support"))
    assert not book.offered(Offer("r1", "c1", "support"))  # open already
    assert book.answered("r1") is not None
    assert not book.offered(Offer("r1", "c1", "support"))  # ended
    assert book.get("r1") is None
    assert book.answered("r2") is None  # a timed-out offer never shown here ends it too
    assert not book.offered(Offer("r2", "c2", "support"))
