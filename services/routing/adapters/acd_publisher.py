"""The ACD's events onto the region's stream: the event bus's publishing subscriber.

The use cases stage each change's events in the changed record's outbox (`ccmesh.outbox`, see
`acd_store`) and then announce them here; what the stream acknowledges is noted `sent`, so the
record's next write drops it instead of leaving it to a sweeper.

An offer is announced by the routing pass, which has no caller waiting and many more offers to
make. Its message is sent at once (the agent's workspace, a core NATS subscriber, sees it
then), but the pass does not wait for the stream's acknowledgement: while the stream elects a
leader a publish goes unanswered for its whole timeout, and every offer after it would wait as
long. The acknowledgement is awaited aside; should it fail, the hold's outbox still carries the
offer and its sweeper sends it. Every other event is awaited, as an answer to a caller (an
accept, a completion) reports what the stream has.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from ccmesh.events import EventPublisher
from ccmesh.outbox import SentIds
from routing.adapters.acd_event_codec import to_protobuf
from routing.adapters.acks_aside import AcksAside
from routing.domain.events import ContactOffered, RoutingEvent

log = logging.getLogger(__name__)


class AcdPublisher:
    def __init__(self, events: EventPublisher, region: str, sent: SentIds, *, timeout: float = 5.0) -> None:
        """`timeout`: how long the stream has to acknowledge each event."""
        self._events = events
        self._region = region
        self._sent = sent
        self._timeout = timeout
        #: Offers' acknowledgements still awaited.
        self._awaiting = AcksAside()

    @property
    def awaiting(self) -> int:
        return len(self._awaiting)

    async def __call__(self, event: RoutingEvent) -> None:
        if not event.on_stream:
            return
        message = to_protobuf(event, self._region)
        acknowledged = await self._events.send([message], self._timeout)
        if isinstance(event, ContactOffered):
            self._awaiting.start(self._acknowledged(acknowledged, message.event_id))
            return
        await acknowledged
        self._sent.add(message.event_id)

    async def _acknowledged(self, acknowledged: Awaitable[Any], event_id: str) -> None:
        try:
            await acknowledged
        except Exception as error:
            log.warning("offer %s not acknowledged (%r); its hold's outbox sends it", event_id, error)
            return
        self._sent.add(event_id)

    async def settle(self) -> None:
        """Wait for the acknowledgements still due: a stopping service notes what was stored
        rather than leaving it to a sweeper (which would only send it again)."""
        await self._awaiting.settle()
