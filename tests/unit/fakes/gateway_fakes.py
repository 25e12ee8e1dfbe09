"""In-memory fakes of the gateway use cases' ports (`gateway.service_layer.ports`).

The endpoint lookup is the real `ChannelDirectory`: it is pure (a dict refreshed from config
documents), so the tests use the production lookup with its tenant check.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from ccmesh import channels
from ccmesh.configplane.channels import PROVIDER_OF_CHANNEL
from ccmesh.configplane.models import ChannelEndpoint
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.adapters.contact_store import Claim, StillProcessing
from gateway.adapters.event_codec import to_protobuf
from gateway.adapters.outbox_store import OutboxConflict, OutboxRecord
from gateway.adapters.provider_receipts import Receipt as SentReceipt
from gateway.adapters.workspace_store import Desk, HeldContact
from gateway.domain.contact import ContactRecord
from gateway.domain.events import GatewayEvent
from gateway.domain.inbound import Accepted, InboundMessage
from gateway.domain.outbound_message import CallRequest, OutboundMessage, Receipt
from gateway.domain.voice_call import VoiceCall

REGION = "eu"
_NUMBERS = itertools.count(1)


def channel_endpoint(
    name: str, channel: str = "sms", *, tenant: str = "acme", **spec: Any
) -> ChannelEndpoint:
    provider = PROVIDER_OF_CHANNEL[channels.parse(channel)]
    body: dict[str, Any] = {
        "region": REGION,
        "tenant": tenant,
        "brand": f"{tenant}-retail",
        "channel": channel,
        "provider": provider,
        "address": f"+4420718{next(_NUMBERS):05d}" if channel in ("sms", "voice") else f"{name}-address",
        **spec,
    }
    if provider == "twilio":
        body.setdefault("twilio", {"accountSid": "AC" + "0" * 32, "authToken": "token-0123456789"})
    if provider == "whatsapp_cloud":
        body["address"] = body.get("address") if spec.get("address") else f"1065403{next(_NUMBERS):05d}"
        body.setdefault(
            "whatsapp",
            {"phoneNumberId": body["address"], "appSecret": "app-secret", "verifyToken": "verify-token"},
        )
    return ChannelEndpoint.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ChannelEndpoint",
            "metadata": {"name": name},
            "spec": body,
        }
    )


def directory_of(*endpoints: ChannelEndpoint) -> ChannelDirectory:
    directory = ChannelDirectory(REGION)
    directory.refresh(sorted(endpoints, key=lambda e: e.metadata.name))
    return directory


class FakeEvents:
    """The region's event stream behind the gateway's publisher: a domain event is kept as it was
    published (`facts`) and as the real codec turns it into protobuf (`published`); a test seeds
    other services' events as protobuf. A repeated event id is dropped, as JetStream does."""

    def __init__(self) -> None:
        self.published: list[events_pb2.Event] = []
        self.facts: list[GatewayEvent] = []
        self._ids: set[str] = set()

    async def publish(self, event: GatewayEvent | events_pb2.Event, timeout: float = 5.0) -> Any:
        if isinstance(event, GatewayEvent):
            fact, event = event, to_protobuf(event)
        else:
            fact = None
        if not event.event_id:
            raise ValueError("event_id is required: it is the de-duplication key")
        duplicate = event.event_id in self._ids
        if not duplicate:
            self._ids.add(event.event_id)
            self.published.append(event)
            if fact is not None:
                self.facts.append(fact)
        return SimpleNamespace(duplicate=duplicate)

    async def send(self, *events: GatewayEvent) -> Any:
        """As the stream does: stored in order when sent; the answer awaits the acknowledgements."""
        answers = [await self.publish(event) for event in events]

        async def acknowledged() -> list[Any]:
            return answers

        return acknowledged()

    def kinds(self) -> list[str]:
        return [str(e.WhichOneof("payload")) for e in self.published]

    def of_kind(self, kind: str) -> list[events_pb2.Event]:
        return [e for e in self.published if e.WhichOneof("payload") == kind]


