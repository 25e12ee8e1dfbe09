"""Every ACD change is its own event type; hand-offs carry the channel, skills and language the
ACD routes by, and the customer's channel maps to the ACD channel whose capacity it uses."""

import pytest

from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from routing.domain.agents import AcdInputError, Channel
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import WaitingContact
from routing.entrypoints.acd_events import ACD_SOURCE, acd_event, journey_hand_off, waiting_contact

K = common_pb2.ChannelKind
CONTACT = WaitingContact("c1", "billing", Channel.CHAT, 60, 100.0, required_skills=frozenset({"billing"}))


def test_each_change_has_its_own_payload() -> None:
    waiting = ContactRecord(CONTACT, offers=1, passed_by=("a1",))
    offered = ContactRecord(CONTACT, ContactStatus.OFFERED, "r1", "a1", 120.0, 1)
    changes = [
        ("queued", ContactRecord(CONTACT), "", "contact_queued"),
        ("offered", offered, "longest_idle", "contact_offered"),
        ("accepted", ContactRecord(CONTACT, ContactStatus.ASSIGNED, "r1", "a1"), "", "contact_accepted"),
        ("declined", waiting, "a1\tr1", "offer_declined"),
        ("timeout", waiting, "a1\tr1", "offer_timed_out"),
        ("offline", waiting, "a1\tr1", "contact_requeued"),
        ("overflow", waiting, "vip\trule: waited 61s > 60s", "contact_transferred"),
        ("overflow_region", waiting, "to-us\tus\tus-billing\twaited 61s > 60s", "contact_overflowed"),
        ("closed", ContactRecord(CONTACT, ContactStatus.CLOSED, "r1", "a1"), "completed", "contact_closed"),
        ("transferred", ContactRecord(CONTACT, offers=2), "support\trefund", "contact_transferred"),
        (
            "withdrawn",
            ContactRecord(CONTACT, ContactStatus.CLOSED, "r2", "a1"),
            "contact_closed",
            "offer_withdrawn",
        ),
    ]
    events = {}
    for kind, record, detail, payload in changes:
        event = acd_event("eu", kind, "acme", record, detail)
        assert event is not None and event.WhichOneof("payload") == payload, kind
        assert event.source == ACD_SOURCE
        events[kind] = event
    assert len({e.event_id for e in events.values()}) == len(changes)

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


@pytest.mark.parametrize(
    ("kind", "channel"),
    [
        (K.CHANNEL_KIND_VOICE, Channel.VOICE),
        (K.CHANNEL_KIND_WEBCHAT, Channel.CHAT),
        (K.CHANNEL_KIND_API, Channel.CHAT),
        (K.CHANNEL_KIND_SMS, Channel.MESSAGING),
        (K.CHANNEL_KIND_WHATSAPP, Channel.MESSAGING),
        (K.CHANNEL_KIND_EMAIL, Channel.EMAIL),
        (K.CHANNEL_KIND_UNSPECIFIED, Channel.CHAT),
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


def test_an_unknown_channel_kind_names_the_field() -> None:
    queued = events_pb2.ContactQueued(queue="billing")
    queued.channel = 99  # type: ignore[assignment] # a newer producer's channel this version does not know
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
