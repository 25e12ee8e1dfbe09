"""The customer's side of web chat: who the visitor is, their messages, history and call backs.

A visitor is a signed visitor id (see domain/visitor_token); their messages go through the one
inbound use case like every channel's (identifier WEBCHAT_VISITOR_ID, provider message id made
of the visitor and the client's message id, so a re-send after a reconnect is a duplicate).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ccmesh.channels import Channel
from ccmesh.configplane.models import ChannelEndpoint
from ccmesh.envelope import stable_event_id
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from gateway.domain.contact import ContactRecord
from gateway.domain.events import CallbackRequested
from gateway.domain.inbound import Accepted, InboundMessage, validate
from gateway.domain.socket_protocol import SocketError, bad_request
from gateway.domain.socket_views import customer_history
from gateway.domain.visitor_token import mint_visitor_token, visitor_of
from gateway.service_layer.accept_inbound import AcceptInbound
from gateway.service_layer.ports import (
    ContactHistory,
    Contacts,
    EndpointLookup,
    GatewayEvents,
    IdentityClient,
    VisitorContacts,
)
from gateway.service_layer.queued_callbacks import QueuedCallbacks


@dataclass(frozen=True)
class Visitor:
    visitor_id: str
    token: str
    #: True when the visitor brought no valid token and got a new id.
    new: bool


class WebchatService:
    def __init__(
        self,
        *,
        region: str,
        history: ContactHistory,
        visitor_key: bytes,
        accept: AcceptInbound,
        workspace: VisitorContacts,
        contacts: Contacts,
        identity: IdentityClient,
        endpoints: EndpointLookup,
        events: GatewayEvents,
        callbacks: QueuedCallbacks | None = None,
    ) -> None:
        self._region = region
        self._history = history
        self._key = visitor_key
        self._accept = accept
        self._workspace = workspace
        self._contacts = contacts
        self._identity = identity
        self._endpoints = endpoints
        self._events = events
        self._callbacks = callbacks

    def visitor(self, token: str | None) -> Visitor:
        """The visitor the token names, or a new visitor when it is absent or does not verify."""
        visitor_id = visitor_of(self._key, token) if token else None
        if visitor_id is not None:
            assert token is not None
            return Visitor(visitor_id, token, new=False)
        visitor_id = uuid.uuid4().hex
        return Visitor(visitor_id, mint_visitor_token(self._key, visitor_id), new=True)

    async def open_contact(self, endpoint: ChannelEndpoint, visitor: Visitor) -> str | None:
        """The visitor's open contact, if any (a wrapped-up one no longer counts)."""
        tenant = endpoint.spec.tenant
        if visitor.new:
            return None
        contact_id = await self._workspace.visitor_contact(tenant, visitor.visitor_id)
        if contact_id is None:
            return None
        record, _ = await self._contacts.contact(tenant, contact_id)
        if record is not None and not await self._contacts.is_open(tenant, record):
            return None
        return contact_id

    async def history(self, endpoint: ChannelEndpoint, contact_id: str) -> list[dict[str, Any]]:
        """The conversation so far, as the widget shows it."""
        events = await self._history.of_contact(endpoint.spec.tenant, contact_id)
        return customer_history(events)

    async def post(
        self, endpoint: ChannelEndpoint, visitor: Visitor, client_message_id: str, text: str
    ) -> tuple[Accepted, bool]:
        message = InboundMessage(
            tenant_id=endpoint.spec.tenant,
            brand_id=endpoint.spec.brand,
            channel=common_pb2.CHANNEL_KIND_WEBCHAT,
            from_kind=common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID,
            from_value=visitor.visitor_id,
            entry_point=endpoint.metadata.name,
            text=text,
            provider_message_id=f"{visitor.visitor_id}:{client_message_id}",
            language=endpoint.spec.language,
        )
        problems = validate(message)
        if problems:
            raise bad_request("; ".join(problems))
        accepted, duplicate = await self._accept(message)
        await self._workspace.remember_visitor_contact(
            endpoint.spec.tenant, visitor.visitor_id, accepted.contact_id
        )
        return accepted, duplicate

    async def request_callback(
        self, endpoint: ChannelEndpoint, visitor: Visitor, contact_id: str | None, phone: str, request_id: str
    ) -> str:
        """Link the phone to the visitor's customer and call it back: "queued" when the chat waits
        in a queue (it keeps its place as a call-back request: the call is placed when an agent
        takes it), else "requested" (the outbound side calls now).

        Identity learns that the phone and the visitor are one customer, so a call placed (or a
        call the customer makes) from that number continues the same open contact.
        """
        tenant = endpoint.spec.tenant
        if contact_id is None:
            raise SocketError("conflict", "no open conversation yet: send a message first")
        record, _ = await self._contacts.contact(tenant, contact_id)
        if record is None:
            raise SocketError("conflict", "the conversation is still being set up; retry shortly")
        await self._identity.ResolveCustomer(
            identity_pb2.ResolveCustomerRequest(
                tenant=common_pb2.TenantRef(tenant_id=tenant, brand_id=endpoint.spec.brand),
                identifiers=[
                    common_pb2.Identifier(
                        kind=common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID, value=visitor.visitor_id
                    ),
                    common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=phone),
                ],
            )
        )
        if self._callbacks is not None and await self._callbacks.keep_place(tenant, contact_id, phone):
            return "queued"
        voice = self._endpoints.voice_endpoint_for(tenant, endpoint.spec.brand)
        voice_name = voice.metadata.name if voice else ""

        def add_number(current: ContactRecord | None) -> ContactRecord:
            return (current or record).with_callback_number(voice_name, phone)

        await self._contacts.change_contact(tenant, contact_id, add_number)
        await self._events.publish(
            CallbackRequested(
                tenant_id=tenant,
                brand_id=endpoint.spec.brand,
                contact_id=contact_id,
                region=self._region,
                event_id=stable_event_id("webchat", tenant, visitor.visitor_id, request_id),
                queue=endpoint.spec.queue,
                channel=Channel.VOICE.value,
                endpoint=voice.metadata.name if voice else "",
            )
        )
        return "requested" if voice is not None else "no_voice_endpoint"
