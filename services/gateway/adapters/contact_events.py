"""A contact's events, read back from the region's stream and followed live over core NATS.

History comes from the stream (the source of truth: what was acked is there), through
`ccmesh.recent_histories` (a workspace reads one contact several times in a row: after the
first read, only what was stored since is asked for). Live pushes use plain core NATS
subscriptions on the same subjects: no consumer state per socket, and whatever a socket
missed while it was away comes back from the history on reconnect.

Typing notices are not events (nothing to keep): they travel on core NATS only, under
`ccws.<region>.<tenant>.typing.<contact>`.

A contact handed over to another region is followed there on `cccross.<home>.<tenant>.<contact>`:
its home region republishes its live events there as its compliance rules let them cross
(`gateway.adapters.crossing_relay`), so nothing leaves the home region unredacted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from google.protobuf.message import DecodeError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.client import JetStreamContext

from ccmesh import naming, telemetry
from ccmesh.recent_histories import RecentHistories
from contactcenter.events.v1 import events_pb2

log = logging.getLogger(__name__)

_TYPING_PREFIX = "ccws"
_CROSSING_PREFIX = "cccross"

EventCallback = Callable[[events_pb2.Event], Awaitable[None]]


def typing_subject(region: str, tenant_id: str, contact_id: str) -> str:
    return f"{_TYPING_PREFIX}.{region}.{tenant_id}.typing.{contact_id}"


def crossing_subject(home_region: str, tenant_id: str, contact_id: str) -> str:
    """Where a handed-over contact's live events reach the region it was handed over to."""
    return f"{_CROSSING_PREFIX}.{home_region}.{tenant_id}.{contact_id}"


class StreamHistory:
    """The region's stream as the use cases' `ContactHistory`, with recent reads kept."""

    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._histories = RecentHistories(js, region)

    async def of_contact(self, tenant_id: str, contact_id: str) -> list[events_pb2.Event]:
        return await self._histories.of_contact(tenant_id, contact_id)


def decode_event(message: Msg) -> events_pb2.Event | None:
    event = events_pb2.Event()
    try:
        event.ParseFromString(message.data)
    except DecodeError:
        # A foreign message on our subject must not break a conversation view.
        log.warning("skipping an undecodable event on %s", message.subject)
        return None
    return event


async def follow(nc: Client, subject: str, on_event: EventCallback) -> Subscription:
    """Core NATS subscription delivering each decoded event on `subject` (wildcards allowed)."""

    async def deliver(message: Msg) -> None:
        event = decode_event(message)
        if event is not None:
            # What this process does next for the contact (an offer pushed, an agent's answer)
            # continues the trace the event came in.
            telemetry.remember_contact(event.contact_id, message.headers)
            await on_event(event)

    return await nc.subscribe(subject, cb=deliver)


async def follow_contact(
    nc: Client, region: str, tenant_id: str, contact_id: str, on_event: EventCallback
) -> Subscription:
    return await follow(nc, naming.event_subject(region, tenant_id, "*", contact_id), on_event)


async def follow_handed_over(
    nc: Client, home_region: str, tenant_id: str, contact_id: str, on_event: EventCallback
) -> Subscription:
    """A contact homed in another region, as its home region lets its events cross."""
    return await follow(nc, crossing_subject(home_region, tenant_id, contact_id), on_event)
