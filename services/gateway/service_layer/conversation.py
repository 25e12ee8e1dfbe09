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

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import grpc

from ccmesh import channels
from ccmesh.channels import Channel
from ccmesh.configplane.models import ChannelEndpoint
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.domain import events as ev
from gateway.domain.back_pressure import asks_callback, worded_by
from gateway.domain.contact import ChannelLeg, ContactRecord, JourneyState
from gateway.domain.conversation import JourneyAction, RoutingStep, prompt_text, prompts_to_send
from gateway.domain.inbound import InboundMessage
from gateway.domain.learned import NOTHING, Learned
from gateway.service_layer.back_pressure import EdgeAdmission, deflect
from gateway.service_layer.consent_gate import ConsentLookup
from gateway.service_layer.ports import Contacts, EndpointLookup, GatewayEvents, RoutingClient
from gateway.service_layer.queued_callbacks import QueuedCallbacks

log = logging.getLogger(__name__)

BOT_SENDER = "bot"


@dataclass(frozen=True)
class Outcome:
    actions: tuple[JourneyAction, ...]
    journey_status: str


class LanguageDetector(Protocol):
    """What a customer's text says: its language ("" when it cannot be told, in time or at all),
    intent and mood."""

    async def __call__(self, tenant_id: str, brand_id: str, text: str) -> Learned: ...


