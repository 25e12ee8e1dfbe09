"""Deliver replies to customers on the contact's channel, and place the call backs journeys offer.

Input: `message_sent` events (bot prompts, agent replies) and `callback_requested` events from
the region's stream, through ONE durable consumer. The contact's record says where the customer
is on the channel (its leg: endpoint and address); the endpoint says which provider and
credentials. Web chat needs no provider: the widget's socket follows the contact's events.

Every outcome is published as MessageStatusChanged: `sent` with the provider's id, or `failed`
with the reason and the attempts made, after a permanent failure or the last retry. A transient
failure raises `RetryLater`, so the consumer redelivers the event with back-off; the delivery
record (OutboxStore) counts the provider calls and stops a second send after a lost ack.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from urllib.parse import urlencode

from opentelemetry.trace import SpanKind

from ccmesh import channels, telemetry
from ccmesh.channels import Channel
from ccmesh.configplane.models import ChannelEndpoint
from ccmesh.events import TransientError
from ccmesh.policy_violations import PolicyCheck
from ccpolicy import Action, Situation
from ccpolicy.time_zones import zones_of_number
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from gateway.adapters.outbound.base import ProviderAdapter
from gateway.domain.contact import ContactRecord
from gateway.domain.events import MessageStatusChanged
from gateway.domain.outbound_message import (
    CallRequest,
    DeliveryFailed,
    OutboundMessage,
    Receipt,
    retry_delay,
)
from gateway.service_layer.callback_attempts import answer_query, status_query
from gateway.service_layer.ports import CallPlacer, Contacts, EndpointLookup, GatewayEvents, Outbox

log = logging.getLogger(__name__)

#: Older outbound work is reported failed instead of reaching a customer hours late.
MAX_AGE_SECONDS = 3600.0


class RetryLater(TransientError):
    """A transient failure: the consumer redelivers the event after its back-off (the use case
    has logged the attempt in one line; the consumer adds no traceback)."""


class OutboundDelivery:
    def __init__(
        self,
        *,
        region: str,
        store: Contacts,
        outbox: Outbox,
        endpoints: EndpointLookup,
        events: GatewayEvents,
        adapters: Mapping[str, ProviderAdapter],
        twilio: CallPlacer,
        public_base_url: Callable[[], str],
        max_attempts: int,
        retry_seconds: float,
        policy: PolicyCheck | None = None,
    ) -> None:
        #: The region's compliance rules for calls we place (quiet hours).
        self._policy = policy
        self._region = region
        self._store = store
        self._outbox = outbox
        self._endpoints = endpoints
        self._events = events
        self._adapters = dict(adapters)
        self._twilio = twilio
        self._public_base_url = public_base_url
        self._max_attempts = max_attempts
        self._retry_seconds = retry_seconds

    async def handle(self, event: events_pb2.Event) -> None:
        kind = event.WhichOneof("payload")
        age = time.time() - event.occurred_at.ToNanoseconds() / 1e9
        if (
            event.HasField("occurred_at")
            and kind in ("message_sent", "callback_requested")
            and age > MAX_AGE_SECONDS
        ):
            # A new consumer on a stream with history (first deployment, a reset durable) must not
            # send customers replies from days ago; they are reported, not sent late.
            await self._stale(event, kind, age)
            return
        if kind == "message_sent":
            await self._deliver(event)
        elif kind == "callback_requested":
            await self._call_back(event)

    async def _stale(self, event: events_pb2.Event, kind: str, age: float) -> None:
        message_id = event.message_sent.message_id if kind == "message_sent" else ""
        message_id = message_id or event.event_id
        record, _ = await self._outbox.get(event.tenant.tenant_id, message_id)
        if record.status:
            return
        channel = event.message_sent.channel if kind == "message_sent" else common_pb2.CHANNEL_KIND_VOICE
        await _Report(self, event, message_id, channel).failed(
            f"not delivered: {int(age)} s old when first seen (limit {int(MAX_AGE_SECONDS)} s)",
            "",
            0,
        )

    # -- replies ---------------------------------------------------------------------------
    async def _deliver(self, event: events_pb2.Event) -> None:
        sent = event.message_sent
        tenant_id, contact_id = event.tenant.tenant_id, event.contact_id
        message_id = sent.message_id or event.event_id
        record, _ = await self._store.contact(tenant_id, contact_id)
        named = channels.from_kind_or_none(sent.channel)
        channel = named.value if named is not None else (record.last_channel if record else "")
        kind = channels.to_kind(channel) if channel in channels.NAMES else common_pb2.CHANNEL_KIND_UNSPECIFIED
        report = _Report(self, event, message_id, kind)
        if channel == Channel.WEBCHAT:
            # The widget's socket shows message_sent events of its contact as they are stored.
            await report.once(lambda: _done("webchat"), provider="webchat", attempts_allowed=1)
            return
        leg = record.legs.get(channel) if record is not None else None
        if leg is None:
            await report.failed(f"contact {contact_id} has no {channel or 'channel'} leg to reply on", "", 0)
            return
        endpoint = self._endpoint(tenant_id, leg.endpoint)
        adapter = self._adapters.get(endpoint.spec.provider) if endpoint is not None else None
        if endpoint is None or adapter is None or channel == Channel.VOICE:
            problem = (
                f"endpoint {leg.endpoint!r} is unknown, disabled or of another tenant"
                if endpoint is None
                else f"channel {channel} has no outbound text delivery"
            )
            await report.failed(problem, endpoint.spec.provider if endpoint else "", 0)
            return
        message = OutboundMessage(
            message_id=message_id,
            tenant_id=tenant_id,
            contact_id=contact_id,
            channel=channel,
            text=sent.text,
            to=leg.address,
            sender=sent.sender,
            subject=leg.subject,
            thread_ids=leg.thread_ids,
        )

        async def send() -> Receipt:
            # The provider call is the contact's outbound delivery in its trace.
            with telemetry.tracer().start_as_current_span(
                f"{adapter.name} send",
                kind=SpanKind.CLIENT,
                attributes={
                    telemetry.CONTACT_ATTRIBUTE: contact_id,
                    "contactcenter.channel": channel,
                    "contactcenter.provider": adapter.name,
                },
            ):
                return await adapter.send(endpoint, message)

        receipt = await report.once(send, provider=adapter.name)
        if receipt is not None and channel == Channel.EMAIL and receipt.provider_message_id:
            # The customer's answer to this reply names its Message-ID: it joins the same contact.
            await self._store.remember_thread(tenant_id, receipt.provider_message_id, contact_id)
            await self._store.change_contact(
                tenant_id, contact_id, lambda current: _with_thread_id(current, receipt.provider_message_id)
            )

    # -- call backs ------------------------------------------------------------------------
    async def _call_back(self, event: events_pb2.Event) -> None:
        request = event.callback_requested
        tenant_id, contact_id = event.tenant.tenant_id, event.contact_id
        report = _Report(self, event, event.event_id, common_pb2.CHANNEL_KIND_VOICE)
        endpoint = self._endpoint(tenant_id, request.endpoint)
        if endpoint is None and not request.endpoint:
            # A closed queue's call back (routing's) names no number: the brand's voice endpoint.
            endpoint = self._endpoints.voice_endpoint_for(tenant_id, event.tenant.brand_id)
        if endpoint is None or endpoint.spec.channel != Channel.VOICE:
            await report.failed(
                f"call back: no voice endpoint {request.endpoint!r} for tenant {tenant_id}", "twilio", 0
            )
            return
        record, _ = await self._store.contact(tenant_id, contact_id)
        number = record.number_to_call() if record is not None else ""
        if not number:
            await report.failed(f"call back: contact {contact_id} has no phone number to call", "twilio", 0)
            return
        if self._policy is not None:
            decision = await self._policy.judge(
                Action.OUTBOUND_CONTACT,
                # The customer's local time, as far as their number tells it.
                Situation(region=self._region, customer_time_zones=zones_of_number(number)),
                tenant_id=tenant_id,
                brand_id=event.tenant.brand_id,
                contact_id=contact_id,
                customer_id=record.customer_id if record is not None else "",
                actor="gateway",
                occurrence=event.event_id,
            )
            if not decision.allowed:
                await report.failed(f"call back: {decision.message()}", "policy", 0)
                return
        base = self._public_base_url().rstrip("/")
        voice = f"{base}/v1/twilio/{endpoint.metadata.name}/voice"
        call = CallRequest(
            request_id=event.event_id,
            tenant_id=tenant_id,
            contact_id=contact_id,
            to=number,
            answer_url=f"{voice}?{urlencode(answer_query(contact_id, request.agent_id))}",
            status_url=f"{voice}/status?{urlencode(status_query(event))}",
        )
        await report.once(lambda: self._twilio.place_call(endpoint, call), provider="twilio")

    def _endpoint(self, tenant_id: str, name: str) -> ChannelEndpoint | None:
        return self._endpoints.endpoint_for(tenant_id, name)


class _Report:
    """One outbound item's attempts and the MessageStatusChanged that tells how it went."""

    def __init__(
        self, owner: OutboundDelivery, event: events_pb2.Event, message_id: str, channel: int
    ) -> None:
        self._owner = owner
        self._event = event
        self._message_id = message_id
        self._channel = channel

    async def once(
        self, call: Callable[[], Awaitable[Receipt]], *, provider: str, attempts_allowed: int = 0
    ) -> Receipt | None:
        """Make the provider call unless it was made already; report its outcome."""
        owner, tenant_id = self._owner, self._event.tenant.tenant_id
        record, revision = await owner._outbox.get(tenant_id, self._message_id)
        if record.status:
            return None  # sent or reported failed before a lost ack: never twice
        if record.not_before > time.time():
            raise RetryLater(f"message {self._message_id}: provider asked to wait")
        attempts = record.attempts + 1
        revision = await owner._outbox.put(
            tenant_id, self._message_id, replace(record, attempts=attempts), revision
        )
        limit = attempts_allowed or owner._max_attempts
        try:
            receipt = await call()
        except DeliveryFailed as failure:
            if failure.transient and attempts < limit:
                wait = retry_delay(attempts, owner._retry_seconds, failure.retry_after)
                await owner._outbox.put(
                    tenant_id,
                    self._message_id,
                    replace(record, attempts=attempts, not_before=time.time() + wait * 0.9),
                    revision,
                )
                log.warning(
                    "outbound %s via %s: attempt %d failed (%s); retrying",
                    self._message_id,
                    provider,
                    attempts,
                    failure.reason,
                )
                raise RetryLater(failure.reason) from None
            await self._publish("failed", provider, attempts, reason=failure.reason)
            await owner._outbox.put(
                tenant_id, self._message_id, replace(record, attempts=attempts, status="failed"), revision
            )
            return None
        await self._publish("sent", provider, attempts, provider_message_id=receipt.provider_message_id)
        await owner._outbox.put(
            tenant_id,
            self._message_id,
            replace(
                record, attempts=attempts, status="sent", provider_message_id=receipt.provider_message_id
            ),
            revision,
        )
        return receipt

    async def failed(self, reason: str, provider: str, attempts: int) -> None:
        await self._publish("failed", provider, attempts, reason=reason)

    async def _publish(
        self, status: str, provider: str, attempts: int, *, reason: str = "", provider_message_id: str = ""
    ) -> None:
        if status == "failed":
            # Reasons name codes and endpoints, never credentials or message text.
            log.warning(
                "outbound %s via %s failed after %d attempt(s): %s",
                self._message_id,
                provider,
                attempts,
                reason,
            )
        event = self._event
        await self._owner._events.publish(
            MessageStatusChanged(
                tenant_id=event.tenant.tenant_id,
                brand_id=event.tenant.brand_id,
                contact_id=event.contact_id,
                region=self._owner._region,
                event_id=f"{self._message_id}.status.{status}",
                message_id=self._message_id,
                channel=self._channel,
                status=status,
                provider=provider,
                provider_message_id=provider_message_id,
                reason=reason,
                attempts=attempts,
            )
        )


async def _done(provider: str) -> Receipt:
    return Receipt("")


def _with_thread_id(current: ContactRecord | None, message_id: str) -> ContactRecord:
    assert current is not None, "a contact that was replied to has a record"
    email = current.legs.get(Channel.EMAIL)
    if email is None:
        return current
    legs = {**current.legs, Channel.EMAIL.value: email.with_thread("", (message_id,))}
    return replace(current, legs=legs)
