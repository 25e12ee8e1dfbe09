"""Wrap up a conversation: its closing summary, and a ticket announced for the business systems."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from ai.domain.events import TicketDrafted
from ai.domain.ticket import Ticket
from ai.service_layer.analysis import Analyzer, ConversationNotFoundError
from ai.service_layer.ports import AiEvents, ConversationSync

log = logging.getLogger(__name__)


class WrapUpConversation:
    def __init__(
        self,
        analyzer: Analyzer,
        events: AiEvents,
        *,
        catch_up_seconds: float = 0.0,
        poll_seconds: float = 0.2,
        sync: ConversationSync | None = None,
    ) -> None:
        self._analyzer = analyzer
        self._events = events
        # An agent who replies and wraps up at once (or a busy region) can ask before this
        # service's consumers have added the last messages to the conversation: the summary and
        # ticket would miss them. `sync` waits (within the catch-up time) until they have.
        self._sync = sync
        # An agent may wrap a contact up before this service's consumer has analysed its first
        # messages (they are on the stream already, the models may still be loading): wait that
        # long for them before answering that there is no conversation.
        self._catch_up_seconds = catch_up_seconds
        self._poll_seconds = poll_seconds

    async def __call__(self, tenant_id: str, contact_id: str, customer_ref: str) -> tuple[str, Ticket]:
        deadline = time.monotonic() + self._catch_up_seconds
        if self._sync is not None:
            try:
                caught_up = await self._sync.caught_up(tenant_id, contact_id, self._catch_up_seconds)
            except Exception as error:  # the summary of what is here is better than none
                log.warning("cannot tell whether contact %s is analysed up to date: %r", contact_id, error)
            else:
                if not caught_up:
                    log.info("wrapping up contact %s before its last messages were analysed", contact_id)
        while True:
            try:
                summary, ticket = await self._analyzer.wrap_up(tenant_id, contact_id, customer_ref)
                break
            except ConversationNotFoundError:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(self._poll_seconds)
        # Every wrap-up drafts a ticket of its own, so its event id is not fixed by the contact.
        await self._events.publish(TicketDrafted(tenant_id, contact_id, ticket, uuid.uuid4().hex[:8]))
        return summary, ticket
