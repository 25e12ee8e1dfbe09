"""What supervisors read: a queue's depth, wait, prediction, staffing answer and measured service
level, and why a contact's last offer went where it went; what the gateway's back-pressure reads:
every queue's depth and the wait a new arrival there can expect."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ccmesh.channels import Channel
from routing.domain.agents import AcdInputError
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.erlang_a import StaffingAnswer
from routing.domain.erlang_c import QueueParameterError
from routing.domain.prediction import (
    QueuePrediction,
    StaffCandidate,
    measure_inputs,
    next_arrival_service_level,
    next_arrival_wait,
    staffing,
)
from routing.domain.queueing import ServiceLevelTarget
from routing.domain.service_level import MeasuredLevel, Sample, measure
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_prediction import prediction_inputs, queue_prediction, sample_of


@dataclass(frozen=True)
class QueueReport:
    depth: int
    longest_wait_seconds: float
    staffed_agents: int
    arrivals_last_hour: int
    predicted_service_level: float
    #: inf when the queue is unstaffed or overloaded.
    predicted_average_wait_seconds: float
    target: ServiceLevelTarget
    measured: MeasuredLevel
    #: Measured handle time, eligible staff, 15-minute arrivals, Erlang C and Erlang A.
    prediction: QueuePrediction
    #: The wait of a contact arriving now behind the `depth` waiting ones (inf: unstaffed).
    next_arrival_wait_seconds: float
    #: The chance that contact is answered within the threshold.
    next_arrival_service_level: float
    #: The agents that reach the target (Erlang A on the prediction's inputs).
    staffing: StaffingAnswer

    @property
    def additional_agents_needed(self) -> int:
        return max(0, self.staffing.agents - self.staffed_agents)


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    waiting: int
    longest_wait_seconds: float
    #: inf when no agent staffs the queue.
    estimated_wait_seconds: float


def service_samples(records: Iterable[ContactRecord]) -> list[Sample]:
    """What the measured service level counts: arrival and answer times of routed contacts.

    A contact handed to another region left this queue unanswered here; it is not counted.
    """
    return [
        Sample(r.contact.enqueued_at, r.answered_at)
        for r in records
        if r.status is not ContactStatus.TRANSFERRED
    ]


class Stats:
    def __init__(self, context: AcdContext) -> None:
        self._ctx = context

    async def queue_stats(
        self,
        tenant: str,
        queue_name: str,
        target_answer_seconds: float | None = None,
        *,
        channel: Channel | None = None,
        window_seconds: float = 3600.0,
    ) -> QueueReport:
        """Depth and longest wait now; the prediction (`domain.prediction`: Erlang C and Erlang A
        from the last 15 minutes' arrivals, the measured handle time and the agents who can take
        the queue's contacts); the service level measured over `window_seconds` against the
        queue's (or the channel's) target.

        `channel` narrows everything to that channel's contacts; the prediction's threshold is
        `target_answer_seconds`, else the target's.
        """
        ctx = self._ctx
        queue = await ctx.known_queue(tenant, queue_name)
        target = queue.target_for(channel)
        threshold = target_answer_seconds or target.within_seconds
        now = ctx.now()
        records, ledgers = prediction_inputs(ctx.mirror, tenant, queue_name, channel)
        waiting = [r for r in records if r.status is ContactStatus.WAITING]
        arrivals = sum(1 for r in records if r.contact.enqueued_at > now - 3600)
        try:
            prediction = queue_prediction(queue, records, ledgers, now, threshold, channel)
            needed = staffing(prediction, threshold, target.answered_fraction)
        except QueueParameterError as error:
            raise AcdInputError("target_answer_seconds", str(error)) from None
        return QueueReport(
            depth=len(waiting),
            longest_wait_seconds=max((now - r.contact.enqueued_at for r in waiting), default=0.0),
            staffed_agents=prediction.staffed_agents,
            arrivals_last_hour=arrivals,
            predicted_service_level=prediction.service_level,
            predicted_average_wait_seconds=prediction.erlang_c.average_wait_seconds,
            target=target,
            measured=measure(service_samples(records), target.within_seconds, now, window_seconds),
            prediction=prediction,
            next_arrival_wait_seconds=next_arrival_wait(prediction, len(waiting)),
            next_arrival_service_level=next_arrival_service_level(prediction, len(waiting), threshold),
            staffing=needed,
        )

    def queue_depths(self, tenant: str) -> list[QueueDepth]:
        """Every queue of the tenant (sorted by name): contacts waiting, the longest wait, and the
        wait a new arrival can expect there. Read from the working set, without the forecasts."""
        view = self._ctx.mirror
        now = self._ctx.now()
        staff = [
            StaffCandidate(ledger.profile, ledger.state)
            for (t, _), ledger in list(view.agents.items())
            if t == tenant
        ]
        depths = []
        for (owner, name), queue in sorted(list(view.queues.items())):
            if owner != tenant:
                continue
            waiting = list(view.waiting.get((tenant, name), {}).values())
            inputs = measure_inputs(
                queue,
                (sample_of(r) for r in view.queue_records(tenant, name)),
                staff,
                now,
                waiting_languages=frozenset(r.contact.language for r in waiting if r.contact.language),
            )
            depths.append(
                QueueDepth(
                    queue=name,
                    waiting=len(waiting),
                    longest_wait_seconds=max((now - r.contact.enqueued_at for r in waiting), default=0.0),
                    estimated_wait_seconds=next_arrival_wait(inputs, len(waiting)),
                )
            )
        return depths

    async def explain(self, tenant: str, contact_id: str) -> dict[str, Any] | None:
        return await self._ctx.store.get_decision(tenant, contact_id)
