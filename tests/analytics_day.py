"""A scripted day of contacts in Europe/Berlin with known timings, shared by the metric tests and
the store tests (the store must give the same totals as the domain's reference computation).

Sunday 2026-03-29: the clocks go from 02:00 to 03:00 (UTC+1 -> UTC+2) at 01:00 UTC.

- c1 billing/webchat/ana, customer u1: queued 01:10:00, answered 01:10:15 (wait 15), last message
  01:15:00, wrapped up 01:16:00 (handle 345, after-contact work 60), one insight (sentiment 0.5).
- c2 billing/webchat/ana, u2: queued 01:59:50 (+01:00), answered 03:00:20 (+02:00): a wait of
  30 s across the hour boundary and the clock change, counted in the 01:00 interval; last message
  03:04:20, wrapped up 03:05:20 (handle 300, after-contact work 60), insight sentiment -0.5.
- c3 sales/sms, u1: queued 03:20:00, the customer left at 03:21:30 (abandoned after 90 s);
  so c1's customer came back the same day: c1 was not resolved at first contact.
- c4 billing/webchat, u3: queued 03:40:00, answered by ana 03:40:25 (wait 25 > 20), transferred to
  sales 03:45:00, answered by bob 03:45:40, last message 03:50:00, wrapped up by bob 03:51:00
  (handle 635, after-contact work 60, one transfer).
- c5 webchat, no customer: a bot served it 03:50-03:52, never queued (offered nowhere).
- c6 sales/voice/bob, u4: queued 23:59:50, answered 00:00:10 next day (wait 20, inside the 20 s
  threshold), wrapped up 00:05:10 (handle 300, after-contact work 300: no messages on voice).
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf.message import Message

from ccmesh.channels import to_kind
from ccmesh.envelope import new_event, timestamp_at
from contactcenter.events.v1 import events_pb2
from integration.domain.analytics_facts import ContactEvent, Step

BERLIN = ZoneInfo("Europe/Berlin")
_ids = itertools.count(1)


def at(text: str) -> float:
    """Berlin wall-clock time with its offset, e.g. "2026-03-29T01:10:00+01:00"."""
    return datetime.fromisoformat(text).timestamp()


def event(contact: str, step: Step, when: str, **fields: Any) -> ContactEvent:
    return ContactEvent(
        event_id=f"e{next(_ids)}", tenant_id="acme", contact_id=contact, step=step, at=at(when), **fields
    )


def answered_contact(
    contact: str,
    *,
    queue: str,
    channel: str,
    customer: str,
    queued: str,
    answers: list[tuple[str, str]],
    wrapped: str,
    last_message: str = "",
    transfer: tuple[str, str] | None = None,
    sentiment: float | None = None,
) -> list[ContactEvent]:
    events = [
        event(contact, Step.CREATED, queued, channel=channel, customer_id=customer, brand="acme-retail"),
        event(contact, Step.QUEUED, queued, queue=queue, channel=channel, language="en", intent="billing"),
    ]
    if sentiment is not None:
        events.append(event(contact, Step.INSIGHT, queued, sentiment=sentiment, has_sentiment=True))
    for index, (agent, when) in enumerate(answers):
        if index and transfer is not None:
            events.append(event(contact, Step.TRANSFERRED, transfer[1], queue=transfer[0]))
        events.append(event(contact, Step.ACCEPTED, when, agent=agent, queue=queue))
    if last_message:
        events.append(event(contact, Step.MESSAGE, last_message))
    agent = answers[-1][0]
    events.append(event(contact, Step.WRAPPED_UP, wrapped, agent=agent, outcome="resolved"))
    events.append(event(contact, Step.CLOSED, wrapped, outcome="completed"))
    return events


def scripted_day() -> list[ContactEvent]:
    day = "2026-03-29T"
    return [
        *answered_contact(
            "c1",
            queue="billing",
            channel="webchat",
            customer="u1",
            queued=day + "01:10:00+01:00",
            answers=[("ana", day + "01:10:15+01:00")],
            last_message=day + "01:15:00+01:00",
            wrapped=day + "01:16:00+01:00",
            sentiment=0.5,
        ),
        *answered_contact(
            "c2",
            queue="billing",
            channel="webchat",
            customer="u2",
            queued=day + "01:59:50+01:00",
            answers=[("ana", day + "03:00:20+02:00")],
            last_message=day + "03:04:20+02:00",
            wrapped=day + "03:05:20+02:00",
            sentiment=-0.5,
        ),
        event(
            "c3", Step.CREATED, day + "03:20:00+02:00", channel="sms", customer_id="u1", brand="acme-retail"
        ),
        event("c3", Step.QUEUED, day + "03:20:00+02:00", queue="sales", channel="sms"),
        event("c3", Step.CLOSED, day + "03:21:30+02:00", outcome="customer_left"),
        *answered_contact(
            "c4",
            queue="billing",
            channel="webchat",
            customer="u3",
            queued=day + "03:40:00+02:00",
            answers=[("ana", day + "03:40:25+02:00"), ("bob", day + "03:45:40+02:00")],
            transfer=("sales", day + "03:45:00+02:00"),
            last_message=day + "03:50:00+02:00",
            wrapped=day + "03:51:00+02:00",
        ),
        event("c5", Step.CREATED, day + "03:50:00+02:00", channel="webchat", brand="acme-retail"),
        event("c5", Step.CLOSED, day + "03:52:00+02:00", outcome="self_served"),
        *answered_contact(
            "c6",
            queue="sales",
            channel="voice",
            customer="u4",
            queued=day + "23:59:50+02:00",
            answers=[("bob", "2026-03-30T00:00:10+02:00")],
            wrapped="2026-03-30T00:05:10+02:00",
        ),
    ]


def as_stream_event(item: ContactEvent, region: str) -> events_pb2.Event:
    """The protobuf event the platform's services would publish for `item`."""
    kind: Any = to_kind(item.channel) if item.channel else 0
    payload: Message
    match item.step:
        case Step.CREATED:
            payload = events_pb2.ContactCreated(channel=kind, customer_id=item.customer_id)
        case Step.QUEUED:
            payload = events_pb2.ContactQueued(
                queue=item.queue,
                channel=kind,
                language=item.language,
                intent=item.intent,
            )
        case Step.ACCEPTED:
            payload = events_pb2.ContactAccepted(queue=item.queue, agent_id=item.agent)
        case Step.TRANSFERRED:
            payload = events_pb2.ContactTransferred(to_queue=item.queue)
        case Step.MESSAGE:
            payload = events_pb2.MessageSent(text="(personal text the store never keeps)")
        case Step.INSIGHT:
            payload = events_pb2.AiInsight(sentiment=item.sentiment)
        case Step.WRAPPED_UP:
            payload = events_pb2.ContactWrappedUp(agent_id=item.agent, disposition=item.outcome)
        case Step.CLOSED:
            payload = events_pb2.ContactClosed(outcome=item.outcome)
        case Step.OVERFLOWED:
            payload = events_pb2.ContactOverflowed(to_region="us", to_queue=item.queue)
    return new_event(
        payload,
        tenant_id=item.tenant_id,
        region=region,
        source="tests",
        contact_id=item.contact_id,
        brand_id=item.brand,
        event_id=item.event_id,
        occurred_at=timestamp_at(item.at),
    )
