"""Timelines, contact links, audit records and residency crossings in the region's history bucket.

Keys (no personal data in any key):
    tl.<tenant>.<customer>.<entry-hash>   one timeline entry, created once (idempotent appends)
    link.<tenant>.<contact>               which customer a contact belongs to
    au.<tenant>.<customer>.<audit-id>     audit records of a customer
    xg.<tenant>.<crossing-id>             personal or pseudonymous data that left the region

A timeline is read straight from the bucket's stream with "next message on subject" lookups,
so a page costs the same whatever the size of the bucket: on a one-replica bucket one batched
direct get per page (`ccmesh.contact_history.read_subject`), on a replicated one a lookup per
entry from the stream's leader (a follower's direct get may not have an entry just appended).

A contact's link never changes once made, only erased: links written or read here are kept in
memory (`KnownLinks`) until a removal of them is heard, so a contact's events after its first
read none.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Sequence

from nats.aio.client import Client
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from ccmesh.contact_history import read_subject
from ccmesh.js_publish import publish_pipelined
from ccmesh.kv import ReadYourWritesKV
from identity.adapters.known_links import KnownLinks
from identity.adapters.kv_keys import matching_keys
from identity.domain.audit import AuditRecord, CrossingRecord
from identity.domain.timeline import ContactLink, TimelineEntry

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: JetStream's "wrong last sequence": the key of a create-once write exists (or was purged).
_WRONG_LAST_SEQUENCE = 10071
#: Timeline entries asked for per direct get.
_BATCH = 256


def subject_token(value: str) -> str:
    """The value itself when it is a safe subject token, else a hash of it."""
    return value if _TOKEN.match(value) else hashlib.sha256(value.encode()).hexdigest()[:40]


class HistoryStore:
    def __init__(self, js: JetStreamContext, kv: KeyValue, bucket: str) -> None:
        self._js = js
        self._kv = kv
        self.bucket = bucket
        self.stream = f"KV_{bucket}"
        #: Links written or read here, answering a contact's later events without a read once
        #: `follow_link_removals` has started (see `KnownLinks`).
        self.known_links = KnownLinks(bucket)

    async def follow_link_removals(self, nc: Client) -> None:
        await self.known_links.follow(nc)

    # -- timeline
    async def append(self, tenant_id: str, entry: TimelineEntry) -> bool:
        key = f"tl.{tenant_id}.{entry.customer_id}.{entry.key_token()}"
        try:
            await self._kv.create(key, entry.to_json())
        except KeyWrongLastSequenceError:
            return False  # redelivered or repeated: stored once
        return True

    async def append_all(
        self, entries: Sequence[tuple[str, TimelineEntry]], timeout: float = 5.0
    ) -> list[bool | BaseException]:
        """`append` for many (tenant, entry) pairs, sent in their order without waiting for each
        acknowledgement in turn: the stream stores them in that order (a timeline reads in stream
        order), the lot costs one round trip. Each result: True appended, False already there
        (or erased: a purged entry is not written again), or the failure of that append."""
        _, appended = await self.write_all((), entries, timeout)
        return appended

    async def write_all(
        self,
        links: Sequence[tuple[str, str, ContactLink]],
        entries: Sequence[tuple[str, TimelineEntry]],
        timeout: float = 5.0,
    ) -> tuple[list[BaseException | None], list[bool | BaseException]]:
        """A batch's (tenant, contact, link) contact links and (tenant, entry) timeline entries,
        all sent before any acknowledgement is awaited: one round trip for the lot. A link is
        created once, as `link` does (the first ContactCreated wins), and an erased one is not made
        again. Each link's failure (None: stored, or there already) and each entry's result as
        `append_all` gives it."""
        writes = [(_link_key(tenant, contact), _link_value(link)) for tenant, contact, link in links]
        writes += [
            (f"tl.{tenant_id}.{entry.customer_id}.{entry.key_token()}", entry.to_json())
            for tenant_id, entry in entries
        ]
        removals = self.known_links.removals
        # Sent back to back in this order, stored in it; a create-once refused fails at once.
        answers = await asyncio.gather(
            *(
                publish_pipelined(
                    self._js,
                    f"$KV.{self.bucket}.{key}",
                    value,
                    # Only if the key never had a message (a purge marker counts).
                    headers={"Nats-Expected-Last-Subject-Sequence": "0"},
                    timeout=timeout,
                )
                for key, value in writes
            ),
            return_exceptions=True,
        )
        results = [_created(answer) for answer in answers]
        for (tenant_id, contact_id, link), result in zip(links, results[: len(links)], strict=True):
            if result is True:  # stored by this write: the link the contact has
                self.known_links.remember(_link_key(tenant_id, contact_id), link, removals)
        linked = [result if isinstance(result, BaseException) else None for result in results[: len(links)]]
        return linked, results[len(links) :]

    async def entries_after(
        self, tenant_id: str, customer_id: str, start_sequence: int, limit: int, channels: frozenset[int]
    ) -> tuple[list[tuple[int, TimelineEntry]], bool]:
        """Up to `limit` entries with stream sequence >= start, and whether more follow."""
        subject = f"$KV.{self.bucket}.tl.{tenant_id}.{customer_id}.*"
        if not (isinstance(self._kv, ReadYourWritesKV) and self._kv.reads_from_leader):
            return await self._entries_in_batches(subject, start_sequence, limit, channels)
        found: list[tuple[int, TimelineEntry]] = []
        sequence = max(start_sequence, 1)
        while True:
            try:
                message = await self._js.get_msg(self.stream, seq=sequence, subject=subject, next=True)
            except NotFoundError:
                return found, False
            sequence = int(message.seq or 0) + 1
            headers = message.headers or {}
            if not message.data or headers.get("KV-Operation"):
                continue  # a purged or deleted entry
            entry = TimelineEntry.from_json(message.data)
            if channels and entry.channel not in channels:
                continue
            if len(found) == limit:
                return found, True
            found.append((sequence - 1, entry))

    async def _entries_in_batches(
        self, subject: str, start_sequence: int, limit: int, channels: frozenset[int]
    ) -> tuple[list[tuple[int, TimelineEntry]], bool]:
        """`entries_after` by batched direct gets: one request answers a page."""
        found: list[tuple[int, TimelineEntry]] = []
        sequence = max(start_sequence, 1)
        while True:
            # One entry more than the page: whether more follow is known without another request.
            asked = min(limit + 1 - len(found), _BATCH)
            messages = await read_subject(self._js, self.stream, subject, start=sequence, limit=asked)
            for message in messages:
                headers = message.headers or {}
                sequence = int(headers["Nats-Sequence"]) + 1
                if not message.data or headers.get("KV-Operation"):
                    continue  # a purged or deleted entry
                entry = TimelineEntry.from_json(message.data)
                if channels and entry.channel not in channels:
                    continue
                if len(found) == limit:
                    return found, True
                found.append((sequence - 1, entry))
            if len(messages) < asked:
                return found, False

    async def timeline_keys(self, tenant_id: str, customer_id: str) -> list[str]:
        return await self._keys(f"tl.{tenant_id}.{customer_id}.>")

    async def contact_of_entry(self, key: str) -> str:
        """The contact a timeline entry (by its key) belongs to; "" when none or already gone."""
        try:
            message = await self._js.get_msg(self.stream, subject=f"$KV.{self.bucket}.{key}")
        except NotFoundError:
            return ""
        if not message.data:
            return ""
        return TimelineEntry.from_json(message.data).contact_id

    # -- contact links
    async def link(self, tenant_id: str, contact_id: str, link: ContactLink) -> None:
        key = _link_key(tenant_id, contact_id)
        removals = self.known_links.removals
        # The first ContactCreated wins; a redelivery changes nothing.
        with contextlib.suppress(KeyWrongLastSequenceError):
            await self._kv.create(key, _link_value(link))
            self.known_links.remember(key, link, removals)

    async def linked(self, tenant_id: str, contact_id: str) -> ContactLink | None:
        key = _link_key(tenant_id, contact_id)
        known = self.known_links.get(key)
        if known is not None:
            return known
        removals = self.known_links.removals
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        customer_id, _, channel = entry.value.decode().partition("|")
        link = ContactLink(customer_id, int(channel or 0))
        self.known_links.remember(key, link, removals)
        return link

    async def purge_link(self, tenant_id: str, contact_id: str) -> None:
        key = _link_key(tenant_id, contact_id)
        self.known_links.forget(key)
        await self._kv.purge(key)
        self.known_links.forget(key)

    # -- audit and crossings
    async def add_audit(self, tenant_id: str, customer_id: str, record: AuditRecord) -> None:
        await self._kv.put(f"au.{tenant_id}.{customer_id}.{record.audit_id}", record.to_json())

    async def audit(self, tenant_id: str, customer_id: str) -> list[AuditRecord]:
        records = [AuditRecord.from_json(v) for v in await self._values(f"au.{tenant_id}.{customer_id}.>")]
        return sorted(records, key=lambda r: r.at)

    async def add_crossing(self, tenant_id: str, record: CrossingRecord) -> None:
        await self._kv.put(f"xg.{tenant_id}.{record.crossing_id}", record.to_json())

    async def crossings(self, tenant_id: str) -> list[CrossingRecord]:
        records = [CrossingRecord.from_json(v) for v in await self._values(f"xg.{tenant_id}.>")]
        return sorted(records, key=lambda r: r.at)

    async def purge(self, key: str) -> None:
        await self._kv.purge(key)

    async def _keys(self, pattern: str) -> list[str]:
        return await matching_keys(self._kv, pattern)

    async def _values(self, pattern: str) -> list[bytes]:
        values = []
        for key in await self._keys(pattern):
            try:
                entry = await self._kv.get(key)
            except KeyNotFoundError:
                continue
            if entry.value:
                values.append(entry.value)
        return values


def _link_key(tenant_id: str, contact_id: str) -> str:
    return f"link.{tenant_id}.{subject_token(contact_id)}"


def _link_value(link: ContactLink) -> bytes:
    return f"{link.customer_id}|{link.channel}".encode()


def _created(answer: api.PubAck | BaseException) -> bool | BaseException:
    """True: stored; False: the key had a message already; else the failure."""
    if isinstance(answer, APIError) and answer.err_code == _WRONG_LAST_SEQUENCE:
        return False
    return answer if isinstance(answer, BaseException) else True