class FakeContacts:
    """The gateway KV bucket's contact keys: claims, open contacts, records, e-mail threads."""

    def __init__(self) -> None:
        self.claims: dict[str, tuple[str, Accepted | None]] = {}
        self.open: dict[tuple[str, str], str] = {}
        self.records: dict[tuple[str, str], tuple[ContactRecord, int]] = {}
        self.threads: dict[tuple[str, str], str] = {}
        self._revisions = itertools.count(1)

    async def claim_message(self, tenant_id: str, token: str) -> Claim:
        key = f"msg.{tenant_id}.{token}"
        state = self.claims.get(key)
        if state is not None:
            if state[0] == "done":
                return Claim(key, 1, state[1])
            raise StillProcessing(f"provider message is being processed (claim {key})")
        self.claims[key] = ("pending", None)
        return Claim(key, next(self._revisions), None)

    async def complete(self, claim: Claim, result: Accepted) -> None:
        self.claims[claim.key] = ("done", result)

    async def release(self, claim: Claim) -> None:
        self.claims.pop(claim.key, None)

    async def open_contact(self, tenant_id: str, customer_id: str) -> tuple[str, bool]:
        key = (tenant_id, customer_id)
        if key in self.open:
            return self.open[key], False
        self.open[key] = uuid.uuid4().hex
        return self.open[key], True

    async def contact(self, tenant_id: str, contact_id: str) -> tuple[ContactRecord | None, int]:
        return self.records.get((tenant_id, contact_id), (None, 0))

    async def started(self, tenant_id: str, contact_id: str) -> bool:
        record, _ = await self.contact(tenant_id, contact_id)
        return record is not None and record.started

    async def change_contact(
        self, tenant_id: str, contact_id: str, change: Callable[[ContactRecord | None], ContactRecord]
    ) -> ContactRecord:
        current, _ = await self.contact(tenant_id, contact_id)
        record = change(current)
        self.records[(tenant_id, contact_id)] = (record, next(self._revisions))
        return record

    async def is_open(self, tenant_id: str, record: ContactRecord) -> bool:
        return self.open.get((tenant_id, record.customer_id)) == record.contact_id

    async def close_contact(self, tenant_id: str, customer_id: str, contact_id: str) -> bool:
        if self.open.get((tenant_id, customer_id)) != contact_id:
            return False
        del self.open[(tenant_id, customer_id)]
        return True

    async def thread_contact(self, tenant_id: str, message_ids: Iterable[str]) -> str | None:
        for message_id in message_ids:
            found = self.threads.get((tenant_id, message_id.strip().strip("<>").lower()))
            if found is not None:
                return found
        return None

    async def remember_thread(self, tenant_id: str, message_id: str, contact_id: str) -> None:
        self.threads[(tenant_id, message_id.strip().strip("<>").lower())] = contact_id


class FakeIdentity:
    """Identity's ResolveCustomer: one customer per identifier value, linked values share one."""

    def __init__(self) -> None:
        self.customers: dict[tuple[str, str], str] = {}
        self.requests: list[Any] = []

    async def ResolveCustomer(self, request: Any, **_: Any) -> Any:
        self.requests.append(request)
        tenant = request.tenant.tenant_id
        known = [
            self.customers[(tenant, i.value)]
            for i in request.identifiers
            if (tenant, i.value) in self.customers
        ]
        customer_id = known[0] if known else f"cust-{len(self.customers) + 1}"
        for identifier in request.identifiers:
            self.customers[(tenant, identifier.value)] = customer_id
        return SimpleNamespace(
            customer=SimpleNamespace(customer_id=customer_id),
            created=not known,
            remote=SimpleNamespace(home_region="", reference=""),
        )


@dataclass
class FakeRouting:
    """Routing's journey calls: a journey per contact, its replies scripted by the test."""

    #: Actions StartJourney answers with, and the journey state after it.
    start_actions: list[routing_pb2.JourneyAction] = field(default_factory=list)
    start_journey: routing_pb2.Journey = field(
        default_factory=lambda: routing_pb2.Journey(status="waiting", waiting_for="input")
    )
    continue_actions: list[routing_pb2.JourneyAction] = field(default_factory=list)
    continue_journey: routing_pb2.Journey = field(default_factory=lambda: routing_pb2.Journey(status="ended"))
    calls: list[tuple[str, Any]] = field(default_factory=list)
    journeys: dict[str, routing_pb2.Journey] = field(default_factory=dict)

    async def StartJourney(self, request: routing_pb2.StartJourneyRequest, **_: Any) -> Any:
        self.calls.append(("StartJourney", request))
        self.journeys[request.contact_id] = self.start_journey
        return routing_pb2.StartJourneyResponse(journey=self.start_journey, actions=self.start_actions)

    async def ContinueJourney(self, request: routing_pb2.ContinueJourneyRequest, **_: Any) -> Any:
        self.calls.append(("ContinueJourney", request))
        self.journeys[request.journey_id] = self.continue_journey
        return routing_pb2.ContinueJourneyResponse(
            journey=self.continue_journey, actions=self.continue_actions
        )

    async def GetJourney(self, request: routing_pb2.GetJourneyRequest, **_: Any) -> Any:
        self.calls.append(("GetJourney", request))
        return routing_pb2.GetJourneyResponse(journey=self.journeys[request.journey_id])


