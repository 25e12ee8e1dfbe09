"""What a contact's opening event (contact_created) says, read from the integration service's log."""

from __future__ import annotations

from integration.adapters.delivery_log import DeliveryLog
from integration.domain.flow_calls import ContactFacts


class LoggedOpenings:
    def __init__(self, delivery_log: DeliveryLog) -> None:
        self._log = delivery_log

    async def facts(self, tenant_id: str, contact_id: str) -> ContactFacts | None:
        for event in await self._log.events(tenant_id, contact_id):
            if event.WhichOneof("payload") == "contact_created":
                sender = getattr(event.contact_created, "from")
                return ContactFacts(contact_id, sender.value, event.tenant.brand_id)
        return None
