"""What the gateway's use cases need from the world, as Protocols.

The use cases name these, never the KV- or NATS-backed classes in `adapters/`, so a unit test
hands them in-memory fakes and the integration tests hand them the real stores. Each Protocol
lists only the methods some use case calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from ccmesh.configplane.models import ChannelEndpoint
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.adapters.contact_store import Claim
from gateway.adapters.outbox_store import OutboxRecord
from gateway.adapters.provider_receipts import Receipt as SentReceipt
from gateway.adapters.workspace_store import Desk, HeldContact
from gateway.domain.contact import ContactRecord
from gateway.domain.events import GatewayEvent
from gateway.domain.inbound import Accepted
from gateway.domain.outbound_message import CallRequest, Receipt
from gateway.domain.voice_call import VoiceCall


class GatewayEvents(Protocol):
    """Publishes the gateway's domain events on the region's stream (`adapters.event_codec`);
    the event id is the de-duplication key."""

    async def publish(self, event: GatewayEvent) -> Any: ...

    async def send(self, *events: GatewayEvent) -> Awaitable[Any]:
        """Send `events` in their order now; the result awaits their acknowledgements, and only
        once it has are they published (a failure raises there)."""
        ...


class Contacts(Protocol):
    """Open contacts, their records and the idempotency claims of provider messages."""

    async def claim_message(self, tenant_id: str, token: str) -> Claim: ...
    async def complete(self, claim: Claim, result: Accepted) -> None: ...
    async def release(self, claim: Claim) -> None: ...
    async def open_contact(self, tenant_id: str, customer_id: str) -> tuple[str, bool]: ...
    async def contact(self, tenant_id: str, contact_id: str) -> tuple[ContactRecord | None, int]: ...
    async def started(self, tenant_id: str, contact_id: str) -> bool:
        """Whether the contact's first step ran (its record says so; a record never un-starts)."""
        ...

    async def change_contact(
        self, tenant_id: str, contact_id: str, change: Callable[[ContactRecord | None], ContactRecord]
    ) -> ContactRecord: ...
    async def is_open(self, tenant_id: str, record: ContactRecord) -> bool: ...
    async def close_contact(self, tenant_id: str, customer_id: str, contact_id: str) -> bool: ...
    async def thread_contact(self, tenant_id: str, message_ids: Iterable[str]) -> str | None: ...
    async def remember_thread(self, tenant_id: str, message_id: str, contact_id: str) -> None: ...


class EndpointLookup(Protocol):
    """The tenant-checked endpoint lookup (`adapters.channel_directory.ChannelDirectory`)."""

    def endpoint_for(self, tenant_id: str, name: str) -> ChannelEndpoint | None: ...
    def voice_endpoint_for(self, tenant_id: str, brand_id: str) -> ChannelEndpoint | None: ...


class Outbox(Protocol):
    """Delivery records of outbound messages, written with the revision read."""

    async def get(self, tenant_id: str, message_id: str) -> tuple[OutboxRecord, int]: ...
    async def put(self, tenant_id: str, message_id: str, record: OutboxRecord, revision: int) -> int: ...


class ContactHistory(Protocol):
    """A contact's events so far, oldest first (the region's stream is the source of truth)."""

    async def of_contact(self, tenant_id: str, contact_id: str) -> list[events_pb2.Event]: ...


class SentReceipts(Protocol):
    """Which contact and message a provider's message id names (for its delivery reports)."""

    async def remember(
        self, tenant_id: str, provider: str, provider_message_id: str, receipt: SentReceipt
    ) -> None: ...
    async def find(self, tenant_id: str, provider: str, provider_message_id: str) -> SentReceipt | None: ...


class VisitorContacts(Protocol):
    """Which open contact a web chat visitor has."""

    async def visitor_contact(self, tenant_id: str, visitor_id: str) -> str | None: ...
    async def remember_visitor_contact(self, tenant_id: str, visitor_id: str, contact_id: str) -> None: ...


class Desks(Protocol):
    """The contacts each agent holds, so a reconnecting workspace gets them back."""

    async def desk(self, tenant_id: str, agent_id: str) -> Desk: ...
    async def hold(self, tenant_id: str, agent_id: str, held: HeldContact) -> None: ...
    async def release(self, tenant_id: str, agent_id: str, contact_id: str) -> None: ...


class VoiceCallRecords(Protocol):
    """The calls the gateway answered, by Twilio's CallSid (`VoiceCalls`)."""

    async def get(self, tenant_id: str, call_sid: str) -> VoiceCall | None: ...
    async def of_contact(self, tenant_id: str, contact_id: str) -> VoiceCall | None: ...
    async def answered(
        self,
        tenant_id: str,
        *,
        call_sid: str,
        contact_id: str,
        endpoint: str,
        queued: bool,
        wait_url: str = "",
    ) -> VoiceCall: ...
    async def change(
        self, tenant_id: str, call_sid: str, change: Callable[[VoiceCall | None], VoiceCall | None]
    ) -> tuple[VoiceCall | None, VoiceCall | None]: ...


class CallPlacer(Protocol):
    """Places calls through the provider (Twilio's Calls API)."""

    async def place_call(self, endpoint: ChannelEndpoint, call: CallRequest) -> Receipt: ...


class IdentityClient(Protocol):
    async def ResolveCustomer(self, request: identity_pb2.ResolveCustomerRequest, **kwargs: Any) -> Any: ...


class RoutingClient(Protocol):
    async def StartJourney(self, request: routing_pb2.StartJourneyRequest, **kwargs: Any) -> Any: ...
    async def ContinueJourney(self, request: routing_pb2.ContinueJourneyRequest, **kwargs: Any) -> Any: ...
    async def GetJourney(self, request: routing_pb2.GetJourneyRequest, **kwargs: Any) -> Any: ...


class CallbackRequestClient(Protocol):
    async def RequestCallback(self, request: routing_pb2.RequestCallbackRequest, **kwargs: Any) -> Any: ...
