"""A contact's events on the region's event stream, removed for an erasure.

The stream's subjects name the contact (`naming.event_subject`), so one purge by subject removes
every event of it; the count is the stream's message count before and after.
"""

from __future__ import annotations

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.retention_holds import objects_of_contact


class ContactEventsEraser:
    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._js = js
        self._region = region
        #: Where the removed events were: the name the erasure's counts use.
        self.stream = naming.events_stream(region).name

    async def objects_of(self, tenant_id: str, contact_id: str) -> list[str]:
        """Names of the objects the contact's events refer to (attachments stored by content,
        recordings): read before the events go, since afterwards nothing names them."""
        return await objects_of_contact(self._js, self._region, tenant_id, contact_id)

    async def purge_contact(self, tenant_id: str, contact_id: str) -> int:
        """Remove every event of the contact; how many there were (0 without the stream)."""
        subject = naming.event_subject(self._region, tenant_id, "*", contact_id)
        try:
            before = (await self._js.stream_info(self.stream)).state.messages
            await self._js.purge_stream(self.stream, subject=subject)
            after = (await self._js.stream_info(self.stream)).state.messages
        except NotFoundError:
            return 0
        return int(before - after)
