"""A queue's prediction from the region's routing state (the mirror's records and ledgers).

What is counted, and why, is in `routing.domain.prediction`; this module only picks the queue's
contacts and the tenant's agents out of the shared state and hands them over. Supervisors'
`GetQueueStats` (`acd_stats`) and overflow rules (`predicted_service_level`) both read it here,
so a rule fires on the figure the supervisor sees.
"""

from __future__ import annotations

from collections.abc import Iterable

from ccmesh.channels import Channel
from routing.domain import contacts as contact_rules
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.prediction import ContactSample, QueuePrediction, StaffCandidate, predict
from routing.domain.queueing import QueueSpec
from routing.domain.reservations import AgentLedger
from routing.service_layer.ports import AcdView

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


def prediction_inputs(
    view: AcdView, tenant: str, queue_name: str, channel: Channel | None = None
) -> tuple[list[ContactRecord], list[AgentLedger]]:
    """The queue's contacts (live, and those that left within the working set's history
    window; on `channel` if given) and the tenant's agents."""
    records = [r for r in view.queue_records(tenant, queue_name) if channel in (None, r.contact.channel)]
    ledgers = [ledger for (t, _), ledger in list(view.agents.items()) if t == tenant]
    return records, ledgers


def predicted_service_level(view: AcdView, tenant: str, queue: QueueSpec, now: float) -> float:
    """The queue's predicted service level as `GetQueueStats` shows it without a channel or a
    threshold of the caller's: every channel, against the queue's own target."""
    records, ledgers = prediction_inputs(view, tenant, queue.name)
    threshold = queue.target_for(None).within_seconds
    return queue_prediction(queue, records, ledgers, now, threshold).service_level


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
