"""A contact's events, read back from the region's event stream.

The stream is the record of what happened (what was acked is there, for as long as the region's
retention keeps it), so a contact's history is read from it rather than copied into a bucket: a
short-lived consumer filtered on the contact's subjects, deleted once read.
"""

from __future__ import annotations

import contextlib
import logging

from google.protobuf.message import DecodeError
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import FetchTimeoutError

from ccmesh import naming
from contactcenter.events.v1 import events_pb2

log = logging.getLogger(__name__)

#: A contact with more events than this shows its first ones (a conversation, not an archive).
MAX_HISTORY_EVENTS = 2000


async def contact_history(
    js: JetStreamContext, region: str, tenant_id: str, contact_id: str, *, limit: int = MAX_HISTORY_EVENTS
) -> list[events_pb2.Event]:
    """Every event of the contact still on the stream, oldest first, each event id once."""
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
    seen: set[str] = set()
    try:
        info = await subscription.consumer_info()
        remaining = min(int(info.num_pending or 0), limit)
        while remaining > 0:
            try:
                batch = await subscription.fetch(min(remaining, 256), timeout=5.0)
            except FetchTimeoutError:
                break
            for message in batch:
                event = events_pb2.Event()
                try:
                    event.ParseFromString(message.data)
                except DecodeError:
                    # A foreign message on our subject must not break a contact's history.
                    log.warning("skipping an undecodable event on %s", message.subject)
                    continue
                # The same event published again after the stream's duplicate window is one event.
                if event.event_id not in seen:
                    seen.add(event.event_id)
                    events.append(event)
            remaining -= len(batch)
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
        with contextlib.suppress(Exception):
            # pull_subscribe names the ephemeral consumer in `config.name`; delete it now rather
            # than leave it to the inactivity threshold.
            await js.delete_consumer(stream, str(config.name))
    return events