class FakeOutbox:
    """Delivery records with KV's revision check."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], tuple[OutboxRecord, int]] = {}

    async def get(self, tenant_id: str, message_id: str) -> tuple[OutboxRecord, int]:
        return self.records.get((tenant_id, message_id), (OutboxRecord(), 0))

    async def put(self, tenant_id: str, message_id: str, record: OutboxRecord, revision: int) -> int:
        _, current = self.records.get((tenant_id, message_id), (None, 0))
        if current != revision:
            raise OutboxConflict(f"delivery record of message {message_id} changed concurrently")
        self.records[(tenant_id, message_id)] = (record, current + 1)
        return current + 1


class FakeProvider:
    """A provider adapter that records what it was asked to send; `fail` makes it refuse."""

    def __init__(self, name: str, fail: Exception | None = None) -> None:
        self.name = name
        self.fail = fail
        self.sent: list[tuple[ChannelEndpoint, OutboundMessage]] = []
        self.calls: list[tuple[ChannelEndpoint, CallRequest]] = []
        self.redirects: list[tuple[ChannelEndpoint, str, str]] = []

    async def send(self, endpoint: ChannelEndpoint, message: OutboundMessage) -> Receipt:
        if self.fail is not None:
            raise self.fail
        self.sent.append((endpoint, message))
        return Receipt(provider_message_id=f"{self.name}-{len(self.sent)}")

    async def place_call(self, endpoint: ChannelEndpoint, call: CallRequest) -> Receipt:
        if self.fail is not None:
            raise self.fail
        self.calls.append((endpoint, call))
        return Receipt(provider_message_id=f"CA{len(self.calls)}")

    async def update_call(self, endpoint: ChannelEndpoint, call_sid: str, twiml: str) -> Receipt:
        if self.fail is not None:
            raise self.fail
        self.redirects.append((endpoint, call_sid, twiml))
        return Receipt(provider_message_id=call_sid)


class FakeHistory:
    """A contact's events: reads what the fake stream holds for it."""

    def __init__(self, events: FakeEvents) -> None:
        self._events = events

    async def of_contact(self, tenant_id: str, contact_id: str) -> list[events_pb2.Event]:
        return [
            e
            for e in self._events.published
            if e.tenant.tenant_id == tenant_id and e.contact_id == contact_id
        ]


class FakeWorkspaceStore:
    """Visitors' contacts and agents' desks."""

    def __init__(self) -> None:
        self.visitors: dict[tuple[str, str], str] = {}
        self.desks: dict[tuple[str, str], Desk] = {}

    async def visitor_contact(self, tenant_id: str, visitor_id: str) -> str | None:
        return self.visitors.get((tenant_id, visitor_id))

    async def remember_visitor_contact(self, tenant_id: str, visitor_id: str, contact_id: str) -> None:
        self.visitors[(tenant_id, visitor_id)] = contact_id

    async def desk(self, tenant_id: str, agent_id: str) -> Desk:
        return dict(self.desks.get((tenant_id, agent_id), {}))

    async def hold(self, tenant_id: str, agent_id: str, held: HeldContact) -> None:
        self.desks.setdefault((tenant_id, agent_id), {})[held.contact_id] = held

    async def release(self, tenant_id: str, agent_id: str, contact_id: str) -> None:
        self.desks.get((tenant_id, agent_id), {}).pop(contact_id, None)


class FakeReceipts:
    def __init__(self) -> None:
        self.known: dict[tuple[str, str, str], SentReceipt] = {}

    async def remember(
        self, tenant_id: str, provider: str, provider_message_id: str, receipt: SentReceipt
    ) -> None:
        self.known.setdefault((tenant_id, provider, provider_message_id), receipt)

    async def find(self, tenant_id: str, provider: str, provider_message_id: str) -> SentReceipt | None:
        return self.known.get((tenant_id, provider, provider_message_id))


class FakeVoiceCalls:
    """Voice call records by call SID, found by contact too."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], VoiceCall] = {}

    async def get(self, tenant_id: str, call_sid: str) -> VoiceCall | None:
        return self.calls.get((tenant_id, call_sid))

    async def of_contact(self, tenant_id: str, contact_id: str) -> VoiceCall | None:
        for (tenant, _), call in self.calls.items():
            if tenant == tenant_id and call.contact_id == contact_id:
                return call
        return None

    async def answered(
        self,
        tenant_id: str,
        *,
        call_sid: str,
        contact_id: str,
        endpoint: str,
        queued: bool,
        wait_url: str = "",
    ) -> VoiceCall:
        def change(current: VoiceCall | None) -> VoiceCall:
            call = current or VoiceCall(call_sid=call_sid, contact_id=contact_id, endpoint=endpoint)
            return call.answered(queued=queued, wait_url=wait_url)

        _, call = await self.change(tenant_id, call_sid, change)
        assert call is not None
        return call

    async def change(
        self, tenant_id: str, call_sid: str, change: Callable[[VoiceCall | None], VoiceCall | None]
    ) -> tuple[VoiceCall | None, VoiceCall | None]:
        """(before, after), as the KV-backed store answers; None from `change` leaves it as is."""
        before = self.calls.get((tenant_id, call_sid))
        after = change(before)
        if after is None:
            return before, before
        self.calls[(tenant_id, call_sid)] = after
        return before, after


def sms(
    provider_id: str,
    *,
    entry_point: str = "",
    text: str = "hello",
    tenant: str = "acme",
    phone: str = "+447700900001",
    **fields: Any,
) -> InboundMessage:
    """An inbound SMS as a webhook or the tenant API would build it."""
    return InboundMessage(
        tenant_id=tenant,
        brand_id=fields.pop("brand_id", ""),
        channel=common_pb2.CHANNEL_KIND_SMS,
        from_kind=common_pb2.IDENTIFIER_KIND_PHONE,
        from_value=phone,
        entry_point=entry_point,
        text=text,
        provider_message_id=provider_id,
        **fields,
    )
