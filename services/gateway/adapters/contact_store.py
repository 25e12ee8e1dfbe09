"""Open contacts and idempotency records in the region's gateway KV bucket.

`open.<tenant>.<customer>` names the customer's open contact, created with `create`, so two
channels arriving at once still share one contact. `msg.<tenant>.<token>` records each
provider message: `pending` while it is processed, then the result, so a provider's retry
returns the first result instead of creating a second message. `contact.<tenant>.<contact>`
is the contact's record (channel legs with the customer's reply addresses, journey state),
written with the revision it was read at. `thread.<tenant>.<hash of a Message-ID>` names the
contact an e-mail thread belongs to.

A `pending` record names the process that holds it (its presence holder id, `ccmesh.presence`).
A provider's retry finding the claim still pending takes it over as soon as that process is
gone (a killed gateway, or this one restarted), not after a fixed delay; a claim whose holder
cannot be asked (an older record, no answer) is taken over only after `CLAIM_EXPIRY_SECONDS`.
A claim of this process whose request failed without removing it (its write or its release
timed out while a stream elected its leader) is remembered as left behind, so the request's own
retry takes it over at once instead of waiting for itself.

Finished records expire per key after the region's `retention.gateway.finishedTtlSeconds`:
`msg.*` records (long enough for a provider's retries), thread entries, and a contact's record
once the contact closes (`close_contact`). Open contacts stay.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import orjson
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from ccmesh.kv import write_expiring
from ccmesh.presence import Liveness
from ccmesh.retention import DELETE_MARKER_TTL_SECONDS
from gateway.domain.contact import ContactRecord
from gateway.domain.inbound import Accepted

#: Lost races on a contact record retried before giving up (the caller's retry starts over).
RECORD_ATTEMPTS = 8
#: Upper bound on a pending claim whose holder's liveness is unknown: older, its holder is taken
#: as dead. A holder known to be gone loses its claims at once.
CLAIM_EXPIRY_SECONDS = 30.0
#: Contact records remembered as this instance last wrote them (with their revision), so the next
#: change starts from them instead of reading back what it wrote; a record another instance has
#: changed since costs one refused compare-and-set and a read, as before. Bounded: most recent kept.
KNOWN_RECORDS = 4096
#: Claims and opened contacts of this process whose write may have landed although the request
#: failed, remembered (most recent kept) so the request's retry finds them its own.
LEFT_BEHIND = 4096


_T = TypeVar("_T")
_V = TypeVar("_V")


def _kept() -> int:
    return 0


class ClaimHolders(Protocol):
    """This process as the holder of the claims it takes, and whether another holder lives."""

    @property
    def holder(self) -> str: ...

    async def liveness_of(self, holder: str) -> Liveness: ...


class StillProcessing(RuntimeError):
    """The same provider message is being processed right now by another request."""


@dataclass(frozen=True)
class Claim:
    key: str
    revision: int
    previous: Accepted | None


class ContactStore:
    def __init__(
        self,
        kv: KeyValue,
        known_records: int = KNOWN_RECORDS,
        finished_ttl: Callable[[], int] = _kept,
        holders: ClaimHolders | None = None,
        claim_expiry: float = CLAIM_EXPIRY_SECONDS,
    ) -> None:
        """`finished_ttl`: seconds a finished record stays readable (0: kept), read per write so a
        changed retention applies without a restart. `holders`: who holds this process's claims
        and whether others' holders live (None: claims name no holder and only expire)."""
        self._kv = kv
        self._holders = holders
        self._claim_expiry = claim_expiry
        self._finished_ttl = finished_ttl
        self._known: OrderedDict[str, tuple[ContactRecord | None, int]] = OrderedDict()
        self._known_records = known_records
        #: Claim keys of this process left pending by a failed request (see the module's docstring).
        self._left_claims: OrderedDict[str, None] = OrderedDict()
        #: `open.*` keys -> the contact id a failed request tried to open there.
        self._tried_opens: OrderedDict[str, str] = OrderedDict()

    async def claim_message(self, tenant_id: str, token: str) -> Claim:
        key = f"msg.{tenant_id}.{token}"
        claim: dict[str, object] = {"state": "pending", "at": time.time()}
        if self._holders is not None:
            claim["holder"] = self._holders.holder
        pending = orjson.dumps(claim)
        try:
            return Claim(
                key,
                int(
                    await self._left_behind_if_failed(
                        key, self._kv.create(key, pending, msg_ttl=self._finished_ttl() or None)
                    )
                ),
                None,
            )
        except KeyWrongLastSequenceError:
            pass
        entry = await self._kv.get(key)
        record = orjson.loads(entry.value or b"{}")
        if record.get("state") == "done":
            self._left_claims.pop(key, None)
            return Claim(key, int(entry.revision or 0), Accepted.from_json(orjson.dumps(record["result"])))
        if not await self._abandoned(key, record):
            raise StillProcessing(f"provider message is being processed (claim {key})")
        try:
            revision = await self._left_behind_if_failed(
                key, write_expiring(self._kv, key, pending, last=entry.revision, ttl=self._finished_ttl())
            )
        except KeyWrongLastSequenceError:
            raise StillProcessing(f"provider message was taken over concurrently (claim {key})") from None
        self._left_claims.pop(key, None)
        return Claim(key, int(revision), None)

    async def _left_behind_if_failed(self, key: str, write: Awaitable[_T]) -> _T:
        """`write` of a claim; when it fails without an answer, it may have landed all the same."""
        try:
            return await write
        except KeyWrongLastSequenceError:
            raise
        except BaseException:  # a timeout, or the request cancelled while the write was out
            _keep_recent(self._left_claims, key, None)
            raise

    async def _abandoned(self, key: str, pending: dict[str, object]) -> bool:
        """Whether a pending claim's holder will never finish it."""
        at = pending.get("at", 0)
        if time.time() - (float(at) if isinstance(at, int | float) else 0.0) >= self._claim_expiry:
            return True
        holder = pending.get("holder")
        if self._holders is None or not isinstance(holder, str):
            return False  # an unknown holder: only its age tells
        if holder == self._holders.holder:
            # One of this process's requests: still running, unless it failed and left it.
            return key in self._left_claims
        return await self._holders.liveness_of(holder) is Liveness.GONE

    async def complete(self, claim: Claim, result: Accepted) -> None:
        record = orjson.dumps({"state": "done", "result": orjson.loads(result.to_json())})
        await write_expiring(self._kv, claim.key, record, last=claim.revision, ttl=self._finished_ttl())

    async def release(self, claim: Claim) -> None:
        """Give the claim up after a failure, so the provider's retry can proceed at once."""
        # Already released, or taken over by another instance: nothing of ours to remove.
        with contextlib.suppress(KeyWrongLastSequenceError, KeyNotFoundError, APIError):
            await self._left_behind_if_failed(
                claim.key,
                write_expiring(self._kv, claim.key, None, last=claim.revision, ttl=DELETE_MARKER_TTL_SECONDS),
            )

    async def open_contact(self, tenant_id: str, customer_id: str) -> tuple[str, bool]:
        """The customer's open contact, opening one if there is none."""
        key = f"open.{tenant_id}.{customer_id}"
        # A failed request's retry opens the contact it tried to: if that write landed after all,
        # the contact is still the one this request opened (and announces).
        tried = self._tried_opens.pop(key, None)
        contact_id = tried or uuid.uuid4().hex
        try:
            await self._kv.create(key, contact_id.encode())
        except KeyWrongLastSequenceError:
            entry = await self._kv.get(key)
            found = (entry.value or b"").decode()
            return found, found == tried
        except BaseException:
            _keep_recent(self._tried_opens, key, contact_id)
            raise
        # A contact id made just now has no record yet: its first change creates it unread.
        self._remember(_contact_key(tenant_id, contact_id), None, 0)
        return contact_id, True

    async def contact(self, tenant_id: str, contact_id: str) -> tuple[ContactRecord | None, int]:
        """The contact's record and its revision (None, 0 when there is none)."""
        key = _contact_key(tenant_id, contact_id)
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None, 0
        if not entry.value:
            return None, 0
        record, revision = ContactRecord.from_json(entry.value), int(entry.revision or 0)
        # What was just read is as good a start for this process's next change as what it wrote.
        self._remember(key, record, revision)
        return record, revision

    async def started(self, tenant_id: str, contact_id: str) -> bool:
        """Whether the contact's first step ran. Every change keeps `started` once set, so a record
        this process last read or wrote as started answers without asking the bucket again."""
        known = self._known.get(_contact_key(tenant_id, contact_id))
        if known is not None and known[0] is not None and known[0].started:
            return True
        record, _ = await self.contact(tenant_id, contact_id)
        return record is not None and record.started

    async def change_contact(
        self,
        tenant_id: str,
        contact_id: str,
        change: Callable[[ContactRecord | None], ContactRecord],
    ) -> ContactRecord:
        """Apply `change` to the stored record (None: none yet) and write it with the revision read
        (or the one this instance last wrote, when it still holds; else read and applied again)."""
        key = _contact_key(tenant_id, contact_id)
        known = self._known.pop(key, None)
        for _ in range(RECORD_ATTEMPTS):
            current, revision = known if known is not None else await self.contact(tenant_id, contact_id)
            known = None
            record = change(current)
            try:
                if revision == 0:
                    written = await self._kv.create(key, record.to_json())
                else:
                    written = await self._kv.update(key, record.to_json(), last=revision)
            except KeyWrongLastSequenceError:
                continue  # another message of the contact wrote first: apply ours to its result
            self._remember(key, record, int(written))
            return record
        raise StillProcessing(f"contact {contact_id} kept changing during {RECORD_ATTEMPTS} attempts")

    def _remember(self, key: str, record: ContactRecord | None, revision: int) -> None:
        self._known[key] = (record, revision)
        self._known.move_to_end(key)
        while len(self._known) > self._known_records:
            self._known.popitem(last=False)

    async def is_open(self, tenant_id: str, record: ContactRecord) -> bool:
        """Whether the contact is still its customer's open contact."""
        try:
            entry = await self._kv.get(f"open.{tenant_id}.{record.customer_id}")
        except KeyNotFoundError:
            return False
        return (entry.value or b"").decode() == record.contact_id

    async def close_contact(self, tenant_id: str, customer_id: str, contact_id: str) -> bool:
        """The customer's next message opens a new contact; False when this one was not open.
        The contact's record is finished either way: it expires after the finished TTL."""
        await self._expire_record(tenant_id, contact_id)
        key = f"open.{tenant_id}.{customer_id}"
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return False
        if (entry.value or b"").decode() != contact_id:
            return False
        with contextlib.suppress(KeyWrongLastSequenceError, APIError):
            # The marker only tells watchers; the next contact's `create` needs none of it.
            await write_expiring(self._kv, key, None, last=entry.revision, ttl=DELETE_MARKER_TTL_SECONDS)
            return True
        return False

    async def _expire_record(self, tenant_id: str, contact_id: str) -> None:
        ttl = self._finished_ttl()
        if not ttl:
            return
        key = _contact_key(tenant_id, contact_id)
        self._known.pop(key, None)
        for _ in range(RECORD_ATTEMPTS):
            try:
                entry = await self._kv.get(key)
            except KeyNotFoundError:
                return
            if not entry.value:
                return
            try:
                await write_expiring(self._kv, key, entry.value, last=entry.revision, ttl=ttl)
            except KeyWrongLastSequenceError:
                continue  # a last change landed first: expire what it wrote
            return

    async def thread_contact(self, tenant_id: str, message_ids: Iterable[str]) -> str | None:
        """The contact of the first known e-mail among `message_ids` (a reply's In-Reply-To, References)."""
        for message_id in message_ids:
            try:
                entry = await self._kv.get(_thread_key(tenant_id, message_id))
            except KeyNotFoundError:
                continue
            if entry.value:
                return entry.value.decode()
        return None

    async def remember_thread(self, tenant_id: str, message_id: str, contact_id: str) -> None:
        key = _thread_key(tenant_id, message_id)
        await write_expiring(self._kv, key, contact_id.encode(), last=None, ttl=self._finished_ttl())


def _keep_recent(remembered: OrderedDict[str, _V], key: str, value: _V) -> None:
    remembered[key] = value
    remembered.move_to_end(key)
    while len(remembered) > LEFT_BEHIND:
        remembered.popitem(last=False)


def _contact_key(tenant_id: str, contact_id: str) -> str:
    return f"contact.{tenant_id}.{contact_id}"


def _thread_key(tenant_id: str, message_id: str) -> str:
    # Message-IDs hold characters KV keys may not (`<`, `@`, `/`): the key is a hash of the id.
    digest = hashlib.sha256(message_id.strip().strip("<>").lower().encode()).hexdigest()[:40]
    return f"thread.{tenant_id}.{digest}"
