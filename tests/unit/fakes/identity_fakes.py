"""In-memory fakes of identity's use-case ports (`identity.service_layer.ports`).

They keep the contracts the use cases rely on: an identifier is claimed once (create-only),
profiles change through `update` with the stored value, timeline entries are appended once, and
each timeline entry and event knows its contact, so an erasure can be followed end to end.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from identity.domain.audit import AuditRecord, CrossingRecord
from identity.domain.customer import Customer
from identity.domain.identifiers import Identifier, IdentifierKind, normalize
from identity.domain.timeline import ContactLink, TimelineEntry

TENANT = "acme"
REGION = "eu"


def phone(value: str) -> Identifier:
    return normalize(IdentifierKind.PHONE, value)


def email(value: str) -> Identifier:
    return normalize(IdentifierKind.EMAIL, value)


class FakeProfiles:
    def __init__(self) -> None:
        self.index: dict[tuple[str, Identifier], str] = {}
        self.profiles: dict[tuple[str, str], tuple[Customer, int]] = {}
        self.tombstones: dict[tuple[str, str], bytes] = {}
        self._revisions = itertools.count(1)

    async def owner(self, scope: str, identifier: Identifier) -> str | None:
        return self.index.get((scope, identifier))

    async def claim(self, scope: str, identifier: Identifier, customer_id: str) -> bool:
        current = self.index.setdefault((scope, identifier), customer_id)
        return current == customer_id

    async def release(self, scope: str, identifier: Identifier) -> None:
        self.index.pop((scope, identifier), None)

    async def get(self, scope: str, customer_id: str) -> tuple[Customer, int] | None:
        return self.profiles.get((scope, customer_id))

    async def create_or_merge(self, customer: Customer) -> tuple[Customer, int]:
        return await self.add_identifiers(customer, list(customer.identifiers))

    async def add_identifiers(self, customer: Customer, extra: list[Identifier]) -> tuple[Customer, int]:
        found = self.profiles.get((customer.scope, customer.customer_id))
        updated = (found[0] if found else customer).with_identifiers(extra)
        revision = next(self._revisions)
        self.profiles[(customer.scope, customer.customer_id)] = (updated, revision)
        return updated, revision

    async def update(self, scope: str, customer_id: str, change: Callable[[Customer], Customer]) -> Customer:
        found = self.profiles.get((scope, customer_id))
        if found is None:
            raise KeyError(customer_id)
        updated = change(found[0])
        self.profiles[(scope, customer_id)] = (updated, next(self._revisions))
        return updated

    async def move(self, scope: str, identifier: Identifier, from_id: str, to_id: str) -> bool:
        if self.index.get((scope, identifier)) != from_id:
            return False
        self.index[(scope, identifier)] = to_id
        return True

    async def purge_profile(self, scope: str, customer_id: str) -> None:
        self.profiles.pop((scope, customer_id), None)

    async def purge_index(self, scope: str, identifier: Identifier) -> None:
        self.index.pop((scope, identifier), None)

    async def put_tombstone(self, scope: str, customer_id: str, record: bytes) -> str:
        self.tombstones[(scope, customer_id)] = record
        return f"tomb.{scope}.{customer_id}"

    async def has_tombstone(self, scope: str, customer_id: str) -> bool:
        return (scope, customer_id) in self.tombstones


class FakeHistory:
    stream = "KV_identity-history-eu"

    def __init__(self) -> None:
        #: Timeline entries by key, in append order (the key's position is its sequence).
        self.timeline: dict[str, TimelineEntry] = {}
        self._sequence: dict[str, int] = {}
        self.links: dict[tuple[str, str], ContactLink] = {}
        self.audits: list[tuple[str, str, AuditRecord]] = []
        self.crossings: list[tuple[str, CrossingRecord]] = []
        self._next = itertools.count(1)

    async def append(self, tenant_id: str, entry: TimelineEntry) -> bool:
        key = f"tl.{tenant_id}.{entry.customer_id}.{entry.key_token()}"
        if key in self.timeline:
            return False
        self.timeline[key] = entry
        self._sequence[key] = next(self._next)
        return True

    async def append_all(
        self, entries: Sequence[tuple[str, TimelineEntry]], timeout: float = 5.0
    ) -> list[bool | BaseException]:
        results: list[bool | BaseException] = []
        for tenant_id, entry in entries:
            try:
                results.append(await self.append(tenant_id, entry))
            except Exception as error:
                results.append(error)
        return results

    async def write_all(
        self,
        links: Sequence[tuple[str, str, ContactLink]],
        entries: Sequence[tuple[str, TimelineEntry]],
        timeout: float = 5.0,
    ) -> tuple[list[BaseException | None], list[bool | BaseException]]:
        failures: list[BaseException | None] = []
        for tenant_id, contact_id, link in links:
            try:
                await self.link(tenant_id, contact_id, link)
                failures.append(None)
            except Exception as error:
                failures.append(error)
        return failures, await self.append_all(entries, timeout)

    async def entries_after(
        self, tenant_id: str, customer_id: str, start_sequence: int, limit: int, channels: frozenset[int]
    ) -> tuple[list[tuple[int, TimelineEntry]], bool]:
        prefix = f"tl.{tenant_id}.{customer_id}."
        found = [
            (self._sequence[key], entry)
            for key, entry in self.timeline.items()
            if key.startswith(prefix)
            and self._sequence[key] >= start_sequence
            and (not channels or entry.channel in channels)
        ]
        found.sort(key=lambda item: item[0])
        return found[:limit], len(found) > limit

    async def timeline_keys(self, tenant_id: str, customer_id: str) -> list[str]:
        return [key for key in self.timeline if key.startswith(f"tl.{tenant_id}.{customer_id}.")]

    async def contact_of_entry(self, key: str) -> str:
        entry = self.timeline.get(key)
        return entry.contact_id if entry is not None else ""

    async def link(self, tenant_id: str, contact_id: str, link: ContactLink) -> None:
        self.links.setdefault((tenant_id, contact_id), link)

    async def linked(self, tenant_id: str, contact_id: str) -> ContactLink | None:
        return self.links.get((tenant_id, contact_id))

    async def purge_link(self, tenant_id: str, contact_id: str) -> None:
        self.links.pop((tenant_id, contact_id), None)

    async def add_audit(self, tenant_id: str, customer_id: str, record: AuditRecord) -> None:
        self.audits.append((tenant_id, customer_id, record))

    async def add_crossing(self, tenant_id: str, record: CrossingRecord) -> None:
        self.crossings.append((tenant_id, record))

    async def purge(self, key: str) -> None:
        self.timeline.pop(key, None)

    def audit_of(self, customer_id: str) -> list[AuditRecord]:
        return [record for _, customer, record in self.audits if customer == customer_id]


class FakeGlobalIndex:
    def __init__(self) -> None:
        self.homes: dict[tuple[str, str, Identifier], str] = {}
        #: How many times each operation was asked (a claim that fails reads nothing more).
        self.calls: dict[str, int] = {}

    def _count(self, operation: str) -> None:
        self.calls[operation] = self.calls.get(operation, 0) + 1

    async def home_of(self, tenant_id: str, scope: str, identifier: Identifier) -> str | None:
        self._count("home_of")
        return self.homes.get((tenant_id, scope, identifier))

    async def claim(self, tenant_id: str, scope: str, identifier: Identifier, region: str) -> None:
        self._count("claim")
        self.homes.setdefault((tenant_id, scope, identifier), region)

    async def claim_home(self, tenant_id: str, scope: str, identifier: Identifier, region: str) -> str | None:
        self._count("claim_home")
        key = (tenant_id, scope, identifier)
        if key in self.homes:
            return self.homes[key]
        self.homes[key] = region
        return None

    async def forget(self, tenant_id: str, scope: str, identifier: Identifier, region: str) -> bool:
        if self.homes.get((tenant_id, scope, identifier)) != region:
            return False
        del self.homes[(tenant_id, scope, identifier)]
        return True


class FakeScrubber:
    """Other streams and buckets of the region: texts that may still mention someone."""

    def __init__(self, stored: dict[str, list[bytes]] | None = None) -> None:
        self.stored = stored or {}
        self.asked: list[bytes] = []

    async def scrub(self, needles: Sequence[bytes]) -> dict[str, int]:
        self.asked.extend(needles)
        removed: dict[str, int] = {}
        for where, values in self.stored.items():
            kept = [v for v in values if not any(n and n in v for n in needles)]
            if len(kept) != len(values):
                removed[where] = len(values) - len(kept)
            self.stored[where] = kept
        return removed


class FakeContactEvents:
    stream = "CC_EVENTS_eu"

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], int] = {}

    async def objects_of(self, tenant_id: str, contact_id: str) -> list[str]:
        return []

    async def purge_contact(self, tenant_id: str, contact_id: str) -> int:
        return self.events.pop((tenant_id, contact_id), 0)
