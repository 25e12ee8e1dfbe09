"""The ACD on the event stream: journeys' and the gateway's ContactQueued hand-offs and
ContactClosed events become use-case calls. (What the ACD publishes is built by
`routing.adapters.acd_event_codec`.)"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ccmesh import channels
from ccmesh.configplane.models import ContactCenter
from ccmesh.events import EventHandler, PermanentError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from routing.adapters.acd_event_codec import ACD_SOURCE
from routing.domain.agents import AcdInputError, channel_of_kind
from routing.domain.overflow import OverflowRule
from routing.domain.queueing import WaitingContact
from routing.service_layer.acd import AcdService


def journey_hand_off(
    queue: str,
    priority: int,
    channel: str,
    language: str,
    brand: str,
    attributes: Mapping[str, Any],
) -> events_pb2.ContactQueued:
    """A journey's queue hand-off as ContactQueued: what the ACD routes by, no personal data.

    Skills come from the hand-off's `required_skills` (or `skills`) attribute, a list or a
    comma-separated string; the preferred agent from `preferred_agent`.
    """
    skills = attributes.get("required_skills", attributes.get("skills", ()))
    if isinstance(skills, str):
        skills = [s.strip() for s in skills.split(",") if s.strip()]
    return events_pb2.ContactQueued(
        queue=queue,
        priority=priority,
        channel=_kind_of_journey_channel(channel),  # type: ignore[arg-type]
        required_skills=sorted({str(s) for s in skills}),
        language=language,
        brand=brand,
        preferred_agent=str(attributes.get("preferred_agent", "")),
    )


def _kind_of_journey_channel(name: str) -> int:
    """A journey's channel name as ChannelKind; unspecified for a name nobody defined, which the
    ACD then refuses with an error naming the channel (see `waiting_contact`)."""
    try:
        return channels.to_kind(name)
    except channels.UnknownChannelError:
        return common_pb2.CHANNEL_KIND_UNSPECIFIED


def waiting_contact(contact_id: str, queued: events_pb2.ContactQueued, now: float) -> WaitingContact:
    """The ACD's view of a ContactQueued hand-off (a journey's or the gateway's).

    The contact uses its agent's capacity on its own channel; a hand-off without a channel is
    refused (the ACD cannot know whose capacity it would use).
    """
    return WaitingContact(
        contact_id,
        queued.queue,
        channel_of_kind(queued.channel, "channel"),
        min(99, max(1, queued.priority or 50)),
        now,
        required_skills=frozenset(queued.required_skills),
        language=queued.language,
        preferred_agent=queued.preferred_agent,
        intent=queued.intent,
        sentiment=queued.sentiment,
    )


def overflow_rules_of(document: ContactCenter | None) -> dict[tuple[str, str], list[OverflowRule]]:
    """The region's overflow rules from its ContactCenter, by (tenant, queue)."""
    rules: dict[tuple[str, str], list[OverflowRule]] = {}
    for rule in document.spec.routing.overflow if document is not None else []:
        rules.setdefault((rule.tenant, rule.queue), []).append(
            OverflowRule(
                rule.name,
                rule.queue,
                rule.target_queue,
                rule.target_region or "",
                rule.target_brand,
                rule.action,
                rule.wait_seconds_over,
                rule.depth_over,
                rule.predicted_service_level_under,
                rule.hysteresis_margin,
                rule.cooldown_seconds,
            )
        )
    return rules


def overflow_rules_following(
    current: Callable[[], ContactCenter | None],
) -> Callable[[], dict[tuple[str, str], list[OverflowRule]]]:
    """`overflow_rules_of` the document `current()` returns, built again only when that document
    is replaced (a config change), not on each routing pass that asks for the rules."""
    seen: ContactCenter | None = None
    rules = overflow_rules_of(None)

    def rules_now() -> dict[tuple[str, str], list[OverflowRule]]:
        nonlocal seen, rules
        document = current()
        if document is not seen:
            seen, rules = document, overflow_rules_of(document)
        return rules

    return rules_now


def queued_handler(acd: AcdService) -> EventHandler:
    """Consumer handler: a hand-off (from a journey, or from the gateway for contacts that go
    straight to a queue) becomes a waiting contact, by the same use case as the RPC. The ACD's
    own ContactQueued events (source `ACD_SOURCE`) are skipped: they report what it already did."""

    async def handle(event: events_pb2.Event) -> None:
        if event.source == ACD_SOURCE or event.WhichOneof("payload") != "contact_queued":
            return
        try:
            contact = waiting_contact(event.contact_id, event.contact_queued, acd.now())
            await acd.enqueue(
                event.tenant.tenant_id, contact, announced=True, callback=event.contact_queued.callback
            )
        except AcdInputError as error:
            raise PermanentError(str(error)) from error

    return handle


def closed_handler(acd: AcdService) -> EventHandler:
    """Consumer handler: a contact closed elsewhere (the caller hung up in the queue, the chat
    ended) leaves the ACD. The ACD's own ContactClosed events (a completed contact) are skipped:
    they report what it already did."""

    async def handle(event: events_pb2.Event) -> None:
        if event.source == ACD_SOURCE or event.WhichOneof("payload") != "contact_closed":
            return
        try:
            await acd.close_contact(event.tenant.tenant_id, event.contact_id)
        except AcdInputError as error:  # a tenant or contact id that is no ACD key
            raise PermanentError(str(error)) from error

    return handle
