"""The region's own history of arrivals, read back from its event stream for the surge detectors.

Every contact the ACD queued is a `ContactQueued` event of source `routing-acd` on the region's
stream (kept as long as the stream's retention says). Read once when routing starts, from
`since` up to the last event stored then (`ccmesh.stream_read`: the end is the consumer's word,
not a quiet moment).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import channels, naming
from ccmesh.stream_read import stored
from ccsurge.history import PastArrival
from contactcenter.events.v1 import events_pb2
from routing.adapters.acd_event_codec import ACD_SOURCE


class StreamArrivalHistory:
    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._js = js
        self._region = region

    async def __call__(self, since: float, until: float) -> list[PastArrival]:
        stream = naming.events_stream(self._region).name
        try:
            info = await self._js.stream_info(stream)
        except NotFoundError:
            return []
        if not info.state.messages:
            return []
        last = int(info.state.last_seq)
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=datetime.fromtimestamp(since, UTC)
        )
        subject = naming.event_subject(self._region, "*", "contact_queued", "*")
        found: list[PastArrival] = []
        async with contextlib.aclosing(stored(self._js, subject, stream=stream, config=config)) as messages:
            async for message in messages:
                arrival = _arrival(message.data)
                if arrival is not None and arrival.at <= until:
                    found.append(arrival)
                if message.metadata.sequence.stream >= last:
                    break
        return found


def _arrival(data: bytes) -> PastArrival | None:
    try:
        event = events_pb2.Event.FromString(data)
    except Exception:
        return None
    if event.source != ACD_SOURCE or event.WhichOneof("payload") != "contact_queued":
        return None
    queued = event.contact_queued
    channel = channels.from_kind_or_none(queued.channel)
    return PastArrival(
        event.tenant.tenant_id,
        queued.queue,
        channel.value if channel is not None else "",
        event.occurred_at.ToNanoseconds() / 1e9,
    )
