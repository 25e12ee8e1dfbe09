"""The region's protobuf events as the analytics store's `ContactEvent`s (the one place that maps
them); events analytics does not fold map to None. Text and identifiers stay behind: only
queues, agents, labels and times cross over."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from ccmesh.channels import from_kind_or_none
from contactcenter.events.v1 import events_pb2
from integration.domain.analytics_episodes import EpisodeKind, SurgeEpisode
from integration.domain.analytics_facts import ContactEvent, Step


def _channel(kind: int) -> str:
    channel = from_kind_or_none(kind)
    return channel.value if channel is not None else ""


def contact_event(event: events_pb2.Event) -> ContactEvent | None:
    kind = event.WhichOneof("payload")
    if kind not in _FOLDED:
        return None
    at = event.occurred_at.seconds + event.occurred_at.nanos / 1e9
    base = (event.event_id, event.tenant.tenant_id, event.contact_id)
    brand = event.tenant.brand_id
    # One constructor per type, keywords spelled out: this runs for every event of the region.
    if kind == "message_received" or kind == "message_sent":
        return ContactEvent(*base, Step.MESSAGE, at, brand)
    if kind == "contact_created":
        created = event.contact_created
        return ContactEvent(
            *base, Step.CREATED, at, brand, channel=_channel(created.channel), customer_id=created.customer_id
        )
    if kind == "contact_queued":
        queued = event.contact_queued
        return ContactEvent(
            *base,
            Step.QUEUED,
            at,
            brand,
            channel=_channel(queued.channel),
            queue=queued.queue,
            language=queued.language,
            intent=queued.intent,
        )
    if kind == "contact_accepted":
        accepted = event.contact_accepted
        return ContactEvent(*base, Step.ACCEPTED, at, brand, queue=accepted.queue, agent=accepted.agent_id)
    if kind == "contact_transferred":
        return ContactEvent(*base, Step.TRANSFERRED, at, brand, queue=event.contact_transferred.to_queue)
    if kind == "ai_insight":
        insight = event.ai_insight
        return ContactEvent(
            *base,
            Step.INSIGHT,
            at,
            brand,
            channel=_channel(insight.channel),
            language=insight.language if insight.language_reliable else "",
            intent=insight.intent,
            sentiment=insight.sentiment,
            has_sentiment=True,
        )
    if kind == "contact_wrapped_up":
        wrapped = event.contact_wrapped_up
        return ContactEvent(
            *base, Step.WRAPPED_UP, at, brand, agent=wrapped.agent_id, outcome=wrapped.disposition
        )
    if kind == "contact_closed":
        return ContactEvent(*base, Step.CLOSED, at, brand, outcome=event.contact_closed.outcome)
    return ContactEvent(*base, Step.OVERFLOWED, at, brand, queue=event.contact_overflowed.to_queue)


#: The event types `contact_event` folds: the analytics consumer's subject filters.
FOLDED_TYPES = (
    "contact_created",
    "contact_queued",
    "contact_accepted",
    "contact_transferred",
    "message_received",
    "message_sent",
    "ai_insight",
    "contact_wrapped_up",
    "contact_closed",
    "contact_overflowed",
)
_FOLDED = frozenset(FOLDED_TYPES)


#: The event types `surge_episode` maps (the consumer reads them besides `FOLDED_TYPES`).
EPISODE_TYPES = ("surge_detected", "fallback_released")


def _seconds(stamp: Timestamp) -> float:
    return stamp.seconds + stamp.nanos / 1e9


def surge_episode(event: events_pb2.Event) -> SurgeEpisode | None:
    """The episode a surge event closes; None for any other event."""
    kind = event.WhichOneof("payload")
    tenant = event.tenant.tenant_id
    if kind == "surge_detected":
        alert = event.surge_detected
        end = _seconds(alert.interval_end)
        return SurgeEpisode(
            event.event_id,
            tenant,
            EpisodeKind.ALERT,
            alert.queue,
            started_at=end - alert.interval_seconds,
            ended_at=end,
            channel=_channel(alert.channel),
            metric=alert.metric,
            value=alert.value,
            baseline=alert.baseline,
            score=alert.score,
            direction=alert.direction,
        )
    if kind == "fallback_released":
        released = event.fallback_released
        return SurgeEpisode(
            event.event_id,
            tenant,
            EpisodeKind.FALLBACK,
            released.queue,
            started_at=_seconds(released.engaged_at),
            ended_at=_seconds(event.occurred_at),
            policy=released.policy,
            actions=",".join(released.actions),
            failed_actions=",".join(released.failed_actions),
            reason=released.reason,
        )
    return None
