"""Every ACD change is its own event type; hand-offs carry the channel, skills and language the
ACD routes by, and a contact uses its agent's capacity on the customer's own channel."""

import pytest

from ccmesh.channels import Channel
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from routing.adapters.acd_event_codec import ACD_SOURCE, to_protobuf
from routing.domain import events as ev
from routing.domain.agents import AcdInputError
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import WaitingContact
from routing.entrypoints.acd_events import journey_hand_off, waiting_contact

K = common_pb2.ChannelKind
CONTACT = WaitingContact("c1", "billing", Channel.WEBCHAT, 60, 100.0, required_skills=frozenset({"billing"}))


def test_each_change_has_its_own_payload() -> None:
    waiting = ContactRecord(CONTACT, offers=1, passed_by=("a1",))
    offered = ContactRecord(CONTACT, ContactStatus.OFFERED, "r1", "a1", 120.0, 1)
    changes: list[tuple[ev.RoutingEvent, str]] = [
        (ev.ContactQueued("acme", ContactRecord(CONTACT)), "contact_queued"),
        (ev.ContactOffered("acme", offered, "longest_idle"), "contact_offered"),
        (
            ev.ContactAccepted("acme", ContactRecord(CONTACT, ContactStatus.ASSIGNED, "r1", "a1")),
            "contact_accepted",
        ),
        (ev.OfferDeclined("acme", waiting, "a1", "r1"), "offer_declined"),
        (ev.OfferTimedOut("acme", waiting, "a1", "r1"), "offer_timed_out"),
        (ev.ContactRequeued("acme", waiting, "a1", "r1"), "contact_requeued"),
        (ev.ContactOverflowed("acme", waiting, "vip", "rule: waited 61s > 60s"), "contact_transferred"),
        (
            ev.ContactHandedOver("acme", waiting, "to-us", "us", "us-billing", "waited 61s > 60s"),
            "contact_overflowed",
        ),
        (
            ev.ContactCompleted("acme", ContactRecord(CONTACT, ContactStatus.CLOSED, "r1", "a1")),
            "contact_closed",
        ),
        (
            ev.ContactTransferred("acme", ContactRecord(CONTACT, offers=2), "support", "refund"),
            "contact_transferred",
        ),
        (
            ev.OfferWithdrawn(
                "acme", ContactRecord(CONTACT, ContactStatus.CLOSED, "r2", "a1"), "contact_closed"
            ),
            "offer_withdrawn",
        ),
    ]
    events = {}
    for change, payload in changes:
        event = to_protobuf(change, "eu")
        assert event.WhichOneof("payload") == payload, change
        assert (event.source, event.tenant.tenant_id, event.region, event.contact_id) == (
            ACD_SOURCE,
            "acme",
            "eu",
            "c1",
        )
        assert event.schema_version == 1 and event.occurred_at.seconds > 0
        events[change.outcome] = event
    assert len({e.event_id for e in events.values()}) == len(changes)
    # Fixed by the change: a retried publish has the same id, so the stream drops it.
    assert to_protobuf(changes[1][0], "eu").event_id == events["offered"].event_id

    declined, timed_out = events["declined"].offer_declined, events["timeout"].offer_timed_out
    assert (declined.queue, declined.agent_id, declined.reservation_id) == ("billing", "a1", "r1")
    assert (timed_out.agent_id, timed_out.reservation_id) == ("a1", "r1")
    requeued = events["offline"].contact_requeued
    assert (requeued.reason, requeued.agent_id, requeued.priority) == ("agent_offline", "a1", 60)
    overflowed = events["overflow_region"].contact_overflowed
    assert (overflowed.rule, overflowed.from_queue, overflowed.to_region, overflowed.to_queue) == (
        "to-us",
        "billing",
        "us",
        "us-billing",
    )
    queued = events["queued"].contact_queued
    assert (list(queued.required_skills), queued.priority) == (["billing"], 60)
    assert queued.channel == K.CHANNEL_KIND_WEBCHAT  # the customer's own channel
    transferred = events["transferred"].contact_transferred
    assert (transferred.from_queue, transferred.to_queue, transferred.reason) == (
        "support",
        "billing",
        "refund",
    )
    assert events["closed"].contact_closed.outcome == "completed"
    assert events["withdrawn"].offer_withdrawn.reason == "contact_closed"


