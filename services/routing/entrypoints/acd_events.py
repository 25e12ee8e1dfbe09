"""The ACD on the event stream: takes journeys' ContactQueued hand-offs, publishes its changes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf import timestamp_pb2

from ccmesh.configplane.models import ContactCenter
from ccmesh.events import EventHandler, PermanentError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from routing.domain.agents import AcdInputError, Channel
from routing.domain.contacts import ContactRecord
from routing.domain.overflow import OverflowRule
from routing.domain.queueing import WaitingContact
from routing.service_layer.acd import AcdService

#: `source` of the events the ACD publishes; its own ContactQueued events are not taken back in.
ACD_SOURCE = "routing-acd"

_KIND = common_pb2.ChannelKind
#: The customer's channel -> the ACD channel whose agent capacity it uses. Web chat and API
#: contacts are live conversations (chat); SMS, WhatsApp and tasks are asynchronous (messaging).
#: Unspecified is chat: what a hand-off without a channel meant before ContactQueued had one.
CHANNEL_KIND_TO_ACD: dict[int, Channel] = {
    _KIND.CHANNEL_KIND_UNSPECIFIED: Channel.CHAT,
    _KIND.CHANNEL_KIND_VOICE: Channel.VOICE,
    _KIND.CHANNEL_KIND_WEBCHAT: Channel.CHAT,
    _KIND.CHANNEL_KIND_API: Channel.CHAT,
    _KIND.CHANNEL_KIND_SMS: Channel.MESSAGING,
    _KIND.CHANNEL_KIND_WHATSAPP: Channel.MESSAGING,
    _KIND.CHANNEL_KIND_TASK: Channel.MESSAGING,
    _KIND.CHANNEL_KIND_EMAIL: Channel.EMAIL,
}


#: A journey's channel name -> the ChannelKind of its hand-off ("chat" is the web chat widget).
JOURNEY_CHANNELS: dict[str, int] = {
    "voice": _KIND.CHANNEL_KIND_VOICE,
    "sms": _KIND.CHANNEL_KIND_SMS,
    "whatsapp": _KIND.CHANNEL_KIND_WHATSAPP,
    "email": _KIND.CHANNEL_KIND_EMAIL,
    "webchat": _KIND.CHANNEL_KIND_WEBCHAT,
    "chat": _KIND.CHANNEL_KIND_WEBCHAT,
    "task": _KIND.CHANNEL_KIND_TASK,
    "api": _KIND.CHANNEL_KIND_API,
}


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
        channel=JOURNEY_CHANNELS.get(channel.lower(), _KIND.CHANNEL_KIND_UNSPECIFIED),  # type: ignore[arg-type]
        required_skills=sorted({str(s) for s in skills}),
        language=language,
        brand=brand,
        preferred_agent=str(attributes.get("preferred_agent", "")),
    )


def waiting_contact(contact_id: str, queued: events_pb2.ContactQueued, now: float) -> WaitingContact:
    """The ACD's view of a ContactQueued hand-off (a journey's or the gateway's)."""
    channel = CHANNEL_KIND_TO_ACD.get(queued.channel)
    if channel is None:
        raise AcdInputError("channel", f"unknown channel kind {queued.channel}")
    return WaitingContact(
        contact_id,
        queued.queue,
        channel,
        min(99, max(1, queued.priority or 50)),
        now,
        required_skills=frozenset(queued.required_skills),
        language=queued.language,
        preferred_agent=queued.preferred_agent,
    )


def acd_event(
    region: str, kind: str, tenant: str, record: ContactRecord, detail: str
) -> events_pb2.Event | None:
    """The event for one ACD change; None for changes with no event payload of their own."""
    contact = record.contact
    occurred = timestamp_pb2.Timestamp()
    occurred.GetCurrentTime()
    # Fixed per change (reservation or offer count), so a retried publish is dropped as a duplicate.
    identity = (
        f"acd/{tenant}/{contact.contact_id}/{kind}/{contact.queue}/{record.reservation_id or record.offers}"
    )
    event = events_pb2.Event(
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, identity)),
        occurred_at=occurred,
        tenant=common_pb2.TenantRef(tenant_id=tenant),
        region=region,
        contact_id=contact.contact_id,
        source=ACD_SOURCE,
        schema_version=1,
    )
    # Each change has its own payload, so a consumer tells a first queueing from a re-queue.
    if kind == "queued":
        # No channel: the ACD knows only its routing channel (chat, messaging...), not which
        # customer channel (SMS or WhatsApp) it came from, and a guess would mislead consumers.
        event.contact_queued.CopyFrom(
            events_pb2.ContactQueued(
                queue=contact.queue,
                priority=contact.priority,
                required_skills=sorted(contact.required_skills),
                language=contact.language,
                preferred_agent=contact.preferred_agent,
            )
        )
    elif kind in ("declined", "timeout", "offline"):
        # `detail` is "<agent>\t<reservation>" (see AcdOffers._give_back).
        agent_id, _, reservation_id = detail.partition("\t")
        _requeued(event, kind, contact, agent_id, reservation_id)
    elif kind == "offered":
        event.contact_offered.CopyFrom(
            events_pb2.ContactOffered(
                queue=contact.queue, agent_id=record.agent_id, reservation_id=record.reservation_id
            )
        )
    elif kind == "accepted":
        event.contact_accepted.CopyFrom(
            events_pb2.ContactAccepted(
                queue=contact.queue, agent_id=record.agent_id, reservation_id=record.reservation_id
            )
        )
    elif kind in ("overflow", "transferred"):
        # `detail` is "<from queue>\t<reason>": an overflow rule's move, or an agent's transfer.
        from_queue, _, reason = detail.partition("\t")
        event.contact_transferred.CopyFrom(
            events_pb2.ContactTransferred(from_queue=from_queue, to_queue=contact.queue, reason=reason)
        )
    elif kind == "overflow_region":
        rule, to_region, to_queue, reason = [*detail.split("\t", 3), "", "", ""][:4]
        event.contact_overflowed.CopyFrom(
            events_pb2.ContactOverflowed(
                rule=rule, from_queue=contact.queue, to_region=to_region, to_queue=to_queue, reason=reason
            )
        )
    elif kind == "withdrawn":
        event.offer_withdrawn.CopyFrom(
            events_pb2.OfferWithdrawn(
                queue=contact.queue,
                agent_id=record.agent_id,
                reservation_id=record.reservation_id,
                reason=detail,
            )
        )
    elif kind == "closed":
        event.contact_closed.CopyFrom(events_pb2.ContactClosed(outcome=detail, closed_by=record.agent_id))
    else:
        return None
    return event


def _requeued(
    event: events_pb2.Event, kind: str, contact: WaitingContact, agent_id: str, reservation_id: str
) -> None:
    if kind == "declined":
        event.offer_declined.CopyFrom(
            events_pb2.OfferDeclined(queue=contact.queue, agent_id=agent_id, reservation_id=reservation_id)
        )
    elif kind == "timeout":
        event.offer_timed_out.CopyFrom(
            events_pb2.OfferTimedOut(queue=contact.queue, agent_id=agent_id, reservation_id=reservation_id)
        )
    else:
        event.contact_requeued.CopyFrom(
            events_pb2.ContactRequeued(
                queue=contact.queue, priority=contact.priority, reason="agent_offline", agent_id=agent_id
            )
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
            await acd.enqueue(event.tenant.tenant_id, contact)
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