class Conversations:
    def __init__(
        self,
        *,
        region: str,
        store: Contacts,
        routing: RoutingClient,
        endpoints: EndpointLookup,
        events: GatewayEvents,
        language_of: LanguageDetector | None = None,
        admission: EdgeAdmission | None = None,
        callbacks: QueuedCallbacks | None = None,
        consent_of: ConsentLookup | None = None,
    ) -> None:
        #: The customer's consent as the journey's conditions read it (`consent.recording`).
        self._consent_of = consent_of
        self._region = region
        #: Queued call backs asked for by e-mail (`CALL ME` with a number known for the sender).
        self._callbacks = callbacks
        #: Back-pressure: a new contact beyond its tenant's or queue's ceiling is answered at once.
        self._admission = admission
        self._store = store
        self._routing = routing
        self.endpoints = endpoints
        self._events = events
        self._language_of = language_of

    def endpoint_of(self, message: InboundMessage) -> ChannelEndpoint | None:
        """The tenant's endpoint the message came through; None for a free API entry point.

        A name of another tenant's endpoint is no endpoint of this tenant: the message is a free
        API entry point, and nothing of the other tenant (flow, queue, prompts) is used.
        """
        return self.endpoints.endpoint_for(message.tenant_id, message.entry_point)

    async def after_message(
        self,
        message: InboundMessage,
        *,
        contact_id: str,
        customer_id: str,
        message_id: str,
        acknowledged: Awaitable[Any] | None = None,
        new_contact: bool = False,
        reading: asyncio.Future[Learned] | None = None,
    ) -> Outcome:
        """`acknowledged`: the acks of the message's own events, sent already; awaited before
        anything that must follow them on the stream. `new_contact`: the contact was opened by
        this message, so its first step is certain and what it needs is asked at once.
        `reading`: `read_first_message` started earlier; used by a first step, else dropped."""
        endpoint = self.endpoint_of(message)
        channel = channels.from_kind(message.channel)
        leg = ChannelLeg(
            channel=channel.value,
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

        # The language of a new contact to queue is asked while its record is written and its
        # events are acknowledged, not after them.
        learning = reading
        if learning is None and new_contact and self._queues_by_language(message, endpoint):
            learning = asyncio.ensure_future(self._learn(message, endpoint))
        try:
            record = await self._store.change_contact(message.tenant_id, contact_id, add_leg)
            if acknowledged is not None:
                await acknowledged
            if not record.started:
                learned = await learning if learning is not None else None
                return await self._first_step(message, record, endpoint, message_id, learned)
        finally:
            if learning is not None and not learning.done():
                learning.cancel()
        return await self._next_step(message, record, message_id)

    async def _first_step(
        self,
        message: InboundMessage,
        record: ContactRecord,
        endpoint: ChannelEndpoint | None,
        message_id: str,
        learned: Learned | None = None,
    ) -> Outcome:
        journey = JourneyState()
        actions: tuple[JourneyAction, ...] = ()
        callback = False
        if endpoint is not None and self._admission is not None:
            queue = "" if endpoint.spec.flow else endpoint.spec.queue
            deflected = await self._admission.admit(record.tenant_id, queue)
            if deflected is not None and queue and asks_callback(message.channel, message.text):
                # A call back holds no line: beyond the ceiling it still keeps its place (the
                # answer a deflected customer got offered exactly this).
                deflected, callback = None, True
            if deflected is not None:
                actions = await deflect(
                    deflected,
                    record=record,
                    channel_kind=message.channel,
                    message_id=message_id,
                    region=self._region,
                    events=self._events,
                    sender=BOT_SENDER,
                    worded=worded_by(endpoint.spec.prompts, record.language),
                )
                record = await self._save_journey(record, JourneyState(status="ended"), started=True)
                # Closed last: closing gives the record its expiry, which a later write would undo.
                await self._store.close_contact(record.tenant_id, record.customer_id, record.contact_id)
                return Outcome(actions, "ended")
        if endpoint is not None and endpoint.spec.flow:
            reply = await self._start_journey(message, record, endpoint)
            if reply is not None:
                journey = _state(reply.journey)
                actions = self._actions(reply.actions, record, reply.journey.language)
        elif endpoint is not None:
            await self._publish_queued(message, record, endpoint, learned, callback=callback)
        # Free API entry points (no endpoint) keep today's behaviour: events only, no first step.
        record = await self._save_journey(record, journey, started=True)
        await self._perform(record, actions, message.channel, message_id)
        return Outcome(actions, journey.status)

    async def _next_step(self, message: InboundMessage, record: ContactRecord, message_id: str) -> Outcome:
        if self._callbacks is not None and message.channel == common_pb2.CHANNEL_KIND_EMAIL:
            try:
                if await self._callbacks.on_email(record, message.text):
                    return Outcome((), record.journey.status)
            except Exception as error:
                # The e-mail is recorded already; a call back that cannot be asked now is logged,
                # the message is not refused for it.
                log.warning("contact %s: call back by e-mail not kept (%s)", record.contact_id, error)
        if not record.journey.status or record.journey.status == "ended":
            return Outcome((), record.journey.status)
        # The journey may have moved since we last saw it (AI results, timeouts): ask routing.
        current = await self._routing.GetJourney(
            routing_pb2.GetJourneyRequest(tenant_id=record.tenant_id, journey_id=record.contact_id)
        )
        state = replace(_state(current.journey), callback_channel=record.journey.callback_channel)
        channel = channels.from_kind(message.channel)
        request: routing_pb2.ContinueJourneyRequest | None = None
        if state.status == "waiting" and state.waiting_for == "callback":
            wanted = channels.parse(state.callback_channel or Channel.VOICE, "callback_channel")
            if channel == wanted:
                request = routing_pb2.ContinueJourneyRequest(
                    tenant_id=record.tenant_id,
                    journey_id=record.contact_id,
                    callback_channel=channel.value,
                )
        elif state.status == "waiting" and state.waiting_for == "input" and message.text.strip():
            request = routing_pb2.ContinueJourneyRequest(
                tenant_id=record.tenant_id, journey_id=record.contact_id, input=message.text
            )
        if request is None:
            await self._save_journey(record, state, started=True)
            return Outcome((), state.status)
        reply = await self._routing.ContinueJourney(request)
        actions = self._actions(reply.actions, record, reply.journey.language)
        record = await self._save_journey(record, _state(reply.journey), started=True)
        await self._perform(record, actions, message.channel, message_id)
        return Outcome(actions, reply.journey.status)

    async def after_routing_step(self, step: RoutingStep) -> int:
        """A step routing ran by itself (an external system's flow event, a wait that timed out):
        its prompts reach the customer on the channel they last wrote on, its call back offer is
        placed, as for a step this gateway drove. Returns the number of actions carried out."""
        record, _ = await self._store.contact(step.tenant_id, step.contact_id)
        if record is None:
            log.info("journey step of contact %s: no contact here to deliver it to", step.contact_id)
            return 0
        actions = self._actions(step.actions, record, step.language)
        state = replace(record.journey, status=step.status, waiting_for=step.waiting_for)
        record = await self._save_journey(record, state, started=True)
        if record.last_channel not in channels.NAMES:
            log.warning("journey step of contact %s: the contact has no channel to reply on", step.contact_id)
            return 0
        # Ids derive from routing's event id: a redelivered step publishes nothing twice.
        await self._perform(record, actions, channels.to_kind(record.last_channel), step.event_id)
        return len(actions)

    async def _start_journey(
        self, message: InboundMessage, record: ContactRecord, endpoint: ChannelEndpoint
    ) -> Any:
        spec = endpoint.spec
        request = routing_pb2.StartJourneyRequest(
            tenant_id=record.tenant_id,
            contact_id=record.contact_id,
            flow=spec.flow,
            alias=spec.alias,
            channel=spec.channel.value,
            brand=record.brand_id,
            language=record.language,
            # What the journey's AI steps analyse (and detect the language from).
            text=message.text,
        )
        if self._consent_of is not None:
            request.consent.update(
                await self._consent_of(record.tenant_id, record.brand_id, record.customer_id)
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

    def read_first_message(self, message: InboundMessage) -> asyncio.Future[Learned] | None:
        """Start reading what the message of a customer just created says, when a first step
        would queue it by it (no journey): asked while the contact is opened, not after."""
        endpoint = self.endpoint_of(message)
        if not self._queues_by_language(message, endpoint):
            return None
        return asyncio.ensure_future(self._learn(message, endpoint))

    def _queues_by_language(self, message: InboundMessage, endpoint: ChannelEndpoint | None) -> bool:
        """Whether the message's first step queues it with what its text says (no journey)."""
        has_text = bool(message.text.strip()) and self._language_of is not None
        return has_text and endpoint is not None and not endpoint.spec.flow

    async def _learn(self, message: InboundMessage, endpoint: ChannelEndpoint | None) -> Learned:
        if self._language_of is None or not message.text.strip():
            return NOTHING
        brand_id = message.brand_id or (endpoint.spec.brand if endpoint else "")
        return await self._language_of(message.tenant_id, brand_id, message.text)

    async def _publish_queued(
        self,
        message: InboundMessage,
        record: ContactRecord,
        endpoint: ChannelEndpoint,
        learned: Learned | None = None,
        *,
        callback: bool = False,
    ) -> None:
        if learned is None:
            # The ACD offers by language: it must know it before the first offer, not after.
            learned = await self._learn(message, endpoint)
        await self._events.publish(
            ev.ContactQueued(
                **self._about(record, event_id=f"{record.contact_id}.queued"),
                queue=endpoint.spec.queue,
                channel=message.channel,
                language=record.language or learned.language,
                intent=learned.intent,
                sentiment=learned.sentiment,
                callback=callback,
            )
        )

    def _actions(self, actions: Any, record: ContactRecord, learned: str = "") -> tuple[JourneyAction, ...]:
        """The journey's actions, prompts worded in the contact's language (or the one its
        journey detected, `learned`)."""
        endpoint = self.endpoints.endpoint_for(record.tenant_id, record.entry_point)
        prompts = endpoint.spec.prompts if endpoint is not None else {}
        language = record.language or learned
        return tuple(
            JourneyAction(
                kind=a.kind,
                node=a.node,
                name=a.name,
                mode=a.mode,
                timeout_seconds=a.timeout_seconds,
                attempt=a.attempt,
                channel=a.channel,
                text=prompt_text(prompts, a.name, language)
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
        channel_kind: int,
        message_id: str,
    ) -> None:
        channel = channels.from_kind(channel_kind)
        for index, action in enumerate(actions):
            event_id = f"{message_id}.{index}"
            if prompts_to_send([action], channel):
                await self._events.publish(
                    ev.MessageSent(
                        **self._about(record, event_id=event_id),
                        message_id=event_id,
                        channel=channel_kind,
                        text=action.text,
                        sender=BOT_SENDER,
                    )
                )
            elif action.kind == "schedule_callback":
                await self._request_callback(record, action, event_id)

    def _about(self, record: ContactRecord, *, event_id: str) -> ev.EventHeader:
        """The header of an event about the contact of `record`."""
        return {
            "tenant_id": record.tenant_id,
            "brand_id": record.brand_id,
            "contact_id": record.contact_id,
            "region": self._region,
            "event_id": event_id,
        }

    async def _request_callback(self, record: ContactRecord, action: JourneyAction, event_id: str) -> None:
        callback_channel = channels.parse(action.channel or Channel.VOICE, "callback channel").value
        voice = self.endpoints.voice_endpoint_for(record.tenant_id, record.brand_id)
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
            ev.CallbackRequested(
                **self._about(record, event_id=event_id),
                queue=action.name,
                channel=callback_channel,
                endpoint=voice.metadata.name if voice is not None else "",
            )
        )


def _state(journey: routing_pb2.Journey) -> JourneyState:
    return JourneyState(status=journey.status, waiting_for=journey.waiting_for)