@pytest.mark.parametrize(
    ("kind", "channel"),
    [
        (K.CHANNEL_KIND_VOICE, Channel.VOICE),
        (K.CHANNEL_KIND_WEBCHAT, Channel.WEBCHAT),
        (K.CHANNEL_KIND_API, Channel.API),
        (K.CHANNEL_KIND_SMS, Channel.SMS),
        (K.CHANNEL_KIND_WHATSAPP, Channel.WHATSAPP),
        (K.CHANNEL_KIND_EMAIL, Channel.EMAIL),
        (K.CHANNEL_KIND_TASK, Channel.TASK),
    ],
)
def test_a_hand_off_is_routed_on_the_channel_it_came_from(kind: int, channel: Channel) -> None:
    queued = events_pb2.ContactQueued(
        queue="billing",
        priority=0,
        channel=kind,  # type: ignore[arg-type]
        required_skills=["billing"],
        language="de",
        preferred_agent="a7",
    )
    contact = waiting_contact("c1", queued, 5.0)
    assert (contact.channel, contact.priority, contact.enqueued_at) == (channel, 50, 5.0)
    assert (contact.required_skills, contact.language, contact.preferred_agent) == (
        frozenset({"billing"}),
        "de",
        "a7",
    )


@pytest.mark.parametrize("kind", [99, K.CHANNEL_KIND_UNSPECIFIED])
def test_an_unknown_or_missing_channel_kind_names_the_field(kind: int) -> None:
    # 99: a newer producer's channel this version does not know; unspecified: whose capacity?
    queued = events_pb2.ContactQueued(queue="billing")
    queued.channel = kind  # type: ignore[assignment]
    with pytest.raises(AcdInputError) as caught:
        waiting_contact("c1", queued, 0.0)
    assert caught.value.field == "channel"


def test_a_journey_hand_off_carries_channel_skills_language_and_brand() -> None:
    queued = journey_hand_off(
        "billing",
        70,
        "whatsapp",
        "de",
        "acme-bank",
        {"required_skills": "billing, loans", "preferred_agent": "a3", "tier": "gold"},
    )
    assert (queued.queue, queued.priority, queued.channel) == ("billing", 70, K.CHANNEL_KIND_WHATSAPP)
    assert (list(queued.required_skills), queued.language, queued.brand, queued.preferred_agent) == (
        ["billing", "loans"],
        "de",
        "acme-bank",
        "a3",
    )
    voice = journey_hand_off("support", 50, "voice", "", "", {"skills": ["tech"]})
    assert (voice.channel, list(voice.required_skills), voice.preferred_agent) == (
        K.CHANNEL_KIND_VOICE,
        ["tech"],
        "",
    )
    assert journey_hand_off("support", 50, "carrier-pigeon", "", "", {}).channel == K.CHANNEL_KIND_UNSPECIFIED


def test_each_widening_of_a_waiting_contact_is_its_own_event() -> None:
    """A widening keeps the contact's queue and offer count: only its level tells two apart, and
    the stream would drop the second as a duplicate of the first."""
    record = ContactRecord(WaitingContact("c1", "support", Channel.SMS, 50, 100.0))
    first = to_protobuf(ev.ContactOverflowed("acme", record, "support", "widened to level 2: wait"), "eu")
    second = to_protobuf(ev.ContactOverflowed("acme", record, "support", "widened to level 3: wait"), "eu")
    again = to_protobuf(ev.ContactOverflowed("acme", record, "support", "widened to level 2: wait"), "eu")
    assert first.event_id != second.event_id
    assert first.event_id == again.event_id  # a republished change keeps its id


def test_an_event_staged_and_then_published_is_converted_once() -> None:
    offered = ContactRecord(CONTACT, ContactStatus.OFFERED, "r1", "a1", 120.0, 1)
    event = ev.ContactOffered("acme", offered, "longest_idle")
    staged = to_protobuf(event, "eu")
    assert to_protobuf(event, "eu") is staged
    # Another object telling the same change gets its own envelope with the same id and payload.
    again = to_protobuf(ev.ContactOffered("acme", offered, "longest_idle"), "eu")
    assert again is not staged and again.event_id == staged.event_id
    assert again.contact_offered == staged.contact_offered
    assert to_protobuf(event, "us").region != staged.region
