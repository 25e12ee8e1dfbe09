"""A waiting customer asks to be called back on a number this gateway holds, keeping their place.

On SMS and WhatsApp the customer's address is the number and routing reads their `CALL ME`
itself. On the other channels only the gateway knows a number: the one a chat visitor typed, an
e-mail sender's, the caller's own on a call waiting on hold. `keep_place` writes it on the
contact (its voice leg: what the outbound side calls once an agent accepts) and asks routing
(`RequestCallback`) to turn the waiting contact into a call-back request; routing tells the
customer on their channel. False when the contact waits in no queue (routing kept no place).

`on_email` reads an e-mail to a contact: `CALL ME` keeps its place when a number is known (one
written with it, else the sender's phone in their customer profile).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.domain.callback_number import call_me_request
from gateway.domain.contact import ContactRecord
from gateway.service_layer.ports import CallbackRequestClient, Contacts, EndpointLookup

log = logging.getLogger(__name__)

#: Seconds between asks while routing has yet to take the contact into its queue.
QUEUE_ASK_SPACING = 0.2


class NoContact(Exception):
    """The contact has no record here (yet): nothing to write the number on."""


class CustomerProfiles(Protocol):
    async def GetCustomer(self, request: identity_pb2.GetCustomerRequest, **kwargs: Any) -> Any: ...


class QueuedCallbacks:
    def __init__(
        self,
        *,
        contacts: Contacts,
        routing: CallbackRequestClient,
        endpoints: EndpointLookup,
        profiles: CustomerProfiles | None = None,
    ) -> None:
        self._contacts = contacts
        self._routing = routing
        self._endpoints = endpoints
        self._profiles = profiles

    async def keep_place(
        self, tenant_id: str, contact_id: str, phone: str, *, wait_for_queue: float = 0.0
    ) -> bool:
        """Call `phone` back when the contact's turn comes; True once routing keeps its place.
        `wait_for_queue`: seconds routing may still take the contact into its queue (asked
        again meanwhile) before the answer is no."""
        record, _ = await self._contacts.contact(tenant_id, contact_id)
        if record is None:
            raise NoContact(f"contact {contact_id} has no record in this gateway")
        voice = self._endpoints.voice_endpoint_for(tenant_id, record.brand_id)
        endpoint = voice.metadata.name if voice is not None else ""
        known = record

        def add_number(current: ContactRecord | None) -> ContactRecord:
            return (current or known).with_callback_number(endpoint, phone)

        # The number first: an agent may accept the request the moment routing converts it.
        await self._contacts.change_contact(tenant_id, contact_id, add_number)
        request = routing_pb2.RequestCallbackRequest(tenant_id=tenant_id, contact_id=contact_id)
        reply = await self._routing.RequestCallback(request)
        deadline = time.monotonic() + wait_for_queue
        while not reply.scheduled and time.monotonic() < deadline:
            await asyncio.sleep(QUEUE_ASK_SPACING)
            reply = await self._routing.RequestCallback(request)
        if not reply.scheduled:
            log.info("contact %s asked for a call back but waits in no queue", contact_id)
        return bool(reply.scheduled)

    async def on_email(self, record: ContactRecord, text: str) -> bool | None:
        """An e-mail to the contact of `record`: None when it is no `CALL ME`; else whether the
        contact now keeps its place as a call-back request (False: no number known, or it waits
        in no queue)."""
        asked, number = call_me_request(text)
        if not asked:
            return None
        number = number or await self._profile_phone(record)
        if not number:
            log.info("contact %s asked for a call back by e-mail; no number is known", record.contact_id)
            return False
        return await self.keep_place(record.tenant_id, record.contact_id, number)

    async def _profile_phone(self, record: ContactRecord) -> str:
        if self._profiles is None or not record.customer_id:
            return ""
        reply = await self._profiles.GetCustomer(
            identity_pb2.GetCustomerRequest(
                tenant=common_pb2.TenantRef(tenant_id=record.tenant_id, brand_id=record.brand_id),
                customer_id=record.customer_id,
            )
        )
        phones = [i.value for i in reply.customer.identifiers if i.kind == common_pb2.IDENTIFIER_KIND_PHONE]
        return str(phones[0]) if phones else ""
