"""Legal holds: a customer's or a contact's records kept past their retention until released.

The stores expire records by themselves (a stream's maximum age, a per-key TTL), and nats-server
cannot exempt single messages from that. So a hold copies what it holds into the region's
legal-hold object store (`legalHolds` in `ccmesh.retention`, which never ages out): the
originals follow their retention as before, the copies stay until the hold is released, and
an erasure is refused while a hold covers the person.

Layout of the store, one object per held item:

    <tenant>/<hold id>/hold.json                 the hold itself (written last: its commit)
    <tenant>/<hold id>/events/<contact id>       the contact's events, in stream order
    <tenant>/<hold id>/keys/<bucket>/<key>       a bucket entry (timeline, audit, link...)
    <tenant>/<hold id>/objects/<bucket>/<name>   an object (recording, attachment)

What is held is copied when the hold is placed; a hold does not follow records written later.
"""

from __future__ import annotations

import base64
import io
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from google.protobuf.message import DecodeError, Message
from nats.js.api import RawStreamMsg
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.kv_watch import current_entries
from ccmesh.retention import BY_KEY
from ccmesh.stores import list_objects, purge_object, region_object_stores
from contactcenter.events.v1 import events_pb2

HOLD_RECORD = "hold.json"
EVENTS, KEYS, OBJECTS = "events", "keys", "objects"


class LegalHoldError(ValueError):
    """A hold that cannot be placed or released as asked; the message says why."""


def holds_bucket(region: str) -> str:
    return BY_KEY["legalHolds"].name(region)


