"""Cross-region overflow: hand a waiting contact to another region's queue without losing it.

An overflow rule whose `target_region` is another region (allowed by the tenant's residency
policy when the configuration was applied) moves the contact there when it fires:

1. the contact record goes `waiting -> transferring(r, region/queue, deadline)` by compare-and-set,
   so only one instance hands it over and nobody offers it here meanwhile;
2. the target region's routing service is asked to enqueue it (`RemoteQueues.enqueue`: over the
   mesh, contact id, queue, channel, priority, skills and language only, no personal data);
   enqueueing a known contact there changes nothing, so asking twice is safe;
3. only when the target answered that it stored the contact does the record go
   `transferring(r) -> transferred` (it leaves this region's queue) and the overflow is published
   here; when the target refused it (unknown queue or skill, closed, no routing service in that
   region) the contact goes back to waiting at its original position and the rule is not tried
   again for that contact for `retry_seconds`.

If the answer is unknown (a timeout: the target may have stored it) or the instance dies in
between, the record stays `transferring` until its deadline and the sweeper of any instance
asks again (step 2 is idempotent), so the contact is neither lost nor left in both regions.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import replace
from typing import Protocol

from ccmesh.kv import KVError
from routing.adapters.acd_store import UnknownKey
from routing.domain import contacts as contact_rules
from routing.domain.contacts import ContactRecord
from routing.domain.events import ContactHandedOver
from routing.domain.overflow import HandOverRefused, HandOverUnknown, OverflowRule
from routing.domain.queueing import WaitingContact
from routing.domain.reservations import ReservationError
from routing.service_layer.ports import AcdRecords, EventSink

log = logging.getLogger(__name__)


class RemoteQueues(Protocol):
    async def enqueue(self, region: str, tenant: str, contact: WaitingContact) -> str:
        """Enqueue `contact` in `region` (its `queue` is the target queue); the status there.

        Raises `HandOverRefused` or `HandOverUnknown`.
        """
        ...


class HandOver:
    def __init__(
        self,
        store: AcdRecords,
        remote: RemoteQueues,
        events: EventSink,
        *,
        deadline_seconds: float,
        retry_seconds: float,
    ) -> None:
        self._store = store
        self._remote = remote
        self._events = events
        self._deadline_seconds = deadline_seconds
        self._retry_seconds = retry_seconds
        #: (tenant, contact id) -> time before which a refused contact is not handed over again.
        self._retry_at: dict[tuple[str, str], float] = {}

    def may_try(self, tenant: str, contact_id: str, now: float) -> bool:
        retry_at = self._retry_at.get((tenant, contact_id))
        if retry_at is not None and retry_at <= now:
            del self._retry_at[(tenant, contact_id)]
            return True
        return retry_at is None

    async def start(
        self, tenant: str, record: ContactRecord, rule: OverflowRule, why: str, now: float
    ) -> ContactRecord | None:
        """Hand `record` to the rule's region; the record as it ends up, None if not ours to move."""
        reservation_id = uuid.uuid4().hex
        try:
            held = await self._store.update_contact(
                tenant,
                record.contact.contact_id,
                lambda old: contact_rules.hand_over(
                    _must(old),
                    reservation_id,
                    rule.target_region,
                    rule.target_queue,
                    now + self._deadline_seconds,
                ),
            )
        except (ReservationError, UnknownKey, KVError):
            return None  # offered, moved or handed over by another instance meanwhile
        return await self._finish(tenant, held, rule.name, why, now)

    async def resume(self, tenant: str, record: ContactRecord, now: float) -> ContactRecord | None:
        """Finish a transfer whose deadline passed (its instance died, or the answer was lost)."""
        reservation_id = uuid.uuid4().hex
        try:
            held = await self._store.update_contact(
                tenant,
                record.contact.contact_id,
                lambda old: contact_rules.retake_transfer(
                    _must(old), record.reservation_id, reservation_id, now + self._deadline_seconds
                ),
            )
        except (ReservationError, UnknownKey, KVError):
            return None  # finished or resumed by another instance
        return await self._finish(tenant, held, "", "resumed after an unfinished hand-over", now)

    async def _finish(
        self, tenant: str, held: ContactRecord, rule: str, why: str, now: float
    ) -> ContactRecord | None:
        region, _, queue = held.transfer_to.partition("/")
        contact = replace(held.contact, queue=queue, preferred_agent="")  # its agents are not theirs
        reservation_id = held.reservation_id
        try:
            await self._remote.enqueue(region, tenant, contact)
        except HandOverRefused as refused:
            log.warning("region %s refused contact %s: %s", region, contact.contact_id, refused)
            self._retry_at[(tenant, contact.contact_id)] = now + self._retry_seconds
            with contextlib.suppress(ReservationError, UnknownKey, KVError):
                return await self._store.update_contact(
                    tenant,
                    contact.contact_id,
                    lambda old: contact_rules.hand_back(_must(old), reservation_id),
                )
            return None
        except HandOverUnknown as unknown:
            # Left transferring: after its deadline a sweeper asks again (idempotent there).
            log.warning("hand-over of %s to %s unanswered: %s", contact.contact_id, region, unknown)
            return held
        try:
            # The hand-over and its announcement are one write: should this instance die before
            # publishing it, a sweeper sends it (the contact left this region either way).
            done = await self._store.update_contact(
                tenant,
                contact.contact_id,
                lambda old: contact_rules.handed_over(_must(old), reservation_id),
                announce=lambda _old, new: (ContactHandedOver(tenant, new, rule, region, queue, why),),
            )
        except (ReservationError, UnknownKey, KVError):
            return None  # a sweeper took over meanwhile and finishes it
        await self._events(ContactHandedOver(tenant, done, rule, region, queue, why))
        return done


def _must(record: ContactRecord | None) -> ContactRecord:
    if record is None:
        raise UnknownKey("unknown contact")
    return record
