"""The home region's side of follow-the-sun: serve another region's agent a contact homed here.

The customer's data and channel legs stay in this region. The receiving region's gateway asks
here, over the mesh, to show the conversation (each read recorded by identity as a crossing),
to send the agent's reply (published here as MessageSent, so this region's outbound consumer
delivers it on the customer's channel), to say that the agent accepted it (published here as
ContactAccepted: the web chat customer is shown that an agent joined) and to wrap the contact up
(published here, and the customer's open contact closed, so their next message opens a new one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from ccmesh.envelope import stable_event_id
from ccmesh.policy_violations import PolicyCheck
from ccmesh.status import RpcError
from ccpolicy import Action
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2
from gateway.domain import events as ev
from gateway.domain.handed_over import NotHandedOver, check_handed_over, display_name, shown_to_remote_agent
from gateway.domain.policy_redaction import ANONYMOUS_NAME, redacted_for_crossing
from gateway.domain.socket_views import ContactFacts, conversation_facts
from gateway.service_layer.ports import ContactHistory, Contacts, GatewayEvents

#: Reads of a contact's history before a missing hand-over is refused, and the first pause (grows).
HAND_OVER_READS = 4
HAND_OVER_READ_PAUSE = 0.25
#: What the agent wrote, as on the workspace socket.
MAX_REPLY_CHARS = 4000


class IdentityForCrossings(Protocol):
    async def GetCustomer(self, request: identity_pb2.GetCustomerRequest, **kwargs: Any) -> Any: ...
    async def RecordCrossing(self, request: identity_pb2.RecordCrossingRequest, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class RemoteView:
    events: list[events_pb2.Event]
    display_name: str


class LiveRelays(Protocol):
    async def relay(
        self,
        tenant_id: str,
        contact_id: str,
        shown: Callable[[events_pb2.Event], events_pb2.Event | None],
    ) -> None: ...


class HandedOverContacts:
    def __init__(
        self,
        *,
        region: str,
        history: ContactHistory,
        events: GatewayEvents,
        identity: IdentityForCrossings,
        contacts: Contacts,
        read_pause: float = HAND_OVER_READ_PAUSE,
        policy: PolicyCheck | None = None,
        relays: LiveRelays | None = None,
    ) -> None:
        self._region = region
        #: The region's compliance rules for events leaving it (redaction).
        self._policy = policy
        #: The contact's live events, republished for the region it was handed over to.
        self._relays = relays
        self._read_pause = read_pause
        self._history = history
        self._events = events
        self._identity = identity
        self._contacts = contacts

    async def _handed_over(
        self, tenant_id: str, contact_id: str, requesting_region: str
    ) -> tuple[list[events_pb2.Event], ContactFacts]:
        """The contact's events, if it was handed over to `requesting_region` (NotHandedOver else)."""
        for attempt in range(HAND_OVER_READS):
            history = await self._history.of_contact(tenant_id, contact_id)
            try:
                check_handed_over(history, contact_id, requesting_region)
            except NotHandedOver:
                # Routing here publishes the hand-over only once the other region stored the
                # contact, which may offer it at once: the first read can precede the event.
                if attempt + 1 == HAND_OVER_READS:
                    raise
                await asyncio.sleep(self._read_pause * (attempt + 1))
                continue
            return history, conversation_facts(history)
        raise AssertionError("unreachable")  # pragma: no cover

    def _about(
        self, tenant_id: str, contact_id: str, facts: ContactFacts, what: str, reservation_id: str
    ) -> ev.EventHeader:
        """The header of an event about what the agent there did in one reservation: its id is
        fixed by the reservation, so a retried request publishes once."""
        return {
            "tenant_id": tenant_id,
            "brand_id": facts.brand_id,
            "contact_id": contact_id,
            "region": self._region,
            "event_id": stable_event_id("workspace", tenant_id, contact_id, what, reservation_id),
        }

    async def view(
        self, tenant_id: str, contact_id: str, requesting_region: str, agent_id: str
    ) -> RemoteView:
        history, facts = await self._handed_over(tenant_id, contact_id, requesting_region)
        redacting = self._redacting()
        ref = common_pb2.TenantRef(tenant_id=tenant_id, brand_id=facts.brand_id)
        if facts.customer_id:
            # Recorded before anything is shown: a read that is not on record does not happen.
            await self._identity.RecordCrossing(
                identity_pb2.RecordCrossingRequest(
                    tenant=ref,
                    customer_id=facts.customer_id,
                    to_region=requesting_region,
                    actor=f"agent:{agent_id}",
                    reason=f"view of handed-over contact {contact_id}" + (" (redacted)" if redacting else ""),
                )
            )
        if self._relays is not None:
            await self._relays.relay(tenant_id, contact_id, self.leaving)
        shown = [view for view in map(shown_to_remote_agent, history) if view is not None]
        if redacting:
            # The customer's name stays here too: no profile is read.
            return RemoteView([redacted_for_crossing(view) for view in shown], ANONYMOUS_NAME)
        attributes: dict[str, str] = {}
        if facts.customer_id:
            try:
                found = await self._identity.GetCustomer(
                    identity_pb2.GetCustomerRequest(tenant=ref, customer_id=facts.customer_id)
                )
                attributes = dict(found.customer.attributes)
            except RpcError as error:
                if error.code != grpc.StatusCode.NOT_FOUND:
                    raise  # erased meanwhile: the conversation is still shown, without a name
        return RemoteView(shown, display_name(attributes, history))

    def _redacting(self) -> bool:
        """A redaction rule here: what crosses is the contact's events with their personal data
        redacted (asked per event: the rules may change while a contact is handed over)."""
        return self._policy is not None and bool(
            self._policy.rules().governing(Action.LEAVE_REGION, self._region)
        )

    def leaving(self, event: events_pb2.Event) -> events_pb2.Event:
        """The event as it may leave this region now."""
        return redacted_for_crossing(event) if self._redacting() else event

    async def reply(
        self,
        tenant_id: str,
        contact_id: str,
        requesting_region: str,
        agent_id: str,
        text: str,
        message_id: str,
    ) -> str:
        if not text.strip() or len(text) > MAX_REPLY_CHARS:
            raise ValueError(f"text: required, at most {MAX_REPLY_CHARS} characters")
        if not message_id:
            raise ValueError("message_id: required (it makes a retried reply publish once)")
        _, facts = await self._handed_over(tenant_id, contact_id, requesting_region)
        await self._events.publish(
            ev.MessageSent(
                tenant_id=tenant_id,
                brand_id=facts.brand_id,
                contact_id=contact_id,
                region=self._region,
                event_id=message_id,
                message_id=message_id,
                channel=facts.channel,
                text=text,
                sender=f"agent:{agent_id}",
            )
        )
        return message_id

    async def accepted(
        self,
        tenant_id: str,
        contact_id: str,
        requesting_region: str,
        *,
        agent_id: str,
        queue: str,
        reservation_id: str,
    ) -> None:
        """The agent there accepted the contact: published here as ContactAccepted, the event a
        customer served here learns from that an agent joined (once per reservation)."""
        if not reservation_id:
            raise ValueError("reservation_id: required (it makes a retried accept publish once)")
        _, facts = await self._handed_over(tenant_id, contact_id, requesting_region)
        await self._events.publish(
            ev.ContactAccepted(
                **self._about(tenant_id, contact_id, facts, "accepted", reservation_id),
                queue=queue,
                agent_id=agent_id,
                reservation_id=reservation_id,
            )
        )

    async def wrap_up(
        self,
        tenant_id: str,
        contact_id: str,
        requesting_region: str,
        *,
        agent_id: str,
        queue: str,
        disposition: str,
        notes: str,
        reservation_id: str,
    ) -> None:
        _, facts = await self._handed_over(tenant_id, contact_id, requesting_region)
        await self._events.publish(
            ev.ContactWrappedUp(
                **self._about(tenant_id, contact_id, facts, "wrapup", reservation_id),
                agent_id=agent_id,
                queue=queue,
                disposition=disposition,
                notes=notes,
            )
        )
        # The customer (web chat socket, timeline) learns here that the conversation ended.
        await self._events.publish(
            ev.ContactClosed(
                **self._about(tenant_id, contact_id, facts, "closed", reservation_id),
                outcome="completed",
                closed_by=agent_id,
            )
        )
        if facts.customer_id:
            await self._contacts.close_contact(tenant_id, facts.customer_id, contact_id)
