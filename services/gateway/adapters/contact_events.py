"""A contact's events, read back from the region's stream and followed live over core NATS.

History comes from the stream (the source of truth: what was acked is there), through a
short-lived consumer filtered on the contact's subjects. Live pushes use plain core NATS
subscriptions on the same subjects: no consumer state per socket, and whatever a socket
missed while it was away comes back from the history on reconnect.

Typing notices are not events (nothing to keep): they travel on core NATS only, under
`ccws.<region>.<tenant>.typing.<contact>`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from google.protobuf.message import DecodeError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import FetchTimeoutError, NotFoundError

from ccmesh import naming
from contactcenter.events.v1 import events_pb2

log = logging.getLogger(__name__)

#: A contact with more events than this shows its newest ones (a conversation, not an archive).
MAX_HISTORY_EVENTS = 2000
_TYPING_PREFIX = "ccws"

EventCallback = Callable[[events_pb2.Event], Awaitable[None]]


def typing_subject(region: str, tenant_id: str, contact_id: str) -> str:
    return f"{_TYPING_PREFIX}.{region}.{tenant_id}.typing.{contact_id}"


async def contact_history(
    js: JetStreamContext, region: str, tenant_id: str, contact_id: str
) -> list[events_pb2.Event]:
    """Every event of the contact on the stream, oldest first."""
    stream = naming.events_stream(region).name
    subject = naming.event_subject(region, tenant_id, "*", contact_id)
    config = api.ConsumerConfig(
        ack_policy=api.AckPolicy.NONE,
        deliver_policy=api.DeliverPolicy.ALL,
        inactive_threshold=30.0,
        mem_storage=True,
    )
    subscription = await js.pull_subscribe(subject, stream=stream, config=config)
    events: list[events_pb2.Event] = []
    try:
        info = await subscription.consumer_info()
        remaining = min(int(info.num_pending or 0), MAX_HISTORY_EVENTS)
        while remaining > 0:
            try:
                batch = await subscription.fetch(min(remaining, 256), timeout=5.0)
            except FetchTimeoutError:
                break
            for message in batch:
                decoded = _decode(message)
                if decoded is not None:
                    events.append(decoded)
            remaining -= len(batch)
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
        with contextlib.suppress(NotFoundError, Exception):
            # pull_subscribe names the ephemeral consumer in `config.name`; delete it now rather
            # than leave it to the inactivity threshold.
            await js.delete_consumer(stream, str(config.name))
    return events


class StreamHistory:
    """`contact_history` bound to the region's stream, as the use cases' `ContactHistory`."""

    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._js = js
        self._region = region

    async def of_contact(self, tenant_id: str, contact_id: str) -> list[events_pb2.Event]:
        return await contact_history(self._js, self._region, tenant_id, contact_id)


def _decode(message: Msg) -> events_pb2.Event | None:
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
        event = _decode(message)
        if event is not None:
            await on_event(event)

    return await nc.subscribe(subject, cb=deliver)


async def follow_contact(
    nc: Client, region: str, tenant_id: str, contact_id: str, on_event: EventCallback
) -> Subscription:
    return await follow(nc, naming.event_subject(region, tenant_id, "*", contact_id), on_event)
