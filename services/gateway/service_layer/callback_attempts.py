"""The calls placed for a call-back request, attempt by attempt; and its cancellation.

- The call of each attempt carries, in its status callback URL, which request and attempt it is
  (`status_query`), and in its answer URL the agent waiting for it (`answer_query`): answered, it
  is put through to that agent.
- `call_ended` (Twilio's StatusCallback of such a call): an unanswered attempt is
  CallbackAttemptFailed, with the time of the next one, or `final` once the endpoint's attempts
  (`spec.callback`) are used up (`gateway.domain.callback_retry`).
- `handle` (one durable consumer): a CallbackAttemptFailed that is not final becomes, once its
  time has come, the next attempt's CallbackRequested (the outbound side places it); the wait is
  the message's (acked only after publishing), so a gateway that stops meanwhile leaves it to
  the next. A CallbackCancelled closes the gateway's open contact, so the customer's next message
  starts afresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from ccmesh import channels
from ccmesh.channels import TEXT_CHANNELS
from ccmesh.configplane.models import ChannelEndpoint
from contactcenter.events.v1 import events_pb2
from gateway.domain.callback_retry import GiveUp, RetryPolicy, after_call
from gateway.domain.contact import ContactRecord
from gateway.domain.events import CallbackAttemptFailed, CallbackRequested, MessageSent
from gateway.service_layer.ports import Contacts, GatewayEvents

log = logging.getLogger(__name__)

#: The longest a retry waits inside one delivery (the consumer's ack wait is longer).
MAX_WAIT_SECONDS = 3600.0
UNREACHED_TEXT = (
    "We tried to call you back {attempts} times but could not reach you. "
    "Write to us here whenever it suits you."
)


def status_query(event: events_pb2.Event) -> dict[str, str]:
    """What the status callback of a call back's call is told about it (query parameters)."""
    request = event.callback_requested
    return {
        "callback": request.first_request or event.event_id,
        "attempt": str(request.attempt or 1),
        "contact": event.contact_id,
        "queue": request.queue,
        "agent": request.agent_id,
    }


def answer_query(contact_id: str, agent_id: str) -> dict[str, str]:
    """The answer URL's query: the contact, and the agent the answered call is put through to."""
    return {"contact": contact_id, **({"agent": agent_id} if agent_id else {})}


class FailedCallbacks(Protocol):
    """Where a call back that failed is kept for the supervisor's board (`adapters.callback_failures`)."""

    async def remember(self, tenant_id: str, contact_id: str, failed: dict[str, Any]) -> None: ...


class CallbackAttempts:
    def __init__(
        self,
        *,
        region: str,
        store: Contacts,
        events: GatewayEvents,
        failures: FailedCallbacks | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._region = region
        self._store = store
        self._events = events
        self._failures = failures
        self._clock = clock
        self._sleep = sleep

    async def call_ended(
        self,
        endpoint: ChannelEndpoint,
        *,
        contact_id: str,
        first_request: str,
        attempt: int,
        status: str,
        queue: str,
        agent_id: str,
    ) -> CallbackAttemptFailed | None:
        """Twilio reported how attempt `attempt` of a call back ended; the failure announced, if
        the customer was not reached."""
        policy = RetryPolicy(endpoint.spec.callback.attempts, endpoint.spec.callback.spacing_seconds)
        decision = after_call(policy, attempt, status, self._clock())
        if decision is None:
            return None
        tenant_id = endpoint.spec.tenant
        record, _ = await self._store.contact(tenant_id, contact_id)
        final = isinstance(decision, GiveUp)
        failed = CallbackAttemptFailed(
            tenant_id=tenant_id,
            brand_id=record.brand_id if record is not None else endpoint.spec.brand,
            contact_id=contact_id,
            region=self._region,
            # One per attempt: Twilio's repeated status callback publishes it once.
            event_id=f"{first_request}.attempt{attempt}.failed",
            queue=queue,
            attempt=attempt,
            attempts_allowed=policy.attempts,
            status=status,
            final=final,
            retry_at=0.0 if isinstance(decision, GiveUp) else decision.at,
            endpoint=endpoint.metadata.name,
            agent_id=agent_id,
            first_request=first_request,
        )
        await self._events.publish(failed)
        if final:
            await self._tell_unreached(failed, record)
        if final and self._failures is not None:
            await self._failures.remember(
                tenant_id,
                contact_id,
                {
                    "contactId": contact_id,
                    "queue": queue,
                    "agentId": agent_id,
                    "attempts": attempt,
                    "status": status,
                    "failedAt": self._clock(),
                },
            )
        log.info(
            "call back of contact %s: attempt %d of %d %s%s",
            contact_id,
            attempt,
            policy.attempts,
            status,
            ", giving up" if final else "",
        )
        return failed

    async def _tell_unreached(self, failed: CallbackAttemptFailed, record: ContactRecord | None) -> None:
        """The customer who asked on a text channel hears there that the calls did not reach them
        (the agent still holds the conversation and may write)."""
        channel = record.last_channel if record is not None else ""
        if record is None or channel not in channels.NAMES or channels.parse(channel) not in TEXT_CHANNELS:
            return
        if channel not in record.legs:
            return
        message_id = f"{failed.first_request}.unreached"
        await self._events.publish(
            MessageSent(
                tenant_id=failed.tenant_id,
                brand_id=failed.brand_id,
                contact_id=failed.contact_id,
                region=self._region,
                event_id=message_id,
                message_id=message_id,
                channel=channels.to_kind(channel),
                text=UNREACHED_TEXT.format(attempts=failed.attempt),
                sender="bot:callback",
            )
        )

    async def handle(self, event: events_pb2.Event) -> None:
        kind = event.WhichOneof("payload")
        if kind == "callback_attempt_failed":
            await self._retry(event)
        elif kind == "callback_cancelled":
            await self._cancelled(event)

    async def _retry(self, event: events_pb2.Event) -> None:
        failed = event.callback_attempt_failed
        if failed.final:
            return
        wait = failed.retry_at.ToNanoseconds() / 1e9 - self._clock()
        if wait > 0:
            await self._sleep(min(wait, MAX_WAIT_SECONDS))
        attempt = failed.attempt + 1
        await self._events.publish(
            CallbackRequested(
                tenant_id=event.tenant.tenant_id,
                brand_id=event.tenant.brand_id,
                contact_id=event.contact_id,
                region=self._region,
                event_id=f"{failed.first_request}.attempt{attempt}",
                queue=failed.queue,
                channel="voice",
                endpoint=failed.endpoint,
                attempt=attempt,
                agent_id=failed.agent_id,
                first_request=failed.first_request,
            )
        )

    async def _cancelled(self, event: events_pb2.Event) -> None:
        tenant_id, contact_id = event.tenant.tenant_id, event.contact_id
        record, _ = await self._store.contact(tenant_id, contact_id)
        if record is not None:
            await self._store.close_contact(tenant_id, record.customer_id, contact_id)


def attempt_of(query: Mapping[str, str]) -> tuple[str, int, str, str, str] | None:
    """(first request, attempt, contact, queue, agent) from a call back's status callback URL;
    None for any other call. A malformed value raises ValueError naming the parameter."""
    first_request = query.get("callback", "")
    if not first_request:
        return None
    raw = query.get("attempt", "")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise ValueError(f"attempt: a number from 1, got {raw[:20]!r}")
    contact_id = query.get("contact", "")
    if not contact_id:
        raise ValueError("contact: required with callback")
    return first_request, int(raw), contact_id, query.get("queue", ""), query.get("agent", "")
