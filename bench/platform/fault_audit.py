"""What every contact of a faults run went through, from the agents' side (offers pushed,
accepts confirmed, releases, see `agents.OfferLog`) and from the region's event stream (offered,
accepted, closed, offers ended).

`audit` sorts every contact that went wrong into one of:
- `lost`: the webhook was accepted but no agent was ever offered the contact;
- `never_accepted`: offered, but no accept was confirmed (to the agent or on the stream);
- `stuck`: accepted, but the contact never closed (no `ContactClosed` on the stream; the
  agent's release may have been refused, see `OfferLog.release_refused`);
- `offered_twice`: a second offer while an earlier one had not ended (timed out, declined,
  requeued or withdrawn);
- `accepted_twice`: two confirmed accepts, or two `ContactAccepted` on the stream;
- `unannounced`: an agent was offered or accepted the contact without the matching event on
  the stream (what `ContactOffered` consumers would never learn).
`over_capacity` lists the moments an agent held more contacts than its capacity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from nats.js.client import JetStreamContext

from bench.platform.agents import OfferLog
from bench.platform.region import REGION, TENANT
from ccmesh import naming, stream_read
from contactcenter.events.v1 import events_pb2

#: Reads of the stream before a failure is reported (each starts again from the first event).
READ_ATTEMPTS = 10
#: The events that end an offer without it being accepted.
_OFFER_ENDINGS = ("offer_timed_out", "offer_declined", "offer_withdrawn")
_TRACKED = (
    "contact_created",
    "contact_offered",
    "contact_accepted",
    "contact_closed",
    "contact_requeued",
    *_OFFER_ENDINGS,
)
#: The events a faults run's webhook subscription asks for.
WEBHOOK_EVENT_TYPES = ("contact_created", "contact_closed")


@dataclass
class StreamStory:
    """One contact as the region's event stream tells it."""

    offered: dict[str, str] = field(default_factory=dict)  # reservation -> agent
    accepted: list[str] = field(default_factory=list)  # reservations
    ended: set[str] = field(default_factory=set)  # reservations timed out, declined, withdrawn
    requeued_from: set[str] = field(default_factory=set)  # agents the contact went back from
    closed: int = 0
    #: Event ids by payload kind (a webhook's `webhook-id` is its event's id).
    event_ids: dict[str, list[str]] = field(default_factory=dict)
    #: Every event of the contact on the stream, by kind, in stream order: where a lost
    #: contact's chain broke (queued but never offered is routing's; never queued, the gateway's).
    kinds: list[str] = field(default_factory=list)


async def stream_stories(js: JetStreamContext, contact_ids: Iterable[str]) -> dict[str, StreamStory]:
    """The tracked events of `contact_ids` on the region's stream (one pass over the tenant's),
    read again from the start when the read fails (a cluster still electing a leader)."""
    wanted = set(contact_ids)
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return await _read_stories(js, wanted)
        except nats.errors.Error:
            if attempt == READ_ATTEMPTS:
                raise
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _read_stories(js: JetStreamContext, wanted: set[str]) -> dict[str, StreamStory]:
    stories: dict[str, StreamStory] = {c: StreamStory() for c in wanted}
    async for message in stream_read.stored(
        js,
        naming.event_subject(REGION, TENANT, "*", "*"),
        stream=naming.events_stream(REGION).name,
        batch=2000,
    ):
        event = events_pb2.Event.FromString(message.data)
        story = stories.get(event.contact_id)
        kind = event.WhichOneof("payload")
        if story is None or kind is None:
            continue
        story.kinds.append(kind)
        if kind not in _TRACKED:
            continue
        story.event_ids.setdefault(kind, []).append(event.event_id)
        _tell(story, kind, getattr(event, kind))
    return stories


def _tell(story: StreamStory, kind: str, payload: Any) -> None:
    if kind == "contact_offered":
        story.offered[payload.reservation_id] = payload.agent_id
    elif kind == "contact_accepted":
        story.accepted.append(payload.reservation_id)
    elif kind == "contact_closed":
        story.closed += 1
    elif kind == "contact_requeued":
        story.requeued_from.add(payload.agent_id)
    elif kind in _OFFER_ENDINGS:
        story.ended.add(payload.reservation_id)


