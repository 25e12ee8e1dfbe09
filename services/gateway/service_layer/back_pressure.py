"""Back-pressure at the edge: admit a new contact to its queue, or answer it at once.

`EdgeAdmission.admit` is asked for each new contact of an entry point (before its journey starts
or it is queued). It reads the tenant's ceilings (`backPressure` in the ContactCenter, followed
live) and routing's report of the tenant's queues (`GetQueueDepths`), asked at most once per
`refresh_seconds` per tenant and shared by every contact meanwhile; contacts admitted since the
report was asked are counted on top. A tenant without ceilings costs nothing.

If routing cannot answer, contacts are admitted (the queue grows as it did before ceilings
existed): back-pressure must never lose or refuse a contact the platform could have queued.

`deflect` answers a contact beyond a ceiling: the contact stays recorded (its ContactCreated and
MessageReceived are already on the stream), ContactDeflected says why, the answer goes out on the
contact's channel (a MessageSent on text channels; on a call, spoken before hanging up) and the
contact is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ccmesh import channels
from ccmesh.configplane.back_pressure import BackPressure
from contactcenter.routing.v1 import routing_pb2
from gateway.domain import events as ev
from gateway.domain.back_pressure import Deflected, Pending, QueueLoad, TenantLoad, judge, offers_callback
from gateway.domain.contact import ContactRecord
from gateway.domain.conversation import JourneyAction
from gateway.service_layer.ports import GatewayEvents

log = logging.getLogger(__name__)

#: How old routing's report of a tenant's queues may be before a new contact asks again.
REFRESH_SECONDS = 1.0
#: How long a new contact waits for routing's report before it is admitted without one.
REPORT_TIMEOUT_SECONDS = 2.0
#: ContactClosed of a deflected contact.
DEFLECTED_OUTCOME = "deflected"
CLOSED_BY_PLATFORM = "platform"


class QueueDepthsClient(Protocol):
    async def GetQueueDepths(self, request: routing_pb2.GetQueueDepthsRequest, **kwargs: Any) -> Any: ...


#: The tenant's back-pressure settings (None: the tenant is unknown here).
SettingsOf = Callable[[str], BackPressure | None]


def load_of(reply: routing_pb2.GetQueueDepthsResponse) -> TenantLoad:
    return TenantLoad(
        queues={
            q.queue: QueueLoad(
                waiting=q.waiting,
                estimated_wait_seconds=q.estimated_wait_seconds
                if q.estimated_wait_seconds >= 0
                else float("inf"),
            )
            for q in reply.queues
        },
        waiting=reply.waiting,
    )


@dataclass
class _Gauge:
    """One tenant's last report and the contacts admitted since it was asked."""

    load: TenantLoad | None = None
    asked_at: float = float("-inf")
    #: When routing last failed to report: not asked again before the refresh interval.
    failed_at: float = float("-inf")
    admitted: list[tuple[float, str]] = field(default_factory=list)
    asking: asyncio.Future[None] | None = None

    def pending(self) -> Pending:
        queues: dict[str, int] = {}
        for _, queue in self.admitted:
            queues[queue] = queues.get(queue, 0) + 1
        return Pending(tenant=len(self.admitted), queues=queues)