@dataclass(frozen=True)
class LegalHold:
    hold_id: str
    tenant_id: str
    #: The held customer (all their contacts), or "" when one contact is held.
    customer_id: str
    #: The held contact, or "" when a customer is held.
    contact_id: str
    reason: str
    placed_by: str
    placed_at: float
    #: Copies kept, per kind (events, keys, objects).
    held: Mapping[str, int] = field(default_factory=dict)
    #: Contacts the hold covers (the held contact, or the customer's contacts when placed).
    contact_ids: tuple[str, ...] = ()

    def covers(self, tenant_id: str, customer_ids: Iterable[str], contact_ids: Iterable[str]) -> bool:
        if tenant_id != self.tenant_id:
            return False
        if self.customer_id and self.customer_id in set(customer_ids):
            return True
        return bool(set(self.contact_ids) & set(contact_ids))

    def as_json(self) -> bytes:
        return orjson.dumps(
            {
                "holdId": self.hold_id,
                "tenantId": self.tenant_id,
                "customerId": self.customer_id,
                "contactId": self.contact_id,
                "reason": self.reason,
                "placedBy": self.placed_by,
                "placedAt": self.placed_at,
                "held": dict(self.held),
                "contactIds": list(self.contact_ids),
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> LegalHold:
        raw: dict[str, Any] = orjson.loads(data)
        return cls(
            hold_id=raw["holdId"],
            tenant_id=raw["tenantId"],
            customer_id=raw.get("customerId", ""),
            contact_id=raw.get("contactId", ""),
            reason=raw.get("reason", ""),
            placed_by=raw.get("placedBy", ""),
            placed_at=float(raw.get("placedAt", 0.0)),
            held={str(k): int(v) for k, v in raw.get("held", {}).items()},
            contact_ids=tuple(raw.get("contactIds", ())),
        )


def new_hold(tenant_id: str, *, customer_id: str, contact_id: str, reason: str, placed_by: str) -> LegalHold:
    """A hold not yet placed; exactly one of `customer_id` and `contact_id` names what it holds."""
    if bool(customer_id) == bool(contact_id):
        raise LegalHoldError("a legal hold names exactly one of customer_id and contact_id")
    if not reason.strip():
        raise LegalHoldError("a legal hold needs a reason (the case or request it serves)")
    return LegalHold(
        hold_id=uuid.uuid4().hex,
        tenant_id=tenant_id,
        customer_id=customer_id,
        contact_id=contact_id,
        reason=reason,
        placed_by=placed_by,
        placed_at=time.time(),
        contact_ids=(contact_id,) if contact_id else (),
    )


@dataclass(frozen=True)
class HeldCopy:
    kind: str
    name: str
    data: bytes


async def contact_event_messages(
    js: JetStreamContext, region: str, tenant_id: str, contact_id: str
) -> list[RawStreamMsg]:
    """Every event of the contact on the region's event stream, in stream order (direct gets of
    the next message on the contact's subjects: no consumer)."""
    stream = naming.events_stream(region).name
    subject = naming.event_subject(region, tenant_id, "*", contact_id)
    messages: list[RawStreamMsg] = []
    sequence = 1
    while True:
        try:
            message = await js.get_msg(stream, seq=sequence, subject=subject, next=True, direct=True)
        except NotFoundError:
            return messages
        messages.append(message)
        sequence = int(message.seq or sequence) + 1


def referenced_objects(event: Message) -> list[str]:
    """Names of the objects an event refers to: any message inside it with a `bucket` and an
    `object` (an attachment reference, a stored recording), however deeply nested."""
    found: list[str] = []
    fields = {f.name for f in event.DESCRIPTOR.fields}
    name = getattr(event, "object", "") if {"bucket", "object"} <= fields else ""
    if name:
        found.append(str(name))
    for descriptor, value in event.ListFields():
        if descriptor.message_type is None:
            continue
        children = value if descriptor.is_repeated else [value]
        for child in children:
            if isinstance(child, Message):
                found.extend(referenced_objects(child))
    return found


async def objects_of_contact(js: JetStreamContext, region: str, tenant_id: str, contact_id: str) -> list[str]:
    """Names of the objects the contact's events refer to, each once."""
    names: list[str] = []
    for message in await contact_event_messages(js, region, tenant_id, contact_id):
        try:
            event = events_pb2.Event.FromString(message.data or b"")
        except DecodeError:
            continue  # not an event: it refers to nothing
        names.extend(referenced_objects(event))
    return list(dict.fromkeys(names))


class LegalHoldStore:
    """The region's legal-hold store, and the readers that copy held records into it."""

    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._js = js
        self._region = region
        self.bucket = holds_bucket(region)

    # -- copying what a hold keeps
    async def contact_events(self, tenant_id: str, contact_id: str) -> list[HeldCopy]:
        """The contact's events on the region's event stream, as one copy (none without events)."""
        events = [
            {
                "subject": message.subject,
                "seq": message.seq,
                "data": base64.b64encode(message.data or b"").decode(),
            }
            for message in await contact_event_messages(self._js, self._region, tenant_id, contact_id)
        ]
        if not events:
            return []
        return [HeldCopy(EVENTS, contact_id, orjson.dumps(events))]

    async def objects_of_contact(self, tenant_id: str, contact_id: str) -> list[str]:
        """Names of the objects the contact's events refer to (attachments stored by content)."""
        return await objects_of_contact(self._js, self._region, tenant_id, contact_id)

    async def bucket_entries(self, bucket: str, patterns: Sequence[str]) -> list[HeldCopy]:
        """The current entries of the keys of `bucket` matching any of `patterns`."""
        try:
            kv = await self._js.key_value(bucket)
        except NotFoundError:
            return []
        copies: list[HeldCopy] = []
        for pattern in patterns:
            for entry in await current_entries(kv, pattern):
                copies.append(HeldCopy(KEYS, f"{bucket}/{entry.key}", entry.value or b""))
        return copies

    async def objects_naming(self, needles: Sequence[str]) -> list[HeldCopy]:
        """Every object of the region's object stores whose name mentions one of `needles`
        (recordings and attachments are named after their contact)."""
        copies: list[HeldCopy] = []
        for bucket in await self._region_object_stores():
            store = None
            for info in await list_objects(self._js, bucket):
                if any(needle and needle in info.name for needle in needles):
                    store = store or await self._js.object_store(bucket)
                    result = await store.get(info.name)
                    copies.append(HeldCopy(OBJECTS, f"{bucket}/{info.name}", result.data or b""))
        return copies

    async def _region_object_stores(self) -> list[str]:
        return [b for b in await region_object_stores(self._js, self._region) if b != self.bucket]

    # -- the holds
    async def place(self, hold: LegalHold, copies: Sequence[HeldCopy]) -> LegalHold:
        """Store the copies, then the hold (with its counts): a hold that is listed has its copies."""
        store = await self._js.object_store(self.bucket)
        held: dict[str, int] = {}
        for copy in copies:
            await store.put(f"{hold.tenant_id}/{hold.hold_id}/{copy.kind}/{copy.name}", io.BytesIO(copy.data))
            held[copy.kind] = held.get(copy.kind, 0) + 1
        placed = replace(hold, held=held)
        await store.put(f"{hold.tenant_id}/{hold.hold_id}/{HOLD_RECORD}", io.BytesIO(placed.as_json()))
        return placed

    async def holds(self, tenant_id: str | None = None) -> list[LegalHold]:
        """The holds in the region (of one tenant when given), oldest first."""
        store = None
        found: list[LegalHold] = []
        for info in await list_objects(self._js, self.bucket):
            tenant, _, rest = info.name.partition("/")
            if not rest.endswith(f"/{HOLD_RECORD}") or (tenant_id is not None and tenant != tenant_id):
                continue
            store = store or await self._js.object_store(self.bucket)
            found.append(LegalHold.from_json((await store.get(info.name)).data or b"{}"))
        return sorted(found, key=lambda hold: hold.placed_at)

    async def copies(self, tenant_id: str, hold_id: str) -> list[HeldCopy]:
        """What the hold keeps (its record left out)."""
        prefix = f"{tenant_id}/{hold_id}/"
        store = await self._js.object_store(self.bucket)
        copies = []
        for info in await list_objects(self._js, self.bucket):
            if info.name.startswith(prefix) and not info.name.endswith(f"/{HOLD_RECORD}"):
                kind, _, name = info.name[len(prefix) :].partition("/")
                copies.append(HeldCopy(kind, name, (await store.get(info.name)).data or b""))
        return copies

    async def release(self, tenant_id: str, hold_id: str) -> int:
        """Delete the hold and its copies, leaving no trace; how many copies were deleted."""
        prefix = f"{tenant_id}/{hold_id}/"
        infos = [info for info in await list_objects(self._js, self.bucket) if info.name.startswith(prefix)]
        record = next((info for info in infos if info.name.endswith(f"/{HOLD_RECORD}")), None)
        if record is None:
            raise LegalHoldError(
                f"no legal hold {hold_id!r} for tenant {tenant_id!r} in region {self._region}"
            )
        # The record goes last: a release cut short leaves a listed hold to release again.
        for info in [info for info in infos if info is not record] + [record]:
            await purge_object(self._js, self.bucket, info)
        return len(infos) - 1
