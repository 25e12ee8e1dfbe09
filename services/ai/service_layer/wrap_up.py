"""Wrap up a conversation: its closing summary, and a ticket announced for the business systems."""

from __future__ import annotations

import uuid

from ai.domain.events import TicketDrafted
from ai.domain.ticket import Ticket
from ai.service_layer.analysis import Analyzer
from ai.service_layer.ports import AiEvents


class WrapUpConversation:
    def __init__(self, analyzer: Analyzer, events: AiEvents) -> None:
        self._analyzer = analyzer
        self._events = events

    async def __call__(self, tenant_id: str, contact_id: str, customer_ref: str) -> tuple[str, Ticket]:
        summary, ticket = await self._analyzer.wrap_up(tenant_id, contact_id, customer_ref)
        # Every wrap-up drafts a ticket of its own, so its event id is not fixed by the contact.
        await self._events.publish(TicketDrafted(tenant_id, contact_id, ticket, uuid.uuid4().hex[:8]))
        return summary, ticket