class EdgeAdmission:
    def __init__(
        self,
        routing: QueueDepthsClient,
        settings: SettingsOf,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_seconds: float = REFRESH_SECONDS,
        timeout_seconds: float = REPORT_TIMEOUT_SECONDS,
    ) -> None:
        self._routing = routing
        self._settings = settings
        self._clock = clock
        self._refresh = refresh_seconds
        self._timeout = timeout_seconds
        self._gauges: dict[str, _Gauge] = {}

    async def admit(self, tenant_id: str, queue: str) -> Deflected | None:
        """None: the new contact joins `queue` ("" when its journey picks one later); else why and
        how it is answered instead."""
        settings = self._settings(tenant_id)
        if settings is None or not _guarded(settings, queue):
            return None
        gauge = self._gauges.setdefault(tenant_id, _Gauge())
        await self._fresh(tenant_id, gauge)
        if gauge.load is None:
            return None
        # No await from here on: the check and the count of this admission are one step.
        verdict = judge(settings, queue, gauge.load, gauge.pending())
        if verdict is None:
            gauge.admitted.append((self._clock(), queue))
        return verdict

    async def _fresh(self, tenant_id: str, gauge: _Gauge) -> None:
        now = self._clock()
        if now - gauge.asked_at < self._refresh or now - gauge.failed_at < self._refresh:
            return
        if gauge.asking is None:
            gauge.asking = asyncio.ensure_future(self._ask(tenant_id, gauge))
        asking = gauge.asking
        await asyncio.shield(asking)

    async def _ask(self, tenant_id: str, gauge: _Gauge) -> None:
        asked_at = self._clock()
        try:
            reply = await asyncio.wait_for(
                self._routing.GetQueueDepths(routing_pb2.GetQueueDepthsRequest(tenant_id=tenant_id)),
                self._timeout,
            )
            load = load_of(reply)
        except Exception as error:
            # Whatever failed, the contact is admitted, never refused for it.
            log.warning("back-pressure of tenant %s: no queue report from routing (%s)", tenant_id, error)
            gauge.failed_at = self._clock()
            if gauge.failed_at - gauge.asked_at > 10 * self._refresh:
                # Too old to judge by: contacts are admitted until routing reports again.
                gauge.load = None
            return
        finally:
            gauge.asking = None
        gauge.load = load
        gauge.asked_at = asked_at
        # Contacts admitted before the report was asked are in it (or on their way into it).
        gauge.admitted = [entry for entry in gauge.admitted if entry[0] >= asked_at]


def _guarded(settings: BackPressure, queue: str) -> bool:
    return settings.max_waiting is not None or (bool(queue) and settings.ceiling_of(queue) is not None)


async def deflect(
    verdict: Deflected,
    *,
    record: ContactRecord,
    channel_kind: int,
    message_id: str,
    region: str,
    events: GatewayEvents,
    sender: str,
    worded: str = "",
) -> tuple[JourneyAction, ...]:
    """Publish the deflection of a new contact (ContactDeflected, the answer on text channels,
    ContactClosed); returns what a call says before it hangs up (nothing on text channels).
    `sender`: who the answer is from (the bot's name); `worded`: the entry point's deflection
    prompt in the contact's language, if it has one.
    Event ids derive from the contact and the message: a provider's retry publishes nothing twice."""
    callable = offers_callback(channel_kind)
    text = verdict.text(worded, callable=callable)

    def about(event_id: str) -> ev.EventHeader:
        return {
            "tenant_id": record.tenant_id,
            "brand_id": record.brand_id,
            "contact_id": record.contact_id,
            "region": region,
            "event_id": event_id,
        }

    answer: list[ev.GatewayEvent] = [
        ev.ContactDeflected(
            **about(f"{record.contact_id}.deflected"),
            queue=verdict.queue,
            channel=channel_kind,
            ceiling=verdict.ceiling,
            max_waiting=verdict.max_waiting,
            waiting=verdict.waiting,
            estimated_wait_seconds=verdict.estimated_wait_seconds,
            offered=verdict.offered(worded, callable=callable),
        )
    ]
    actions: tuple[JourneyAction, ...] = ()
    if channels.from_kind(channel_kind) in channels.TEXT_CHANNELS:
        answer_id = f"{message_id}.deflection"
        answer.append(
            ev.MessageSent(
                **about(answer_id),
                message_id=answer_id,
                channel=channel_kind,
                text=text,
                sender=sender,
            )
        )
    else:
        actions = (
            JourneyAction(kind="send_prompt", node="deflection", name="deflection", text=text),
            JourneyAction(kind="ended", node="deflection", name=""),
        )
    answer.append(
        ev.ContactClosed(
            **about(f"{record.contact_id}.closed.deflected"),
            outcome=DEFLECTED_OUTCOME,
            closed_by=CLOSED_BY_PLATFORM,
        )
    )
    await (await events.send(*answer))
    log.info(
        "contact %s deflected: %s ceiling %d reached (%d waiting) for queue %r",
        record.contact_id,
        verdict.ceiling,
        verdict.max_waiting,
        verdict.waiting,
        verdict.queue,
    )
    return actions
