"""What the gateway announces on its region's event stream: one typed event per fact (pure).

The use cases build these and hand them to a publisher port (`service_layer.ports.GatewayEvents`);
`gateway.adapters.event_codec` is the one place that turns them into protobuf `Event`s.

Every event names the contact it is about, its tenant and brand, the region whose stream holds it,
and its `event_id`. The use case chooses the id from what the fact is (the provider's message, the
reservation, the request), because it knows what a retry repeats: the stream drops a second
publish with the same id. Channels are the protobuf `ChannelKind` numbers, as in `InboundMessage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from gateway.domain.inbound import Attachment


class EventHeader(TypedDict):
    """The fields every gateway event starts with, for a use case that publishes several events
    about one contact: `MessageSent(**header, ...)`."""

    tenant_id: str
    brand_id: str
    contact_id: str
    region: str
    event_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayEvent:
    tenant_id: str
    brand_id: str
    contact_id: str
    #: The region whose stream the event goes to (the gateway publishing it).
    region: str
    #: The de-duplication key: fixed by the fact, so a retried publish is dropped as a duplicate.
    event_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactCreated(GatewayEvent):
    """A customer's message opened a new contact."""

    channel: int
    customer_id: str
    #: The endpoint (number, address, widget) the customer contacted.
    entry_point: str
    #: The identifier the customer wrote from (personal data), as identity knows it.
    from_kind: int
    from_value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived(GatewayEvent):
    """A customer's message reached the platform."""

    message_id: str
    channel: int
    customer_id: str
    text: str
    provider_message_id: str
    subject: str = ""
    language: str = ""
    sender_name: str = ""
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactQueued(GatewayEvent):
    """A contact from a queue-only endpoint is handed to the ACD, with what was learned of it."""

    queue: str
    channel: int
    language: str
    intent: str = ""
    #: -1 .. 1; 0 when nothing was learned.
    sentiment: float = 0.0
    #: The customer asked to be called back before joining: it waits as a call-back request.
    callback: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSent(GatewayEvent):
    """A reply to the customer (a journey's prompt or an agent's text), for the outbound side."""

    message_id: str
    channel: int
    text: str
    #: "bot" or "agent:<id>".
    sender: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackRequested(GatewayEvent):
    """The customer is to be called back; the event id is the call request's id."""

    queue: str
    #: The channel name of the call back ("voice").
    channel: str
    #: The voice endpoint the call is placed from; "" when the tenant has none.
    endpoint: str
    #: Which attempt (from 1; 0: the first, uncounted), the agent the answered call goes to, and
    #: the first attempt's event id (retries name it).
    attempt: int = 0
    agent_id: str = ""
    first_request: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackAttemptFailed(GatewayEvent):
    """A call placed for a call-back request ended unanswered; retried at `retry_at` unless final."""

    queue: str
    attempt: int
    attempts_allowed: int
    #: Twilio's CallStatus: no-answer, busy or failed.
    status: str
    final: bool
    #: Epoch seconds of the next attempt (0 when final).
    retry_at: float
    endpoint: str
    agent_id: str
    first_request: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageStatusChanged(GatewayEvent):
    """How delivering one outbound item went: our attempt's outcome or a provider's later report."""

    message_id: str
    channel: int
    #: "sent", "delivered", "read" or "failed".
    status: str
    provider: str
    provider_message_id: str = ""
    #: Why it failed (codes and endpoints, never credentials or message text).
    reason: str = ""
    #: Delivery attempts made so far; 0 in a provider's report.
    attempts: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactAccepted(GatewayEvent):
    """An agent of another region accepted a contact handed over from here."""

    queue: str
    agent_id: str
    reservation_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactWrappedUp(GatewayEvent):
    """The agent finished the contact with a disposition."""

    agent_id: str
    queue: str
    disposition: str
    notes: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactClosed(GatewayEvent):
    """The contact ended: completed by an agent, or abandoned by a caller who hung up."""

    outcome: str
    closed_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactDeflected(GatewayEvent):
    """A new contact beyond its tenant's or queue's ceiling of waiting contacts, answered at
    once on its channel instead of queued (`service_layer.back_pressure`)."""

    queue: str
    channel: int
    #: "tenant" or "queue".
    ceiling: str
    max_waiting: int
    waiting: int
    #: Seconds; inf when unbounded or unknown (-1 on the wire).
    estimated_wait_seconds: float
    offered: tuple[str, ...] = ()
