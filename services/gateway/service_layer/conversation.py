"""Drive a contact's conversation after each accepted message.

A new contact from a configured endpoint starts the endpoint's journey (routing StartJourney)
or, for a queue-only endpoint, is handed to the ACD (ContactQueued with the channel). A later
message feeds a journey that waits for it: text input (ContinueJourney input) or the call back
it offered (ContinueJourney callback_channel). The journey's prompts become MessageSent events
on text channels (voice renders them itself from the returned actions); a call back it offers
becomes a CallbackRequested event that the outbound consumer turns into a call.

Every event id derives from the inbound message id, so a provider's retry that runs this again
publishes nothing twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from ccmesh.configplane.models import ChannelEndpoint
from ccmesh.events import EventPublisher
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.adapters.contact_store import ContactStore
from gateway.domain.contact import ChannelLeg, ContactRecord, JourneyState
from gateway.domain.conversation import (
    CHANNEL_KINDS,
    JourneyAction,
    channel_name,
    endpoint_channel,
    journey_channel,
    prompt_text,
    prompts_to_send,
)
from gateway.domain.inbound import InboundMessage

log = logging.getLogger(__name__)

BOT_SENDER = "bot"


class RoutingClient(Protocol):
    async def StartJourney(self, request: routing_pb2.StartJourneyRequest, **kwargs: Any) -> Any: ...
    async def ContinueJourney(self, request: routing_pb2.ContinueJourneyRequest, **kwargs: Any) -> Any: ...
    async def GetJourney(self, request: routing_pb2.GetJourneyRequest, **kwargs: Any) -> Any: ...


class EndpointLookup(Protocol):
    def by_name(self, name: str) -> ChannelEndpoint | None: ...
    def all(self) -> list[ChannelEndpoint]: ...


@dataclass(frozen=True)
class Outcome:
    actions: tuple[JourneyAction, ...]
    journey_status: str


def now() -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(time.time_ns())
    return stamp


class Conversations:
    def __init__(
        self,
        *,
        region: str,
        store: ContactStore,
        routing: RoutingClient,
        endpoints: EndpointLookup,
        events: EventPublisher,
    ) -> None:
        self._region = region
        self._store = store
        self._routing = routing
        self.endpoints = endpoints
        self._events = events

    def endpoint_of(self, message: InboundMessage) -> ChannelEndpoint | None:
        """The configured endpoint the message came through; None for a free API entry point."""
        endpoint = self.endpoints.by_name(message.entry_point) if message.entry_point else None
        if endpoint is None or endpoint.spec.tenant != message.tenant_id:
            return None
        return endpoint

    def voice_endpoint(self, tenant_id: str, brand_id: str) -> ChannelEndpoint | None:
        """The voice endpoint a call back is placed from: same tenant, same brand if there is one."""
        return voice_endpoint_among(self.endpoints.all(), tenant_id, brand_id)

    async def after_message(
        self, message: InboundMessage, *, contact_id: str, customer_id: str, message_id: str
    ) -> Outcome:
        endpoint = self.endpoint_of(message)
        channel = channel_name(message.channel)
        leg = ChannelLeg(
            channel=channel,
            endpoint=message.entry_point,
            address=message.reply_address or message.from_value,
            subject=message.subject,
            # `in_reply_to` is most recent first; a thread (and References) runs oldest first.
            thread_ids=tuple(i for i in (*reversed(message.in_reply_to), message.thread_id) if i),
        )

        def add_leg(current: ContactRecord | None) -> ContactRecord:
            record = current or ContactRecord(
                contact_id=contact_id,
                tenant_id=message.tenant_id,
                brand_id=message.brand_id or (endpoint.spec.brand if endpoint else ""),
                customer_id=customer_id,
                entry_point=message.entry_point,
                language=message.language or (endpoint.spec.language if endpoint else ""),
            )
            return record.with_leg(leg)

        record = await self._store.change_contact(message.tenant_id, contact_id, add_leg)
        if not record.started:
            return await self._first_step(message, record, endpoint, message_id)
        return await self._next_step(message, record, message_id)

    async def _first_step(
        self,
        message: InboundMessage,
        record: ContactRecord,
        endpoint: ChannelEndpoint | None,
        message_id: str,
    ) -> Outcome:
        journey = JourneyState()
        actions: tuple[JourneyAction, ...] = ()
        if endpoint is not None and endpoint.spec.flow:
            reply = await self._start_journey(message, record, endpoint)
            if reply is not None:
                journey = _state(reply.journey)
                actions = self._actions(reply.actions, record)
        elif endpoint is not None:
            await self._publish_queued(message, record, endpoint)
        # Free API entry points (no endpoint) keep today's behaviour: events only, no first step.
        record = await self._save_journey(record, journey, started=True)
        await self._perform(record, actions, message, message_id)
        return Outcome(actions, journey.status)

    async def _next_step(self, message: InboundMessage, record: ContactRecord, message_id: str) -> Outcome:
        if not record.journey.status or record.journey.status == "ended":
            return Outcome((), record.journey.status)
        # The journey may have moved since we last saw it (AI results, timeouts): ask routing.
        current = await self._routing.GetJourney(
            routing_pb2.GetJourneyRequest(tenant_id=record.tenant_id, journey_id=record.contact_id)
        )
        state = replace(_state(current.journey), callback_channel=record.journey.callback_channel)
        channel = channel_name(message.channel)
        request: routing_pb2.ContinueJourneyRequest | None = None
        if state.status == "waiting" and state.waiting_for == "callback":
            wanted = endpoint_channel(state.callback_channel or "voice")
            if channel == wanted:
                request = routing_pb2.ContinueJourneyRequest(
                    tenant_id=record.tenant_id,
                    journey_id=record.contact_id,
                    callback_channel=journey_channel(channel),
                )
        elif state.status == "waiting" and state.waiting_for == "input" and message.text.strip():
            request = routing_pb2.ContinueJourneyRequest(
                tenant_id=record.tenant_id, journey_id=record.contact_id, input=message.text
            )
        if request is None:
            await self._save_journey(record, state, started=True)
            return Outcome((), state.status)
        reply = await self._routing.ContinueJourney(request)
        actions = self._actions(reply.actions, record)
        record = await self._save_journey(record, _state(reply.journey), started=True)
        await self._perform(record, actions, message, message_id)
        return Outcome(actions, reply.journey.status)

    async def _start_journey(
        self, message: InboundMessage, record: ContactRecord, endpoint: ChannelEndpoint
    ) -> Any:
        spec = endpoint.spec
        request = routing_pb2.StartJourneyRequest(
            tenant_id=record.tenant_id,
            contact_id=record.contact_id,
            flow=spec.flow,
            alias=spec.alias,
            channel=journey_channel(spec.channel),
            brand=record.brand_id,
            language=record.language,
        )
        try:
            return await self._routing.StartJourney(request)
        except RpcError as error:
            if error.code != grpc.StatusCode.FAILED_PRECONDITION:
                raise
        # A retry after a crash between start and record: the journey runs already; take its state.
        log.info("journey of contact %s already started; continuing with its state", record.contact_id)
        current = await self._routing.GetJourney(
            routing_pb2.GetJourneyRequest(tenant_id=record.tenant_id, journey_id=record.contact_id)
        )
        return routing_pb2.StartJourneyResponse(journey=current.journey)

    async def _publish_queued(
        self, message: InboundMessage, record: ContactRecord, endpoint: ChannelEndpoint
    ) -> None:
        await self._events.publish(
            events_pb2.Event(
                event_id=f"{record.contact_id}.queued",
                occurred_at=now(),
                tenant=common_pb2.TenantRef(tenant_id=record.tenant_id, brand_id=record.brand_id),
                region=self._region,
                contact_id=record.contact_id,
                source="gateway",
                schema_version=1,
                contact_queued=events_pb2.ContactQueued(
                    queue=endpoint.spec.queue,
                    channel=message.channel,  # type: ignore[arg-type]
                    language=record.language,
                    brand=record.brand_id,
                ),
            )
        )

    def _actions(self, actions: Any, record: ContactRecord) -> tuple[JourneyAction, ...]:
        endpoint = self.endpoints.by_name(record.entry_point)
        prompts = endpoint.spec.prompts if endpoint is not None else {}
        return tuple(
            JourneyAction(
                kind=a.kind,
                node=a.node,
                name=a.name,
                mode=a.mode,
                timeout_seconds=a.timeout_seconds,
                attempt=a.attempt,
                channel=a.channel,
                text=prompt_text(prompts, a.name, record.language)
                if a.kind in ("send_prompt", "await_input") and a.name
                else "",
            )
            for a in actions
        )

    async def _save_journey(
        self, record: ContactRecord, state: JourneyState, *, started: bool
    ) -> ContactRecord:
        def change(current: ContactRecord | None) -> ContactRecord:
            return replace(current or record, journey=state, started=started)

        return await self._store.change_contact(record.tenant_id, record.contact_id, change)

    async def _perform(
        self,
        record: ContactRecord,
        actions: tuple[JourneyAction, ...],
        message: InboundMessage,
        message_id: str,
    ) -> None:
        channel = channel_name(message.channel)
        tenant = common_pb2.TenantRef(tenant_id=record.tenant_id, brand_id=record.brand_id)
        for index, action in enumerate(actions):
            event_id = f"{message_id}.{index}"
            if prompts_to_send([action], channel):
                await self._events.publish(
                    events_pb2.Event(
                        event_id=event_id,
                        occurred_at=now(),
                        tenant=tenant,
                        region=self._region,
                        contact_id=record.contact_id,
                        source="gateway",
                        schema_version=1,
                        message_sent=events_pb2.MessageSent(
                            message_id=event_id,
                            channel=CHANNEL_KINDS[channel],  # type: ignore[arg-type]
                            text=action.text,
                            sender=BOT_SENDER,
                        ),
                    )
                )
            elif action.kind == "schedule_callback":
                await self._request_callback(record, action, tenant, event_id)

    async def _request_callback(
        self, record: ContactRecord, action: JourneyAction, tenant: common_pb2.TenantRef, event_id: str
    ) -> None:
        callback_channel = endpoint_channel(action.channel or "voice")
        voice = self.voice_endpoint(record.tenant_id, record.brand_id)
        if voice is None:
            # Still published: the outbound consumer reports it as failed instead of it vanishing.
            log.warning("contact %s: call back requested but tenant has no voice endpoint", record.contact_id)
        await self._store.change_contact(
            record.tenant_id,
            record.contact_id,
            lambda current: replace(
                current or record,
                journey=replace((current or record).journey, callback_channel=callback_channel),
            ),
        )
        await self._events.publish(
            events_pb2.Event(
                event_id=event_id,
                occurred_at=now(),
                tenant=tenant,
                region=self._region,
                contact_id=record.contact_id,
                source="gateway",
                schema_version=1,
                callback_requested=events_pb2.CallbackRequested(
                    queue=action.name,
                    channel=callback_channel,
                    endpoint=voice.metadata.name if voice is not None else "",
                ),
            )
        )


def _state(journey: routing_pb2.Journey) -> JourneyState:
    return JourneyState(status=journey.status, waiting_for=journey.waiting_for)


def voice_endpoint_among(
    endpoints: list[ChannelEndpoint], tenant_id: str, brand_id: str
) -> ChannelEndpoint | None:
    """The tenant's first voice endpoint, preferring one of the same brand."""
    voice = [e for e in endpoints if e.spec.tenant == tenant_id and e.spec.channel == "voice"]
    same_brand = [e for e in voice if e.spec.brand == brand_id]
    candidates = same_brand or voice
    return candidates[0] if candidates else None
