"""What a contact's opening event (contact_created) says, read from the integration service's log."""

from __future__ import annotations

from integration.adapters.delivery_log import DeliveryLog
from integration.domain.flow_calls import ContactFacts


class LoggedOpenings:
    def __init__(self, delivery_log: DeliveryLog) -> None:
        self._log = delivery_log

    async def facts(self, tenant_id: str, contact_id: str) -> ContactFacts | None:
        # Connector calls poll this while a journey waits for its contact: one direct read of the
        # opening event each time, not the contact's whole history.
        event = await self._log.first_of_kind(tenant_id, contact_id, "contact_created")
        if event is None:
            return None
        sender = getattr(event.contact_created, "from")
        return ContactFacts(contact_id, sender.value, event.tenant.brand_id)
