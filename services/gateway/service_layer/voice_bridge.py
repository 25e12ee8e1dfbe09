"""Connect a queued caller to the agent who accepted the contact, and notice callers who hang up.

- `call_answered`: each voice webhook remembers the call (CallSid, contact, endpoint) and whether
  the journey handed it to a queue (the caller now waits in Twilio's `<Enqueue>`).
- `handle` (ContactAccepted, one durable consumer): the contact's live call is redirected through
  Twilio's Calls API to TwiML dialling the agent. Once per reservation (the delivery record in the
  outbox counts attempts and keeps the outcome, so a lost ack never dials twice); transient
  failures raise `RetryLater` for the consumer's back-off; every outcome is published as
  MessageStatusChanged (`bridge:<reservation>`, channel voice): `sent` with the CallSid, or
  `failed` with the reason. A call Twilio says has ended is recorded as ended, not retried.
- `handle` (ContactTransferred, the same consumer, so in order with the accepts): a caller who
  was put through to an agent and is transferred goes back on hold: the live call is redirected
  to `<Enqueue>` in the new queue (with the wait URL), and the next accept puts it through again.
- `call_status` (Twilio's StatusCallback): an ended call is recorded; a caller who hung up while
  still waiting for an agent abandoned the contact: ContactClosed(outcome "abandoned") and the
  gateway's open contact is closed, so the customer's next call starts afresh.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Protocol

from ccmesh.configplane.models import ChannelEndpoint
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from gateway.adapters.contact_store import ContactStore
from gateway.adapters.outbox_store import OutboxRecord, OutboxStore
from gateway.adapters.voice_calls import VoiceCalls
from gateway.domain.events import ContactClosed, MessageStatusChanged
from gateway.domain.outbound_message import DeliveryFailed, Receipt, retry_delay
from gateway.domain.twiml import render_enqueue
from gateway.domain.voice_call import (
    ABANDONED,
    ENDED_STATUSES,
    CallEnded,
    VoiceCall,
    dial_agent_twiml,
    transferring_prompt,
)
from gateway.service_layer.callback_attempts import CallbackAttempts, attempt_of
from gateway.service_layer.outbound import RetryLater
from gateway.service_layer.ports import EndpointLookup, GatewayEvents
from gateway.service_layer.queued_callbacks import QueuedCallbacks

log = logging.getLogger(__name__)

PROVIDER = "twilio"
#: Seconds a caller's call-back key waits for routing to take the contact into its queue:
#: beyond that the caller stays on hold, to press again at the next prompt.
ROUTING_CATCH_UP_SECONDS = 3.0
#: ContactClosed.closed_by of an abandoned contact: the caller hung up, no agent closed it.
CLOSED_BY_CUSTOMER = "customer"
#: A redirect's delivery record is named after the reservation: one per accepted offer.
BRIDGE_PREFIX = "bridge:"

_Redirect = Callable[[], Awaitable[Receipt]]


class CallRedirector(Protocol):
    async def update_call(self, endpoint: ChannelEndpoint, call_sid: str, twiml: str) -> Receipt: ...


class VoiceBridge:
    def __init__(
        self,
        *,
        region: str,
        store: ContactStore,
        calls: VoiceCalls,
        outbox: OutboxStore,
        endpoints: EndpointLookup,
        events: GatewayEvents,
        twilio: CallRedirector,
        max_attempts: int,
        retry_seconds: float,
        callbacks: CallbackAttempts | None = None,
        queued_callbacks: QueuedCallbacks | None = None,
    ) -> None:
        self.callbacks = callbacks
        self._queued_callbacks = queued_callbacks
        self._region = region
        self._store = store
        self._calls = calls
        self._outbox = outbox
        self._endpoints = endpoints
        self._events = events
        self._twilio = twilio
        self._max_attempts = max_attempts
        self._retry_seconds = retry_seconds

    @property
    def keeps_callbacks(self) -> bool:
        """Whether a caller on hold may leave the queue to be called back."""
        return self._queued_callbacks is not None

    # -- the voice webhooks ----------------------------------------------------------------
    async def call_answered(
        self, endpoint: ChannelEndpoint, *, call_sid: str, contact_id: str, queued: bool, wait_url: str = ""
    ) -> VoiceCall:
        return await self._calls.answered(
            endpoint.spec.tenant,
            call_sid=call_sid,
            contact_id=contact_id,
            endpoint=endpoint.metadata.name,
            queued=queued,
            wait_url=wait_url,
        )

    async def call_status(self, endpoint: ChannelEndpoint, *, call_sid: str, status: str) -> VoiceCall | None:
        """Twilio reported the call's status; None when the call is not one of this endpoint's."""
        tenant_id = endpoint.spec.tenant
        known = await self._calls.get(tenant_id, call_sid)
        if known is None or known.endpoint != endpoint.metadata.name:
            # A call we never answered (or another endpoint's): nothing of ours to change.
            log.info("status %s of unknown call on endpoint %s ignored", status, endpoint.metadata.name)
            return None
        before, after = await self._calls.change(
            tenant_id, call_sid, lambda current: current.reported(status) if current else None
        )
        if before is None or after is None:
            return None
        if status in ENDED_STATUSES and before.waiting_for_agent:
            await self._abandon(tenant_id, after)
        return after

    async def leave_for_callback(self, endpoint: ChannelEndpoint, *, call_sid: str, number: str) -> bool:
        """The caller on hold pressed the call back key: True when their contact now keeps its
        place as a call-back request to `number` (they may hang up), False when it cannot (not a
        caller waiting here, no call backs, routing kept no place: they stay on hold)."""
        tenant_id = endpoint.spec.tenant
        known = await self._calls.get(tenant_id, call_sid)
        if (
            self._queued_callbacks is None
            or known is None
            or known.endpoint != endpoint.metadata.name
            or not known.waiting_for_agent
            or not number
        ):
            return False
        # Marked first: an accept from now on places the call back instead of redirecting this
        # call, and the hang-up that follows abandons nothing.
        await self._calls.change(
            tenant_id, call_sid, lambda c: c.left_for_callback() if c and c.waiting_for_agent else None
        )
        kept = False
        try:
            # The caller waits in the provider's queue from the moment the call is answered;
            # routing takes the contact into its own a moment later (its intake reads the queued
            # event, behind any backlog). A key pressed in between is kept once routing has it.
            kept = await self._queued_callbacks.keep_place(
                tenant_id, known.contact_id, number, wait_for_queue=ROUTING_CATCH_UP_SECONDS
            )
        finally:
            if not kept:
                await self._calls.change(
                    tenant_id, call_sid, lambda c: c.answered(queued=True) if c and not c.ended else None
                )
        if kept:
            log.info("contact %s: caller left the queue to be called back", known.contact_id)
        return kept

    async def callback_status(self, endpoint: ChannelEndpoint, query: Mapping[str, str], status: str) -> None:
        """Twilio's status callback of a call placed for a call-back request (its URL says which
        request and attempt): an unanswered attempt is retried or fails (`CallbackAttempts`)."""
        called = attempt_of(query)
        if called is None or self.callbacks is None:
            return
        first_request, attempt, contact_id, queue, agent_id = called
        await self.callbacks.call_ended(
            endpoint,
            contact_id=contact_id,
            first_request=first_request,
            attempt=attempt,
            status=status,
            queue=queue,
            agent_id=agent_id,
        )

    async def _abandon(self, tenant_id: str, call: VoiceCall) -> None:
        record, _ = await self._store.contact(tenant_id, call.contact_id)
        brand_id = record.brand_id if record is not None else ""
        await self._events.publish(
            ContactClosed(
                tenant_id=tenant_id,
                brand_id=brand_id,
                contact_id=call.contact_id,
                region=self._region,
                # One per call: a repeated callback (or a second instance) publishes it once.
                event_id=f"{call.contact_id}.abandoned.{call.call_sid}",
                outcome=ABANDONED,
                closed_by=CLOSED_BY_CUSTOMER,
            )
        )
        if record is not None:
            await self._store.close_contact(tenant_id, record.customer_id, record.contact_id)
        log.info("contact %s abandoned: caller hung up while queued", call.contact_id)

    # -- ContactAccepted -------------------------------------------------------------------
    async def handle(self, event: events_pb2.Event) -> None:
        payload = event.WhichOneof("payload")
        if payload == "contact_transferred":
            await self._transferred(event)
            return
        if payload != "contact_accepted":
            return
        accepted = event.contact_accepted
        tenant_id, contact_id = event.tenant.tenant_id, event.contact_id
        call = await self._calls.of_contact(tenant_id, contact_id)
        if call is None or not call.queued:
            return  # not a caller waiting in a queue: chat, messaging, e-mail contacts
        if call.ended:
            log.info("contact %s accepted by %s after the caller hung up", contact_id, accepted.agent_id)
            return
        report = _BridgeReport(self, event, call)
        endpoint = self._endpoints.endpoint_for(tenant_id, call.endpoint)
        if endpoint is None or endpoint.spec.twilio is None:
            problem = f"endpoint {call.endpoint!r} is unknown, disabled or has no Twilio account"
            await report.failed(problem, 0)
            return
        # Marked first: a hang-up from now on ends a call that was answered, not an abandoned one.
        await self._calls.change(
            tenant_id, call.call_sid, lambda c: c.accepted(accepted.agent_id) if c and not c.ended else None
        )
        twiml = dial_agent_twiml(accepted.agent_id)
        await report.once(lambda: self._twilio.update_call(endpoint, call.call_sid, twiml))

    async def _transferred(self, event: events_pb2.Event) -> None:
        moved = event.contact_transferred
        tenant_id, contact_id = event.tenant.tenant_id, event.contact_id
        call = await self._calls.of_contact(tenant_id, contact_id)
        if call is None or not call.queued or call.ended or not call.accepted_by:
            return  # not a caller talking to an agent: one still waiting simply stays on hold
        report = _BridgeReport(self, event, call)
        endpoint = self._endpoints.endpoint_for(tenant_id, call.endpoint)
        if endpoint is None or endpoint.spec.twilio is None:
            await report.failed(
                f"endpoint {call.endpoint!r} is unknown, disabled or has no Twilio account", 0
            )
            return
        # Marked first: the next accept puts the caller through again, and a hang-up while on hold
        # abandons the contact.
        await self._calls.change(
            tenant_id, call.call_sid, lambda c: c.requeued() if c and not c.ended else None
        )
        spec = endpoint.spec
        twiml = render_enqueue(
            queue=moved.to_queue or moved.from_queue or spec.queue,
            prompt=transferring_prompt(spec.prompts, spec.language),
            wait_url=call.wait_url,
            language=spec.language,
        )
        await report.once(lambda: self._twilio.update_call(endpoint, call.call_sid, twiml))


class _BridgeReport:
    """One redirect's attempts (OutboxStore) and the MessageStatusChanged that tells how it went."""

    def __init__(self, bridge: VoiceBridge, event: events_pb2.Event, call: VoiceCall) -> None:
        self._bridge = bridge
        self._event = event
        self._call = call
        self._id = BRIDGE_PREFIX + (event.contact_accepted.reservation_id or event.event_id)

    async def once(self, redirect: _Redirect) -> None:
        bridge, tenant_id = self._bridge, self._event.tenant.tenant_id
        record, revision = await bridge._outbox.get(tenant_id, self._id)
        if record.status:
            return  # redirected (or reported failed) before a lost ack: never twice
        if record.not_before > time.time():
            raise RetryLater(f"{self._id}: waiting before the next attempt")
        attempts = record.attempts + 1
        revision = await bridge._outbox.put(tenant_id, self._id, replace(record, attempts=attempts), revision)
        try:
            receipt = await redirect()
        except CallEnded as gone:
            await self._record_ended()
            await self._finish(attempts, revision, "failed", reason=f"call already ended: {gone.reason}")
            return
        except DeliveryFailed as failure:
            if failure.transient and attempts < bridge._max_attempts:
                wait = retry_delay(attempts, bridge._retry_seconds, failure.retry_after)
                await bridge._outbox.put(
                    tenant_id,
                    self._id,
                    replace(record, attempts=attempts, not_before=time.time() + wait * 0.9),
                    revision,
                )
                log.warning("%s: attempt %d failed (%s); retrying", self._id, attempts, failure.reason)
                raise RetryLater(failure.reason) from None
            await self._finish(attempts, revision, "failed", reason=failure.reason)
            return
        await self._finish(attempts, revision, "sent", provider_id=receipt.provider_message_id)

    async def failed(self, reason: str, attempts: int) -> None:
        await self._publish("failed", attempts, reason=reason)

    async def _record_ended(self) -> None:
        # Twilio knows better than our callbacks: the call is over, whatever we last heard.
        await self._bridge._calls.change(
            self._event.tenant.tenant_id,
            self._call.call_sid,
            lambda c: c.reported("completed") if c else None,
        )

    async def _finish(
        self, attempts: int, revision: int, status: str, *, reason: str = "", provider_id: str = ""
    ) -> None:
        await self._publish(status, attempts, reason=reason, provider_id=provider_id)
        await self._bridge._outbox.put(
            self._event.tenant.tenant_id,
            self._id,
            OutboxRecord(attempts=attempts, status=status, provider_message_id=provider_id),
            revision,
        )

    async def _publish(self, status: str, attempts: int, *, reason: str = "", provider_id: str = "") -> None:
        if status == "failed":
            # Reasons carry Twilio's code and message, never the account's credentials.
            log.warning("%s to agent failed after %d attempt(s): %s", self._id, attempts, reason)
        event = self._event
        await self._bridge._events.publish(
            MessageStatusChanged(
                tenant_id=event.tenant.tenant_id,
                brand_id=event.tenant.brand_id,
                contact_id=event.contact_id,
                region=self._bridge._region,
                event_id=f"{self._id}.status.{status}",
                message_id=self._id,
                channel=common_pb2.CHANNEL_KIND_VOICE,
                status=status,
                provider=PROVIDER,
                provider_message_id=provider_id or self._call.call_sid,
                reason=reason,
                attempts=attempts,
            )
        )
