"""A contact's events as the integration service reports them (`ListContactEvents`).

They are read from the region's event stream, not copied: delivery to subscriptions runs on
each subscription's own durable consumer, whose acknowledgement floor is its cursor (see
`adapters.event_feed`), so no record per event is needed anywhere, and the stream's retention
bounds what is kept. Each event id is listed once, however often it was published.
"""

from __future__ import annotations

import contextlib

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.contact_history import contact_history, first_event_of_kind
from contactcenter.events.v1 import events_pb2

#: The durable consumer that once copied every event into the integration bucket.
RETIRED_INTAKE_DURABLE = "integration"


class DeliveryLog:
    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._js = js
        self._region = region

    @classmethod
    async def open(cls, js: JetStreamContext, region: str) -> DeliveryLog:
        # A region upgraded from the copying log still has its consumer: nothing reads it now.
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(naming.events_stream(region).name, RETIRED_INTAKE_DURABLE)
        return cls(js, region)

    async def events(self, tenant_id: str, contact_id: str) -> list[events_pb2.Event]:
        """The contact's events still on the stream, oldest first."""
        return await contact_history(self._js, self._region, tenant_id, contact_id)

    async def first_of_kind(self, tenant_id: str, contact_id: str, kind: str) -> events_pb2.Event | None:
        """The contact's first event of `kind` still on the stream (read alone, not with the rest)."""
        return await first_event_of_kind(self._js, self._region, tenant_id, contact_id, kind)