@dataclass
class Audit:
    contacts: int
    lost: list[str] = field(default_factory=list)
    never_accepted: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    offered_twice: list[str] = field(default_factory=list)
    accepted_twice: list[str] = field(default_factory=list)
    unannounced: list[str] = field(default_factory=list)
    over_capacity: list[str] = field(default_factory=list)

    PROBLEMS = (
        "lost",
        "never_accepted",
        "stuck",
        "offered_twice",
        "accepted_twice",
        "unannounced",
        "over_capacity",
    )

    @property
    def ok(self) -> bool:
        return not any(getattr(self, name) for name in self.PROBLEMS)

    def counts(self) -> dict[str, int]:
        return {"contacts": self.contacts, **{name: len(getattr(self, name)) for name in self.PROBLEMS}}

    def explain(self, log: OfferLog, stories: dict[str, StreamStory], examples: int = 2) -> str:
        """Counts, and the story of a few contacts of each problem (for an assertion message)."""
        parts = [f"{self.contacts} contacts"]
        for name in self.PROBLEMS:
            found = getattr(self, name)
            if found:
                told = found if name == "over_capacity" else [tell(c, log, stories) for c in found]
                parts.append(f"{name} {len(found)}, e.g. {'; '.join(told[:examples])}")
        return "\n".join(parts)


def tell(contact_id: str, log: OfferLog, stories: dict[str, StreamStory]) -> str:
    """One contact as the agents and the stream saw it."""
    story = stories.get(contact_id, StreamStory())
    offers = [f"{agent}/{reservation[-6:]}" for agent, reservation, _ in log.offers.get(contact_id, [])]
    stream_offers = [f"{agent}/{reservation[-6:]}" for reservation, agent in story.offered.items()]
    return (
        f"{contact_id}: agents were offered {offers}, accepted by {log.accepts.get(contact_id, [])}, "
        f"release refused {log.release_refused.get(contact_id, '-')!r}; stream: offered "
        f"{stream_offers}, accepted {[r[-6:] for r in story.accepted]}, "
        f"ended {[r[-6:] for r in story.ended]}, requeued from {sorted(story.requeued_from)}, "
        f"closed {story.closed}; events {story.kinds}"
    )


def audit(contacts: list[str], log: OfferLog, stories: dict[str, StreamStory]) -> Audit:
    found = Audit(len(contacts), over_capacity=list(log.over_capacity))
    for contact_id in contacts:
        offers = log.offers.get(contact_id, [])
        accepts = log.accepts.get(contact_id, [])
        story = stories.get(contact_id, StreamStory())
        if not offers:
            found.lost.append(contact_id)
            continue
        if not accepts and not story.accepted:
            found.never_accepted.append(contact_id)
        elif story.closed == 0:
            found.stuck.append(contact_id)
        if len(accepts) > 1 or len(story.accepted) > 1:
            found.accepted_twice.append(contact_id)
        # Every offer but the accepted one must have ended before another was made.
        reservations = {reservation: agent for agent, reservation, _ in offers} | story.offered
        open_offers = [
            r
            for r, agent in reservations.items()
            if r not in story.ended and agent not in story.requeued_from and r not in story.accepted
        ]
        if len(open_offers) + min(1, len(story.accepted)) > 1:
            found.offered_twice.append(contact_id)
        if not announced(offers, accepts, story):
            found.unannounced.append(contact_id)
    return found


def announced(offers: list[Any], accepts: list[Any], story: StreamStory) -> bool:
    """Whether the stream tells every offer pushed to an agent (`OfferLog.offers` of the
    contact) and, when an accept was confirmed (`OfferLog.accepts`), an accept."""
    pushed = {reservation for _, reservation, _ in offers}
    return pushed <= set(story.offered) and (not accepts or bool(story.accepted))


def told(contact_id: str, log: OfferLog, story: StreamStory) -> bool:
    """Whether the stream has the contact's whole story: closed, and every offer and accept the
    agents saw announced (an announcement staged in an outbox may follow the closing)."""
    return story.closed > 0 and announced(
        log.offers.get(contact_id, []), log.accepts.get(contact_id, []), story
    )


def undelivered(contacts: list[str], stories: dict[str, StreamStory], delivered: set[str]) -> list[str]:
    """Event ids of `contacts` (of the webhook types, as stored on the stream) that never
    reached the receiver (`delivered`: the `webhook-id`s it saw)."""
    return [
        event_id
        for contact_id in contacts
        for kind in WEBHOOK_EVENT_TYPES
        for event_id in stories[contact_id].event_ids.get(kind, [])
        if event_id not in delivered
    ]
