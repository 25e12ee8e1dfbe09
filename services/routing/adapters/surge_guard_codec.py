"""The surge guard's events on the region's stream: engagements, releases, wait messages."""

from __future__ import annotations

from ccmesh import channels
from ccmesh.envelope import new_event, stable_event_id, timestamp_at
from contactcenter.events.v1 import events_pb2
from routing.domain.contacts import ContactRecord
from routing.domain.fallback import Evidence
from routing.domain.fallback_engine import Engaged, FallbackOutcome

SOURCE = "routing-surge"


def _evidence(evidence: Evidence) -> events_pb2.SurgeEvidence:
    return events_pb2.SurgeEvidence(
        metric=evidence.metric,
        value=evidence.value,
        baseline=evidence.baseline,
        score=evidence.score,
        where=evidence.where,
    )


def policy_contact_id(policy: str) -> str:
    """The contact token of a policy's events (not a contact's events: the policy takes its place)."""
    return f"surge-{policy}"


def fallback_event(outcome: FallbackOutcome, region: str) -> events_pb2.Event:
    """FallbackEngaged or FallbackReleased; the id is fixed by the policy and the moment, so two
    instances deciding the same interval publish one event."""
    decision = outcome.decision
    policy = decision.policy
    payload: events_pb2.FallbackEngaged | events_pb2.FallbackReleased
    if isinstance(decision, Engaged):
        payload = events_pb2.FallbackEngaged(
            policy=policy.name,
            queue=policy.queue,
            evidence=_evidence(decision.evidence),
            actions=outcome.actions,
            manual=decision.manual,
            failed_actions=outcome.failed,
        )
        kind = "engaged"
    else:
        payload = events_pb2.FallbackReleased(
            policy=policy.name,
            queue=policy.queue,
            evidence=_evidence(decision.evidence),
            actions=outcome.actions,
            reason=decision.reason,
            engaged_at=timestamp_at(decision.engaged_at),
            failed_actions=outcome.failed,
        )
        kind = "released"
    return new_event(
        payload,
        tenant_id=policy.tenant,
        region=region,
        source=SOURCE,
        contact_id=policy_contact_id(policy.name),
        occurred_at=timestamp_at(decision.at),
        event_id=stable_event_id("surge", policy.tenant, policy.name, kind, f"{decision.at:.3f}"),
    )


def wait_message(tenant: str, record: ContactRecord, text: str, key: str, region: str) -> events_pb2.Event:
    """The customer told `text` on their channel (the gateway's outbound side sends it)."""
    contact = record.contact
    message_id = stable_event_id("surge", tenant, contact.contact_id, key, "message")
    return new_event(
        events_pb2.MessageSent(
            message_id=message_id,
            channel=channels.to_kind(contact.channel),  # type: ignore[arg-type]
            text=text,
            sender="bot:routing",
        ),
        tenant_id=tenant,
        region=region,
        source=SOURCE,
        contact_id=contact.contact_id,
        event_id=message_id,
    )
