"""The surge guard's events: what FallbackEngaged/Released carry, and ids two instances share."""

from __future__ import annotations

from ccmesh.channels import Channel
from ccsurge.assessment import SurgeMetric
from contactcenter.common.v1 import common_pb2
from routing.adapters.surge_guard_codec import fallback_event, wait_message
from routing.domain.contacts import ContactRecord
from routing.domain.fallback import Evidence, FallbackPolicy, FallbackStep
from routing.domain.fallback_engine import Engaged, FallbackOutcome, Released
from routing.domain.queueing import WaitingContact

POLICY = FallbackPolicy(
    "burst",
    "acme",
    "support",
    frozenset({SurgeMetric.WAITING}),
    None,
    60.0,
    300.0,
    0.05,
    (FallbackStep("callback"),),
)
EVIDENCE = Evidence("waiting", 12.0, 1.0, 7.5, "eu/acme/support/sms")


def test_an_engagement_carries_its_evidence_and_actions_and_a_stable_id() -> None:
    outcome = FallbackOutcome(
        Engaged(POLICY, 1000.0, EVIDENCE), ("callback",), ("journey:x/live->v2: no version",)
    )
    event = fallback_event(outcome, "eu")
    payload = event.fallback_engaged
    assert (event.tenant.tenant_id, event.region, event.contact_id) == ("acme", "eu", "surge-burst")
    assert event.occurred_at.seconds == 1000
    assert (payload.policy, payload.queue, payload.manual) == ("burst", "support", False)
    assert (payload.evidence.metric, payload.evidence.value, payload.evidence.baseline) == (
        "waiting",
        12.0,
        1.0,
    )
    assert (payload.evidence.score, payload.evidence.where) == (7.5, "eu/acme/support/sms")
    assert list(payload.actions) == ["callback"] and list(payload.failed_actions) == [
        "journey:x/live->v2: no version"
    ]
    # Another instance deciding the same interval publishes the same id (the stream drops it).
    assert fallback_event(outcome, "eu").event_id == event.event_id
    later = FallbackOutcome(Engaged(POLICY, 1060.0, EVIDENCE), ("callback",), ())
    assert fallback_event(later, "eu").event_id != event.event_id


def test_a_release_says_why_and_since_when() -> None:
    outcome = FallbackOutcome(Released(POLICY, 2000.0, EVIDENCE, 1000.0, "normal"), ("callback",), ())
    event = fallback_event(outcome, "eu")
    payload = event.fallback_released
    assert (payload.reason, payload.engaged_at.seconds, list(payload.actions)) == (
        "normal",
        1000,
        ["callback"],
    )
    engaged = fallback_event(FallbackOutcome(Engaged(POLICY, 2000.0, EVIDENCE), (), ()), "eu")
    assert engaged.event_id != event.event_id


def test_a_wait_message_goes_to_the_contacts_channel_once_per_engagement() -> None:
    record = ContactRecord(WaitingContact("c1", "support", Channel.WHATSAPP, 5, 10.0))
    event = wait_message("acme", record, "About 4 minutes.", "surge:burst:1000", "eu")
    sent = event.message_sent
    assert (event.contact_id, sent.channel, sent.text, sent.sender) == (
        "c1",
        common_pb2.CHANNEL_KIND_WHATSAPP,
        "About 4 minutes.",
        "bot:routing",
    )
    assert (
        wait_message("acme", record, "About 4 minutes.", "surge:burst:1000", "eu").event_id == event.event_id
    )
    assert (
        wait_message("acme", record, "About 4 minutes.", "surge:burst:2000", "eu").event_id != event.event_id
    )
