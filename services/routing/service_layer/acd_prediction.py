"""A queue's prediction from the region's routing state (the mirror's records and ledgers).

What is counted, and why, is in `routing.domain.prediction`; this module only picks the queue's
contacts and the tenant's agents out of the shared state and hands them over.
"""

from __future__ import annotations

from collections.abc import Iterable

from ccmesh.channels import Channel
from routing.domain import contacts as contact_rules
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.prediction import ContactSample, QueuePrediction, StaffCandidate, predict
from routing.domain.queueing import QueueSpec
from routing.domain.reservations import AgentLedger

_LEFT = frozenset({ContactStatus.TRANSFERRING, ContactStatus.TRANSFERRED})


def sample_of(record: ContactRecord) -> ContactSample:
    return ContactSample(
        enqueued_at=record.contact.enqueued_at,
        answered_at=record.answered_at,
        closed_at=record.closed_at,
        abandoned=contact_rules.gave_up(record),
        # Handed to another region, or turned away by a closed queue: no load on this queue.
        left=record.status in _LEFT or record.closed_action == "message",
    )


def queue_prediction(
    queue: QueueSpec,
    records: Iterable[ContactRecord],
    ledgers: Iterable[AgentLedger],
    now: float,
    target_answer_seconds: float,
    channel: Channel | None = None,
) -> QueuePrediction:
    """`records`: the queue's contacts (any status, on `channel` if given); `ledgers`: the
    tenant's agents."""
    records = list(records)
    waiting_languages = frozenset(
        r.contact.language for r in records if r.status is ContactStatus.WAITING and r.contact.language
    )
    return predict(
        queue,
        (sample_of(r) for r in records),
        (StaffCandidate(ledger.profile, ledger.state) for ledger in ledgers),
        now,
        target_answer_seconds,
        channel=channel,
        waiting_languages=waiting_languages,
    )
