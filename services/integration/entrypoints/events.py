"""The integration service's event consumer: decode happens in ccmesh; one use case here."""

from __future__ import annotations

import logging

from ccmesh.events import PermanentError
from contactcenter.events.v1 import events_pb2
from integration.adapters.delivery_log import DeliveryLog

log = logging.getLogger(__name__)


class EventIntake:
    def __init__(self, delivery_log: DeliveryLog) -> None:
        self._log = delivery_log

    async def __call__(self, event: events_pb2.Event) -> None:
        if not event.tenant.tenant_id or not event.contact_id:
            # Unroutable however often it is retried: straight to the dead-letter subject.
            raise PermanentError(f"event {event.event_id!r} lacks tenant or contact id")
        if not await self._log.append(event):
            log.debug("event %s was already recorded", event.event_id)
